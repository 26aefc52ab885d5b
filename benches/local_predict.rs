//! Local predict, tfprobe vs Python TensorFlow in-process, in one run:
//!
//! ```text
//! cargo bench --bench local_predict            # 1000 timed runs after 50 warm-up runs
//! BENCH_RUNS=3000 cargo bench --bench local_predict
//! ```
//!
//! Batch-of-one predictions of the seed-like fixture (`tests/fixtures/models/seedlike`, a
//! JPEG in, 1001 probabilities out) through `TfBackend::run` directly and through the
//! `ModelWorker` (queue + thread hop), then `tools/bench_python_predict.py` with the same
//! input under `$TFPROBE_BENCH_PYTHON` (default `.venv-tf/bin/python`, tensorflow-cpu
//! 2.21.0). Prints p50/p90/p99, throughput, the ratio and RSS of both processes, and
//! writes the numbers to `target/bench-local-predict.json`.

// Test code: a failed unwrap or expect is the test (or benchmark) failing, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;
use tfprobe::runtime::{
    Backend, LoadOptions, ModelWorker, NamedTensors, TfBackend, WorkerOptions, discovery, install,
    library,
};
use tfprobe::tensor::{Tensor, TensorData};

struct Stats {
    p50: f64,
    p90: f64,
    p99: f64,
    mean: f64,
    throughput: f64,
}

fn stats(mut samples_ms: Vec<f64>) -> Stats {
    samples_ms.sort_by(f64::total_cmp);
    let total: f64 = samples_ms.iter().sum();
    let pick =
        |q: f64| samples_ms[((q * samples_ms.len() as f64) as usize).min(samples_ms.len() - 1)];
    let len = samples_ms.len();
    let p50 = if len.is_multiple_of(2) {
        (samples_ms[len / 2 - 1] + samples_ms[len / 2]) / 2.0
    } else {
        samples_ms[len / 2]
    };
    Stats {
        p50,
        p90: pick(0.90),
        p99: pick(0.99),
        mean: total / len as f64,
        throughput: len as f64 * 1e3 / total,
    }
}

