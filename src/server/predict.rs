//! The predict path shared by REST and gRPC: check the request against the
//! signature (inputs, dtypes, shapes, output filter) with messages that name
//! the valid choices, then run it on the version's worker with an optional
//! deadline.

use super::error::ServeError;
use super::versions::Servable;
use crate::model::{DEFAULT_SIGNATURE_KEY, Shape, SignatureInfo};
use crate::pb::tensorflow::TensorProto;
use crate::runtime::{RuntimeError, validate};
use crate::tensor::NamedTensors;
use crate::tensor::proto::{ConvertError, tensor_from_proto_limited};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

/// Runs `signature_key` on the version's worker (its thread pool and bounded
/// queue: a full queue answers RESOURCE_EXHAUSTED at once), giving up after
/// `timeout` (DEADLINE_EXCEEDED). The caller holds `servable` until the reply.
pub async fn run(
    servable: &Arc<Servable>,
    signature_key: &str,
    inputs: NamedTensors,
    output_keys: &[String],
    timeout: Option<Duration>,
) -> Result<NamedTensors, ServeError> {
    let reply = servable
        .worker()
        .submit_async(signature_key, inputs, output_keys)?;
    let reply = match timeout {
        Some(limit) => match tokio::time::timeout(limit, reply).await {
            Ok(reply) => reply,
            Err(_) => {
                return Err(RuntimeError::Timeout {
                    timeout_ms: limit.as_millis() as u64,
                }
                .into());
            }
        },
        None => reply.await,
    };
    reply
        .unwrap_or(Err(RuntimeError::ShuttingDown))
        .map_err(ServeError::from)
}

/// Largest batch (first dimension of an input whose signature leaves it
/// open) one request may carry. TF Serving bounds batches only when batching
/// is on (its `max_batch_size`); without a bound one request of a million
/// tiny rows would make the model allocate activations for all of them.
/// Generous: clients that send more split their requests anyway.
/// `--max_batch_size` / [`super::ServerConfig::max_batch_size`] changes it.
pub const DEFAULT_MAX_BATCH_SIZE: u64 = 1024;

/// Default largest request (REST body or gRPC message): 256 MiB.
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 256 * 1024 * 1024;

/// A request's `signature_name`, or TF Serving's default when it is empty.
pub fn signature_key_or_default(signature_name: &str) -> String {
    if signature_name.is_empty() {
        DEFAULT_SIGNATURE_KEY.to_string()
    } else {
        signature_name.to_string()
    }
}

/// What one Predict request may carry.
#[derive(Clone, Copy, Debug)]
pub struct RequestLimits {
    /// The most the input tensors may take once decoded.
    pub max_decoded_bytes: u64,
    /// See [`DEFAULT_MAX_BATCH_SIZE`].
    pub max_batch_size: u64,
}

/// A wire PredictRequest's inputs and output filter, decoded and checked
/// against `signature`: what the gRPC path and warmup replay both run.
pub fn prepare_inputs(
    signature: &SignatureInfo,
    protos: &BTreeMap<String, TensorProto>,
    output_filter: &[String],
    limits: &RequestLimits,
) -> Result<(NamedTensors, Vec<String>), ServeError> {
    let inputs = decode_inputs(protos, limits.max_decoded_bytes)?;
    check_inputs(signature, &inputs, limits.max_batch_size)?;
    let output_keys = check_output_filter(signature, output_filter)?;
    Ok((inputs, output_keys))
}

