//! Background tasks that talk to a model server through [`crate::client`]: testing
//! and opening a connection, predictions on images, and latency runs.

use super::server_tls::PemFile;
use super::state::{ConnectionSettings, InputMode, PredictOutcome, PredictSettings, Sample};
use super::tasks::{Event, Reporter, Tasks};
use crate::client::{
    Client, ClientConfig, ClientIdentity, ModelClient, PreparedRequest, TlsOptions, VersionSelector,
};
use crate::imaging::{self, ImageOptions, InputPlan, Labels};
use crate::model::SignatureInfo;
use crate::runtime::NamedTensors;
use crate::tensor::{Tensor, TensorData};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Checks the dialog's fields; the message names the field to fix.
pub fn validate(settings: &ConnectionSettings) -> Result<(), String> {
    let host = settings.host.trim();
    if host.is_empty() {
        return Err("Host is empty: enter a host name or address, such as localhost".into());
    }
    if host.contains(char::is_whitespace) || host.contains('/') {
        return Err(format!(
            "Host '{host}' is not a host name or address (no spaces, no scheme or path)"
        ));
    }
    if settings.port == 0 {
        return Err("Port must be between 1 and 65535".into());
    }
    if settings.model_name.trim().is_empty() {
        return Err(
            "Model name is empty: TF Serving's APIs need the model's name (for example resnet)"
                .into(),
        );
    }
    if !settings.version.trim().is_empty() && settings.version.trim().parse::<i64>().is_err() {
        return Err(format!(
            "Version '{}' is not a number (leave it empty for the latest)",
            settings.version.trim()
        ));
    }
    if settings.timeout_ms == 0 {
        return Err("Timeout must be at least 1 ms".into());
    }
    if settings.tls {
        let (cert, key) = (
            settings.client_cert_file.trim(),
            settings.client_key_file.trim(),
        );
        if cert.is_empty() != key.is_empty() {
            return Err(
                "Client certificate and Client key go together: fill in both, or neither".into(),
            );
        }
        for (label, file) in [
            ("CA file", settings.ca_file.trim()),
            ("Client certificate", cert),
            ("Client key", key),
        ] {
            if !file.is_empty() && !std::path::Path::new(file).is_file() {
                return Err(format!("{label} {file} does not exist"));
            }
        }
    }
    Ok(())
}

fn non_empty_path(text: &str) -> Option<PathBuf> {
    Some(text.trim())
        .filter(|text| !text.is_empty())
        .map(PathBuf::from)
}

/// The client configuration of a remote connection.
pub fn client_config(settings: &ConnectionSettings) -> ClientConfig {
    let mut config = ClientConfig::new(settings.host.trim(), settings.port, settings.protocol)
        .with_model(settings.model_name.trim());
    config.version = match (
        settings.version.trim().parse::<i64>(),
        settings.label.trim(),
    ) {
        (Ok(version), _) => VersionSelector::Version(version),
        (Err(_), "") => VersionSelector::Latest,
        (Err(_), label) => VersionSelector::Label(label.to_string()),
    };
    let timeout = Duration::from_millis(settings.timeout_ms.max(1));
    config.timeout = timeout;
    config.connect_timeout = timeout.min(Duration::from_secs(5));
    if settings.tls {
        let client_identity = match (
            non_empty_path(&settings.client_cert_file),
            non_empty_path(&settings.client_key_file),
        ) {
            (Some(cert_file), Some(key_file)) => Some(ClientIdentity {
                cert_file,
                key_file,
            }),
            // `validate` refuses one without the other.
            _ => None,
        };
        config.tls = Some(TlsOptions {
            ca_file: non_empty_path(&settings.ca_file),
            accept_invalid_certs: settings.accept_invalid_certs,
            server_name: None,
            client_identity,
        });
    }
    config
}

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
) -> Result<(Client, Vec<crate::client::VersionState>), String> {
    let client = Client::connect(&client_config(settings)).map_err(|err| err.to_string())?;
    let versions = client.status().await.map_err(|err| err.to_string())?;
    Ok((client, versions))
}

impl Tasks {
    /// The file picker of a PEM file field (rfd; blocking, so off the UI thread).
    pub fn pick_pem_file(&self, which: PemFile) {
        let reporter = self.reporter();
        self.spawn_blocking(move || {
            let picked = rfd::FileDialog::new()
                .set_title(which.picker_title())
                // No extension filter: keys and certificates come as .pem, .crt,
                // .key, tls.cert, ... and a filter would hide some.
                .pick_file();
            if let Some(path) = picked {
                reporter.send(Event::PemFilePicked { which, path });
            }
        });
    }

    /// "Test connection": model status (versions and states).
    pub fn test_connection(&self, seq: u64, settings: ConnectionSettings) {
        let reporter = self.reporter();
        self.spawn(async move {
            let result = async {
                let (_, versions) = connect_with_status(&settings).await?;
                Ok(format!(
                    "Connected to {}: model '{}' {}",
                    settings.title(),
                    settings.model_name,
                    describe_versions(&versions)
                ))
            }
            .await;
            reporter.send(Event::ConnectionTested { seq, result });
        });
    }

