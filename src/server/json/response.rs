//! Predict responses in TF Serving's JSON layout: the row format
//! (`"predictions"`, one element per batch item) and the columnar format
//! (`"outputs"`, one value per output tensor). Non-UTF-8 string outputs are
//! written as `{"b64": ...}` instead of invalid JSON.

use super::predict::Format;
use super::{write_f32, write_f64, write_json_string};
use crate::model::DType;
use crate::server::error::ServeError;
use crate::tensor::NamedTensors;
use crate::tensor::{Tensor, TensorData};
use base64::Engine;

/// The response body for `outputs` in the request's format.
pub fn outputs_json(outputs: &NamedTensors, format: Format) -> Result<String, ServeError> {
    if outputs.is_empty() {
        return Err(ServeError::invalid(
            "Cannot convert empty tensor map to JSON",
        ));
    }
    let capacity: usize = outputs
        .iter()
        .map(|(name, tensor)| text_bytes_bound(name, tensor))
        .sum();
    let mut out = String::with_capacity(capacity + 64);
    match format {
        Format::Row => write_rows(&mut out, outputs)?,
        Format::Columnar => write_columns(&mut out, outputs),
    }
    Ok(out)
}

/// The most text a tensor takes in either layout (the longest text of each
/// value, brackets, separators, and per batch item its member key), so that a
/// response is written into one buffer, never regrown.
fn text_bytes_bound(name: &str, tensor: &Tensor) -> usize {
    let per_value = match &tensor.data {
        // ryu's longest float is 15 bytes ("-1.1754944e-38"), a double's 24.
        TensorData::Float(_) | TensorData::Half(_) | TensorData::BFloat16(_) => 15,
        TensorData::Double(_) => 24,
        TensorData::Bool(_) => 5,
        TensorData::Int8(_) | TensorData::Int16(_) | TensorData::UInt8(_) => 6,
        TensorData::Int32(_) | TensorData::UInt16(_) | TensorData::UInt32(_) => 11,
        TensorData::Int64(_) | TensorData::UInt64(_) => 20,
        TensorData::String(_) => 0,
    };
    let values = match &tensor.data {
        // Escapes take at most 6 bytes a byte, `{"b64": "..."}` 4/3 of them plus 12.
        TensorData::String(values) => values.iter().map(|value| value.len() * 6 + 14).sum(),
        _ => tensor.num_elements() * per_value,
    };
    // Each level: two brackets per list and a ", " per item.
    let (mut lists, mut structure) = (1usize, 0usize);
    for &size in &tensor.shape {
        let items = lists.saturating_mul(size as usize);
        structure = structure.saturating_add(2 * lists + 2 * items);
        lists = items;
    }
    let batch = tensor.shape.first().map_or(1, |&size| size as usize);
    let keys = batch.saturating_mul(name.len() * 2 + 32);
    values.saturating_add(structure).saturating_add(keys)
}

/// The batch size all outputs share (their first dimension).
fn batch_size(outputs: &NamedTensors) -> Result<Option<u64>, ServeError> {
    let mut batch: Option<u64> = None;
    for (name, tensor) in outputs {
        let Some(&size) = tensor.shape.first() else {
            return Err(ServeError::invalid(format!(
                "Tensor name: {name} has no shape information "
            )));
        };
        if let Some(expected) = batch
            && expected != size
        {
            return Err(ServeError::invalid(format!(
                "Tensor name: {name} has inconsistent batch size: {size} expecting: {expected}"
            )));
        }
        batch = Some(size);
    }
    Ok(batch)
}

/// Row format: `"predictions"` holds one element per batch item, the item's
/// value (one output) or an object with one member per output.
fn write_rows(out: &mut String, outputs: &NamedTensors) -> Result<(), ServeError> {
    let batch = batch_size(outputs)?;
    let several = outputs.len() > 1;
    out.push_str("{\n    \"predictions\": [");
    let mut offsets = vec![0usize; outputs.len()];
    for item in 0..batch.unwrap_or(0) {
        if item > 0 {
            out.push(',');
        }
        if several {
            out.push_str("\n        {");
        }
        for (index, (name, tensor)) in outputs.iter().enumerate() {
            if several {
                write_member_key(out, index, "            ", name);
            } else if item > 0 {
                out.push(' ');
            }
            write_values(out, tensor, is_bytes(name, tensor), 1, &mut offsets[index]);
        }
        if several {
            out.push_str("\n        }");
        }
    }
    out.push_str(if several { "\n    ]\n}" } else { "]\n}" });
    Ok(())
}

/// Columnar format: `"outputs"` holds the whole tensor (one output) or an
/// object with one member per output.
fn write_columns(out: &mut String, outputs: &NamedTensors) {
    let several = outputs.len() > 1;
    out.push_str("{\n    \"outputs\": ");
    if several {
        out.push('{');
    }
    for (index, (name, tensor)) in outputs.iter().enumerate() {
        if several {
            write_member_key(out, index, "        ", name);
        }
        write_values(out, tensor, is_bytes(name, tensor), 0, &mut 0);
    }
    out.push_str(if several { "\n    }\n}" } else { "\n}" });
}

/// Writes `"name": ` as member `index` of an object, one member a line at `indent`.
fn write_member_key(out: &mut String, index: usize, indent: &str, name: &str) {
    if index > 0 {
        out.push(',');
    }
    out.push('\n');
    out.push_str(indent);
    write_json_string(out, name);
    out.push_str(": ");
}

