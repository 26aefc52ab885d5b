//! `tfprobe predict --images DIR|GLOB|FILE… (--model DIR | --server HOST:PORT)`: one
//! row per image (top-k, latency, or why it failed), a progress bar on a terminal's
//! stderr, `--csv FILE` and `--json`. The rows come from `workflow::batch`.

use super::args::runtime;
use super::predict::{PredictArgs, load_local, plan, ranking};
use anyhow::Context;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use tfprobe::workflow::batch::{self, BatchReport};
use tfprobe::workflow::open;
use tfprobe::workflow::target::{ServerTarget, Target};

pub fn run(args: &PredictArgs) -> anyhow::Result<ExitCode> {
    let files = batch::list_files(&args.images)?;
    let options = args.image_options.options()?;
    let runtime = runtime(1)?;
    let report = if args.target.server.is_some() {
        runtime.block_on(async {
            let config = args.target.config()?;
            let model_dir = match &args.model {
                Some(dir) => Some(open::open_model(dir)?.info.path),
                None => None,
            };
            let target = ServerTarget::connect(&config)?;
            let model = target
                .model()
                .await
                .context("asking the server for the model's signatures")?;
            let plan = plan(args, &model, options, model_dir.as_deref())?;
            Ok::<_, anyhow::Error>(rows(args, &target, &plan, model_dir, &files).await)
        })?
    } else {
        let (target, model_dir, plan) = load_local(args, options)?;
        runtime.block_on(rows(args, &target, &plan, Some(model_dir), &files))
    };
    if let Some(path) = &args.csv {
        report.write_csv(path)?;
    }
    let text = if args.json {
        serde_json::to_string_pretty(&report)? + "\n"
    } else {
        table(&report)
    };
    crate::cli::output::print_stdout(&text)?;
    let failures = report.failures();
    if failures > 0 {
        eprintln!(
            "{failures} of {} files failed (error rows above)",
            report.rows.len()
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

async fn rows<T: Target>(
    args: &PredictArgs,
    target: &T,
    plan: &tfprobe::workflow::image_request::ImagePlan,
    model_dir: Option<PathBuf>,
    files: &[PathBuf],
) -> BatchReport {
    let ranking = ranking(args, model_dir);
    // indicatif draws nothing when stderr is not a terminal.
    let bar = indicatif::ProgressBar::new(files.len() as u64);
    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{bar:40} {pos}/{len} images, {elapsed} (about {eta} left)",
    ) {
        bar.set_style(style);
    }
    let report = batch::run(target, plan, &ranking, files, |done, _| {
        bar.set_position(done as u64)
    })
    .await;
    bar.finish_and_clear();
    report
}

/// One line per file: its top-1 (label and probability) and latency, or its error.
fn table(report: &BatchReport) -> String {
    let width = report
        .rows
        .iter()
        .map(|row| row.file.display().to_string().chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    let mut text = format!(
        "{:<width$}  {:>6}  {:<32}  {:>11}  {:>10}\n",
        "file", "class", "label", "probability", "latency_ms"
    );
    for row in &report.rows {
        let file = row.file.display().to_string();
        match (&row.error, row.top_k.first()) {
            (Some(error), _) => {
                let _ = writeln!(text, "{file:<width$}  error: {error}");
            }
            (None, Some(top)) => {
                let _ = writeln!(
                    text,
                    "{file:<width$}  {:>6}  {:<32}  {:>11.6}  {:>10.2}",
                    top.class,
                    top.label.as_deref().unwrap_or(""),
                    top.probability,
                    row.latency_ms.unwrap_or_default()
                );
            }
            (None, None) => {
                let _ = writeln!(text, "{file:<width$}  (no classes)");
            }
        }
    }
    text
}