    /// Status and metadata: the remote model's signature tree.
    pub fn connect(&self, seq: u64, settings: ConnectionSettings) {
        let reporter = self.reporter();
        self.spawn(async move {
            let result = async {
                let (client, versions) = connect_with_status(&settings).await?;
                let info = client.metadata().await.map_err(|err| err.to_string())?;
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

/// The image options the settings and the model ask for.
pub fn image_options(
    settings: &PredictSettings,
    model_dir: Option<&std::path::Path>,
) -> Result<ImageOptions, String> {
    let mut options = ImageOptions {
        size: Some((settings.size.max(1), settings.size.max(1))),
        ..ImageOptions::default()
    };
    if !settings.preset.is_empty() {
        options.normalization = Some(settings.preset.parse()?);
    }
    if let Some(dir) = model_dir {
        options.fill_from_model_dir(dir);
    }
    Ok(options)
}

/// The input plan after checking it against the chosen input mode.
pub fn checked_plan(
    signature: &SignatureInfo,
    settings: &PredictSettings,
    options: &ImageOptions,
) -> Result<InputPlan, String> {
    let plan = imaging::plan_input(signature, options).map_err(|err| err.to_string())?;
    match (&plan, settings.input_mode) {
        (InputPlan::Pixels { key, .. }, InputMode::Bytes) => Err(format!(
            "input '{key}' takes decoded pixels, not encoded bytes; choose Auto or Tensor"
        )),
        (InputPlan::EncodedBytes { key, .. }, InputMode::Tensor) => Err(format!(
            "input '{key}' is DT_STRING: it takes the encoded file; choose Auto or Bytes"
        )),
        _ => Ok(plan),
    }
}

/// A one-line description of an input plan.
pub fn plan_summary(plan: &InputPlan) -> String {
    match plan {
        InputPlan::EncodedBytes { key, scalar } => {
            format!(
                "{key}: encoded image bytes (DT_STRING, shape {})",
                if *scalar { "()" } else { "(1)" }
            )
        }
        InputPlan::Pixels { key, spec, batched } => format!(
            "{key}: {}×{}×{} {} pixels {:?}{}, normalised {}",
            spec.height,
            spec.width,
            spec.channels,
            spec.dtype,
            spec.layout,
            if *batched { ", batch 1" } else { "" },
            spec.normalization.formula()
        ),
    }
}

async fn run_predict(job: PredictJob) -> (Result<PredictOutcome, String>, Option<String>) {
    let prepared = tokio::task::spawn_blocking({
        let job = job.clone();
        move || -> Result<(NamedTensors, String), String> {
            let options = image_options(&job.settings, job.model_dir.as_deref())?;
            let plan = checked_plan(&job.signature, &job.settings, &options)?;
            let (key, tensor) = imaging::tensor_for_plan(&job.bytes, &plan, &options)
                .map_err(|err| err.to_string())?;
            Ok((NamedTensors::from([(key, tensor)]), plan_summary(&plan)))
        }
    })
    .await;
    let (inputs, input_summary) = match prepared {
        Ok(Ok(prepared)) => prepared,
        Ok(Err(message)) => return (Err(message), None),
        Err(join) => return (Err(format!("preparing the input stopped: {join}")), None),
    };
    let curl = Some(crate::client::snippets::curl(&job.config, &inputs));
    let client = match Client::connect(&job.config) {
        Ok(client) => client,
        Err(err) => return (Err(err.to_string()), curl),
    };
    let sent = Instant::now();
    let answer = client.predict(inputs, &[]).await;
    let latency_ms = sent.elapsed().as_secs_f64() * 1000.0;
    let answer = match answer {
        Ok(answer) => answer,
        Err(err) => return (Err(err.to_string()), curl),
    };
    let (classification, classification_error) = match rank(&answer.outputs, &job) {
        Ok(classification) => (Some(classification), None),
        Err(message) => (None, Some(message)),
    };
    let outcome = PredictOutcome {
        classification,
        classification_error,
        raw: raw_text(&answer.outputs),
        latency_ms,
        input_summary,
        model_version: answer.model_version,
    };
    (Ok(outcome), curl)
}

/// Top-k with the best labels at hand: the chosen file, the model's assets, or ImageNet's.
fn rank(outputs: &NamedTensors, job: &PredictJob) -> Result<imaging::Classification, String> {
    let (_, _, _, classes) = imaging::find_scores(outputs, None).map_err(|err| err.to_string())?;
    let labels: Option<Labels> = if !job.settings.labels_file.trim().is_empty() {
        Some(
            Labels::from_file(std::path::Path::new(job.settings.labels_file.trim()))
                .map_err(|err| err.to_string())?,
        )
    } else {
        job.model_dir
            .as_deref()
            .and_then(|dir| imaging::find_model_labels(dir, classes))
            .or_else(|| matches!(classes, 1000 | 1001).then(imaging::builtin_imagenet_labels))
    };
    imaging::classify(outputs, None, job.settings.top_k.max(1), labels.as_ref())
        .map_err(|err| err.to_string())
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

/// A plain grey 224×224 PNG, for latency runs before any image was dropped.
pub fn synthetic_image() -> Vec<u8> {
    let pixels = image::RgbImage::from_pixel(224, 224, image::Rgb([128, 128, 128]));
    let mut bytes = std::io::Cursor::new(Vec::new());
    match pixels.write_to(&mut bytes, image::ImageFormat::Png) {
        Ok(()) => bytes.into_inner(),
        Err(_) => Vec::new(),
    }
}

async fn run_latency(job: LatencyJob, reporter: &Reporter) -> Result<(), String> {
    let bytes = job
        .bytes
        .clone()
        .unwrap_or_else(|| Arc::new(synthetic_image()));
    let prepared = {
        let job = job.clone();
        tokio::task::spawn_blocking(move || -> Result<Tensor, String> {
            let options = image_options(&job.settings, job.model_dir.as_deref())?;
            let plan = checked_plan(&job.signature, &job.settings, &options)?;
            let (_, tensor) =
                imaging::tensor_for_plan(&bytes, &plan, &options).map_err(|err| err.to_string())?;
            Ok(tensor)
        })
    };
    let options = image_options(&job.settings, job.model_dir.as_deref())?;
    let plan = checked_plan(&job.signature, &job.settings, &options)?;
    let key = match &plan {
        InputPlan::EncodedBytes { key, .. } | InputPlan::Pixels { key, .. } => key.clone(),
    };
    let tensor = prepared
        .await
        .map_err(|join| format!("preparing the input stopped: {join}"))??;
    let client = Client::connect(&job.config).map_err(|err| err.to_string())?;
    let request = Arc::new(
        client
            .prepare(&NamedTensors::from([(key, tensor)]))
            .map_err(|err| err.to_string())?,
    );

    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Sample>();
    let forwarder = {
        let reporter = reporter.clone();
        let run = job.run;
        tokio::spawn(async move {
            let mut batch = Vec::new();
            let mut last_send = Instant::now();
            loop {
                let next = tokio::time::timeout(Duration::from_millis(30), rx.recv()).await;
                let closed = matches!(next, Ok(None));
                if let Ok(Some(sample)) = next {
                    batch.push(sample);
                }
                if !batch.is_empty()
                    && (closed
                        || last_send.elapsed() >= Duration::from_millis(30)
                        || batch.len() >= 500)
                {
                    reporter.send(Event::LatencySamples {
                        run,
                        samples: std::mem::take(&mut batch),
                    });
                    last_send = Instant::now();
                }
                if closed {
                    break;
                }
            }
        })
    };

    let mut first_error: Option<String> = None;
    for index in 0..job.warmup {
        if job.cancel.load(Ordering::Relaxed) {
            break;
        }
        let result = timed_send(&client, &request).await;
        if let Err(err) = &result {
            first_error.get_or_insert_with(|| err.clone());
        }
        let _ = tx.send(Sample {
            index,
            latency_ms: result.ok(),
            warmup: true,
        });
    }
    let next = Arc::new(AtomicU32::new(0));
    let mut workers = Vec::new();
    for _ in 0..job.concurrency.clamp(1, 256) {
        let (client, request, next, tx, cancel) = (
            client.clone(),
            Arc::clone(&request),
            Arc::clone(&next),
            tx.clone(),
            Arc::clone(&job.cancel),
        );
        let (warmup, total) = (job.warmup, job.requests);
        workers.push(tokio::spawn(async move {
            let mut first_error = None;
            loop {
                if cancel.load(Ordering::Relaxed) {
                    break;
                }
                let claimed = next.fetch_add(1, Ordering::Relaxed);
                if claimed >= total {
                    break;
                }
                let result = timed_send(&client, &request).await;
                if let Err(err) = &result {
                    first_error.get_or_insert_with(|| err.clone());
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                let _ = tx.send(Sample {
                    index: warmup + claimed,
                    latency_ms: result.ok(),
                    warmup: false,
                });
            }
            first_error
        }));
    }
    drop(tx);
    for worker in workers {
        if let Ok(Some(error)) = worker.await {
            first_error.get_or_insert(error);
        }
    }
    let _ = forwarder.await;
    match first_error {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

/// Sends `request` once: its latency in milliseconds, or the error.
async fn timed_send(client: &Client, request: &PreparedRequest) -> Result<f64, String> {
    let sent = Instant::now();
    client
        .send_prepared(request)
        .await
        .map(|_| sent.elapsed().as_secs_f64() * 1000.0)
        .map_err(|err| err.to_string())
}
