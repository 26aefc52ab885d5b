//! Prometheus metrics, served as text at `/monitoring/prometheus/metrics`
//! (TF Serving's path). Each server has its own recorder (nothing global), so
//! several servers in one process (tests, the GUI) keep separate counts.
//!
//! - `tfprobe_requests_total{model, signature, api, protocol, status}`
//! - `tfprobe_request_duration_seconds{model, api, protocol}` (histogram)
//! - `tfprobe_model_loads_total{model, status}`
//! - `tfprobe_model_load_duration_seconds{model, version}` (last load of a version)
//! - `tfprobe_model_warmup_records{model, version}` (records replayed at the last load)

use crate::pb::tensorflow::error::Code;
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

const REQUESTS: &str = "tfprobe_requests_total";
const REQUEST_SECONDS: &str = "tfprobe_request_duration_seconds";
const LOADS: &str = "tfprobe_model_loads_total";
const LOAD_SECONDS: &str = "tfprobe_model_load_duration_seconds";
const WARMUP_RECORDS: &str = "tfprobe_model_warmup_records";

/// Histogram samples are kept raw until the exporter's upkeep folds them into
/// the buckets; a scrape does that, but a server nobody scrapes grew by about
/// 20 bytes per request for ever (found by tests/it/reliability_soak.rs). Upkeep
/// runs after this many requests, so memory stays flat without a timer task.
const UPKEEP_EVERY_REQUESTS: u64 = 4096;

/// Latency buckets (seconds): 100 µs to 30 s.
const BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0, 30.0,
];

/// Which API a request used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    Rest,
    Grpc,
}

impl Protocol {
    fn label(self) -> &'static str {
        match self {
            Protocol::Rest => "rest",
            Protocol::Grpc => "grpc",
        }
    }
}

pub struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    requests: AtomicU64,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let builder = PrometheusBuilder::new();
        let builder = builder
            .set_buckets_for_metric(Matcher::Full(REQUEST_SECONDS.to_string()), BUCKETS)
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        let metrics = Metrics {
            recorder,
            handle,
            requests: AtomicU64::new(0),
        };
        metrics.with(|| {
            metrics::describe_counter!(
                REQUESTS,
                "Requests by model, signature, API, protocol and status code."
            );
            metrics::describe_histogram!(
                REQUEST_SECONDS,
                metrics::Unit::Seconds,
                "Request latency from the request's arrival to its response."
            );
            metrics::describe_counter!(LOADS, "Model version loads by outcome.");
            metrics::describe_gauge!(
                LOAD_SECONDS,
                metrics::Unit::Seconds,
                "How long loading a model version took."
            );
            metrics::describe_gauge!(
                WARMUP_RECORDS,
                "Warmup records a model version replayed before it became AVAILABLE."
            );
        });
        metrics
    }

    fn with(&self, f: impl FnOnce()) {
        metrics::with_local_recorder(&self.recorder, f);
    }

    /// Counts one finished request.
    pub fn record_request(
        &self,
        model: &str,
        signature: &str,
        api: &'static str,
        protocol: Protocol,
        code: Code,
        elapsed: Duration,
    ) {
        self.with(|| {
            metrics::counter!(
                REQUESTS,
                "model" => model.to_string(),
                "signature" => signature.to_string(),
                "api" => api,
                "protocol" => protocol.label(),
                "status" => code.as_str_name(),
            )
            .increment(1);
            metrics::histogram!(
                REQUEST_SECONDS,
                "model" => model.to_string(),
                "api" => api,
                "protocol" => protocol.label(),
            )
            .record(elapsed.as_secs_f64());
        });
        let recorded = self.requests.fetch_add(1, Ordering::Relaxed) + 1;
        if recorded.is_multiple_of(UPKEEP_EVERY_REQUESTS) {
            self.handle.run_upkeep();
        }
    }

    /// Records one load attempt of a model version.
    pub fn record_load(&self, model: &str, version: i64, ok: bool, elapsed: Duration) {
        self.with(|| {
            metrics::counter!(LOADS, "model" => model.to_string(), "status" => if ok { "OK" } else { "ERROR" })
                .increment(1);
            if ok {
                metrics::gauge!(LOAD_SECONDS, "model" => model.to_string(), "version" => version.to_string())
                    .set(elapsed.as_secs_f64());
            }
        });
    }

    /// The warmup records a version replayed before it became AVAILABLE.
    pub fn record_warmup(&self, model: &str, version: i64, records: usize) {
        self.with(|| {
            metrics::gauge!(WARMUP_RECORDS, "model" => model.to_string(), "version" => version.to_string())
                .set(records as f64);
        });
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        self.handle.render()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counts_histograms_and_load_times() {
        let metrics = Metrics::new();
        metrics.record_request(
            "resnet",
            "serving_default",
            "predict",
            Protocol::Rest,
            Code::Ok,
            Duration::from_micros(300),
        );
        metrics.record_request(
            "resnet",
            "serving_default",
            "predict",
            Protocol::Rest,
            Code::Ok,
            Duration::from_millis(2),
        );
        metrics.record_request(
            "resnet",
            "x",
            "predict",
            Protocol::Grpc,
            Code::InvalidArgument,
            Duration::from_millis(1),
        );
        metrics.record_load("resnet", 7, true, Duration::from_millis(42));
        let text = metrics.render();
        assert!(
            text.contains(r#"tfprobe_requests_total{model="resnet",signature="serving_default",api="predict",protocol="rest",status="OK"} 2"#),
            "{text}"
        );
        assert!(text.contains(r#"status="INVALID_ARGUMENT"} 1"#), "{text}");
        assert!(text.contains(r#"tfprobe_request_duration_seconds_bucket{model="resnet",api="predict",protocol="rest",le="0.0005"} 1"#), "{text}");
        assert!(
            text.contains(
                r#"tfprobe_model_load_duration_seconds{model="resnet",version="7"} 0.042"#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"tfprobe_model_loads_total{model="resnet",status="OK"} 1"#),
            "{text}"
        );
        // A second server's metrics are separate.
        assert!(!Metrics::new().render().contains("resnet"));
    }
}
