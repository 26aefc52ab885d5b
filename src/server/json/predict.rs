//! Predict requests in TF Serving's JSON: the row format (`"instances"`) and
//! the columnar format (`"inputs"`), following TF Serving's `json_tensor.cc`
//! rule by rule (and its messages), with a few extensions: half / bfloat16 /
//! uint16 values, integer range checks instead of silent wrapping, and the
//! valid input names in errors. Responses are written by `response`.

use super::fill::{dense_shape, fill};
use super::parse::{Json, parse};
use super::{debug_string, tf_type_name};
use crate::model::{DEFAULT_SIGNATURE_KEY, DType, SignatureInfo};
use crate::server::error::ServeError;
use crate::tensor::NamedTensors;
use crate::tensor::{Tensor, TensorData};

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

    /// The whole body (an object).
    pub fn doc(&self) -> &Json {
        &self.doc
    }

    /// The signature to run: `signature_name`, or `serving_default`.
    pub fn signature_key(&self) -> &str {
        if self.signature_name.is_empty() {
            DEFAULT_SIGNATURE_KEY
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

pub(super) fn format_error(doc: &Json, what: &str) -> ServeError {
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
}
