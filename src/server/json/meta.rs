//! Model status and model metadata JSON, byte for byte as TF Serving prints
//! them: protobuf's JSON mapping with proto field names, fields without
//! presence printed at their defaults, int64 as strings, enums by name, one
//! space of indentation per level — and, for metadata, TF Serving's own
//! concatenation of the `model_spec` and the unpacked `SignatureDefMap`.

use super::write_json_string;
use crate::model::DType;
use crate::pb::tensorflow::error::Code;
use crate::pb::tensorflow::serving::{
    GetModelStatusResponse, SignatureDefMap, model_version_status,
};
use crate::pb::tensorflow::{TensorInfo, TensorShapeProto, tensor_info};

/// A JSON tree whose objects keep their member order.
enum Node {
    Str(String),
    Bool(bool),
    Object(Vec<(&'static str, Node)>),
    Map(Vec<(String, Node)>),
    Array(Vec<Node>),
}

fn write(out: &mut String, node: &Node, indent: usize) {
    let pad = |out: &mut String, level: usize| out.extend(std::iter::repeat_n(' ', level));
    match node {
        Node::Str(text) => write_json_string(out, text),
        Node::Bool(flag) => out.push_str(if *flag { "true" } else { "false" }),
        Node::Object(_) | Node::Map(_) => {
            let members: Vec<(&str, &Node)> = match node {
                Node::Object(members) => members.iter().map(|(key, value)| (*key, value)).collect(),
                Node::Map(members) => members
                    .iter()
                    .map(|(key, value)| (key.as_str(), value))
                    .collect(),
                _ => unreachable!(),
            };
            if members.is_empty() {
                out.push_str("{}");
                return;
            }
            out.push_str("{\n");
            for (index, (key, value)) in members.iter().enumerate() {
                if index > 0 {
                    out.push_str(",\n");
                }
                pad(out, indent + 1);
                write_json_string(out, key);
                out.push_str(": ");
                write(out, value, indent + 1);
            }
            out.push('\n');
            pad(out, indent);
            out.push('}');
        }
        Node::Array(items) => {
            if items.is_empty() {
                out.push_str("[]");
                return;
            }
            out.push_str("[\n");
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push_str(",\n");
                }
                pad(out, indent + 1);
                write(out, item, indent + 1);
            }
            out.push('\n');
            pad(out, indent);
            out.push(']');
        }
    }
}

fn to_text(node: &Node) -> String {
    let mut out = String::new();
    write(&mut out, node, 0);
    out
}

/// `GET /v1/models/{name}`: the `GetModelStatusResponse` as JSON.
pub fn status_json(response: &GetModelStatusResponse) -> String {
    let statuses = response
        .model_version_status
        .iter()
        .map(|status| {
            let state = model_version_status::State::try_from(status.state)
                .map(|state| state.as_str_name().to_string())
                .unwrap_or_else(|_| status.state.to_string());
            let mut members = vec![
                ("version", Node::Str(status.version.to_string())),
                ("state", Node::Str(state)),
            ];
            if let Some(proto) = &status.status {
                let code = Code::try_from(proto.error_code)
                    .map(|code| code.as_str_name().to_string())
                    .unwrap_or_else(|_| proto.error_code.to_string());
                members.push((
                    "status",
                    Node::Object(vec![
                        ("error_code", Node::Str(code)),
                        ("error_message", Node::Str(proto.error_message.clone())),
                    ]),
                ));
            }
            Node::Object(members)
        })
        .collect();
    let mut out = to_text(&Node::Object(vec![(
        "model_version_status",
        Node::Array(statuses),
    )]));
    out.push('\n');
    out
}

/// `GET /v1/models/{name}/metadata`, assembled the way TF Serving assembles it.
pub fn metadata_json(model_name: &str, version: i64, signatures: &SignatureDefMap) -> String {
    let model_spec = Node::Object(vec![
        ("name", Node::Str(model_name.to_string())),
        ("signature_name", Node::Str(String::new())),
        ("version", Node::Str(version.to_string())),
    ]);
    let signature_defs = Node::Object(vec![(
        "signature_def",
        Node::Map(
            signatures
                .signature_def
                .iter()
                .map(|(key, signature)| {
                    let node = Node::Object(vec![
                        ("inputs", tensor_infos(&signature.inputs)),
                        ("outputs", tensor_infos(&signature.outputs)),
                        ("method_name", Node::Str(signature.method_name.clone())),
                        ("defaults", Node::Object(Vec::new())),
                    ]);
                    (key.clone(), node)
                })
                .collect(),
        ),
    )]);
    let mut out = String::from("{\n\"model_spec\":");
    out.push_str(&to_text(&model_spec));
    out.push_str("\n,\n\"metadata\": {\"signature_def\": ");
    out.push_str(&to_text(&signature_defs));
    out.push_str("\n}\n}\n");
    out
}

