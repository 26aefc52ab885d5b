//! Triton's `config.pbtxt` for a SavedModel: platform `tensorflow_savedmodel`, the
//! serving signature's inputs and outputs by key with Triton's data types, and
//! `max_batch_size` when every tensor's first dimension is open (their dims then drop it).

use crate::model::{DEFAULT_SIGNATURE_KEY, DType, SavedModelInfo, Shape, TensorInfoView};
use crate::workflow::WorkflowError;
use std::fmt::Write;

/// The largest batch Triton may form when the model takes any batch size.
pub const TRITON_MAX_BATCH_SIZE: u32 = 8;

/// Triton's name for a TensorFlow dtype (`DT_FLOAT` → `TYPE_FP32`), if it has one.
pub fn triton_data_type(dtype: DType) -> Option<&'static str> {
    Some(match dtype.name().as_str() {
        "DT_FLOAT" => "TYPE_FP32",
        "DT_DOUBLE" => "TYPE_FP64",
        "DT_HALF" => "TYPE_FP16",
        "DT_BFLOAT16" => "TYPE_BF16",
        "DT_INT8" => "TYPE_INT8",
        "DT_INT16" => "TYPE_INT16",
        "DT_INT32" => "TYPE_INT32",
        "DT_INT64" => "TYPE_INT64",
        "DT_UINT8" => "TYPE_UINT8",
        "DT_UINT16" => "TYPE_UINT16",
        "DT_UINT32" => "TYPE_UINT32",
        "DT_UINT64" => "TYPE_UINT64",
        "DT_BOOL" => "TYPE_BOOL",
        "DT_STRING" => "TYPE_STRING",
        _ => return None,
    })
}

/// `config.pbtxt` for the serving signature of `info`, named `model_name`.
pub fn triton_config(info: &SavedModelInfo, model_name: &str) -> Result<String, WorkflowError> {
    let signature = info
        .serving_meta_graph()
        .and_then(|graph| graph.signature(DEFAULT_SIGNATURE_KEY))
        .ok_or_else(|| {
            WorkflowError::Setting(format!(
                "Triton serves a SavedModel's {DEFAULT_SIGNATURE_KEY:?} signature, and {} has none",
                info.path.display()
            ))
        })?;
    let tensors = signature.inputs.iter().chain(&signature.outputs);
    let open_batch = tensors
        .clone()
        .all(|tensor| matches!(&tensor.shape, Shape::Dims(dims) if dims.first().is_some_and(|dim| dim.size == -1)));
    let mut text = String::new();
    let _ = writeln!(text, "name: {}", quoted(model_name));
    let _ = writeln!(text, "platform: \"tensorflow_savedmodel\"");
    let _ = writeln!(
        text,
        "max_batch_size: {}",
        if open_batch { TRITON_MAX_BATCH_SIZE } else { 0 }
    );
    for (field, list) in [("input", &signature.inputs), ("output", &signature.outputs)] {
        let _ = writeln!(text, "{field} [");
        for (index, tensor) in list.iter().enumerate() {
            text.push_str(&tensor_entry(tensor, open_batch)?);
            text.push_str(if index + 1 < list.len() {
                "  },\n"
            } else {
                "  }\n"
            });
        }
        let _ = writeln!(text, "]");
    }
    Ok(text)
}

fn tensor_entry(tensor: &TensorInfoView, open_batch: bool) -> Result<String, WorkflowError> {
    let data_type = triton_data_type(tensor.dtype).ok_or_else(|| {
        WorkflowError::Setting(format!(
            "tensor {:?} is {}, which Triton has no data type for",
            tensor.key,
            tensor.dtype.name()
        ))
    })?;
    let Shape::Dims(dims) = &tensor.shape else {
        return Err(WorkflowError::Setting(format!(
            "tensor {:?} has an unknown rank; Triton needs its dims",
            tensor.key
        )));
    };
    let sizes: Vec<i64> = dims
        .iter()
        .skip(usize::from(open_batch))
        .map(|dim| dim.size)
        .collect();
    let mut text = String::new();
    let _ = writeln!(text, "  {{\n    name: {}", quoted(&tensor.key));
    let _ = writeln!(text, "    data_type: {data_type}");
    if sizes.is_empty() {
        // Triton wants at least one dim: a scalar is [1] reshaped to [].
        let _ = writeln!(text, "    dims: [ 1 ]\n    reshape: {{ shape: [ ] }}");
    } else {
        let sizes: Vec<String> = sizes.iter().map(i64::to_string).collect();
        let _ = writeln!(text, "    dims: [ {} ]", sizes.join(", "));
    }
    Ok(text)
}

/// A protobuf text-format string literal.
fn quoted(value: &str) -> String {
    let mut out = String::from("\"");
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{MetaGraphInfo, SignatureInfo};

    fn tensor(key: &str, dtype: i32, sizes: &[i64]) -> TensorInfoView {
        TensorInfoView::for_test(key, dtype, sizes)
    }

    fn model(inputs: Vec<TensorInfoView>, outputs: Vec<TensorInfoView>) -> SavedModelInfo {
        SavedModelInfo {
            meta_graphs: vec![MetaGraphInfo {
                tags: vec!["serve".into()],
                signatures: vec![SignatureInfo {
                    key: DEFAULT_SIGNATURE_KEY.into(),
                    method_name: "tensorflow/serving/predict".into(),
                    inputs,
                    outputs,
                }],
                ..MetaGraphInfo::default()
            }],
            ..SavedModelInfo::default()
        }
    }

    #[test]
    fn a_fixed_batch_keeps_every_dim_and_a_scalar_is_reshaped() {
        // DT_FLOAT = 1, DT_INT32 = 3.
        let info = model(
            vec![tensor("m", 1, &[2, 2])],
            vec![tensor("trace", 1, &[]), tensor("v", 3, &[-1, 3])],
        );
        assert_eq!(
            triton_config(&info, "fixed").unwrap(),
            "name: \"fixed\"\nplatform: \"tensorflow_savedmodel\"\nmax_batch_size: 0\ninput [\n  {\n    \
             name: \"m\"\n    data_type: TYPE_FP32\n    dims: [ 2, 2 ]\n  }\n]\noutput [\n  {\n    \
             name: \"trace\"\n    data_type: TYPE_FP32\n    dims: [ 1 ]\n    reshape: { shape: [ ] }\n  },\n  \
             {\n    name: \"v\"\n    data_type: TYPE_INT32\n    dims: [ -1, 3 ]\n  }\n]\n"
        );
    }

    #[test]
    fn unknown_rank_and_types_without_a_triton_name_are_errors() {
        let mut unknown = tensor("x", 1, &[]);
        unknown.shape = Shape::UnknownRank;
        let err = triton_config(&model(vec![unknown], vec![]), "m").unwrap_err();
        assert_eq!(
            err.to_string(),
            "tensor \"x\" has an unknown rank; Triton needs its dims"
        );
        // DT_COMPLEX64 = 8.
        let err = triton_config(&model(vec![tensor("c", 8, &[-1])], vec![]), "m").unwrap_err();
        assert_eq!(
            err.to_string(),
            "tensor \"c\" is DT_COMPLEX64, which Triton has no data type for"
        );
        let err = triton_config(&SavedModelInfo::default(), "m").unwrap_err();
        assert_eq!(
            err.to_string(),
            "Triton serves a SavedModel's \"serving_default\" signature, and  has none"
        );
    }
}
