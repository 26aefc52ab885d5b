//! The load generator against a loopback server with a known injected delay:
//! request counts, error counts, percentiles and throughput come out as the delay
//! and the concurrency dictate; `tfprobe bench --json --csv` prints them.

use crate::support::client::{FAKE_MODEL, config, fake_rest};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tfprobe::client::bench::{BenchLimit, Progress, run_level, warm_up};
use tfprobe::client::{Client, ModelClient, Protocol};
use tfprobe::runtime::NamedTensors;
use tfprobe::tensor::{Tensor, TensorData};

const DELAY: Duration = Duration::from_millis(20);

fn inputs() -> NamedTensors {
    [(
        "image_bytes".to_string(),
        Tensor::new(vec![1], TensorData::String(vec![b"\xff\xd8\xff".to_vec()])).unwrap(),
    )]
    .into()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_percentiles_and_throughput_follow_the_delay() {
    let fake = fake_rest(DELAY, 0).await;
    let client = Client::connect(&config(fake.addr, Protocol::Rest, FAKE_MODEL)).unwrap();
    let request = Arc::new(client.prepare(&inputs()).unwrap());
    warm_up(&client, &request, 2).await.unwrap();
    let progress = Arc::new(Progress::default());
    let report = run_level(&client, &request, 4, BenchLimit::Requests(40), &progress).await;
    assert_eq!(
        (report.concurrency, report.requests, report.errors),
        (4, 40, 0),
        "{report:?}"
    );
    assert_eq!(
        fake.predicts.load(Ordering::SeqCst),
        42,
        "warm-up plus the level"
    );
    assert_eq!(progress.completed.load(Ordering::SeqCst), 40);
    // Every request takes the delay and a little more; none takes much more.
    let delay_ms = DELAY.as_secs_f64() * 1e3;
    // The upper bounds leave room for a busy CI machine.
    for (name, value, slack) in [
        ("p50", report.p50_ms, 60.0),
        ("mean", report.mean_ms, 60.0),
        ("p90", report.p90_ms, 200.0),
        ("p99", report.p99_ms, 300.0),
    ] {
        assert!(
            value >= delay_ms * 0.98 && value < delay_ms + slack,
            "{name} = {value} ms"
        );
    }
    assert!(
        report.p50_ms <= report.p90_ms
            && report.p90_ms <= report.p95_ms
            && report.p95_ms <= report.p99_ms
    );
    assert!(report.p99_ms <= report.max_ms + 0.05);
    // 4 workers, 20 ms each: at most 200 requests per second.
    assert!(
        report.throughput_rps <= 4.0 / DELAY.as_secs_f64() * 1.02,
        "{}",
        report.throughput_rps
    );
    assert!(
        report.throughput_rps > 4.0 / DELAY.as_secs_f64() * 0.25,
        "{}",
        report.throughput_rps
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duration_mode_and_injected_errors() {
    let fake = fake_rest(DELAY, 5).await;
    let client = Client::connect(&config(fake.addr, Protocol::Rest, FAKE_MODEL)).unwrap();
    let request = Arc::new(client.prepare(&inputs()).unwrap());
    let progress = Arc::new(Progress::default());
    let report = run_level(
        &client,
        &request,
        2,
        BenchLimit::Duration(Duration::from_millis(600)),
        &progress,
    )
    .await;
    // 2 workers for 0.6 s at >= 20 ms per request: at most 60 (plus the ones in flight).
    assert!(report.requests >= 15 && report.requests <= 62, "{report:?}");
    assert!(
        report.elapsed_s >= 0.6 && report.elapsed_s < 3.0,
        "{report:?}"
    );
    let sent = fake.predicts.load(Ordering::SeqCst);
    assert_eq!(report.requests, sent);
    assert_eq!(report.errors, sent / 5, "every fifth request fails");
    let first = report.first_error.as_deref().unwrap_or_default();
    assert!(
        first.contains("INTERNAL") && first.contains("injected failure"),
        "{first}"
    );
    // Throughput counts only the successes.
    let ok = (report.requests - report.errors) as f64;
    assert!((report.throughput_rps - ok / report.elapsed_s).abs() < 1e-6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_command_prints_json_and_writes_csv() {
    let fake = fake_rest(Duration::from_millis(2), 0).await;
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("levels.csv");
    let image =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/images/gradient_48x40.jpg");
    let server = fake.addr.to_string();
    let csv_arg = csv.clone();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_tfprobe"))
            .args([
                "bench",
                "--server",
                &server,
                "--model_name",
                "fake",
                "--image",
            ])
            .arg(&image)
            .args([
                "--requests",
                "12",
                "--concurrency",
                "1,3",
                "--warmup",
                "2",
                "--json",
                "--csv",
            ])
            .arg(&csv_arg)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let levels: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let levels = levels.as_array().unwrap();
    assert_eq!(levels.len(), 2);
    for (level, concurrency) in levels.iter().zip([1, 3]) {
        assert_eq!(level["concurrency"], concurrency);
        assert_eq!(level["requests"], 12);
        assert_eq!(level["errors"], 0);
        for key in [
            "throughput_rps",
            "p50_ms",
            "p90_ms",
            "p95_ms",
            "p99_ms",
            "max_ms",
            "mean_ms",
        ] {
            assert!(
                level[key].as_f64().is_some_and(|v| v > 0.0),
                "{key}: {level}"
            );
        }
    }
    assert_eq!(fake.predicts.load(Ordering::SeqCst), 26);
    let text = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[0].starts_with("concurrency,requests,errors,throughput_rps,p50_ms"),
        "{text}"
    );
    assert!(lines[2].starts_with("3,12,0,"), "{text}");
}
