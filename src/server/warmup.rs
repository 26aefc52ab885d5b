//! SavedModel warmup, as TF Serving does it: a version folder may hold
//! `assets.extra/tf_serving_warmup_requests`, a TFRecord file of serialized
//! `tensorflow.serving.PredictionLog`s. Each record's request is replayed
//! against the freshly loaded version before it is reported AVAILABLE, so
//! that TensorFlow's lazy work (graph optimisation, kernel selection, memory
//! pools) is done before the first real request, not during it.
//!
//! TF Serving's rules, kept here: records are read and replayed in order,
//! each `request_iterations` times; a record without a request is skipped;
//! more than 1000 records, a record that is not a PredictionLog, a broken
//! TFRecord frame or a failing request fail the version's load.

use super::classify::{self, Api};
use super::error::ServeError;
use super::predict::{RequestLimits, prepare_inputs, signature_key_or_default};
use super::tfrecord::{TfRecordError, TfRecordReader};
use super::versions::{Servable, WarmUp};
use crate::pb::tensorflow::error::Code;
use crate::pb::tensorflow::serving::prediction_log::LogType;
use crate::pb::tensorflow::serving::{Input, ModelSpec, PredictRequest, PredictionLog};
use prost::Message;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Where TF Serving looks for warmup data inside a version folder.
pub const WARMUP_DIR: &str = "assets.extra";
pub const WARMUP_FILE: &str = "tf_serving_warmup_requests";

/// TF Serving's `WarmupConsts::kMaxNumRecords`: warmup should be a sample,
/// not a load test that delays every version's availability.
pub const MAX_WARMUP_RECORDS: usize = 1000;

/// How versions are warmed up (`--enable_model_warmup`,
/// `--num_request_iterations_for_warmup`).
#[derive(Clone, Copy, Debug)]
pub struct WarmupOptions {
    pub enabled: bool,
    /// Times each record is replayed (TF Serving's default: 1).
    pub request_iterations: u32,
    /// Where a version has no warmup file, run each signature once with a request
    /// made from the signature (`--warmup_synthesized`; see `warmup_synth`).
    pub synthesized: bool,
    /// The limits a Predict request has on the server: a warmup record is
    /// refused where the same request would be.
    pub limits: RequestLimits,
}

/// Why a warmup failed, and so the version's load.
#[derive(Debug, thiserror::Error)]
pub enum WarmupError {
    #[error("cannot open warmup data at {}: {source}", .path.display())]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    // TF Serving appends the same hint to its reader's DATA_LOSS errors.
    #[error(
        "{source} in warmup record {record} of {}. Please verify your warmup data is in TFRecord format.",
        .path.display()
    )]
    Frame {
        path: PathBuf,
        record: usize,
        source: TfRecordError,
    },
    #[error(
        "Failed to parse warmup record {record} from {}: it is not a tensorflow.serving.PredictionLog ({source})",
        .path.display()
    )]
    Parse {
        path: PathBuf,
        record: usize,
        source: prost::DecodeError,
    },
    #[error(
        "Number of warmup records exceeds the maximum ({MAX_WARMUP_RECORDS}) at {}",
        .path.display()
    )]
    TooManyRecords { path: PathBuf },
    #[error(
        "Unsupported log_type for warmup: {log_type} (warmup record {record} of {}); tfprobe replays predict_log, classify_log and regress_log records",
        .path.display()
    )]
    Unsupported {
        path: PathBuf,
        record: usize,
        log_type: &'static str,
    },
    #[error("warmup record {record} of {} failed: {source}", .path.display())]
    Request {
        path: PathBuf,
        record: usize,
        source: ServeError,
    },
}

