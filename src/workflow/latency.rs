//! Repeated runs of one request with latency statistics: warm-up requests first (not
//! measured), then `requests` spread over `concurrency` workers. The request is
//! encoded once; each sample is reported as it completes, so a front end can chart
//! the run live (the app) or summarise it at the end (the CLI).

use super::WorkflowError;
use super::image_request::Request;
use super::target::Target;
use crate::client::stats::LatencyStats;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::UnboundedSender;

/// Most workers one run may start.
pub const MAX_CONCURRENCY: u32 = 256;

/// Pause after a failed request, so a dead target is not hammered in a tight loop.
const AFTER_ERROR_PAUSE: Duration = Duration::from_millis(5);

/// One request of a run.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// 0-based, warm-up requests first.
    pub index: u32,
    /// `None` for a failed request.
    pub latency_ms: Option<f64>,
    pub warmup: bool,
}

/// The shape of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunPlan {
    pub requests: u32,
    pub warmup: u32,
    /// Requests in flight at once (1 to [`MAX_CONCURRENCY`]).
    pub concurrency: u32,
}

/// Runs `plan` against `target`, sending every sample to `samples` as it completes.
/// Stops early when `cancel` is set. Returns the first error any request met (the run
/// goes on past errors: a flaky target shows as failed samples, not a stopped chart).
pub async fn run<T: Target>(
    target: &T,
    request: &Request,
    plan: RunPlan,
    cancel: Arc<AtomicBool>,
    samples: UnboundedSender<Sample>,
) -> Result<(), WorkflowError> {
    let prepared = Arc::new(target.prepare(request)?);
    let mut first_error: Option<WorkflowError> = None;
    for index in 0..plan.warmup {
        if cancel.load(Ordering::Relaxed) {
            break;
        }
        let latency_ms = record(timed(target, &prepared).await, &mut first_error);
        let _ = samples.send(Sample {
            index,
            latency_ms,
            warmup: true,
        });
    }
    let next = Arc::new(AtomicU32::new(0));
    let mut workers = Vec::new();
    for _ in 0..plan.concurrency.clamp(1, MAX_CONCURRENCY) {
        let (target, prepared, next, samples, cancel) = (
            target.clone(),
            Arc::clone(&prepared),
            Arc::clone(&next),
            samples.clone(),
            Arc::clone(&cancel),
        );
        workers.push(tokio::spawn(async move {
            let mut first_error = None;
            while !cancel.load(Ordering::Relaxed) {
                let claimed = next.fetch_add(1, Ordering::Relaxed);
                if claimed >= plan.requests {
                    break;
                }
                let latency_ms = record(timed(&target, &prepared).await, &mut first_error);
                if latency_ms.is_none() {
                    tokio::time::sleep(AFTER_ERROR_PAUSE).await;
                }
                let _ = samples.send(Sample {
                    index: plan.warmup + claimed,
                    latency_ms,
                    warmup: false,
                });
            }
            first_error
        }));
    }
    drop(samples);
    for worker in workers {
        match worker.await {
            Ok(Some(error)) => {
                first_error.get_or_insert(error);
            }
            Ok(None) => {}
            Err(join) => {
                first_error.get_or_insert(WorkflowError::interrupted("a latency worker", join));
            }
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// Statistics of the measured (not warm-up) samples.
pub fn statistics(samples: &[Sample]) -> LatencyStats {
    let mut stats = LatencyStats::new();
    for sample in samples.iter().filter(|sample| !sample.warmup) {
        match sample.latency_ms {
            Some(ms) => stats.record(Duration::from_secs_f64(ms / 1000.0)),
            None => stats.record_error(),
        }
    }
    stats
}

/// Sends a prepared request once: its latency in milliseconds, or the error.
async fn timed<T: Target>(
    target: &T,
    prepared: &super::target::Prepared,
) -> Result<f64, WorkflowError> {
    let sent = Instant::now();
    target.send_prepared(prepared).await?;
    Ok(sent.elapsed().as_secs_f64() * 1000.0)
}

/// The latency of a success; keeps the first error.
fn record(
    result: Result<f64, WorkflowError>,
    first_error: &mut Option<WorkflowError>,
) -> Option<f64> {
    match result {
        Ok(latency_ms) => Some(latency_ms),
        Err(error) => {
            first_error.get_or_insert(error);
            None
        }
    }
}

/// The run as CSV, one row per request (warm-up first, each phase in request order).
pub fn csv(samples: &[Sample]) -> String {
    let mut sorted = samples.to_vec();
    sorted.sort_by_key(|sample| (!sample.warmup, sample.index));
    let mut text = String::from("request,phase,latency_ms,ok\n");
    for sample in sorted {
        let phase = if sample.warmup { "warmup" } else { "measured" };
        match sample.latency_ms {
            Some(ms) => text.push_str(&format!("{},{phase},{ms:.3},true\n", sample.index)),
            None => text.push_str(&format!("{},{phase},,false\n", sample.index)),
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SavedModelInfo;
    use crate::runtime::{Backend, NamedTensors, RuntimeError};
    use crate::workflow::target::LocalTarget;
    use std::sync::atomic::AtomicU64;

    /// Answers every run; every third one fails.
    struct Counting {
        model: SavedModelInfo,
        runs: AtomicU64,
    }

    impl Backend for Counting {
        fn model(&self) -> &SavedModelInfo {
            &self.model
        }

        fn run(
            &self,
            _signature_key: &str,
            inputs: NamedTensors,
            _output_keys: &[String],
        ) -> Result<NamedTensors, RuntimeError> {
            let run = self.runs.fetch_add(1, Ordering::Relaxed) + 1;
            if run.is_multiple_of(3) {
                return Err(RuntimeError::InvalidArgument {
                    message: format!("run {run} fails"),
                });
            }
            Ok(inputs)
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn warm_up_then_every_request_once_with_failures_counted() {
        let backend = Arc::new(Counting {
            model: SavedModelInfo::default(),
            runs: AtomicU64::new(0),
        });
        let target = LocalTarget::from_backend(backend.clone());
        let request = Request {
            signature_key: "serving_default".into(),
            inputs: NamedTensors::new(),
        };
        let plan = RunPlan {
            requests: 30,
            warmup: 3,
            concurrency: 4,
        };
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let cancel = Arc::new(AtomicBool::new(false));
        let first_error = run(&target, &request, plan, cancel, tx).await.unwrap_err();
        assert!(first_error.to_string().ends_with("fails"), "{first_error}");
        let mut samples = Vec::new();
        while let Some(sample) = rx.recv().await {
            samples.push(sample);
        }
        assert_eq!(backend.runs.load(Ordering::Relaxed), 33);
        let mut indices: Vec<u32> = samples.iter().map(|sample| sample.index).collect();
        indices.sort_unstable();
        assert_eq!(indices, (0..33).collect::<Vec<_>>());
        assert!(samples[..3].iter().all(|sample| sample.warmup));
        let stats = statistics(&samples);
        let failed = samples.iter().filter(|s| s.latency_ms.is_none()).count() as u64;
        assert_eq!(failed, 11, "every third of 33 runs fails");
        assert_eq!(stats.count() + stats.errors(), 30);
        let csv = csv(&samples);
        assert_eq!(csv.lines().count(), 34);
        assert!(
            csv.starts_with("request,phase,latency_ms,ok\n0,warmup,"),
            "{csv}"
        );
    }
}
