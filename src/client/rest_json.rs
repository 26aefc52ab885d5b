//! The client's side of TF Serving's REST JSON: writing predict requests (row
//! format when the inputs share a batch dimension, as the seed's client sends, else
//! columnar) and reading `predictions` / `outputs` back into typed tensors. The
//! server's reader lives in `server::json`; this is the opposite direction.

use crate::model::{DType, SignatureInfo};
use crate::tensor::NamedTensors;
use crate::tensor::{Tensor, TensorData};
use base64::Engine;
use serde_json::Value;

/// The JSON body of `POST /v1/models/NAME:predict` for `inputs`.
/// `signature` is written as `signature_name` when given.
pub fn encode_predict_request(inputs: &NamedTensors, signature: Option<&str>) -> String {
    let capacity: usize = inputs.values().map(estimate_bytes).sum();
    let mut out = String::with_capacity(capacity + 64);
    out.push('{');
    if let Some(name) = signature.filter(|name| !name.is_empty()) {
        out.push_str("\"signature_name\": ");
        push_json_string(&mut out, name);
        out.push_str(", ");
    }
    let batch = inputs
        .values()
        .next()
        .and_then(|tensor| tensor.shape.first().copied());
    let row = batch.is_some_and(|size| size > 0)
        && inputs
            .values()
            .all(|tensor| tensor.shape.first().copied() == batch);
    if row {
        out.push_str("\"instances\": [");
        let single = inputs.len() == 1;
        let mut offsets = vec![0usize; inputs.len()];
        for item in 0..batch.unwrap_or(0) {
            if item > 0 {
                out.push_str(", ");
            }
            if !single {
                out.push('{');
            }
            for (index, (name, tensor)) in inputs.iter().enumerate() {
                if !single {
                    if index > 0 {
                        out.push_str(", ");
                    }
                    push_json_string(&mut out, name);
                    out.push_str(": ");
                }
                write_values(&mut out, tensor, 1, &mut offsets[index]);
            }
            if !single {
                out.push('}');
            }
        }
        out.push(']');
    } else {
        out.push_str("\"inputs\": {");
        for (index, (name, tensor)) in inputs.iter().enumerate() {
            if index > 0 {
                out.push_str(", ");
            }
            push_json_string(&mut out, name);
            out.push_str(": ");
            write_values(&mut out, tensor, 0, &mut 0);
        }
        out.push('}');
    }
    out.push('}');
    out
}

fn estimate_bytes(tensor: &Tensor) -> usize {
    match &tensor.data {
        TensorData::String(values) => values.iter().map(|value| value.len() * 4 / 3 + 16).sum(),
        // The longest value text (ryu's float 15 bytes, its double 24, an int64
        // 20) and its ", ", so that the body's buffer is sized once for the values.
        TensorData::Double(_) | TensorData::Int64(_) | TensorData::UInt64(_) => {
            tensor.num_elements() * 26 + 16
        }
        other => other.len() * 17 + 16,
    }
}

fn push_json_string(out: &mut String, text: &str) {
    // serde_json's escaping; writing to a String cannot fail.
    out.push_str(&serde_json::to_string(text).unwrap_or_default());
}

fn write_values(out: &mut String, tensor: &Tensor, dim: usize, offset: &mut usize) {
    if dim >= tensor.shape.len() {
        write_element(out, &tensor.data, *offset);
        *offset += 1;
        return;
    }
    out.push('[');
    for index in 0..tensor.shape[dim] {
        if index > 0 {
            out.push_str(", ");
        }
        write_values(out, tensor, dim + 1, offset);
    }
    out.push(']');
}

fn write_float(out: &mut String, value: f64, single: bool) {
    if value.is_nan() {
        out.push_str("NaN");
    } else if value.is_infinite() {
        out.push_str(if value > 0.0 { "Infinity" } else { "-Infinity" });
    } else if single {
        out.push_str(ryu::Buffer::new().format_finite(value as f32));
    } else {
        out.push_str(ryu::Buffer::new().format_finite(value));
    }
}

