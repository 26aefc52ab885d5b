//! Background work that talks to a model server through the workflow layer: testing
//! and opening a connection, predictions on images, and latency runs.

use super::tasks::{Event, Reporter, Tasks};
use crate::client::{Client, ClientConfig, ModelClient, VersionState, snippets};
use crate::model::SignatureInfo;
use crate::runtime::NamedTensors;
use crate::tensor::TensorData;
use crate::ui::state::{ConnectionSettings, PredictOutcome, PredictSettings};
use crate::workflow::WorkflowError;
use crate::workflow::image_request::{ImagePlan, synthetic_image};
use crate::workflow::latency::{self, RunPlan, Sample};
use crate::workflow::predict;
use crate::workflow::target::ServerTarget;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

/// How often a latency run's samples are handed to the UI (at most, and at most
/// `SAMPLE_BATCH` at once): often enough for a live chart, seldom enough not to
/// repaint per request.
const SAMPLE_INTERVAL: Duration = Duration::from_millis(30);
const SAMPLE_BATCH: usize = 500;

fn describe_versions(versions: &[crate::client::VersionState]) -> String {
    if versions.is_empty() {
        return "no versions reported".into();
    }
    versions
        .iter()
        .map(|version| {
            let mut text = format!("version {} {}", version.version, version.state);
            if !version.error_message.is_empty() {
                let _ = write!(text, " ({}: {})", version.error_code, version.error_message);
            }
            text
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A client for `settings` and the model's status through it.
async fn connect_with_status(
    settings: &ConnectionSettings,
) -> Result<(Client, Vec<VersionState>), WorkflowError> {
    let client = Client::connect(&settings.client_config())?;
    let versions = client.status().await?;
    Ok((client, versions))
}

impl Tasks {
    /// "Test connection": model status (versions and states).
    pub fn test_connection(&self, seq: u64, settings: ConnectionSettings) {
        let reporter = self.reporter();
        self.spawn(async move {
            let result = connect_with_status(&settings).await.map(|(_, versions)| {
                format!(
                    "Connected to {}: model '{}' {}",
                    settings.title(),
                    settings.model_name,
                    describe_versions(&versions)
                )
            });
            reporter.send(Event::ConnectionTested { seq, result });
        });
    }

    /// Status and metadata: the remote model's signature tree.
    pub fn connect(&self, seq: u64, settings: ConnectionSettings) {
        let reporter = self.reporter();
        self.spawn(async move {
            let result = async {
                let (client, versions) = connect_with_status(&settings).await?;
                let info = client.metadata().await?;
                Ok((info, versions))
            }
            .await;
            reporter.send(Event::Connected {
                seq,
                settings,
                result,
            });
        });
    }

    /// Sends one image and ranks the answer.
    pub fn predict(&self, job: PredictJob) {
        let reporter = self.reporter();
        self.spawn(async move {
            let id = job.id;
            let (result, curl) = run_predict(job).await;
            reporter.send(Event::Predicted { id, result, curl });
        });
    }

    /// A latency run; samples stream in batches, `LatencyDone` ends it.
    pub fn latency_run(&self, job: LatencyJob) {
        let reporter = self.reporter();
        self.spawn(async move {
            let run = job.run;
            let started = Instant::now();
            let first_error = run_latency(job, &reporter).await.err();
            reporter.send(Event::LatencyDone {
                run,
                first_error,
                elapsed_s: started.elapsed().as_secs_f64(),
            });
        });
    }
}

/// Everything one prediction needs.
#[derive(Clone, Debug)]
pub struct PredictJob {
    pub id: u64,
    pub config: ClientConfig,
    pub signature: SignatureInfo,
    pub settings: PredictSettings,
    pub bytes: Arc<Vec<u8>>,
    /// The local model's version folder (preprocessing.json, labels in assets/).
    pub model_dir: Option<PathBuf>,
}

/// Plans the image input off the async threads (it reads preprocessing.json).
async fn plan(
    settings: &PredictSettings,
    signature: &SignatureInfo,
    model_dir: Option<PathBuf>,
) -> Result<ImagePlan, WorkflowError> {
    let (settings, signature) = (settings.clone(), signature.clone());
    tokio::task::spawn_blocking(move || settings.plan(&signature, model_dir.as_deref()))
        .await
        .map_err(|join| WorkflowError::interrupted("planning the input", join))?
}

async fn run_predict(job: PredictJob) -> (Result<PredictOutcome, WorkflowError>, Option<String>) {
    let prepared = async {
        let target = ServerTarget::connect(&job.config)?;
        let plan = plan(&job.settings, &job.signature, job.model_dir.clone()).await?;
        let request = predict::build_request(&plan, Arc::clone(&job.bytes)).await?;
        Ok::<_, WorkflowError>((target, plan, request))
    }
    .await;
    let (target, plan, request) = match prepared {
        Ok(prepared) => prepared,
        Err(err) => return (Err(err), None),
    };
    let mut config = job.config.clone();
    config.signature = Some(request.signature_key.clone());
    let curl = Some(snippets::curl(&config, &request.inputs));
    let ranking = job.settings.ranking(job.model_dir.clone());
    let prediction = match predict::run_and_rank(&target, &plan, request, &ranking).await {
        Ok(prediction) => prediction,
        Err(err) => return (Err(err), curl),
    };
    let (classification, classification_error) = match prediction.ranked {
        Ok(classification) => (Some(classification), None),
        Err(err) => (None, Some(err.to_string())),
    };
    let outcome = PredictOutcome {
        classification,
        classification_error,
        raw: raw_text(&prediction.answer.outputs),
        latency_ms: prediction.answer.latency_ms,
        input_summary: prediction.input_summary,
        model_version: prediction.answer.model_version,
    };
    (Ok(outcome), curl)
}

/// Outputs as text: dtype, shape and up to 2 000 values each.
pub fn raw_text(outputs: &NamedTensors) -> String {
    const MAX_VALUES: usize = 2000;
    let mut text = String::new();
    for (key, tensor) in outputs {
        let _ = writeln!(text, "{key}: {} shape {:?}", tensor.dtype(), tensor.shape);
        let values: Vec<String> = match &tensor.data {
            TensorData::Float(values) => first_values(values, MAX_VALUES, f32::to_string),
            TensorData::Double(values) => first_values(values, MAX_VALUES, f64::to_string),
            TensorData::Int32(values) => first_values(values, MAX_VALUES, i32::to_string),
            TensorData::Int64(values) => first_values(values, MAX_VALUES, i64::to_string),
            TensorData::UInt8(values) => first_values(values, MAX_VALUES, u8::to_string),
            TensorData::Bool(values) => first_values(values, MAX_VALUES, bool::to_string),
            TensorData::String(values) => first_values(values, MAX_VALUES, |v| {
                format!("{:?}", String::from_utf8_lossy(v))
            }),
            other => vec![format!("({} values of {})", other.len(), other.dtype())],
        };
        let more = tensor.num_elements().saturating_sub(values.len());
        let _ = writeln!(
            text,
            "[{}{}]\n",
            values.join(", "),
            if more > 0 {
                format!(", … {more} more")
            } else {
                String::new()
            }
        );
    }
    text
}

/// The first `max` values, each as `show` writes it.
fn first_values<T>(values: &[T], max: usize, show: impl Fn(&T) -> String) -> Vec<String> {
    values.iter().take(max).map(show).collect()
}

/// Everything a latency run needs.
#[derive(Clone, Debug)]
pub struct LatencyJob {
    pub run: u64,
    pub config: ClientConfig,
    pub signature: SignatureInfo,
    pub settings: PredictSettings,
    /// The image sent each time; `None`: a synthetic grey image.
    pub bytes: Option<Arc<Vec<u8>>>,
    pub model_dir: Option<PathBuf>,
    pub requests: u32,
    pub warmup: u32,
    pub concurrency: u32,
    pub cancel: Arc<AtomicBool>,
}

async fn run_latency(job: LatencyJob, reporter: &Reporter) -> Result<(), WorkflowError> {
    let bytes = job
        .bytes
        .clone()
        .unwrap_or_else(|| Arc::new(synthetic_image()));
    let target = ServerTarget::connect(&job.config)?;
    let plan = plan(&job.settings, &job.signature, job.model_dir.clone()).await?;
    let request = predict::build_request(&plan, bytes).await?;
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Sample>();
    let run = job.run;
    let forwarder = tokio::spawn(forward_batches(rx, reporter.clone(), move |samples| {
        Event::LatencySamples { run, samples }
    }));
    let run_plan = RunPlan {
        requests: job.requests,
        warmup: job.warmup,
        concurrency: job.concurrency,
    };
    let result = latency::run(&target, &request, run_plan, Arc::clone(&job.cancel), tx).await;
    let _ = forwarder.await;
    result
}

/// Hands what `rx` yields to the UI in batches (at most every `SAMPLE_INTERVAL`, and
/// at most `SAMPLE_BATCH` at once), each wrapped by `event`, until the sender closes.
pub(super) async fn forward_batches<T>(
    mut rx: tokio::sync::mpsc::UnboundedReceiver<T>,
    reporter: Reporter,
    event: impl Fn(Vec<T>) -> Event,
) {
    let mut batch = Vec::new();
    let mut last_send = Instant::now();
    loop {
        let next = tokio::time::timeout(SAMPLE_INTERVAL, rx.recv()).await;
        let closed = matches!(next, Ok(None));
        if let Ok(Some(item)) = next {
            batch.push(item);
        }
        if !batch.is_empty()
            && (closed || last_send.elapsed() >= SAMPLE_INTERVAL || batch.len() >= SAMPLE_BATCH)
        {
            reporter.send(event(std::mem::take(&mut batch)));
            last_send = Instant::now();
        }
        if closed {
            break;
        }
    }
}
