//! Synthesized warmup (`--warmup_synthesized`, and the app's embedded server): a
//! version with no `assets.extra/tf_serving_warmup_requests` still gets each
//! signature run once before it is AVAILABLE, so the first user's request does not
//! pay for TensorFlow's graph optimisation. The request is made from the signature:
//! a small valid JPEG for a DT_STRING input of a predict signature (an encoded
//! image is what such inputs take), an empty serialized `tf.Example` for the string
//! input of a classify or regress signature, and zeros of the declared dtype for
//! any other input, with every unknown dimension set to 1.
//!
//! The request is a guess, not the user's data: a signature that refuses it is
//! logged as a warning and the load goes on.

use super::versions::Servable;
use crate::model::{DType, Shape, SignatureInfo};
use crate::runtime::NamedTensors;
use crate::tensor::{Tensor, TensorData};
use std::time::Instant;

/// Largest tensor a synthesized request holds: a signature declaring a huge fixed
/// shape is skipped rather than allocating it.
const MAX_SYNTHESIZED_ELEMENTS: u64 = 64 << 20;

/// Runs each signature of `servable` once (`request_iterations` times) with a
/// synthesized request; returns how many signatures answered.
pub fn run(servable: &Servable, request_iterations: u32) -> usize {
    let signatures: Vec<SignatureInfo> = servable
        .backend()
        .model()
        .serving_meta_graph()
        .map(|meta_graph| meta_graph.signatures.clone())
        .unwrap_or_default()
        .into_iter()
        // `__saved_model_init_op` and the like are no signatures requests run.
        .filter(|signature| !signature.key.starts_with("__"))
        .collect();
    let started = Instant::now();
    let mut warmed = 0;
    for signature in &signatures {
        let inputs = match request(signature) {
            Ok(inputs) => inputs,
            Err(reason) => {
                tracing::warn!(
                    "Synthesized warmup skipped signature '{}' of {} version {}: {reason}",
                    signature.key,
                    servable.model,
                    servable.version
                );
                continue;
            }
        };
        let mut result = Ok(());
        for _ in 0..request_iterations.max(1) {
            result = servable
                .backend()
                .run(&signature.key, inputs.clone(), &[])
                .map(drop);
            if result.is_err() {
                break;
            }
        }
        match result {
            Ok(()) => warmed += 1,
            Err(err) => tracing::warn!(
                "Synthesized warmup of signature '{}' of {} version {} failed (the version loads anyway): {err}",
                signature.key,
                servable.model,
                servable.version
            ),
        }
    }
    tracing::info!(
        "Synthesized warmup for {} version {}: {warmed} of {} signatures ran. Elapsed time (microseconds): {}.",
        servable.model,
        servable.version,
        signatures.len(),
        started.elapsed().as_micros()
    );
    warmed
}

/// The synthesized inputs of one signature.
pub fn request(signature: &SignatureInfo) -> Result<NamedTensors, String> {
    let examples =
        signature.method_name.ends_with("/classify") || signature.method_name.ends_with("/regress");
    let mut inputs = NamedTensors::new();
    for input in &signature.inputs {
        let shape: Vec<u64> = match &input.shape {
            Shape::UnknownRank => vec![1],
            known => known
                .sizes()
                .unwrap_or_default()
                .iter()
                .map(|&size| if size < 0 { 1 } else { size as u64 })
                .collect(),
        };
        let count = crate::tensor::element_count(&shape)
            .filter(|&count| count <= MAX_SYNTHESIZED_ELEMENTS)
            .ok_or_else(|| {
                format!(
                    "input '{}' has shape {shape:?}, too large to synthesize",
                    input.key
                )
            })? as usize;
        let data = if input.dtype == DType::STRING {
            // An empty byte string is a valid, empty serialized tf.Example.
            let value = if examples { Vec::new() } else { small_jpeg() };
            TensorData::String(vec![value; count])
        } else {
            zeros(input.dtype, count).ok_or_else(|| {
                format!(
                    "input '{}' is {}, which a request cannot carry",
                    input.key,
                    input.dtype.name()
                )
            })?
        };
        let tensor = Tensor::new(shape, data).map_err(|err| err.to_string())?;
        inputs.insert(input.key.clone(), tensor);
    }
    Ok(inputs)
}

