//! `:classify` and `:regress` bodies (TF Serving's
//! FillClassificationRequestFromJson): `{"signature_name": ..., "context":
//! {...}, "examples": [{"feature": value or [values]}, ...]}` becomes an
//! Input of tf.Example protos, and results are written in TF Serving's layout.

use super::fill::decode_base64;
use super::parse::{Json, Number};
use super::predict::{PredictBody, format_error};
use super::{write_f32, write_json_string};
use crate::pb::tensorflow::serving::{
    ClassificationResult, ExampleList, ExampleListWithContext, Input, RegressionResult, input,
};
use crate::pb::tensorflow::{BytesList, Example, Feature, Features, FloatList, Int64List, feature};
use crate::server::error::ServeError;

/// A parsed `:classify` / `:regress` body.
pub struct ExamplesBody {
    /// The `signature_name` member; empty when absent.
    pub signature_name: String,
    pub input: Input,
}

impl ExamplesBody {
    /// `method` ("classify" or "regress") names the API in messages.
    pub fn parse(body: &[u8], method: &str) -> Result<ExamplesBody, ServeError> {
        // The same document checks (empty, not an object, signature_name) as predict.
        let parsed = PredictBody::parse(body)?;
        let doc = parsed.doc();
        let context = doc.get("context").map(example_from_json).transpose()?;
        let examples = match doc.get("examples") {
            None => {
                return Err(format_error(
                    doc,
                    &format!(
                        "When method is {method}, key 'examples' is expected and was not found"
                    ),
                ));
            }
            Some(Json::Array(items)) if items.is_empty() => {
                return Err(format_error(doc, "'examples' value is an empty array"));
            }
            Some(Json::Array(items)) => items
                .iter()
                .map(example_from_json)
                .collect::<Result<Vec<_>, _>>()?,
            Some(_) => {
                return Err(format_error(
                    doc,
                    "Expecting 'examples' value to be an list/array",
                ));
            }
        };
        let kind = match context {
            Some(context) => input::Kind::ExampleListWithContext(ExampleListWithContext {
                examples,
                context: Some(context),
            }),
            None => input::Kind::ExampleList(ExampleList { examples }),
        };
        Ok(ExamplesBody {
            signature_name: parsed.signature_name.clone(),
            input: Input { kind: Some(kind) },
        })
    }
}

/// One example: each member is a feature, its value one element or a list.
fn example_from_json(value: &Json) -> Result<Example, ServeError> {
    let Json::Object(members) = value else {
        return Err(ServeError::invalid(format!(
            "Example must be JSON object but got JSON {}",
            value.type_name()
        )));
    };
    let mut features = Features::default();
    for (name, content) in members {
        let mut feature = Feature::default();
        match content {
            Json::Array(items) => {
                for item in items {
                    add_value(&mut feature, name, item)?;
                }
            }
            item => add_value(&mut feature, name, item)?,
        }
        // A repeated name replaces the earlier one, as in TF Serving.
        features.feature.insert(name.clone(), feature);
    }
    Ok(Example {
        features: Some(features),
    })
}

/// The feature kind a JSON value makes (TF Serving's AddValueToFeature).
enum Value {
    Bytes(Vec<u8>),
    Float(f32),
    Int64(i64),
}

fn add_value(feature: &mut Feature, name: &str, value: &Json) -> Result<(), ServeError> {
    let unexpected = || {
        ServeError::invalid(format!(
            "Feature: {name} has element with unexpected JSON type: {}",
            value.type_name()
        ))
    };
    let value = match value {
        Json::Null | Json::Array(_) => return Err(unexpected()),
        Json::Bool(flag) => Value::Int64(i64::from(*flag)),
        Json::Object(_) => {
            let encoded = value.as_b64().ok_or_else(unexpected)?;
            Value::Bytes(
                decode_base64(encoded)
                    .ok_or_else(|| ServeError::invalid("Unable to base64 decode"))?,
            )
        }
        Json::String(text) => Value::Bytes(text.as_bytes().to_vec()),
        // rapidjson keeps the value as a float (GetFloat) when it has a fraction or exponent.
        Json::Number(Number::Float(number)) => Value::Float(*number as f32),
        Json::Number(Number::Int(number)) => Value::Int64(*number),
        Json::Number(Number::UInt(_)) => {
            return Err(ServeError::invalid(format!(
                "Feature: {name} has uint64_t element. Only int64_t is supported."
            )));
        }
    };
    let kind = feature.kind.get_or_insert_with(|| match value {
        Value::Bytes(_) => feature::Kind::BytesList(BytesList::default()),
        Value::Float(_) => feature::Kind::FloatList(FloatList::default()),
        Value::Int64(_) => feature::Kind::Int64List(Int64List::default()),
    });
    match (kind, value) {
        (feature::Kind::BytesList(list), Value::Bytes(bytes)) => list.value.push(bytes),
        (feature::Kind::FloatList(list), Value::Float(number)) => list.value.push(number),
        (feature::Kind::Int64List(list), Value::Int64(number)) => list.value.push(number),
        (kind, _) => {
            let expected = match kind {
                feature::Kind::BytesList(_) => "bytes",
                feature::Kind::FloatList(_) => "float",
                feature::Kind::Int64List(_) => "int64",
            };
            return Err(ServeError::invalid(format!(
                "Unexpected element type in feature: {name} expecting type: {expected}"
            )));
        }
    }
    Ok(())
}

