//! Model status and metadata as tfprobe's own types: both protocols end in the same
//! signature tree (`SavedModelInfo`) that `show`, the server and the GUI use.

use super::error::ClientError;
use crate::model::{MetaGraphInfo, SavedModelInfo, Shape, signature_from_proto};
use crate::pb::tensorflow as tfpb;
use crate::pb::tensorflow::serving::{
    GetModelStatusResponse, SignatureDefMap, model_version_status,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One version's state as `GetModelStatus` reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionState {
    pub version: i64,
    /// `AVAILABLE`, `LOADING`, `END`, ...
    pub state: String,
    /// TF status name of the version's last error (`OK` when none).
    pub error_code: String,
    pub error_message: String,
}

/// The signature tree of a served model: one MetaGraph tagged `serve` whose
/// signatures (sorted by key) come from the server's `SignatureDefMap`.
pub fn model_info_from_signature_defs(
    version: Option<i64>,
    signatures: &SignatureDefMap,
) -> SavedModelInfo {
    let meta_graph = MetaGraphInfo {
        tags: vec!["serve".to_string()],
        signatures: signatures
            .signature_def
            .iter()
            .map(|(key, signature)| signature_from_proto(key, signature))
            .collect(),
        ..MetaGraphInfo::default()
    };
    SavedModelInfo {
        version,
        versions: version.into_iter().collect(),
        saved_model_schema_version: 1,
        meta_graphs: vec![meta_graph],
        ..SavedModelInfo::default()
    }
}

pub(crate) fn states_from_proto(response: &GetModelStatusResponse) -> Vec<VersionState> {
    response
        .model_version_status
        .iter()
        .map(|status| {
            let state = model_version_status::State::try_from(status.state)
                .map(|state| state.as_str_name().to_string())
                .unwrap_or_else(|_| status.state.to_string());
            let (error_code, error_message) = match &status.status {
                Some(proto) => (
                    tfpb::error::Code::try_from(proto.error_code)
                        .map(|code| code.as_str_name().to_string())
                        .unwrap_or_else(|_| proto.error_code.to_string()),
                    proto.error_message.clone(),
                ),
                None => ("OK".to_string(), String::new()),
            };
            VersionState {
                version: status.version,
                state,
                error_code,
                error_message,
            }
        })
        .collect()
}

/// `{"model_version_status": [...]}` from `GET /v1/models/NAME`.
pub(crate) fn states_from_json(doc: &Value) -> Result<Vec<VersionState>, String> {
    let list = doc
        .get("model_version_status")
        .and_then(Value::as_array)
        .ok_or("no 'model_version_status' list")?;
    list.iter()
        .map(|item| {
            let status = item.get("status");
            Ok(VersionState {
                version: int64(item.get("version")).ok_or("a version without a number")?,
                state: text(item.get("state")).unwrap_or_else(|| "UNKNOWN".into()),
                error_code: status
                    .and_then(|s| text(s.get("error_code")))
                    .unwrap_or_else(|| "OK".into()),
                error_message: status
                    .and_then(|s| text(s.get("error_message")))
                    .unwrap_or_default(),
            })
        })
        .collect()
}

/// `GET .../metadata`: the served version and the `SignatureDefMap`.
pub(crate) fn signature_defs_from_json(
    doc: &Value,
) -> Result<(Option<i64>, SignatureDefMap), String> {
    let version = doc
        .get("model_spec")
        .and_then(|spec| int64(spec.get("version")));
    let map = doc
        .get("metadata")
        .and_then(|metadata| metadata.get("signature_def"))
        .ok_or("no 'metadata.signature_def'")?;
    // The SignatureDefMap itself has one field, also called signature_def.
    let defs = map.get("signature_def").unwrap_or(map);
    let defs = defs.as_object().ok_or("'signature_def' is not an object")?;
    let mut out = SignatureDefMap::default();
    for (key, def) in defs {
        out.signature_def.insert(
            key.clone(),
            signature_def(def).map_err(|err| format!("signature '{key}': {err}"))?,
        );
    }
    Ok((version, out))
}

fn signature_def(value: &Value) -> Result<tfpb::SignatureDef, String> {
    let infos =
        |name: &str| -> Result<std::collections::BTreeMap<String, tfpb::TensorInfo>, String> {
            match value.get(name) {
                None | Some(Value::Null) => Ok(Default::default()),
                Some(Value::Object(members)) => members
                    .iter()
                    .map(|(key, info)| tensor_info(info).map(|info| (key.clone(), info)))
                    .collect(),
                Some(_) => Err(format!("'{name}' is not an object")),
            }
        };
    Ok(tfpb::SignatureDef {
        inputs: infos("inputs")?,
        outputs: infos("outputs")?,
        method_name: text(value.get("method_name")).unwrap_or_default(),
        ..Default::default()
    })
}