impl WarmupError {
    /// The status code the failed load reports (TF Serving's where it has one).
    pub fn code(&self) -> Code {
        match self {
            WarmupError::Open { source, .. } => match source.kind() {
                std::io::ErrorKind::PermissionDenied => Code::PermissionDenied,
                _ => Code::Unknown,
            },
            WarmupError::Frame { .. } => Code::DataLoss,
            WarmupError::Parse { .. } | WarmupError::TooManyRecords { .. } => Code::InvalidArgument,
            WarmupError::Unsupported { .. } => Code::Unimplemented,
            WarmupError::Request { source, .. } => source.code(),
        }
    }
}

/// The warmup step the version lifecycle runs after each load.
pub fn hook(options: WarmupOptions) -> WarmUp {
    std::sync::Arc::new(move |version_dir: &Path, servable: &Servable| {
        run(version_dir, servable, &options).map_err(|err| (err.code(), err.to_string()))
    })
}

/// The warmup file of a version folder.
pub fn warmup_path(version_dir: &Path) -> PathBuf {
    version_dir.join(WARMUP_DIR).join(WARMUP_FILE)
}

/// Replays the warmup records of `version_dir` on `servable` and says how
/// many it read; `None` when there is no warmup file (or warmup is off).
/// Records are numbered from 1 in errors, as people count them.
pub fn run(
    version_dir: &Path,
    servable: &Servable,
    options: &WarmupOptions,
) -> Result<Option<usize>, WarmupError> {
    let path = warmup_path(version_dir);
    if !options.enabled {
        return Ok(None);
    }
    if !path.is_file() {
        tracing::info!("No warmup data file found at {}", path.display());
        if options.synthesized {
            return Ok(Some(super::warmup_synth::run(
                servable,
                options.request_iterations,
            )));
        }
        return Ok(None);
    }
    replay_records(&path, servable, options).map(Some)
}

/// Replays the warmup file at `path` on `backend` as a version load does (TF
/// Serving's rules, the server's default request limits) and says how many records
/// it read: what the warmup builder measures a version with.
pub fn replay_file(
    path: &Path,
    model_name: &str,
    backend: std::sync::Arc<dyn crate::runtime::Backend>,
) -> Result<usize, WarmupError> {
    let version = backend.model().version.unwrap_or(0);
    let servable = Servable::new(
        model_name,
        version,
        backend,
        crate::runtime::WorkerOptions::default(),
    )
    .map_err(|err| WarmupError::Request {
        path: path.to_path_buf(),
        record: 0,
        source: err.into(),
    })?;
    let options = WarmupOptions {
        enabled: true,
        request_iterations: 1,
        synthesized: false,
        limits: RequestLimits {
            max_decoded_bytes: super::predict::DEFAULT_MAX_REQUEST_BYTES as u64,
            max_batch_size: super::predict::DEFAULT_MAX_BATCH_SIZE,
        },
    };
    replay_records(path, &servable, &options)
}

fn replay_records(
    path: &Path,
    servable: &Servable,
    options: &WarmupOptions,
) -> Result<usize, WarmupError> {
    let path = path.to_path_buf();
    let started = Instant::now();
    tracing::info!(
        "Starting to read warmup data for model at {} with model-warmup-options num_request_iterations {{ value: {} }}",
        path.display(),
        options.request_iterations
    );
    let file = std::fs::File::open(&path).map_err(|source| WarmupError::Open {
        path: path.clone(),
        source,
    })?;
    let mut reader = TfRecordReader::new(std::io::BufReader::new(file));
    let mut records = 0usize;
    loop {
        let record = records + 1;
        let bytes = match reader.next_record() {
            Ok(Some(bytes)) => bytes,
            Ok(None) => break,
            Err(source) => {
                return Err(WarmupError::Frame {
                    path,
                    record,
                    source,
                });
            }
        };
        let log = PredictionLog::decode(bytes.as_slice()).map_err(|source| WarmupError::Parse {
            path: path.clone(),
            record,
            source,
        })?;
        replay(servable, &log, options).map_err(|failure| match failure {
            Replay::Unsupported(log_type) => WarmupError::Unsupported {
                path: path.clone(),
                record,
                log_type,
            },
            Replay::Failed(source) => WarmupError::Request {
                path: path.clone(),
                record,
                source,
            },
        })?;
        records = record;
        // Checked after the replay, as TF Serving does: a file of 1001
        // records replays all of them, then fails the load.
        if records > MAX_WARMUP_RECORDS {
            return Err(WarmupError::TooManyRecords { path });
        }
    }
    tracing::info!(
        "Finished reading warmup data for model at {}. Number of warmup records read: {records}. Elapsed time (microseconds): {}.",
        path.display(),
        started.elapsed().as_micros()
    );
    Ok(records)
}

