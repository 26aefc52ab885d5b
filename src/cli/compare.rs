//! `tfprobe compare --target A --target B --images DIR|FILES`: the same images through
//! two targets (local folders, REST or gRPC URLs) side by side — top-1 agreement, top-5
//! overlap, the largest output difference, and latency with the ratio B/A. The
//! workflow layer makes every decision; this file maps flags and prints.

use super::args::{ImageArgs, runtime};
use anyhow::{Context, bail};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;
use tfprobe::workflow::compare::{self, CompareReport, CompareSettings, Progress};
use tfprobe::workflow::compare_target::{self, ACCEPTED_TARGETS};

#[derive(Args, Debug)]
pub struct CompareArgs {
    /// A target, given twice (A then B): a SavedModel folder or base path (PATH or
    /// PATH@VERSION), http(s)://HOST:PORT/v1/models/NAME[/versions/N] (REST), or
    /// grpc(s)://HOST:PORT/NAME[@VERSION] (gRPC).
    #[arg(long = "target", value_name = "SPEC", required = true)]
    pub targets: Vec<String>,
    /// Image files, or folders of images, sent to both targets.
    #[arg(long, value_name = "DIR|FILE", num_args = 1.., required = true)]
    pub images: Vec<PathBuf>,
    /// Measured sequential requests per target for the latency comparison (0: none).
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub requests: u32,
    /// Unmeasured requests per target before the measured ones.
    #[arg(long, default_value_t = 5, value_name = "W")]
    pub warmup: u32,
    /// Signature both targets run (default: serving_default, or the only one).
    #[arg(long = "signature_def", value_name = "KEY")]
    pub signature_def: Option<String>,
    #[command(flatten)]
    pub image_options: ImageArgs,
    /// Seconds one call to a server may take.
    #[arg(long, default_value_t = 30.0, value_name = "SECONDS")]
    pub timeout: f64,
    /// PEM file of a CA to trust for https:// and grpcs:// targets.
    #[arg(long = "ca-cert", value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// Print every field as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Also write the per-image rows to a CSV file.
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
}

