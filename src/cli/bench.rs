//! `tfprobe bench`: perf_analyzer-style load against a running server. At each
//! concurrency level, that many closed-loop workers send the same predict request;
//! the table (or `--json` / `--csv`) gives throughput and latency percentiles.

use super::args::{ImageArgs, TargetArgs, runtime};
use anyhow::{Context, bail};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tfprobe::client::bench::{self, BenchLimit, CSV_HEADER, LevelReport, Progress};
use tfprobe::client::{Client, ModelClient};
use tfprobe::workflow::image_request::{self, InputMode};
use tfprobe::workflow::open;

#[derive(Args, Debug)]
pub struct BenchArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// The image sent with every request.
    #[arg(long, value_name = "FILE")]
    pub image: PathBuf,
    /// Signature to run (default: serving_default, or the only one).
    #[arg(long = "signature_def", value_name = "KEY")]
    pub signature_def: Option<String>,
    /// SavedModel directory to read preprocessing.json from (pixel models).
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,
    #[command(flatten)]
    pub image_options: ImageArgs,
    /// Requests per concurrency level.
    #[arg(long, value_name = "N", conflicts_with = "duration")]
    pub requests: Option<u64>,
    /// Seconds per concurrency level (instead of --requests).
    #[arg(long, value_name = "S")]
    pub duration: Option<f64>,
    /// Concurrency levels: a list (1,2,4,8) or a doubling range (1:16).
    #[arg(long, default_value = "1", value_name = "LEVELS")]
    pub concurrency: String,
    /// Unmeasured requests sent before the first level.
    #[arg(long, default_value_t = 10, value_name = "W")]
    pub warmup: u64,
    /// Print the levels as a JSON array instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Also write the levels to a CSV file.
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    /// Client threads (1: one event loop, like wrk -t1; more for very fast servers).
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub threads: usize,
    /// No progress bar.
    #[arg(long = "no-progress")]
    pub no_progress: bool,
}

const DEFAULT_REQUESTS: u64 = 1000;

pub fn run(args: &BenchArgs) -> anyhow::Result<ExitCode> {
    let config = args.target.config()?;
    let levels = bench::parse_concurrency(&args.concurrency).map_err(anyhow::Error::msg)?;
    let limit = match (args.requests, args.duration) {
        (_, Some(seconds)) if !(seconds.is_finite() && seconds > 0.0 && seconds <= 86_400.0) => {
            bail!("--duration must be within (0, 86400] seconds")
        }
        (_, Some(seconds)) => BenchLimit::Duration(Duration::from_secs_f64(seconds)),
        (Some(0), None) => bail!("--requests must be at least 1"),
        (Some(count), None) => BenchLimit::Requests(count),
        (None, None) => BenchLimit::Requests(DEFAULT_REQUESTS),
    };
    let options = args.image_options.options()?;
    let image = open::read_image(&args.image)?;
    // preprocessing.json of a model on this machine (its version folder), if named.
    let model_dir = match &args.model {
        Some(dir) => Some(open::open_model(dir)?.info.path),
        None => None,
    };
    let show_progress = !args.no_progress && !args.json;
    let reports = runtime(args.threads)?.block_on(async {
        let client = Client::connect(&config)?;
        let info = client
            .metadata()
            .await
            .context("asking the server for the model's signatures")?;
        let plan = image_request::plan_for_model(
            &info,
            args.signature_def.as_deref(),
            options,
            InputMode::Auto,
            model_dir.as_deref(),
        )?;
        let request = plan.request(&image.bytes)?;
        let client = client.with_signature(Some(request.signature_key));
        let request = Arc::new(client.prepare(&request.inputs)?);
        bench::warm_up(&client, &request, args.warmup)
            .await
            .context("warm-up request")?;
        let progress = Arc::new(Progress::default());
        let on_ctrl_c = progress.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                on_ctrl_c.stop.store(true, Ordering::Relaxed);
            }
        });
        let mut reports = Vec::new();
        for &level in &levels {
            if progress.stop.load(Ordering::Relaxed) {
                break;
            }
            let level_progress = Arc::new(Progress::default());
            let bar = show_progress.then(|| progress_bar(level, limit));
            let watcher = {
                let (level_progress, stop, bar) =
                    (level_progress.clone(), progress.clone(), bar.clone());
                tokio::spawn(async move {
                    loop {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        if stop.stop.load(Ordering::Relaxed) {
                            level_progress.stop.store(true, Ordering::Relaxed);
                        }
                        if let Some(bar) = &bar {
                            let done = level_progress.completed.load(Ordering::Relaxed);
                            let errors = level_progress.errors.load(Ordering::Relaxed);
                            match limit {
                                BenchLimit::Requests(_) => bar.set_position(done),
                                BenchLimit::Duration(_) => {
                                    bar.set_message(format!("{done} requests"))
                                }
                            }
                            if errors > 0 {
                                bar.set_prefix(format!("concurrency {level}, {errors} errors"));
                            }
                        }
                    }
                })
            };
            let ticker = bar
                .clone()
                .filter(|_| matches!(limit, BenchLimit::Duration(_)));
            let ticking = ticker.map(|bar| {
                tokio::spawn(async move {
                    let started = std::time::Instant::now();
                    loop {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        bar.set_position(started.elapsed().as_millis() as u64);
                    }
                })
            });
            let report = bench::run_level(&client, &request, level, limit, &level_progress).await;
            watcher.abort();
            if let Some(ticking) = ticking {
                ticking.abort();
            }
            if let Some(bar) = bar {
                bar.finish_and_clear();
            }
            reports.push(report);
        }
        anyhow::Ok(reports)
    })?;
    if let Some(path) = &args.csv {
        let mut text = format!("{CSV_HEADER}\n");
        for report in &reports {
            text += &report.csv_row();
            text.push('\n');
        }
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    let text = if args.json {
        serde_json::to_string_pretty(&reports)? + "\n"
    } else {
        table(&reports)
    };
    crate::cli::output::print_stdout(&text)?;
    let failed = reports
        .iter()
        .any(|report| report.errors > 0 && report.errors == report.requests);
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn progress_bar(level: usize, limit: BenchLimit) -> indicatif::ProgressBar {
    let (length, template) = match limit {
        BenchLimit::Requests(count) => {
            (count, "{prefix:>22} [{bar:30}] {pos}/{len} {per_sec} {msg}")
        }
        BenchLimit::Duration(duration) => (
            duration.as_millis() as u64,
            "{prefix:>22} [{bar:30}] {elapsed}/{duration} {msg}",
        ),
    };
    let bar = indicatif::ProgressBar::new(length);
    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
    if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_prefix(format!("concurrency {level}"));
    bar
}

fn table(reports: &[LevelReport]) -> String {
    let mut text = format!(
        "{:>11} {:>9} {:>7} {:>12} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}\n",
        "concurrency",
        "requests",
        "errors",
        "req/s",
        "p50 ms",
        "p90 ms",
        "p95 ms",
        "p99 ms",
        "max ms",
        "mean ms"
    );
    for r in reports {
        text += &format!(
            "{:>11} {:>9} {:>7} {:>12.1} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2}\n",
            r.concurrency,
            r.requests,
            r.errors,
            r.throughput_rps,
            r.p50_ms,
            r.p90_ms,
            r.p95_ms,
            r.p99_ms,
            r.max_ms,
            r.mean_ms
        );
    }
    for r in reports {
        if let Some(error) = &r.first_error {
            text += &format!("concurrency {}: first error: {error}\n", r.concurrency);
        }
    }
    text
}