fn tensor_info(value: &Value) -> Result<tfpb::TensorInfo, String> {
    let dtype = match value.get("dtype") {
        None => 0,
        Some(Value::String(name)) => crate::model::DType::from_name(name)
            .map(|dtype| dtype.0)
            .ok_or_else(|| format!("unknown dtype '{name}'"))?,
        Some(Value::Number(number)) => number
            .as_i64()
            .and_then(|n| i32::try_from(n).ok())
            .unwrap_or(0),
        Some(other) => return Err(format!("bad dtype {other}")),
    };
    let tensor_shape = value.get("tensor_shape").map(|shape| {
        let unknown_rank = shape
            .get("unknown_rank")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let dims = shape
            .get("dim")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if unknown_rank {
            return Shape::UnknownRank.to_proto();
        }
        tfpb::TensorShapeProto {
            dim: dims
                .iter()
                .map(|dim| tfpb::tensor_shape_proto::Dim {
                    size: int64(dim.get("size")).unwrap_or(0),
                    name: text(dim.get("name")).unwrap_or_default(),
                })
                .collect(),
            unknown_rank: false,
        }
    });
    let encoding = if let Some(name) = text(value.get("name")) {
        Some(tfpb::tensor_info::Encoding::Name(name))
    } else if let Some(sparse) = value.get("coo_sparse") {
        Some(tfpb::tensor_info::Encoding::CooSparse(
            tfpb::tensor_info::CooSparse {
                values_tensor_name: text(sparse.get("values_tensor_name")).unwrap_or_default(),
                indices_tensor_name: text(sparse.get("indices_tensor_name")).unwrap_or_default(),
                dense_shape_tensor_name: text(sparse.get("dense_shape_tensor_name"))
                    .unwrap_or_default(),
            },
        ))
    } else {
        value
            .get("composite_tensor")
            .map(|_| tfpb::tensor_info::Encoding::CompositeTensor(Default::default()))
    };
    Ok(tfpb::TensorInfo {
        dtype,
        tensor_shape,
        encoding,
    })
}

/// An int64 as protobuf's JSON writes it: a string, or a plain number.
fn int64(value: Option<&Value>) -> Option<i64> {
    match value? {
        Value::String(text) => text.parse().ok(),
        Value::Number(number) => number.as_i64(),
        _ => None,
    }
}

fn text(value: Option<&Value>) -> Option<String> {
    value?.as_str().map(str::to_string)
}

pub(crate) fn decode_error(what: &str, err: impl std::fmt::Display) -> ClientError {
    ClientError::Decode(format!("{what}: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::DType;

    #[test]
    fn rest_metadata_json_becomes_the_same_tree_as_the_proto() {
        let doc: Value = serde_json::from_str(
            r#"{"model_spec":{"name":"resnet","signature_name":"","version":"1538687457"},
            "metadata":{"signature_def":{"signature_def":{"serving_default":{
              "inputs":{"image_bytes":{"dtype":"DT_STRING","tensor_shape":{"dim":[{"size":"-1","name":""}],"unknown_rank":false},"name":"input_tensor:0"}},
              "outputs":{"probabilities":{"dtype":"DT_FLOAT","tensor_shape":{"dim":[{"size":"-1","name":""},{"size":"1001","name":""}],"unknown_rank":false},"name":"softmax_tensor:0"},
                         "any":{"dtype":"DT_FLOAT","tensor_shape":{"dim":[],"unknown_rank":true},"name":"a:0"}},
              "method_name":"tensorflow/serving/predict","defaults":{}}}}}}"#,
        )
        .unwrap();
        let (version, map) = signature_defs_from_json(&doc).unwrap();
        assert_eq!(version, Some(1_538_687_457));
        let info = model_info_from_signature_defs(version, &map);
        let signature = info
            .serving_meta_graph()
            .unwrap()
            .signature("serving_default")
            .unwrap();
        assert_eq!(signature.method_name, "tensorflow/serving/predict");
        let input = signature.input("image_bytes").unwrap();
        assert_eq!(
            (input.dtype, input.shape.cli_text(), input.name.as_str()),
            (DType::STRING, "(-1)".into(), "input_tensor:0")
        );
        assert_eq!(
            signature.output("probabilities").unwrap().shape.sizes(),
            Some(vec![-1, 1001])
        );
        assert_eq!(signature.output("any").unwrap().shape, Shape::UnknownRank);
        // The proto path gives the identical tree.
        let again = model_info_from_signature_defs(Some(1_538_687_457), &map.clone());
        assert_eq!(info, again);
    }

    #[test]
    fn status_json_reads_int64_strings() {
        let doc: Value = serde_json::from_str(
            r#"{"model_version_status":[{"version":"7","state":"AVAILABLE","status":{"error_code":"OK","error_message":""}}]}"#,
        )
        .unwrap();
        let states = states_from_json(&doc).unwrap();
        assert_eq!(
            states,
            vec![VersionState {
                version: 7,
                state: "AVAILABLE".into(),
                error_code: "OK".into(),
                error_message: String::new()
            }]
        );
        assert!(states_from_json(&serde_json::json!({"x": 1})).is_err());
    }
}