pub fn run(args: &CompareArgs) -> anyhow::Result<ExitCode> {
    let [spec_a, spec_b] = args.targets.as_slice() else {
        bail!(
            "--target is given exactly twice (A, then B); got {}. Each is {ACCEPTED_TARGETS}",
            args.targets.len()
        );
    };
    let mut spec_a = compare_target::parse_target(spec_a)?;
    let mut spec_b = compare_target::parse_target(spec_b)?;
    if let Some(ca_file) = &args.ca_cert {
        // Both: each target that speaks TLS trusts the file.
        let trusted = [spec_a.trust_ca(ca_file), spec_b.trust_ca(ca_file)];
        if !trusted.contains(&true) {
            bail!("--ca-cert is for https:// and grpcs:// targets, and neither target is one");
        }
    }
    if !(args.timeout.is_finite() && args.timeout > 0.0) {
        bail!("--timeout must be a positive number of seconds");
    }
    let timeout = Duration::from_secs_f64(args.timeout);
    let images = compare::collect_images(&args.images)?;
    let settings = CompareSettings {
        signature: args.signature_def.clone(),
        options: args.image_options.options()?,
        requests: args.requests,
        warmup: args.warmup,
    };
    let report = runtime(2)?.block_on(async {
        let a = compare_target::open(&spec_a, timeout)
            .await
            .context("opening target A")?;
        let b = compare_target::open(&spec_b, timeout)
            .await
            .context("opening target B")?;
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let bar = (!args.json).then(|| progress_bar(images.len()));
        let watcher = {
            let bar = bar.clone();
            tokio::spawn(async move {
                while let Some(event) = rx.recv().await {
                    if let (Some(bar), Progress::Images { done, .. }) = (&bar, event) {
                        bar.set_position(done as u64);
                    }
                }
            })
        };
        let cancel = Arc::new(AtomicBool::new(false));
        let report = compare::compare(&a, &b, &images, &settings, cancel, tx).await;
        let _ = watcher.await;
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        anyhow::Ok(report?)
    })?;
    if let Some(path) = &args.csv {
        compare::write_csv(&report, path)?;
    }
    let text = if args.json {
        serde_json::to_string_pretty(&report)? + "\n"
    } else {
        table(&report)
    };
    crate::cli::output::print_stdout(&text)?;
    Ok(if report.summary.failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn progress_bar(images: usize) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(images as u64);
    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
    if let Ok(style) = indicatif::ProgressStyle::with_template("images [{bar:30}] {pos}/{len}") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

fn optional<T: ToString>(value: Option<T>) -> String {
    value.map_or_else(|| "-".to_string(), |value| value.to_string())
}

/// The report as aligned text: targets, one row per image, the summary, latency.
pub fn table(report: &CompareReport) -> String {
    let mut text = format!(
        "A: {}\n   input {}\nB: {}\n   input {}\n\n",
        report.target_a, report.input_a, report.target_b, report.input_b
    );
    let outputs: Vec<&String> = report.summary.max_abs_diff.keys().collect();
    let width = report
        .images
        .iter()
        .map(|row| row.image.chars().count())
        .max()
        .unwrap_or(0)
        .max(5);
    text += &format!(
        "{:<width$}  {:>7}  {:>7}  {:>5}  {:>6}",
        "image", "top-1 A", "top-1 B", "agree", "top-5"
    );
    for name in &outputs {
        text += &format!("  {:>12}", format!("max|Δ| {name}"));
    }
    text.push('\n');
    for row in &report.images {
        text += &format!("{:<width$}", row.image);
        if let Some(error) = &row.error {
            text += &format!("  error: {error}\n");
            continue;
        }
        let agree = match row.top1_agree {
            Some(true) => "yes",
            Some(false) => "NO",
            None => "-",
        };
        text += &format!(
            "  {:>7}  {:>7}  {:>5}  {:>6}",
            optional(row.top1_a),
            optional(row.top1_b),
            agree,
            row.top5_overlap
                .map_or_else(|| "-".to_string(), |n| format!("{n}/{}", compare::TOP_K))
        );
        for name in &outputs {
            let diff = row.max_abs_diff.get(*name);
            text += &format!(
                "  {:>12}",
                diff.map_or_else(|| "-".into(), |d| format!("{d:.3e}"))
            );
        }
        text.push('\n');
        for note in &row.not_compared {
            text += &format!("{:<width$}  not compared: {note}\n", "");
        }
    }
    let summary = &report.summary;
    text += &format!(
        "\ntop-1 agreement: {}\n",
        match summary.agreement_rate {
            Some(rate) => format!(
                "{}/{} ({:.1} %)",
                summary.top1_agreed,
                summary.ranked,
                rate * 100.0
            ),
            None => "- (the outputs are not class scores)".into(),
        }
    );
    if let Some(overlap) = summary.mean_top5_overlap {
        text += &format!("mean top-5 overlap: {overlap:.2}/{}\n", compare::TOP_K);
    }
    for (name, diff) in &summary.max_abs_diff {
        text += &format!("max |A-B| {name}: {diff:.6e}\n");
    }
    if summary.failed > 0 {
        text += &format!("{} of {} images failed\n", summary.failed, summary.images);
    }
    if let Some(latency) = &report.latency {
        text += &format!(
            "\nlatency ({} sequential requests per target, image {})\n",
            latency.a.requests, latency.image
        );
        text += &format!(
            "{:<5} {:>9} {:>9} {:>9} {:>10} {:>7}\n",
            "", "p50 ms", "p90 ms", "p99 ms", "req/s", "errors"
        );
        for (name, side) in [("A", &latency.a), ("B", &latency.b)] {
            text += &format!(
                "{name:<5} {:>9.3} {:>9.3} {:>9.3} {:>10.1} {:>7}\n",
                side.p50_ms, side.p90_ms, side.p99_ms, side.throughput_rps, side.errors
            );
        }
        let ratio = |value: Option<f64>| value.map_or_else(|| "-".into(), |r| format!("{r:.2}x"));
        let ratios = &latency.ratio_b_over_a;
        text += &format!(
            "{:<5} {:>9} {:>9} {:>9} {:>10}\n",
            "B/A",
            ratio(ratios.p50),
            ratio(ratios.p90),
            ratio(ratios.p99),
            ratio(ratios.throughput)
        );
        for (name, side) in [("A", &latency.a), ("B", &latency.b)] {
            if let Some(error) = &side.first_error {
                text += &format!("{name}: first error: {error}\n");
            }
        }
    }
    text
}