/// `{"results": [[["label", score], ...], ...]}`, laid out like TF Serving's
/// rapidjson writer (each example's list on one line).
pub fn classification_json(result: &ClassificationResult) -> String {
    let mut out = String::from("{\n    \"results\": [");
    for (index, classifications) in result.classifications.iter().enumerate() {
        if index > 0 {
            out.push_str(", ");
        }
        out.push('[');
        for (class_index, class) in classifications.classes.iter().enumerate() {
            if class_index > 0 {
                out.push_str(", ");
            }
            out.push('[');
            write_json_string(&mut out, &class.label);
            out.push_str(", ");
            write_f32(&mut out, class.score);
            out.push(']');
        }
        out.push(']');
    }
    out.push_str("\n    ]\n}");
    out
}

/// `{"results": [value, ...]}`, one value per example.
pub fn regression_json(result: &RegressionResult) -> String {
    let mut out = String::from("{\n    \"results\": [");
    for (index, regression) in result.regressions.iter().enumerate() {
        if index > 0 {
            out.push_str(", ");
        }
        write_f32(&mut out, regression.value);
    }
    out.push_str("]\n}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pb::tensorflow::serving::{Class, Classifications, Regression};

    fn error(body: &str) -> String {
        ExamplesBody::parse(body.as_bytes(), "classify")
            .err()
            .expect("an error")
            .to_string()
    }

    #[test]
    fn bodies_become_examples() {
        let body = ExamplesBody::parse(
            br#"{"signature_name": "s", "context": {"c": "ab"},
                "examples": [{"x": 1.5, "n": [1, true], "b": {"b64": "AAE="}}]}"#,
            "regress",
        )
        .unwrap();
        assert_eq!(body.signature_name, "s");
        let Some(input::Kind::ExampleListWithContext(list)) = body.input.kind else {
            panic!("context kept");
        };
        let features = list.examples[0].features.clone().unwrap().feature;
        assert_eq!(
            features["x"].kind,
            Some(feature::Kind::FloatList(FloatList { value: vec![1.5] }))
        );
        assert_eq!(
            features["n"].kind,
            Some(feature::Kind::Int64List(Int64List { value: vec![1, 1] }))
        );
        assert_eq!(
            features["b"].kind,
            Some(feature::Kind::BytesList(BytesList {
                value: vec![vec![0, 1]]
            }))
        );
    }

    #[test]
    fn bad_bodies_get_tf_serving_messages() {
        assert_eq!(
            error(r#"{"examples": [{"x": [1.0, "a"]}]}"#),
            "Unexpected element type in feature: x expecting type: float"
        );
        assert_eq!(
            error(r#"{"examples": [{"x": null}]}"#),
            "Feature: x has element with unexpected JSON type: Null"
        );
        assert_eq!(
            error(r#"{"examples": [3]}"#),
            "Example must be JSON object but got JSON Number"
        );
        assert!(error(r#"{"examples": []}"#).ends_with("'examples' value is an empty array"));
        assert!(
            error(r#"{"instances": []}"#)
                .ends_with("When method is classify, key 'examples' is expected and was not found")
        );
    }

    #[test]
    fn results_are_laid_out_like_tf_serving() {
        let class = |label: &str, score| Class {
            label: label.into(),
            score,
        };
        let result = ClassificationResult {
            classifications: vec![
                Classifications {
                    classes: vec![class("a", 0.25), class("b", 0.75)],
                },
                Classifications {
                    classes: vec![class("a", 1.0), class("b", 0.0)],
                },
            ],
        };
        assert_eq!(
            classification_json(&result),
            "{\n    \"results\": [[[\"a\", 0.25], [\"b\", 0.75]], [[\"a\", 1.0], [\"b\", 0.0]]\n    ]\n}"
        );
        let result = RegressionResult {
            regressions: vec![Regression { value: 1.5 }, Regression { value: -3.0 }],
        };
        assert_eq!(
            regression_json(&result),
            "{\n    \"results\": [1.5, -3.0]\n}"
        );
    }
}