/// TF Serving's rule: a DT_STRING output whose name ends in `_bytes` is binary.
fn is_bytes(name: &str, tensor: &Tensor) -> bool {
    tensor.dtype() == DType::STRING && name.ends_with("_bytes")
}

/// Writes the elements of dims `dim..` starting at `*offset` as nested lists.
fn write_values(out: &mut String, tensor: &Tensor, as_bytes: bool, dim: usize, offset: &mut usize) {
    if dim >= tensor.shape.len() {
        write_element(out, &tensor.data, *offset, as_bytes);
        *offset += 1;
        return;
    }
    out.push('[');
    for index in 0..tensor.shape[dim] {
        if index > 0 {
            out.push_str(", ");
        }
        write_values(out, tensor, as_bytes, dim + 1, offset);
    }
    out.push(']');
}

fn write_element(out: &mut String, data: &TensorData, index: usize, as_bytes: bool) {
    match data {
        TensorData::Float(values) => write_f32(out, values[index]),
        TensorData::Double(values) => write_f64(out, values[index]),
        TensorData::Half(values) => write_f32(out, half::f16::from_bits(values[index]).to_f32()),
        TensorData::BFloat16(values) => {
            write_f32(out, half::bf16::from_bits(values[index]).to_f32())
        }
        TensorData::Bool(values) => out.push_str(if values[index] { "true" } else { "false" }),
        TensorData::String(values) => {
            let bytes = &values[index];
            match std::str::from_utf8(bytes) {
                Ok(text) if !as_bytes => write_json_string(out, text),
                _ => {
                    out.push_str("{\"b64\": \"");
                    base64::engine::general_purpose::STANDARD.encode_string(bytes, out);
                    out.push_str("\"}");
                }
            }
        }
        TensorData::Int8(values) => write_integer(out, values[index]),
        TensorData::Int16(values) => write_integer(out, values[index]),
        TensorData::Int32(values) => write_integer(out, values[index]),
        TensorData::Int64(values) => write_integer(out, values[index]),
        TensorData::UInt8(values) => write_integer(out, values[index]),
        TensorData::UInt16(values) => write_integer(out, values[index]),
        TensorData::UInt32(values) => write_integer(out, values[index]),
        TensorData::UInt64(values) => write_integer(out, values[index]),
    }
}

fn write_integer<I: itoa::Integer>(out: &mut String, value: I) {
    out.push_str(itoa::Buffer::new().format(value));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_follow_tf_serving_layout() {
        let mut outputs = NamedTensors::new();
        outputs.insert(
            "classes".into(),
            Tensor::new(vec![2], TensorData::Int64(vec![286, 7])).unwrap(),
        );
        outputs.insert(
            "image_bytes".into(),
            Tensor::new(vec![2], TensorData::String(vec![b"a".to_vec(), vec![0xff]])).unwrap(),
        );
        let row = outputs_json(&outputs, Format::Row).unwrap();
        assert_eq!(
            row,
            "{\n    \"predictions\": [\n        {\n            \"classes\": 286,\n            \"image_bytes\": {\"b64\": \"YQ==\"}\n        },\n        {\n            \"classes\": 7,\n            \"image_bytes\": {\"b64\": \"/w==\"}\n        }\n    ]\n}"
        );
        let columnar = outputs_json(&outputs, Format::Columnar).unwrap();
        assert_eq!(
            columnar,
            "{\n    \"outputs\": {\n        \"classes\": [286, 7],\n        \"image_bytes\": [{\"b64\": \"YQ==\"}, {\"b64\": \"/w==\"}]\n    }\n}"
        );
        outputs.insert(
            "scalar".into(),
            Tensor::new(vec![], TensorData::Bool(vec![true])).unwrap(),
        );
        assert_eq!(
            outputs_json(&outputs, Format::Row).unwrap_err().to_string(),
            "Tensor name: scalar has no shape information "
        );
    }

    #[test]
    fn the_buffer_bound_holds_for_the_longest_values() {
        let cases = [
            (
                "f",
                Tensor::new(
                    vec![3, 1, 1],
                    TensorData::Float(vec![-1.234_567_9e-38, f32::MIN, -f32::MIN_POSITIVE]),
                ),
            ),
            (
                "d",
                Tensor::new(
                    vec![2, 1],
                    TensorData::Double(vec![-2.225_073_858_507_201_4e-308, f64::MIN]),
                ),
            ),
            ("h", Tensor::new(vec![1], TensorData::Half(vec![0xfbff]))),
            (
                "i",
                Tensor::new(vec![2], TensorData::Int64(vec![i64::MIN; 2])),
            ),
            (
                "s",
                Tensor::new(vec![1, 1], TensorData::String(vec![vec![1; 10]])),
            ),
            (
                "s_bytes",
                Tensor::new(vec![1], TensorData::String(vec![vec![0xff; 10]])),
            ),
        ];
        for (name, tensor) in cases {
            let tensor = tensor.unwrap();
            let outputs: NamedTensors = [(name.to_string(), tensor.clone())].into();
            for format in [Format::Row, Format::Columnar] {
                let text = outputs_json(&outputs, format).unwrap();
                let bound = text_bytes_bound(name, &tensor) + 64;
                assert!(
                    text.len() <= bound,
                    "{name}: {} > {bound}: {text}",
                    text.len()
                );
            }
        }
    }
}
