//! Predict requests and responses in TF Serving's JSON: the row format
//! (`"instances"` -> `"predictions"`) and the columnar format (`"inputs"` ->
//! `"outputs"`), following TF Serving's `json_tensor.cc` rule by rule (and its
//! messages), with a few extensions: half / bfloat16 / uint16 values, integer
//! range checks instead of silent wrapping, non-UTF-8 string outputs written as
//! `{"b64": ...}` instead of invalid JSON, and the valid input names in errors.

use super::parse::{Json, Number, parse};
use super::{debug_string, tf_type_name, write_f32, write_f64, write_json_string};
use crate::model::{DType, SignatureInfo};
use crate::runtime::NamedTensors;
use crate::server::error::ServeError;
use crate::tensor::{Tensor, TensorData};
use base64::Engine;

/// Which JSON layout a request used; the response uses the same.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Row,
    Columnar,
}

/// A parsed `:predict` body.
#[derive(Debug)]
pub struct PredictBody {
    doc: Json,
    /// The `signature_name` member; empty when absent.
    pub signature_name: String,
}

const DEFAULT_SIGNATURE: &str = "serving_default";

impl PredictBody {
    pub fn parse(body: &[u8]) -> Result<PredictBody, ServeError> {
        if body.is_empty() {
            return Err(ServeError::invalid(
                "JSON Parse error: The document is empty",
            ));
        }
        let doc = parse(body).map_err(ServeError::invalid)?;
        if !matches!(doc, Json::Object(_)) {
            return Err(format_error(&doc, "Is not object"));
        }
        let signature_name = match doc.get("signature_name") {
            None => String::new(),
            Some(Json::String(name)) => name.clone(),
            Some(_) => {
                return Err(ServeError::invalid(format!(
                    "JSON Value: {} not formatted correctly. 'signature_name' key must be a string value.",
                    debug_string(&doc)
                )));
            }
        };
        Ok(PredictBody {
            doc,
            signature_name,
        })
    }

    /// The signature to run: `signature_name`, or `serving_default`.
    pub fn signature_key(&self) -> &str {
        if self.signature_name.is_empty() {
            DEFAULT_SIGNATURE
        } else {
            &self.signature_name
        }
    }

    /// The request's tensors, typed by the signature's inputs.
    pub fn inputs(&self, signature: &SignatureInfo) -> Result<(Format, NamedTensors), ServeError> {
        if signature.inputs.is_empty() {
            return Err(ServeError::invalid(format!(
                "Failed to get input map for signature: {}",
                if self.signature_name.is_empty() {
                    "DEFAULT"
                } else {
                    &self.signature_name
                }
            )));
        }
        let instances = self.doc.get("instances");
        let inputs = self.doc.get("inputs");
        let both = || {
            format_error(
                &self.doc,
                "Not formatted correctly expecting only one of 'inputs' or 'instances' keys to exist ",
            )
        };
        match (instances, inputs) {
            (Some(_), Some(_)) => Err(both()),
            (Some(Json::Array(items)), None) if items.is_empty() => {
                Err(format_error(&self.doc, "No values in 'instances' array"))
            }
            (Some(Json::Array(items)), None) => {
                Ok((Format::Row, instances_to_tensors(items, signature)?))
            }
            (Some(_), None) => Err(format_error(
                &self.doc,
                "Expecting 'instances' to be an list/array",
            )),
            (None, Some(value)) => Ok((Format::Columnar, inputs_to_tensors(value, signature)?)),
            (None, None) => Err(ServeError::invalid("Missing 'inputs' or 'instances' key")),
        }
    }
}

fn format_error(doc: &Json, what: &str) -> ServeError {
    ServeError::invalid(format!("JSON Value: {} {what}", debug_string(doc)))
}