fn write_element(out: &mut String, data: &TensorData, index: usize) {
    match data {
        TensorData::Float(values) => write_float(out, f64::from(values[index]), true),
        TensorData::Double(values) => write_float(out, values[index], false),
        TensorData::Half(values) => write_float(
            out,
            f64::from(half::f16::from_bits(values[index]).to_f32()),
            true,
        ),
        TensorData::BFloat16(values) => write_float(
            out,
            f64::from(half::bf16::from_bits(values[index]).to_f32()),
            true,
        ),
        TensorData::Bool(values) => out.push_str(if values[index] { "true" } else { "false" }),
        TensorData::String(values) => {
            out.push_str("{\"b64\": \"");
            base64::engine::general_purpose::STANDARD.encode_string(&values[index], out);
            out.push_str("\"}");
        }
        TensorData::Int8(values) => out.push_str(itoa::Buffer::new().format(values[index])),
        TensorData::Int16(values) => out.push_str(itoa::Buffer::new().format(values[index])),
        TensorData::Int32(values) => out.push_str(itoa::Buffer::new().format(values[index])),
        TensorData::Int64(values) => out.push_str(itoa::Buffer::new().format(values[index])),
        TensorData::UInt8(values) => out.push_str(itoa::Buffer::new().format(values[index])),
        TensorData::UInt16(values) => out.push_str(itoa::Buffer::new().format(values[index])),
        TensorData::UInt32(values) => out.push_str(itoa::Buffer::new().format(values[index])),
        TensorData::UInt64(values) => out.push_str(itoa::Buffer::new().format(values[index])),
    }
}

/// Parses JSON that may hold TF Serving's bare `NaN` / `Infinity` / `-Infinity`
/// (they become the strings `"NaN"`, ... which float outputs read back).
pub(crate) fn parse_lenient(body: &[u8]) -> Result<Value, String> {
    match serde_json::from_slice(body) {
        Ok(value) => Ok(value),
        Err(first) => {
            let quoted = quote_non_finite(body);
            serde_json::from_slice(&quoted).map_err(|_| first.to_string())
        }
    }
}

fn quote_non_finite(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 16);
    let (mut in_string, mut escaped, mut index) = (false, false, 0);
    while index < body.len() {
        let byte = body[index];
        if in_string {
            out.push(byte);
            match (escaped, byte) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            index += 1;
            continue;
        }
        let rest = &body[index..];
        let word = [&b"-Infinity"[..], b"Infinity", b"NaN"]
            .into_iter()
            .find(|word| rest.starts_with(word));
        if let Some(word) = word {
            out.push(b'"');
            out.extend_from_slice(word);
            out.push(b'"');
            index += word.len();
            continue;
        }
        if byte == b'"' {
            in_string = true;
        }
        out.push(byte);
        index += 1;
    }
    out
}

/// Reads a predict response body (`{"predictions": ...}` or `{"outputs": ...}`)
/// into tensors, typed by `signature`'s outputs when known (else by the JSON).
pub fn decode_predict_response(
    body: &[u8],
    signature: Option<&SignatureInfo>,
) -> Result<NamedTensors, String> {
    let doc = parse_lenient(body)?;
    let dtype_of = |name: &str| {
        signature
            .and_then(|signature| signature.output(name))
            .map(|info| info.dtype)
    };
    let single_name = || match signature.map(|signature| signature.outputs.as_slice()) {
        Some([only]) => only.key.clone(),
        _ => "outputs".to_string(),
    };
    let mut tensors = NamedTensors::new();
    if let Some(predictions) = doc.get("predictions") {
        let items = predictions
            .as_array()
            .ok_or("'predictions' is not a list")?;
        let named = items.first().is_some_and(is_named);
        if named {
            let first = items[0].as_object().ok_or("bad first prediction")?;
            for name in first.keys() {
                let values: Vec<&Value> = items
                    .iter()
                    .map(|item| {
                        item.get(name)
                            .ok_or_else(|| format!("prediction without '{name}'"))
                    })
                    .collect::<Result<_, _>>()?;
                tensors.insert(
                    name.clone(),
                    stacked(&values, dtype_of(name)).map_err(|err| format!("'{name}': {err}"))?,
                );
            }
        } else {
            let name = single_name();
            let values: Vec<&Value> = items.iter().collect();
            let tensor =
                stacked(&values, dtype_of(&name)).map_err(|err| format!("'{name}': {err}"))?;
            tensors.insert(name, tensor);
        }
    } else if let Some(outputs) = doc.get("outputs") {
        if is_named(outputs) {
            for (name, value) in outputs.as_object().into_iter().flatten() {
                let tensor =
                    to_tensor(value, dtype_of(name)).map_err(|err| format!("'{name}': {err}"))?;
                tensors.insert(name.clone(), tensor);
            }
        } else {
            let name = single_name();
            let tensor =
                to_tensor(outputs, dtype_of(&name)).map_err(|err| format!("'{name}': {err}"))?;
            tensors.insert(name, tensor);
        }
    } else {
        return Err("neither 'predictions' nor 'outputs' in the response".into());
    }
    Ok(tensors)
}

fn is_named(value: &Value) -> bool {
    matches!(value, Value::Object(members) if !(members.len() == 1 && members.contains_key("b64")))
}