fn time_runs(runs: usize, warmup: usize, mut call: impl FnMut()) -> Stats {
    for _ in 0..warmup {
        call();
    }
    let samples = (0..runs)
        .map(|_| {
            let started = Instant::now();
            call();
            started.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    stats(samples)
}

fn proc_status_mb(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with(field))?;
    Some(line.split_whitespace().nth(1)?.parse::<f64>().ok()? / 1024.0)
}

fn row(name: &str, stats: &Stats) -> String {
    format!(
        "{name:<34} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>10.0}",
        stats.p50, stats.p90, stats.p99, stats.mean, stats.throughput
    )
}

fn stats_json(stats: &Stats) -> serde_json::Value {
    serde_json::json!({"p50_ms": stats.p50, "p90_ms": stats.p90, "p99_ms": stats.p99, "mean_ms": stats.mean, "throughput_per_s": stats.throughput})
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is accepted.
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|runs| runs.parse().ok())
        .unwrap_or(1000);
    let warmup = 50;
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let model = repo.join("tests/fixtures/models/seedlike/1538687457");
    let recorded: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo.join("tests/fixtures/outputs/seedlike.json"))
            .expect("seedlike outputs"),
    )
    .expect("json");
    let case = recorded["serving_default"]["extra_cases"]
        .as_array()
        .and_then(|cases| cases.iter().find(|case| case["name"] == "single_jpeg"))
        .expect("single_jpeg case")
        .clone();
    use base64::Engine;
    let jpeg = base64::engine::general_purpose::STANDARD
        .decode(
            case["inputs"]["image_bytes"]["values"][0]["b64"]
                .as_str()
                .expect("b64"),
        )
        .expect("base64");

    if discovery::discover().is_err() {
        eprintln!("installing the TensorFlow runtime into the cache first");
        install::install(discovery::DEFAULT_VERSION, |_| {}).expect("tfprobe runtime install");
    }
    let rss_before_tf = proc_status_mb("VmRSS:").unwrap_or(0.0);
    let runtime = library::ensure_loaded().expect("libtensorflow");
    let started = Instant::now();
    let backend =
        Arc::new(TfBackend::load(&model, &LoadOptions::default()).expect("load seedlike"));
    let load_ms = started.elapsed().as_secs_f64() * 1e3;
    let inputs: NamedTensors = [(
        "image_bytes".to_string(),
        Tensor::new(vec![1], TensorData::String(vec![jpeg])).unwrap(),
    )]
    .into();

    let direct = time_runs(runs, warmup, || {
        backend
            .run("serving_default", inputs.clone(), &[])
            .expect("run");
    });
    let rss_direct = proc_status_mb("VmRSS:").unwrap_or(0.0);
    let worker = ModelWorker::new(
        backend.clone(),
        WorkerOptions {
            threads: 2,
            queue_capacity: 64,
        },
    );
    let via_worker = time_runs(runs, warmup, || {
        worker
            .run("serving_default", inputs.clone(), &[])
            .expect("run");
    });
    worker.shutdown();
    let rss_after = proc_status_mb("VmRSS:").unwrap_or(0.0);
    let peak = proc_status_mb("VmHWM:").unwrap_or(0.0);

    println!(
        "local predict, seedlike fixture (JPEG -> 1001 probabilities), batch 1, {runs} runs after {warmup} warm-up"
    );
    println!(
        "TensorFlow {} from {}; model load {load_ms:.1} ms",
        runtime.version,
        runtime.location.dir.display()
    );
    println!(
        "{:<34} {:>8} {:>8} {:>8} {:>8} {:>10}",
        "", "p50 ms", "p90 ms", "p99 ms", "mean ms", "runs/s"
    );
    println!("{}", row("tfprobe TfBackend::run", &direct));
    println!("{}", row("tfprobe ModelWorker::run", &via_worker));

    let python = std::env::var("TFPROBE_BENCH_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|_| repo.join(".venv-tf/bin/python"));
    let input_json =
        std::env::temp_dir().join(format!("tfprobe-bench-input-{}.json", std::process::id()));
    std::fs::write(&input_json, case["inputs"].to_string()).expect("write input json");
    let output = std::process::Command::new(&python)
        .arg(repo.join("tools/bench_python_predict.py"))
        .arg("--model")
        .arg(&model)
        .arg("--input-json")
        .arg(&input_json)
        .args(["--runs", &runs.to_string(), "--warmup", &warmup.to_string()])
        .stderr(std::process::Stdio::null())
        .output();
    let _ = std::fs::remove_file(&input_json);
    let mut report = serde_json::json!({
        "runs": runs,
        "tensorflow": runtime.version,
        "tfprobe": {
            "load_ms": load_ms,
            "direct": stats_json(&direct),
            "worker": stats_json(&via_worker),
            "rss_before_tensorflow_mb": rss_before_tf,
            "rss_after_direct_mb": rss_direct,
            "rss_mb": rss_after,
            "peak_rss_mb": peak,
        },
    });
    match output {
        Ok(output) if output.status.success() => {
            let python_report: serde_json::Value =
                serde_json::from_slice(&output.stdout).expect("python bench json");
            for (mode, label) in [
                ("signature", "Python TF signature fn"),
                ("session", "Python TF v1 Session.run"),
            ] {
                let value = &python_report[mode];
                let stats = Stats {
                    p50: value["p50_ms"].as_f64().unwrap_or(f64::NAN),
                    p90: value["p90_ms"].as_f64().unwrap_or(f64::NAN),
                    p99: value["p99_ms"].as_f64().unwrap_or(f64::NAN),
                    mean: value["mean_ms"].as_f64().unwrap_or(f64::NAN),
                    throughput: value["throughput_per_s"].as_f64().unwrap_or(f64::NAN),
                };
                println!("{}", row(label, &stats));
            }
            let python_p50 = python_report["signature"]["p50_ms"]
                .as_f64()
                .unwrap_or(f64::NAN);
            let session_p50 = python_report["session"]["p50_ms"]
                .as_f64()
                .unwrap_or(f64::NAN);
            println!(
                "p50 ratio tfprobe/Python: {:.2} (vs signature fn), {:.2} (vs Session.run); worker/Python signature {:.2}",
                direct.p50 / python_p50,
                direct.p50 / session_p50,
                via_worker.p50 / python_p50
            );
            println!(
                "RSS: tfprobe {rss_after:.0} MB (peak {peak:.0} MB, {rss_before_tf:.0} MB before libtensorflow); Python {:.0} MB peak",
                python_report["peak_rss_mb"].as_f64().unwrap_or(f64::NAN)
            );
            report["python"] = python_report;
        }
        Ok(output) => {
            println!(
                "Python side failed ({}): {}",
                python.display(),
                String::from_utf8_lossy(&output.stdout)
            );
        }
        Err(err) => println!(
            "Python side skipped: cannot run {}: {err}",
            python.display()
        ),
    }
    let out = repo.join("target/bench-local-predict.json");
    if std::fs::write(
        &out,
        serde_json::to_string_pretty(&report).unwrap_or_default(),
    )
    .is_ok()
    {
        println!("numbers written to {}", out.display());
    }
}
