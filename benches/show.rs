//! `tfprobe show --all` against `saved_model_cli show --all` on the same models.
//!
//! Run: `cargo bench --bench show`. It times the release `tfprobe` binary (whole
//! process, 30 runs each) and, when a TensorFlow Python environment is present
//! (`.venv-tf/bin/saved_model_cli`, made by `tools/make_fixtures.py`'s venv step, or
//! the path in `SAVED_MODEL_CLI`), `saved_model_cli` (3 runs each), checks the two
//! texts are identical (op-set order aside), and prints medians, the speed ratio and
//! tfprobe's peak RSS.

// Test code: a failed unwrap or expect is the test (or benchmark) failing, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const MODELS: &[&str] = &[
    "tests/fixtures/models/dtypes/1",
    "tests/fixtures/models/shapes/1",
    "tests/fixtures/models/keras_export/1",
    "tests/fixtures/models/seedlike/1538687457",
    "assets/models/efficientnet_lite0/1",
];

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Runs a command `runs` times; returns the median wall time and the last stdout.
fn time_runs(program: &str, args: &[&str], runs: usize) -> (Duration, String) {
    let mut samples = Vec::with_capacity(runs);
    let mut stdout = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        let output = Command::new(program)
            .args(args)
            .env("TF_CPP_MIN_LOG_LEVEL", "3")
            .output()
            .unwrap_or_else(|err| panic!("run {program}: {err}"));
        samples.push(start.elapsed());
        assert!(
            output.status.success(),
            "{program} {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        stdout = output.stdout;
    }
    (
        median(samples),
        String::from_utf8(stdout).expect("utf-8 output"),
    )
}

/// Peak resident set of all waited-for children so far, in MiB.
fn children_peak_rss_mib() -> f64 {
    // SAFETY: rusage is plain integers and timevals, for which all-zero bytes are valid.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage only writes into the struct we pass.
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    usage.ru_maxrss as f64 / 1024.0
}

fn sorted_op_sets(text: &str) -> String {
    text.lines()
        .map(|line| match line.split_once("ops: {") {
            Some((head, rest)) => {
                let mut ops: Vec<&str> = rest.trim_end_matches('}').split(", ").collect();
                ops.sort_unstable();
                format!("{head}ops: {{{}}}", ops.join(", "))
            }
            None => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn main() {
    let tfprobe = env!("CARGO_BIN_EXE_tfprobe");
    let saved_model_cli = std::env::var("SAVED_MODEL_CLI").ok().or_else(|| {
        let venv = ".venv-tf/bin/saved_model_cli";
        Path::new(venv).exists().then(|| venv.to_string())
    });
    println!(
        "{:<44} {:>12} {:>18} {:>8}",
        "model", "tfprobe", "saved_model_cli", "ratio"
    );
    let mut ratios = Vec::new();
    let mut tfprobe_results = Vec::new();
    for model in MODELS {
        let args = ["show", "--dir", model, "--all"];
        tfprobe_results.push((model, time_runs(tfprobe, &args, 30)));
    }
    let tfprobe_peak_rss_mib = children_peak_rss_mib();
    for (model, (ours, our_text)) in tfprobe_results {
        let Some(cli) = &saved_model_cli else {
            println!(
                "{model:<44} {:>10.2}ms {:>18} {:>8}",
                ours.as_secs_f64() * 1e3,
                "-",
                "-"
            );
            continue;
        };
        let (theirs, their_text) = time_runs(cli, &["show", "--dir", model, "--all"], 3);
        assert_eq!(
            sorted_op_sets(&our_text),
            sorted_op_sets(&their_text),
            "{model}: texts differ"
        );
        let ratio = theirs.as_secs_f64() / ours.as_secs_f64();
        ratios.push(ratio);
        println!(
            "{model:<44} {:>10.2}ms {:>16.0}ms {:>7.0}x",
            ours.as_secs_f64() * 1e3,
            theirs.as_secs_f64() * 1e3,
            ratio
        );
    }
    println!("tfprobe peak RSS: {tfprobe_peak_rss_mib:.1} MiB");
    if ratios.is_empty() {
        println!(
            "saved_model_cli not found: set SAVED_MODEL_CLI or create .venv-tf (see tools/README.md)"
        );
    } else {
        let min_ratio = ratios.iter().cloned().fold(f64::INFINITY, f64::min);
        println!(
            "identical text on all models; tfprobe is at least {min_ratio:.0}x faster than saved_model_cli"
        );
    }
}