/// The items as one tensor with a leading batch dimension (read in place, not copied).
fn stacked(items: &[&Value], dtype: Option<DType>) -> Result<Tensor, String> {
    let mut shape = vec![items.len() as u64];
    shape.extend(
        items
            .first()
            .map(|item| dense_shape(item))
            .unwrap_or_default(),
    );
    let mut flat = Vec::new();
    items.iter().for_each(|item| leaves(item, &mut flat));
    values_to_tensor(shape, &flat, dtype)
}

fn dense_shape(value: &Value) -> Vec<u64> {
    let mut shape = Vec::new();
    let mut current = value;
    while let Value::Array(items) = current {
        shape.push(items.len() as u64);
        match items.first() {
            Some(first) => current = first,
            None => break,
        }
    }
    shape
}

fn leaves<'a>(value: &'a Value, out: &mut Vec<&'a Value>) {
    match value {
        Value::Array(items) => items.iter().for_each(|item| leaves(item, out)),
        other => out.push(other),
    }
}

fn infer(values: &[&Value]) -> DType {
    match values.first() {
        Some(Value::Bool(_)) => DType::BOOL,
        Some(Value::String(text)) if ["NaN", "Infinity", "-Infinity"].contains(&text.as_str()) => {
            DType::FLOAT
        }
        Some(Value::String(_) | Value::Object(_)) => DType::STRING,
        _ if values.iter().all(|value| value.is_i64() || value.is_u64()) => DType::INT64,
        _ => DType::FLOAT,
    }
}

fn to_tensor(value: &Value, dtype: Option<DType>) -> Result<Tensor, String> {
    let mut flat = Vec::new();
    leaves(value, &mut flat);
    values_to_tensor(dense_shape(value), &flat, dtype)
}

fn values_to_tensor(
    shape: Vec<u64>,
    flat: &[&Value],
    dtype: Option<DType>,
) -> Result<Tensor, String> {
    let dtype = dtype.unwrap_or_else(|| infer(flat));
    let float = |value: &Value| -> Result<f64, String> {
        match value {
            Value::Number(number) => number
                .as_f64()
                .ok_or_else(|| format!("bad number {number}")),
            Value::String(text) => match text.as_str() {
                "NaN" => Ok(f64::NAN),
                "Infinity" => Ok(f64::INFINITY),
                "-Infinity" => Ok(f64::NEG_INFINITY),
                _ => Err(format!("expected a number, got \"{text}\"")),
            },
            other => Err(format!("expected a number, got {other}")),
        }
    };
    let int = |value: &Value| {
        value
            .as_i64()
            .ok_or_else(|| format!("expected an integer, got {value}"))
    };
    macro_rules! ints {
        ($variant:ident, $ty:ty) => {
            TensorData::$variant(
                flat.iter()
                    .map(|v| {
                        int(v).and_then(|n| {
                            <$ty>::try_from(n).map_err(|_| format!("{n} out of range"))
                        })
                    })
                    .collect::<Result<_, _>>()?,
            )
        };
    }
    let data = match dtype {
        DType::FLOAT => TensorData::Float(
            flat.iter()
                .map(|v| float(v).map(|x| x as f32))
                .collect::<Result<_, _>>()?,
        ),
        DType::DOUBLE => {
            TensorData::Double(flat.iter().map(|v| float(v)).collect::<Result<_, _>>()?)
        }
        DType::HALF => TensorData::Half(
            flat.iter()
                .map(|v| float(v).map(|x| half::f16::from_f64(x).to_bits()))
                .collect::<Result<_, _>>()?,
        ),
        DType::BFLOAT16 => TensorData::BFloat16(
            flat.iter()
                .map(|v| float(v).map(|x| half::bf16::from_f64(x).to_bits()))
                .collect::<Result<_, _>>()?,
        ),
        DType::INT8 => ints!(Int8, i8),
        DType::INT16 => ints!(Int16, i16),
        DType::INT32 => ints!(Int32, i32),
        DType::INT64 => ints!(Int64, i64),
        DType::UINT8 => ints!(UInt8, u8),
        DType::UINT16 => ints!(UInt16, u16),
        DType::UINT32 => ints!(UInt32, u32),
        DType::UINT64 => TensorData::UInt64(
            flat.iter()
                .map(|v| {
                    v.as_u64()
                        .ok_or_else(|| format!("expected an unsigned integer, got {v}"))
                })
                .collect::<Result<_, _>>()?,
        ),
        DType::BOOL => TensorData::Bool(
            flat.iter()
                .map(|v| {
                    v.as_bool()
                        .ok_or_else(|| format!("expected true/false, got {v}"))
                })
                .collect::<Result<_, _>>()?,
        ),
        DType::STRING => TensorData::String(
            flat.iter()
                .map(|v| string_bytes(v))
                .collect::<Result<_, _>>()?,
        ),
        other => return Err(format!("cannot read {other} values from JSON")),
    };
    Tensor::new(shape, data).map_err(|err| format!("ragged values: {err}"))
}