fn tensor_infos<'a>(infos: impl IntoIterator<Item = (&'a String, &'a TensorInfo)>) -> Node {
    Node::Map(
        infos
            .into_iter()
            .map(|(key, info)| (key.clone(), tensor_info(info)))
            .collect(),
    )
}

fn tensor_info(info: &TensorInfo) -> Node {
    let mut members = vec![("dtype", Node::Str(DType(info.dtype).name()))];
    if let Some(shape) = &info.tensor_shape {
        members.push(("tensor_shape", tensor_shape(shape)));
    }
    match &info.encoding {
        Some(tensor_info::Encoding::Name(name)) => members.push(("name", Node::Str(name.clone()))),
        Some(tensor_info::Encoding::CooSparse(sparse)) => members.push((
            "coo_sparse",
            Node::Object(vec![
                (
                    "values_tensor_name",
                    Node::Str(sparse.values_tensor_name.clone()),
                ),
                (
                    "indices_tensor_name",
                    Node::Str(sparse.indices_tensor_name.clone()),
                ),
                (
                    "dense_shape_tensor_name",
                    Node::Str(sparse.dense_shape_tensor_name.clone()),
                ),
            ]),
        )),
        Some(tensor_info::Encoding::CompositeTensor(_)) => {
            members.push(("composite_tensor", Node::Object(Vec::new())));
        }
        None => {}
    }
    Node::Object(members)
}

fn tensor_shape(shape: &TensorShapeProto) -> Node {
    let dims = shape
        .dim
        .iter()
        .map(|dim| {
            Node::Object(vec![
                ("size", Node::Str(dim.size.to_string())),
                ("name", Node::Str(dim.name.clone())),
            ])
        })
        .collect();
    Node::Object(vec![
        ("dim", Node::Array(dims)),
        ("unknown_rank", Node::Bool(shape.unknown_rank)),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pb::tensorflow::serving::{ModelVersionStatus, StatusProto};

    #[test]
    fn status_matches_tf_serving_byte_for_byte() {
        let response = GetModelStatusResponse {
            model_version_status: vec![ModelVersionStatus {
                version: 1_538_687_457,
                state: model_version_status::State::Available as i32,
                status: Some(StatusProto {
                    error_code: Code::Ok as i32,
                    error_message: String::new(),
                }),
            }],
        };
        let expected = "{\n \"model_version_status\": [\n  {\n   \"version\": \"1538687457\",\n   \"state\": \"AVAILABLE\",\n   \"status\": {\n    \"error_code\": \"OK\",\n    \"error_message\": \"\"\n   }\n  }\n ]\n}\n";
        assert_eq!(status_json(&response), expected);
    }

    #[test]
    fn metadata_prints_int64_as_strings_and_default_fields() {
        let mut map = SignatureDefMap::default();
        let signature = crate::model::SignatureInfo {
            key: "serving_default".into(),
            method_name: "tensorflow/serving/predict".into(),
            inputs: vec![crate::model::TensorInfoView {
                key: "x".into(),
                dtype: DType::FLOAT,
                shape: crate::model::Shape::from_sizes(&[-1, 1]),
                name: "x:0".into(),
            }],
            outputs: vec![crate::model::TensorInfoView {
                key: "y".into(),
                dtype: DType::FLOAT,
                shape: crate::model::Shape::UnknownRank,
                name: "y:0".into(),
            }],
        };
        map.signature_def
            .insert("serving_default".into(), signature.to_proto());
        let text = metadata_json("half", 123, &map);
        assert!(text.starts_with("{\n\"model_spec\":{\n \"name\": \"half\",\n \"signature_name\": \"\",\n \"version\": \"123\"\n}\n,\n\"metadata\": {\"signature_def\": {\n \"signature_def\": {\n  \"serving_default\": {\n"), "{text}");
        assert!(
            text.contains(
                "\"dim\": [\n       {\n        \"size\": \"-1\",\n        \"name\": \"\"\n       },"
            ),
            "{text}"
        );
        assert!(
            text.contains("\"dim\": [],\n      \"unknown_rank\": true"),
            "{text}"
        );
        assert!(text.contains("\"method_name\": \"tensorflow/serving/predict\",\n   \"defaults\": {}\n  }\n }\n}\n}\n}\n"), "{text}");
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["model_spec"]["version"], "123");
        assert_eq!(
            value["metadata"]["signature_def"]["signature_def"]["serving_default"]["inputs"]["x"]["tensor_shape"]
                ["dim"][1]["size"],
            "1"
        );
    }
}