/// `count` zeros of `dtype`; `None` for dtypes serving cannot carry.
fn zeros(dtype: DType, count: usize) -> Option<TensorData> {
    Some(match dtype {
        DType::FLOAT => TensorData::Float(vec![0.0; count]),
        DType::DOUBLE => TensorData::Double(vec![0.0; count]),
        DType::HALF => TensorData::Half(vec![0; count]),
        DType::BFLOAT16 => TensorData::BFloat16(vec![0; count]),
        DType::INT8 => TensorData::Int8(vec![0; count]),
        DType::INT16 => TensorData::Int16(vec![0; count]),
        DType::INT32 => TensorData::Int32(vec![0; count]),
        DType::INT64 => TensorData::Int64(vec![0; count]),
        DType::UINT8 => TensorData::UInt8(vec![0; count]),
        DType::UINT16 => TensorData::UInt16(vec![0; count]),
        DType::UINT32 => TensorData::UInt32(vec![0; count]),
        DType::UINT64 => TensorData::UInt64(vec![0; count]),
        DType::BOOL => TensorData::Bool(vec![false; count]),
        _ => return None,
    })
}

/// A grey 32×32 baseline JPEG, encoded once.
pub fn small_jpeg() -> Vec<u8> {
    static JPEG: std::sync::LazyLock<Vec<u8>> = std::sync::LazyLock::new(|| {
        let pixels = image::RgbImage::from_pixel(32, 32, image::Rgb([128, 128, 128]));
        let mut bytes = std::io::Cursor::new(Vec::new());
        match pixels.write_to(&mut bytes, image::ImageFormat::Jpeg) {
            Ok(()) => bytes.into_inner(),
            // Encoding a fixed in-memory image fails only without memory.
            Err(_) => Vec::new(),
        }
    });
    JPEG.clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TensorInfoView;

    fn input(key: &str, dtype: DType, sizes: &[i64]) -> TensorInfoView {
        TensorInfoView {
            key: key.into(),
            dtype,
            shape: Shape::from_sizes(sizes),
            name: String::new(),
        }
    }

    #[test]
    fn requests_follow_the_signature_with_open_dimensions_set_to_one() {
        let signature = SignatureInfo {
            key: "serving_default".into(),
            method_name: "tensorflow/serving/predict".into(),
            inputs: vec![
                input("image_bytes", DType::STRING, &[-1]),
                input("pixels", DType::FLOAT, &[-1, 4, 4, 3]),
                input("ids", DType::INT64, &[2, -1]),
            ],
            outputs: Vec::new(),
        };
        let inputs = request(&signature).unwrap();
        let image = &inputs["image_bytes"];
        assert_eq!(image.shape, vec![1]);
        let TensorData::String(values) = &image.data else {
            panic!("{image:?}")
        };
        let decoded = image::load_from_memory(&values[0]).unwrap();
        assert_eq!(
            (image::guess_format(&values[0]).unwrap(), decoded.width()),
            (image::ImageFormat::Jpeg, 32)
        );
        assert_eq!(inputs["pixels"].shape, vec![1, 4, 4, 3]);
        assert_eq!(inputs["pixels"].data, TensorData::Float(vec![0.0; 48]));
        assert_eq!(inputs["ids"].data, TensorData::Int64(vec![0, 0]));

        let classify = SignatureInfo {
            method_name: "tensorflow/serving/classify".into(),
            inputs: vec![input("inputs", DType::STRING, &[-1])],
            ..signature.clone()
        };
        assert_eq!(
            request(&classify).unwrap()["inputs"].data,
            TensorData::String(vec![Vec::new()])
        );
        let huge = SignatureInfo {
            inputs: vec![input("x", DType::FLOAT, &[100_000, 100_000])],
            ..signature
        };
        assert_eq!(
            request(&huge).unwrap_err(),
            "input 'x' has shape [100000, 100000], too large to synthesize"
        );
    }
}