fn string_bytes(value: &Value) -> Result<Vec<u8>, String> {
    match value {
        Value::String(text) => Ok(text.as_bytes().to_vec()),
        Value::Object(members) => match members.get("b64").and_then(Value::as_str) {
            Some(encoded) => base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .map_err(|err| format!("bad base64: {err}")),
            None => Err(format!(
                "expected a string or {{\"b64\": ...}}, got {value}"
            )),
        },
        other => Err(format!("expected a string, got {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Shape, TensorInfoView};

    fn tensor(shape: &[u64], data: TensorData) -> Tensor {
        Tensor::new(shape.to_vec(), data).unwrap()
    }

    #[test]
    fn requests_use_the_seeds_row_format() {
        let inputs: NamedTensors = [(
            "image_bytes".to_string(),
            tensor(&[1], TensorData::String(vec![vec![0xff, 0xd8, 0x00]])),
        )]
        .into();
        assert_eq!(
            encode_predict_request(&inputs, None),
            r#"{"instances": [{"b64": "/9gA"}]}"#
        );
        let inputs: NamedTensors = [
            (
                "a".to_string(),
                tensor(&[2, 2], TensorData::Float(vec![1.0, 0.5, f32::NAN, -2.0])),
            ),
            (
                "b".to_string(),
                tensor(&[2], TensorData::Int64(vec![7, -9_007_199_254_740_993])),
            ),
        ]
        .into();
        assert_eq!(
            encode_predict_request(&inputs, Some("s")),
            r#"{"signature_name": "s", "instances": [{"a": [1.0, 0.5], "b": 7}, {"a": [NaN, -2.0], "b": -9007199254740993}]}"#
        );
        // No shared batch dimension: columnar.
        let inputs: NamedTensors =
            [("x".to_string(), tensor(&[], TensorData::Bool(vec![true])))].into();
        assert_eq!(
            encode_predict_request(&inputs, None),
            r#"{"inputs": {"x": true}}"#
        );
    }

    #[test]
    fn responses_are_typed_by_the_signature() {
        let signature = SignatureInfo {
            outputs: vec![
                TensorInfoView {
                    key: "classes".into(),
                    dtype: DType::INT64,
                    shape: Shape::from_sizes(&[-1]),
                    name: String::new(),
                },
                TensorInfoView {
                    key: "probabilities".into(),
                    dtype: DType::FLOAT,
                    shape: Shape::from_sizes(&[-1, 3]),
                    name: String::new(),
                },
            ],
            ..SignatureInfo::default()
        };
        let body = br#"{"predictions": [{"classes": 2, "probabilities": [0.1, NaN, 0.7]}]}"#;
        let outputs = decode_predict_response(body, Some(&signature)).unwrap();
        assert_eq!(outputs["classes"], tensor(&[1], TensorData::Int64(vec![2])));
        let TensorData::Float(values) = &outputs["probabilities"].data else {
            panic!()
        };
        assert_eq!(outputs["probabilities"].shape, vec![1, 3]);
        assert!(values[1].is_nan() && values[2] == 0.7);
        // Unknown signature: types from the JSON; one unnamed output.
        let outputs =
            decode_predict_response(br#"{"predictions": [[1, 2], [3, 4]]}"#, None).unwrap();
        assert_eq!(
            outputs["outputs"],
            tensor(&[2, 2], TensorData::Int64(vec![1, 2, 3, 4]))
        );
        let outputs = decode_predict_response(
            br#"{"outputs": {"y_bytes": [{"b64": "/w=="}], "z": [1.5]}}"#,
            None,
        )
        .unwrap();
        assert_eq!(
            outputs["y_bytes"],
            tensor(&[1], TensorData::String(vec![vec![0xff]]))
        );
        assert_eq!(outputs["z"], tensor(&[1], TensorData::Float(vec![1.5])));
        assert!(decode_predict_response(b"<html>", None).is_err());
        assert!(decode_predict_response(br#"{"predictions": [[1], [2, 3]]}"#, None).is_err());
        assert!(decode_predict_response(br#"{"error": "x"}"#, None).is_err());
    }

    #[test]
    fn non_finite_words_inside_strings_are_left_alone() {
        let doc =
            parse_lenient(br#"{"a": "NaN \" Infinity", "b": [NaN, -Infinity, Infinity]}"#).unwrap();
        assert_eq!(doc["a"], "NaN \" Infinity");
        assert_eq!(doc["b"][1], "-Infinity");
    }
}