fn input_names(signature: &SignatureInfo) -> String {
    signature
        .inputs
        .iter()
        .map(|input| input.key.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// Row format: one element per batch item, each a value (one input) or an
/// object with one member per input.
fn instances_to_tensors(
    items: &[Json],
    signature: &SignatureInfo,
) -> Result<NamedTensors, ServeError> {
    if !matches!(items[0], Json::Object(_)) && signature.inputs.len() > 1 {
        return Err(ServeError::invalid(
            "instances is a plain list, but expecting list of objects as multiple input tensors required as per tensorinfo_map",
        ));
    }
    let is_named = |value: &Json| matches!(value, Json::Object(_)) && value.as_b64().is_none();
    let named = is_named(&items[0]);
    let mut builders: Vec<Builder> = Vec::new();
    for (index, item) in items.iter().enumerate() {
        if named {
            let Json::Object(members) = item else {
                return Err(ServeError::invalid(format!(
                    "Expecting object but got list at item {index} of input list"
                )));
            };
            if item.as_b64().is_some() {
                return Err(ServeError::invalid(format!(
                    "Expecting object but got list at item {index} of input list"
                )));
            }
            for (name, value) in members {
                add_instance_item(&mut builders, value, name, signature).map_err(|message| {
                    ServeError::invalid(format!(
                        "Failed to process element: {index} key: {name} of 'instances' list. Error: INVALID_ARGUMENT: {message}"
                    ))
                })?;
            }
            let mut keys: Vec<&str> = members.iter().map(|(name, _)| name.as_str()).collect();
            keys.sort_unstable();
            keys.dedup();
            let expected: Vec<&str> = signature
                .inputs
                .iter()
                .map(|input| input.key.as_str())
                .collect();
            if keys != expected {
                return Err(ServeError::invalid(format!(
                    "Failed to process element: {index} of 'instances' list. JSON object: {} keys must be equal to: {}",
                    debug_string(item),
                    input_names(signature)
                )));
            }
        } else {
            if is_named(item) {
                return Err(ServeError::invalid(format!(
                    "Expecting value/list but got object at item {index} of input list"
                )));
            }
            let name = signature.inputs[0].key.clone();
            add_instance_item(&mut builders, item, &name, signature).map_err(|message| {
                ServeError::invalid(format!(
                    "Failed to process element: {index} of 'instances' list. Error: INVALID_ARGUMENT: {message}"
                ))
            })?;
        }
    }
    let batch = items.len() as u64;
    let mut tensors = NamedTensors::new();
    for builder in builders {
        let mut shape = vec![batch];
        shape.extend(builder.first.map(|(dims, _)| dims).unwrap_or_default());
        let tensor =
            Tensor::new(shape, builder.data).map_err(|err| ServeError::invalid(err.to_string()))?;
        tensors.insert(builder.name, tensor);
    }
    Ok(tensors)
}

/// One input being batched from the `instances` list.
struct Builder {
    name: String,
    dtype: DType,
    /// Shape and value count of the first instance; the others must match.
    first: Option<(Vec<u64>, usize)>,
    data: TensorData,
}

fn add_instance_item(
    builders: &mut Vec<Builder>,
    value: &Json,
    name: &str,
    signature: &SignatureInfo,
) -> Result<(), String> {
    let Some(info) = signature.input(name) else {
        return Err(format!(
            "JSON object: does not have named input: {name} (the signature's inputs are: {})",
            input_names(signature)
        ));
    };
    let position = match builders.iter().position(|builder| builder.name == name) {
        Some(position) => position,
        None => {
            let data =
                TensorData::empty(info.dtype).ok_or_else(|| unsupported(value, info.dtype))?;
            builders.push(Builder {
                name: name.to_string(),
                dtype: info.dtype,
                first: None,
                data,
            });
            builders.len() - 1
        }
    };
    let builder = &mut builders[position];
    let shape = dense_shape(value);
    let before = builder.data.len();
    fill(value, 0, &shape, builder.dtype, &mut builder.data)?;
    let size = builder.data.len() - before;
    match &builder.first {
        None => builder.first = Some((shape, size)),
        Some((_, first_size)) if *first_size != size => {
            return Err(format!(
                "Expecting tensor size: {first_size} but got: {size}"
            ));
        }
        Some((first_shape, _)) if *first_shape != shape => {
            return Err(format!(
                "Expecting shape {} but got: {}",
                shape_text(first_shape),
                shape_text(&shape)
            ));
        }
        Some(_) => {}
    }
    Ok(())
}

fn shape_text(shape: &[u64]) -> String {
    let dims: Vec<String> = shape.iter().map(u64::to_string).collect();
    format!("[{}]", dims.join(","))
}

/// Columnar format: `"inputs"` is a value (one input) or an object keyed by input.
fn inputs_to_tensors(value: &Json, signature: &SignatureInfo) -> Result<NamedTensors, ServeError> {
    let mut tensors = NamedTensors::new();
    if !matches!(value, Json::Object(_)) || value.as_b64().is_some() {
        if signature.inputs.len() > 1 {
            return Err(ServeError::invalid(format!(
                "inputs is a plain value/list, but expecting an object as multiple input tensors required as per tensorinfo_map (the signature's inputs are: {})",
                input_names(signature)
            )));
        }
        let info = &signature.inputs[0];
        tensors.insert(info.key.clone(), json_to_tensor(value, info.dtype)?);
        return Ok(tensors);
    }
    for info in &signature.inputs {
        let Some(item) = value.get(&info.key) else {
            return Err(ServeError::invalid(format!(
                "Missing named input: {} in 'inputs' object. (the signature's inputs are: {})",
                info.key,
                input_names(signature)
            )));
        };
        tensors.insert(info.key.clone(), json_to_tensor(item, info.dtype)?);
    }
    Ok(tensors)
}

fn json_to_tensor(value: &Json, dtype: DType) -> Result<Tensor, ServeError> {
    let mut data = TensorData::empty(dtype).ok_or_else(|| ServeError::Unimplemented {
        message: unsupported(value, dtype),
    })?;
    let shape = dense_shape(value);
    fill(value, 0, &shape, dtype, &mut data).map_err(ServeError::invalid)?;
    Tensor::new(shape, data).map_err(|err| ServeError::invalid(err.to_string()))
}

fn unsupported(value: &Json, dtype: DType) -> String {
    format!(
        "Conversion of JSON Value: {} to type: {}",
        debug_string(value),
        tf_type_name(dtype)
    )
}

/// The shape implied by following the first element of each nested list.
fn dense_shape(value: &Json) -> Vec<u64> {
    let mut shape = Vec::new();
    let mut current = value;
    while let Json::Array(items) = current {
        shape.push(items.len() as u64);
        match items.first() {
            Some(first) => current = first,
            None => break,
        }
    }
    shape
}

fn fill(
    value: &Json,
    level: usize,
    shape: &[u64],
    dtype: DType,
    data: &mut TensorData,
) -> Result<(), String> {
    let rank = shape.len();
    let Json::Array(items) = value else {
        if level != rank {
            return Err(format!(
                "JSON Value: {} found at incorrect level: {} in the JSON DOM. Expected at level: {rank}",
                debug_string(value),
                level + 1
            ));
        }
        return push_value(value, dtype, data);
    };
    if level >= rank {
        return Err(format!(
            "Encountered list at unexpected level: {level} expected < {rank}"
        ));
    }
    if items.len() as u64 != shape[level] {
        return Err(format!(
            "Encountered list at unexpected size: {} at level: {level} expected size: {}",
            items.len(),
            shape[level]
        ));
    }
    items
        .iter()
        .try_for_each(|item| fill(item, level + 1, shape, dtype, data))
}

fn push_value(value: &Json, dtype: DType, data: &mut TensorData) -> Result<(), String> {
    let type_error = || {
        format!(
            "JSON Value: {} Type: {} is not of expected type: {}",
            debug_string(value),
            value.type_name(),
            tf_type_name(dtype)
        )
    };
    let number = match value {
        Json::Number(number) => Some(*number),
        _ => None,
    };
    let int = |number: Option<Number>| match number {
        Some(Number::Int(v)) => Some(v),
        _ => None,
    };
    macro_rules! push_int {
        ($values:expr, $ty:ty) => {
            $values.push(
                int(number)
                    .and_then(|v| <$ty>::try_from(v).ok())
                    .ok_or_else(type_error)?,
            )
        };
    }
    match data {
        TensorData::Float(values) => values.push(number.ok_or_else(type_error)?.as_f64() as f32),
        TensorData::Double(values) => values.push(number.ok_or_else(type_error)?.as_f64()),
        TensorData::Half(values) => {
            values.push(half::f16::from_f64(number.ok_or_else(type_error)?.as_f64()).to_bits())
        }
        TensorData::BFloat16(values) => {
            values.push(half::bf16::from_f64(number.ok_or_else(type_error)?.as_f64()).to_bits())
        }
        TensorData::Int8(values) => push_int!(values, i8),
        TensorData::Int16(values) => push_int!(values, i16),
        TensorData::Int32(values) => push_int!(values, i32),
        TensorData::Int64(values) => push_int!(values, i64),
        TensorData::UInt8(values) => push_int!(values, u8),
        TensorData::UInt16(values) => push_int!(values, u16),
        TensorData::UInt32(values) => push_int!(values, u32),
        TensorData::UInt64(values) => values.push(match number {
            Some(Number::Int(v)) => u64::try_from(v).map_err(|_| type_error())?,
            Some(Number::UInt(v)) => v,
            _ => return Err(type_error()),
        }),
        TensorData::Bool(values) => match value {
            Json::Bool(flag) => values.push(*flag),
            _ => return Err(type_error()),
        },
        TensorData::String(values) => match value {
            Json::String(text) => values.push(text.as_bytes().to_vec()),
            Json::Object(_) => {
                let Some(encoded) = value.as_b64() else {
                    return Err(format!(
                        "JSON Value: {} not formatted correctly for base64 data",
                        debug_string(value)
                    ));
                };
                values.push(
                    decode_base64(encoded).ok_or_else(|| "Unable to base64 decode".to_string())?,
                );
            }
            _ => return Err(type_error()),
        },
    }
    Ok(())
}

fn decode_base64(text: &str) -> Option<Vec<u8>> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    LENIENT.decode(text).ok()
}

/// The response body for `outputs` in the request's format.
pub fn outputs_json(outputs: &NamedTensors, format: Format) -> Result<String, ServeError> {
    if outputs.is_empty() {
        return Err(ServeError::invalid(
            "Cannot convert empty tensor map to JSON",
        ));
    }
    let capacity: usize = outputs
        .values()
        .map(|tensor| tensor.num_elements() * 12 + 16)
        .sum();
    let mut out = String::with_capacity(capacity + 64);
    let several = outputs.len() > 1;
    match format {
        Format::Row => {
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
                        out.push_str(if index > 0 {
                            ",\n            "
                        } else {
                            "\n            "
                        });
                        write_json_string(&mut out, name);
                        out.push_str(": ");
                    } else if item > 0 {
                        out.push(' ');
                    }
                    write_values(
                        &mut out,
                        tensor,
                        is_bytes(name, tensor),
                        1,
                        &mut offsets[index],
                    );
                }
                if several {
                    out.push_str("\n        }");
                }
            }
            out.push_str(if several { "\n    ]\n}" } else { "]\n}" });
        }
        Format::Columnar => {
            out.push_str("{\n    \"outputs\": ");
            if several {
                out.push('{');
            }
            for (index, (name, tensor)) in outputs.iter().enumerate() {
                if several {
                    out.push_str(if index > 0 {
                        ",\n        "
                    } else {
                        "\n        "
                    });
                    write_json_string(&mut out, name);
                    out.push_str(": ");
                }
                write_values(&mut out, tensor, is_bytes(name, tensor), 0, &mut 0);
            }
            out.push_str(if several { "\n    }\n}" } else { "\n}" });
        }
    }
    Ok(out)
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
    use crate::model::{Shape, TensorInfoView};

    fn signature(inputs: &[(&str, DType)]) -> SignatureInfo {
        SignatureInfo {
            key: "serving_default".into(),
            method_name: String::new(),
            inputs: inputs
                .iter()
                .map(|(key, dtype)| TensorInfoView {
                    key: (*key).into(),
                    dtype: *dtype,
                    shape: Shape::UnknownRank,
                    name: format!("{key}:0"),
                })
                .collect(),
            outputs: Vec::new(),
        }
    }

    fn inputs(body: &str, signature: &SignatureInfo) -> Result<(Format, NamedTensors), String> {
        PredictBody::parse(body.as_bytes())
            .and_then(|parsed| parsed.inputs(signature))
            .map_err(|err| err.to_string())
    }

    #[test]
    fn row_format_batches_instances() {
        let signature = signature(&[("a", DType::FLOAT), ("s", DType::STRING)]);
        let (format, tensors) = inputs(
            r#"{"instances": [{"a": [1, 2], "s": {"b64": "/w=="}}, {"a": [3, 4.5], "s": "x"}]}"#,
            &signature,
        )
        .unwrap();
        assert_eq!(format, Format::Row);
        assert_eq!(
            tensors["a"],
            Tensor::new(vec![2, 2], TensorData::Float(vec![1.0, 2.0, 3.0, 4.5])).unwrap()
        );
        assert_eq!(
            tensors["s"],
            Tensor::new(vec![2], TensorData::String(vec![vec![0xff], b"x".to_vec()])).unwrap()
        );
        let err = inputs(
            r#"{"instances": [{"a": [1, 2], "s": "x"}, {"a": [3], "s": "y"}]}"#,
            &signature,
        )
        .unwrap_err();
        assert_eq!(
            err,
            "Failed to process element: 1 key: a of 'instances' list. Error: INVALID_ARGUMENT: Expecting tensor size: 2 but got: 1"
        );
        let err = inputs(r#"{"instances": [{"a": [1, 2]}]}"#, &signature).unwrap_err();
        assert!(err.ends_with("keys must be equal to: a,s"), "{err}");
    }

    #[test]
    fn columnar_format_and_single_inputs() {
        let one = signature(&[("x", DType::INT64)]);
        let (format, tensors) = inputs(r#"{"inputs": [[9007199254740993], [-1]]}"#, &one).unwrap();
        assert_eq!(format, Format::Columnar);
        assert_eq!(
            tensors["x"],
            Tensor::new(
                vec![2, 1],
                TensorData::Int64(vec![9_007_199_254_740_993, -1])
            )
            .unwrap()
        );
        let (_, tensors) = inputs(r#"{"inputs": {"x": 7}}"#, &one).unwrap();
        assert_eq!(
            tensors["x"],
            Tensor::new(vec![], TensorData::Int64(vec![7])).unwrap()
        );
        let err = inputs(r#"{"inputs": [[1], [2, 3]]}"#, &one).unwrap_err();
        assert_eq!(
            err,
            "Encountered list at unexpected size: 2 at level: 1 expected size: 1"
        );
        let err = inputs(r#"{"inputs": [[1], 2]}"#, &one).unwrap_err();
        assert_eq!(
            err,
            "JSON Value: 2 found at incorrect level: 2 in the JSON DOM. Expected at level: 2"
        );
        let small = signature(&[("x", DType::UINT8)]);
        let err = inputs(r#"{"inputs": [300]}"#, &small).unwrap_err();
        assert_eq!(
            err,
            "JSON Value: 300 Type: Number is not of expected type: uint8"
        );
        let half = signature(&[("x", DType::HALF)]);
        let (_, tensors) = inputs(r#"{"inputs": [1.0, -2]}"#, &half).unwrap();
        assert_eq!(tensors["x"].data, TensorData::Half(vec![0x3c00, 0xc000]));
    }

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
}
