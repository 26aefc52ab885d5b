//! The warmup builder: images become the PredictRequests a signature takes (as
//! [`super::image_request`] builds them), written as the TFRecord file of
//! `tensorflow.serving.PredictionLog`s that TF Serving (and `tfprobe serve`) replays
//! from `assets.extra/tf_serving_warmup_requests` before a version serves. Then it
//! measures what the file buys: the first request of a version loaded with the file
//! replayed, and of one loaded without.

use super::WorkflowError;
use super::image_request::{ImagePlan, Request};
use super::open;
use super::target::{LocalTarget, Target};
use crate::pb::tensorflow::serving::prediction_log::LogType;
use crate::pb::tensorflow::serving::{ModelSpec, PredictLog, PredictRequest, PredictionLog};
use crate::runtime::{Backend, LoadOptions, TfBackend};
use crate::tensor::proto::tensor_to_proto_content;
use prost::Message;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where TF Serving reads a version's warmup file.
pub fn default_path(version_dir: &Path) -> PathBuf {
    crate::server::warmup_path(version_dir)
}

/// The PredictionLog that replays `request` (TF Serving ignores the model name and
/// version of a warmup record; the name is kept for people reading the file).
pub fn prediction_log(request: &Request, model_name: &str) -> PredictionLog {
    PredictionLog {
        log_type: Some(LogType::PredictLog(PredictLog {
            request: Some(PredictRequest {
                model_spec: Some(ModelSpec {
                    name: model_name.to_string(),
                    signature_name: request.signature_key.clone(),
                    ..Default::default()
                }),
                inputs: request
                    .inputs
                    .iter()
                    .map(|(key, tensor)| (key.clone(), tensor_to_proto_content(tensor)))
                    .collect(),
                ..Default::default()
            }),
            response: None,
        })),
        log_metadata: None,
    }
}

/// One PredictionLog per image, in order. An unreadable file or one that is no image
/// fails the build, naming it: a warmup file must not silently miss a request.
pub fn build(
    plan: &ImagePlan,
    model_name: &str,
    images: &[PathBuf],
) -> Result<Vec<PredictionLog>, WorkflowError> {
    if images.is_empty() {
        return Err(WorkflowError::Setting(
            "a warmup file needs at least one image (--images)".into(),
        ));
    }
    if images.len() > crate::server::MAX_WARMUP_RECORDS {
        return Err(WorkflowError::Setting(format!(
            "{} images given; TF Serving refuses warmup files of more than {} records",
            images.len(),
            crate::server::MAX_WARMUP_RECORDS
        )));
    }
    images
        .iter()
        .map(|path| {
            let image = open::read_image(path)?;
            Ok(prediction_log(&plan.request(&image.bytes)?, model_name))
        })
        .collect()
}

/// One PredictionLog per image already in memory (the app's Try-it images).
pub fn build_from_bytes(
    plan: &ImagePlan,
    model_name: &str,
    images: &[Arc<Vec<u8>>],
) -> Result<Vec<PredictionLog>, WorkflowError> {
    if images.is_empty() || images.len() > crate::server::MAX_WARMUP_RECORDS {
        return Err(WorkflowError::Setting(format!(
            "a warmup file holds 1 to {} requests; {} images given",
            crate::server::MAX_WARMUP_RECORDS,
            images.len()
        )));
    }
    images
        .iter()
        .map(|bytes| Ok(prediction_log(&plan.request(bytes)?, model_name)))
        .collect()
}

/// The TFRecord bytes of `logs` (each record framed as `tf.io.TFRecordWriter` does).
pub fn encode(logs: &[PredictionLog]) -> Vec<u8> {
    logs.iter()
        .flat_map(|log| crate::server::encode_record(&log.encode_to_vec()))
        .collect()
}

/// Writes `logs` to `path`, creating its folder (`assets.extra/`) when missing.
pub fn write(path: &Path, logs: &[PredictionLog]) -> Result<(), WorkflowError> {
    let write_error = |err: std::io::Error| WorkflowError::Write {
        path: path.to_path_buf(),
        detail: err.to_string(),
    };
    if let Some(folder) = path
        .parent()
        .filter(|folder| !folder.as_os_str().is_empty())
    {
        std::fs::create_dir_all(folder).map_err(write_error)?;
    }
    std::fs::write(path, encode(logs)).map_err(write_error)
}

/// What the warmup file buys: the first request's latency after each load.
#[derive(Clone, Debug, PartialEq)]
pub struct WarmupGain {
    /// Records the "with" load replayed.
    pub records_replayed: usize,
    /// The first request of a version loaded with the file replayed.
    pub with_file_first_ms: f64,
    /// The first request of a version loaded without it.
    pub without_file_first_ms: f64,
}

/// Loads the version in `version_dir` twice and times the first `request` after
/// each load: once with `warmup_file` replayed (as `tfprobe serve` and TF Serving do),
/// once without. The "with" load goes first, so that the process's one-time start-up
/// (kernel registration, thread pools) lands in its warmup, as in a server that is
/// already running, and not in the "without" number. Blocking: call it off the UI
/// thread and outside async code.
pub fn measure(
    version_dir: &Path,
    model_name: &str,
    warmup_file: &Path,
    request: &Request,
) -> Result<WarmupGain, WorkflowError> {
    crate::runtime::library::ensure_loaded()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|err| WorkflowError::Setting(format!("cannot start a runtime: {err}")))?;
    let load = || -> Result<Arc<dyn Backend>, WorkflowError> {
        Ok(Arc::new(TfBackend::load(
            version_dir,
            &LoadOptions::default(),
        )?))
    };
    let warmed = load()?;
    let records_replayed =
        crate::server::replay_file(warmup_file, model_name, Arc::clone(&warmed))?;
    let with_file = LocalTarget::from_backend(warmed);
    let with_file_first_ms = runtime.block_on(with_file.run(request))?.latency_ms;
    drop(with_file);
    let cold = LocalTarget::from_backend(load()?);
    let without_file_first_ms = runtime.block_on(cold.run(request))?.latency_ms;
    Ok(WarmupGain {
        records_replayed,
        with_file_first_ms,
        without_file_first_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::NamedTensors;
    use crate::tensor::{Tensor, TensorData};

    #[test]
    fn records_are_prediction_logs_framed_as_tfrecords() {
        let request = Request {
            signature_key: "serving_default".into(),
            inputs: NamedTensors::from([(
                "image_bytes".to_string(),
                Tensor::new(vec![1], TensorData::String(vec![b"jpeg".to_vec()])).unwrap(),
            )]),
        };
        let logs = vec![prediction_log(&request, "demo")];
        let bytes = encode(&logs);
        let data_len = logs[0].encoded_len();
        assert_eq!(bytes.len(), 12 + data_len + 4);
        assert_eq!(bytes[..8], (data_len as u64).to_le_bytes());
        let decoded = PredictionLog::decode(&bytes[12..12 + data_len]).unwrap();
        let Some(LogType::PredictLog(log)) = decoded.log_type else {
            panic!("{decoded:?}")
        };
        let request = log.request.unwrap();
        let spec = request.model_spec.unwrap();
        assert_eq!(
            (spec.name.as_str(), spec.signature_name.as_str()),
            ("demo", "serving_default")
        );
        assert_eq!(
            request.inputs["image_bytes"].string_val,
            vec![b"jpeg".to_vec()]
        );
    }
}
