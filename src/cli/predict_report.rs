//! The text `tfprobe predict` prints: where the request ran, the input, the labelled
//! top-k, predicted class outputs, and latency (the seed article's line included).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use tfprobe::client::stats::LatencyStats;
use tfprobe::client::{ClientConfig, Protocol};
use tfprobe::runtime::NamedTensors;
use tfprobe::workflow::classify;
use tfprobe::workflow::predict::ImagePrediction;

/// Where the prediction ran.
pub enum Origin<'a> {
    Local {
        model_dir: PathBuf,
        load_ms: f64,
    },
    Server {
        config: &'a ClientConfig,
        signature: &'a str,
    },
}

pub struct Report<'a> {
    pub origin: Origin<'a>,
    pub image: &'a Path,
    pub image_size_bytes: usize,
    pub prediction: &'a ImagePrediction,
    pub output: Option<&'a str>,
    /// Statistics of `--repeat` requests, when asked for.
    pub repeated: Option<&'a LatencyStats>,
    pub warmup: u32,
}

impl Report<'_> {
    pub fn text(&self) -> String {
        let prediction = self.prediction;
        let answer = &prediction.answer;
        let mut text = String::new();
        match &self.origin {
            Origin::Local { model_dir, .. } => {
                let _ = writeln!(
                    text,
                    "model:     {} (signature '{}')",
                    model_dir.display(),
                    prediction.request.signature_key
                );
            }
            Origin::Server { config, signature } => {
                let protocol = match config.protocol {
                    Protocol::Rest => "REST",
                    Protocol::Grpc => "gRPC",
                };
                let version = answer
                    .model_version
                    .map(|v| format!(", version {v}"))
                    .unwrap_or_default();
                let _ = writeln!(
                    text,
                    "server:    {} ({protocol}), model '{}'{version}, signature '{signature}'",
                    config.authority(),
                    config.model_name,
                );
            }
        }
        let _ = writeln!(
            text,
            "image:     {} ({} bytes)",
            self.image.display(),
            self.image_size_bytes
        );
        let _ = writeln!(text, "input:     {}", prediction.input_summary);
        match &prediction.ranked {
            Ok(ranked) => {
                if let Some(source) = &ranked.labels_source {
                    let _ = writeln!(text, "labels:    {source}");
                }
                let heading = if ranked.softmax_applied {
                    format!("softmax({})", ranked.output)
                } else {
                    ranked.output.clone()
                };
                let _ = writeln!(
                    text,
                    "\n{:>4}  {:>6}  {:<32}  {heading}",
                    "rank", "class", "label"
                );
                for (rank, class) in ranked.rows.first().into_iter().flatten().enumerate() {
                    let _ = writeln!(
                        text,
                        "{:>4}  {:>6}  {:<32}  {:.6}",
                        rank + 1,
                        class.class,
                        class.label.as_deref().unwrap_or(""),
                        class.score
                    );
                }
                text.push('\n');
            }
            Err(err) => {
                let _ = writeln!(text, "({err})\n");
            }
        }
        for (name, classes) in classify::class_outputs(&answer.outputs) {
            let classes: Vec<String> = classes.iter().map(i64::to_string).collect();
            let _ = writeln!(text, "{name}: {}", classes.join(", "));
        }
        if let Some(stats) = self.repeated {
            let snapshot = stats.snapshot();
            let class = classify::predicted_class(&answer.outputs, self.output)
                .unwrap_or_else(|| "?".into());
            let _ = writeln!(
                text,
                "Prediction class: {class}, avg latency: {:.1} ms",
                snapshot.mean_ms
            );
            let _ = writeln!(
                text,
                "latency over {} requests (after {} warm-up): p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, min {:.2} ms, max {:.2} ms{}",
                snapshot.count,
                self.warmup,
                snapshot.p50_ms,
                snapshot.p90_ms,
                snapshot.p99_ms,
                snapshot.min_ms,
                snapshot.max_ms,
                if snapshot.errors > 0 {
                    format!(", {} failed", snapshot.errors)
                } else {
                    String::new()
                }
            );
        }
        match &self.origin {
            Origin::Local { load_ms, .. } => {
                let _ = writeln!(
                    text,
                    "latency:   {:.2} ms (model run, the process's first: it includes TensorFlow's graph optimisation; \
                     --repeat N measures warm runs); loading took {load_ms:.0} ms",
                    answer.latency_ms
                );
            }
            Origin::Server { .. } => {
                let _ = writeln!(
                    text,
                    "latency:   {:.2} ms (round trip of the ranked request)",
                    answer.latency_ms
                );
            }
        }
        text
    }
}

/// TF Serving's row-format REST response (`{"predictions": [...]}`), written by the
/// server's own JSON code so `predict --json` diffs cleanly against a server's answer.
/// Falls back to the columnar `{"outputs": ...}` when the outputs share no batch dimension.
pub fn row_format_json(outputs: &NamedTensors) -> String {
    use tfprobe::server::json::{Format, outputs_json};
    outputs_json(outputs, Format::Row)
        .or_else(|_| outputs_json(outputs, Format::Columnar))
        .unwrap_or_else(|err| {
            format!(
                "{{\n    \"error\": {}\n}}\n",
                serde_json::Value::from(err.to_string())
            )
        })
}