/// The request's tensors, each decoded within what the ones before left of
/// the budget (extra inputs are refused later, but must not allocate first).
fn decode_inputs(
    protos: &BTreeMap<String, TensorProto>,
    max_decoded_bytes: u64,
) -> Result<NamedTensors, ServeError> {
    let mut inputs = NamedTensors::new();
    let mut used_bytes = 0u64;
    for (key, proto) in protos {
        let left_bytes = max_decoded_bytes.saturating_sub(used_bytes);
        let tensor = tensor_from_proto_limited(proto, left_bytes).map_err(|err| match err {
            ConvertError::DecodedTooLarge {
                dtype,
                shape,
                needed_bytes,
                ..
            } => {
                let before = if used_bytes > 0 {
                    format!(" (with the {used_bytes} bytes of the inputs before it)")
                } else {
                    String::new()
                };
                ServeError::invalid(format!(
                    "input '{key}': tensor shape {shape:?} of {dtype} needs {needed_bytes} bytes once decoded, \
                     more than the server's limit of {max_decoded_bytes} bytes for a request's inputs{before}; \
                     start the server with a larger --max_request_bytes",
                ))
            }
            err => ServeError::invalid(format!("input '{key}': {err}")),
        })?;
        used_bytes = used_bytes.saturating_add(tensor.data.size_bytes());
        inputs.insert(key.clone(), tensor);
    }
    Ok(inputs)
}

fn keys<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    names.into_iter().collect::<Vec<_>>().join(",")
}

/// Inputs must be exactly the signature's, with its dtypes and compatible shapes.
pub fn check_inputs(
    signature: &SignatureInfo,
    inputs: &NamedTensors,
    max_batch_size: u64,
) -> Result<(), ServeError> {
    let sent: BTreeSet<&str> = inputs.keys().map(String::as_str).collect();
    let wanted: BTreeSet<&str> = signature
        .inputs
        .iter()
        .map(|input| input.key.as_str())
        .collect();
    if sent != wanted {
        let extra = sent.difference(&wanted).copied();
        let missing = wanted.difference(&sent).copied();
        return Err(ServeError::invalid(format!(
            "input size does not match signature: {}!={} len({{{}}}) != len({{{}}}). Sent extra: {{{}}}. Missing but required: {{{}}}.",
            sent.len(),
            wanted.len(),
            keys(sent.iter().copied()),
            keys(wanted.iter().copied()),
            keys(extra),
            keys(missing),
        )));
    }
    for info in &signature.inputs {
        validate::check_tensor(info, &inputs[&info.key])?;
    }
    check_batch_size(signature, inputs, max_batch_size)
}

/// Batch dimensions (a signature dim 0 of -1) must not exceed `max_batch`.
/// The message starts like TF Serving's batching error, which users search for.
fn check_batch_size(
    signature: &SignatureInfo,
    inputs: &NamedTensors,
    max_batch: u64,
) -> Result<(), ServeError> {
    for info in &signature.inputs {
        let Shape::Dims(dims) = &info.shape else {
            continue;
        };
        let open_batch = dims.first().is_some_and(|dim| dim.size < 0);
        let batch = inputs[&info.key].shape.first().copied().unwrap_or(0);
        if open_batch && batch > max_batch {
            return Err(ServeError::invalid(format!(
                "Task size {batch} is larger than maximum input batch size {max_batch}: input '{}' has {batch} rows (its first dimension); split the request into batches of at most {max_batch}, or raise --max_batch_size",
                info.key
            )));
        }
    }
    Ok(())
}

