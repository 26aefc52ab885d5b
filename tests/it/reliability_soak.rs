//! Soak: 10 000 predicts at concurrency 8 (REST and gRPC mixed) against the
//! small two_versions fixture with zero errors and bounded memory growth, and
//! 20 version hot swaps under load with zero failed requests. The figures are
//! printed (run with `--nocapture`) for docs/reliability.md.

use crate::support::alone;
use crate::support::panics::PanicWatch;
use crate::support::server::load::{Check, Load, LoadSpec};
use crate::support::server::{config, start};
use crate::support::tf;
use crate::support::{copy_dir, fixture};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tfprobe::pb::tensorflow::serving::model_version_status::State;
use tfprobe::server::{ModelSource, ServerHandle};
use tfprobe::tensor::{Tensor, TensorData};

const WARM_UP_REQUESTS: usize = 1_000;
const SOAK_REQUESTS: usize = 10_000;
const HOT_SWAPS: i64 = 20;
/// Resident memory may grow this much (percent) between the end of the warm-up
/// and the end of the soak: allocator slack, not a leak per request.
const MAX_RSS_GROWTH_PERCENT: f64 = 5.0;

/// The tests run one at a time: RSS is the whole process's (the soak runs in a
/// process of its own, see `support::alone`), and the swaps load and unload models.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// `y` of each two_versions version for [`x`].
fn expected(version: u32) -> Vec<f32> {
    let case = tf::recorded_cases(&format!("two_versions_{version}")).remove(0);
    let TensorData::Float(values) = &case.outputs["y"].data else {
        panic!("two_versions answers a float y")
    };
    values.clone()
}

fn x() -> Tensor {
    tf::recorded_cases("two_versions_1").remove(0).inputs["x"].clone()
}

/// This process's resident set, in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS line")
}

fn spec(server: &ServerHandle, max_requests: Option<usize>, check: Check) -> LoadSpec {
    LoadSpec {
        rest: server.rest_addr().unwrap(),
        grpc: server.grpc_addr().unwrap(),
        model: "soak".into(),
        x: x(),
        rest_clients: 4,
        grpc_clients: 4,
        max_requests,
        deadline: Duration::from_secs(120),
        check,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_mixed_requests_without_errors_or_memory_growth() {
    let _serial = SERIAL.lock().await;
    // RSS is the whole process's: the test runs in a process where nothing else runs
    // (the runtime installed first, so that it only loads there).
    tf::ensure_runtime();
    if !alone::in_own_process(
        "reliability_soak::ten_thousand_mixed_requests_without_errors_or_memory_growth",
        Duration::from_secs(600),
    ) {
        return;
    }
    let panics = PanicWatch::install();
    tf::ensure_runtime();
    let server = start(config(vec![ModelSource::new(
        "soak",
        fixture("two_versions"),
    )]))
    .await;
    // The base path serves its highest version, 2.
    let want = expected(2);
    let check: Check = Arc::new(move |values: &[f32]| values == want.as_slice());

    let started = Instant::now();
    let warm = Load::start(spec(&server, Some(WARM_UP_REQUESTS), check.clone()))
        .finish()
        .await;
    let rss_before_kib = rss_kib();
    let soak_started = Instant::now();
    let soak = Load::start(spec(&server, Some(SOAK_REQUESTS - WARM_UP_REQUESTS), check))
        .finish()
        .await;
    let soak_elapsed = soak_started.elapsed();
    let rss_after_kib = rss_kib();
    let growth_percent =
        (rss_after_kib as f64 - rss_before_kib as f64) * 100.0 / rss_before_kib as f64;
    eprintln!(
        "soak: {} requests (concurrency 8: 4 REST + 4 gRPC) in {:.1} s, {} after a {}-request \
         warm-up in {:.1} s ({:.0} requests/s); failures {}; RSS {} KiB -> {} KiB ({growth_percent:+.2} %)",
        warm.served + soak.served,
        started.elapsed().as_secs_f64(),
        soak.served,
        warm.served,
        (started.elapsed() - soak_elapsed).as_secs_f64(),
        soak.served as f64 / soak_elapsed.as_secs_f64(),
        warm.failures + soak.failures,
        rss_before_kib,
        rss_after_kib,
    );
    assert_eq!(
        (warm.served, soak.served),
        (WARM_UP_REQUESTS, SOAK_REQUESTS - WARM_UP_REQUESTS),
        "every request of the budget was answered before the deadline"
    );
    assert_eq!(warm.failures + soak.failures, 0, "requests failed");
    assert!(
        growth_percent < MAX_RSS_GROWTH_PERCENT,
        "RSS grew {growth_percent:.2} % ({rss_before_kib} KiB -> {rss_after_kib} KiB)"
    );
    server.shutdown().await;
    panics.assert_none();
}

/// Installs `version` as a copy of two_versions/`from` (copy aside, then rename).
fn install_version(base: &Path, from: u32, version: i64) {
    let staging = base.join(format!(".staging-{version}"));
    copy_dir(&fixture("two_versions").join(from.to_string()), &staging);
    std::fs::rename(&staging, base.join(version.to_string())).unwrap();
}

/// Waits until `version` is the one AVAILABLE version (TF Serving's default
/// policy serves only the latest), polling with a deadline.
async fn wait_until_only(server: &ServerHandle, version: i64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let versions = server.models()[0].versions.clone();
        let available: Vec<i64> = versions
            .iter()
            .filter(|v| v.state == State::Available)
            .map(|v| v.version)
            .collect();
        if available == [version] {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "version {version} did not take over: {versions:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_hot_swaps_under_load_lose_no_request() {
    let _serial = SERIAL.lock().await;
    let panics = PanicWatch::install();
    tf::ensure_runtime();
    let base = tempfile::tempdir().unwrap();
    install_version(base.path(), 1, 1);
    let server = start(config(vec![ModelSource::new("soak", base.path())])).await;
    let (one, two) = (expected(1), expected(2));
    let check: Check = Arc::new(move |values: &[f32]| values == one || values == two);
    let load = Load::start(spec(&server, None, check));

    let started = Instant::now();
    for version in 2..=HOT_SWAPS + 1 {
        // Versions alternate between the two fixtures, so answers change at each swap.
        install_version(base.path(), 2 - (version % 2) as u32, version);
        wait_until_only(&server, version).await;
        // The old version has ended: its folder may go, as deployments clean up.
        std::fs::remove_dir_all(base.path().join((version - 1).to_string())).unwrap();
    }
    let swaps_elapsed = started.elapsed();
    // Keep the load on a little after the last swap.
    let served_at_last_swap = load.served();
    let deadline = Instant::now() + Duration::from_secs(30);
    while load.served() < served_at_last_swap + 100 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let counts = load.stop().await;
    eprintln!(
        "hot swaps: {HOT_SWAPS} swaps in {:.1} s under load (4 REST + 4 gRPC clients), {} requests, {} failed",
        swaps_elapsed.as_secs_f64(),
        counts.served,
        counts.failures
    );
    assert_eq!(counts.failures, 0, "requests failed across the swaps");
    assert!(
        counts.served > served_at_last_swap,
        "the load ran past the last swap"
    );
    wait_until_only(&server, HOT_SWAPS + 1).await;
    server.shutdown().await;
    panics.assert_none();
}