enum Replay {
    Unsupported(&'static str),
    Failed(ServeError),
}

fn replay(servable: &Servable, log: &PredictionLog, options: &WarmupOptions) -> Result<(), Replay> {
    let result = match &log.log_type {
        // TF Serving skips a record that logged nothing.
        None => Ok(()),
        Some(LogType::PredictLog(log)) => {
            predict(servable, &log.request.clone().unwrap_or_default(), options)
        }
        Some(LogType::ClassifyLog(log)) => {
            let request = log.request.clone().unwrap_or_default();
            let input = request.input.unwrap_or_default();
            examples(servable, Api::Classify, request.model_spec, &input, options)
        }
        Some(LogType::RegressLog(log)) => {
            let request = log.request.clone().unwrap_or_default();
            let input = request.input.unwrap_or_default();
            examples(servable, Api::Regress, request.model_spec, &input, options)
        }
        // TF Serving replays this one on its MultiInference path, which
        // tfprobe does not serve; it refuses the other two too.
        Some(LogType::MultiInferenceLog(_)) => {
            return Err(Replay::Unsupported("multi_inference_log"));
        }
        Some(LogType::PredictStreamedLog(_)) => {
            return Err(Replay::Unsupported("predict_streamed_log"));
        }
        Some(LogType::SessionRunLog(_)) => return Err(Replay::Unsupported("session_run_log")),
    };
    result.map_err(Replay::Failed)
}

/// Runs a Classify or Regress as the serving paths do (model name and
/// version ignored, like Predict records), discarding the answer.
fn examples(
    servable: &Servable,
    api: Api,
    spec: Option<ModelSpec>,
    input: &Input,
    options: &WarmupOptions,
) -> Result<(), ServeError> {
    let signature_name = spec.map(|spec| spec.signature_name).unwrap_or_default();
    let signature_key = signature_key_or_default(&signature_name);
    let signature = servable.signature(&signature_key)?;
    let prepared = classify::prepare(api, signature, input, &options.limits)?;
    for _ in 0..options.request_iterations.max(1) {
        let outputs = servable.backend().run(
            &signature_key,
            prepared.inputs.clone(),
            &prepared.output_keys,
        )?;
        classify::check_outputs(api, &outputs, prepared.num_examples)?;
    }
    Ok(())
}

/// Runs a Predict as the gRPC path does (the request's model name and version
/// are ignored: the record belongs to this version), discarding the outputs.
fn predict(
    servable: &Servable,
    request: &PredictRequest,
    options: &WarmupOptions,
) -> Result<(), ServeError> {
    let signature_name = request
        .model_spec
        .as_ref()
        .map(|spec| spec.signature_name.as_str())
        .unwrap_or_default();
    let signature_key = signature_key_or_default(signature_name);
    let signature = servable.signature(&signature_key)?;
    let (inputs, output_keys) = prepare_inputs(
        signature,
        &request.inputs,
        &request.output_filter,
        &options.limits,
    )?;
    // Straight on the backend: the version is not serving yet, so its worker
    // queue has nothing to be fair to.
    for _ in 0..options.request_iterations.max(1) {
        servable
            .backend()
            .run(&signature_key, inputs.clone(), &output_keys)?;
    }
    Ok(())
}