/// The outputs to fetch: the filter (checked like TF Serving), or all.
pub fn check_output_filter(
    signature: &SignatureInfo,
    filter: &[String],
) -> Result<Vec<String>, ServeError> {
    let mut seen = BTreeSet::new();
    for alias in filter {
        if signature.output(alias).is_none() {
            return Err(ServeError::invalid(format!(
                "output tensor alias not found in signature: {alias} Outputs expected to be in the set {{{}}}.",
                keys(signature.outputs.iter().map(|output| output.key.as_str()))
            )));
        }
        if !seen.insert(alias.as_str()) {
            return Err(ServeError::invalid(format!(
                "duplicate output tensor alias: {alias}"
            )));
        }
    }
    Ok(filter.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DType, Shape, TensorInfoView};
    use crate::tensor::{Tensor, TensorData};

    fn signature() -> SignatureInfo {
        SignatureInfo {
            key: "serving_default".into(),
            method_name: String::new(),
            inputs: vec![
                TensorInfoView {
                    key: "a".into(),
                    dtype: DType::FLOAT,
                    shape: Shape::from_sizes(&[-1, 2]),
                    name: "a:0".into(),
                },
                TensorInfoView {
                    key: "b".into(),
                    dtype: DType::INT64,
                    shape: Shape::UnknownRank,
                    name: "b:0".into(),
                },
            ],
            outputs: vec![TensorInfoView {
                key: "y".into(),
                dtype: DType::FLOAT,
                shape: Shape::UnknownRank,
                name: "y:0".into(),
            }],
        }
    }

    #[test]
    fn inputs_are_checked_with_tf_serving_messages() {
        let mut inputs = NamedTensors::new();
        inputs.insert(
            "a".into(),
            Tensor::new(vec![1, 2], TensorData::Float(vec![1.0, 2.0])).unwrap(),
        );
        inputs.insert(
            "c".into(),
            Tensor::new(vec![], TensorData::Int64(vec![1])).unwrap(),
        );
        let err = check_inputs(&signature(), &inputs, DEFAULT_MAX_BATCH_SIZE).unwrap_err();
        assert_eq!(
            err.to_string(),
            "input size does not match signature: 2!=2 len({a,c}) != len({a,b}). Sent extra: {c}. Missing but required: {b}."
        );
        inputs.remove("c");
        inputs.insert(
            "b".into(),
            Tensor::new(vec![], TensorData::Int32(vec![1])).unwrap(),
        );
        let err = check_inputs(&signature(), &inputs, DEFAULT_MAX_BATCH_SIZE).unwrap_err();
        assert_eq!(
            err.to_string(),
            "input 'b' expects dtype DT_INT64 but got DT_INT32"
        );
        inputs.insert(
            "b".into(),
            Tensor::new(vec![], TensorData::Int64(vec![1])).unwrap(),
        );
        check_inputs(&signature(), &inputs, DEFAULT_MAX_BATCH_SIZE).unwrap();
        inputs.insert(
            "a".into(),
            Tensor::new(vec![2], TensorData::Float(vec![1.0, 2.0])).unwrap(),
        );
        let err = check_inputs(&signature(), &inputs, DEFAULT_MAX_BATCH_SIZE).unwrap_err();
        assert_eq!(
            err.to_string(),
            "input 'a' expects shape (-1, 2) but got [2]"
        );
        assert_eq!(err.http_status(), 400);
    }

    #[test]
    fn batches_over_the_limit_are_refused() {
        let mut inputs = NamedTensors::new();
        inputs.insert(
            "a".into(),
            Tensor::new(vec![3, 2], TensorData::Float(vec![0.0; 6])).unwrap(),
        );
        inputs.insert(
            "b".into(),
            Tensor::new(vec![5], TensorData::Int64(vec![0; 5])).unwrap(),
        );
        // 'b' (5 rows) has unknown rank: its first dimension need not be a batch.
        check_batch_size(&signature(), &inputs, 3).unwrap();
        let err = check_batch_size(&signature(), &inputs, 2).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Task size 3 is larger than maximum input batch size 2: input 'a' has 3 rows (its first dimension); split the request into batches of at most 2, or raise --max_batch_size"
        );
        assert_eq!(err.http_status(), 400);
    }

    #[test]
    fn output_filters_are_checked() {
        assert_eq!(
            check_output_filter(&signature(), &["y".into()]).unwrap(),
            vec!["y".to_string()]
        );
        let err = check_output_filter(&signature(), &["z".into()]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "output tensor alias not found in signature: z Outputs expected to be in the set {y}."
        );
        let err = check_output_filter(&signature(), &["y".into(), "y".into()]).unwrap_err();
        assert_eq!(err.to_string(), "duplicate output tensor alias: y");
    }
}
