//! A hand-built SavedModel for large float inputs (issue 18): signature
//! `serving_default` takes `x`, float of shape `[-1, dims...]`, and answers `y`,
//! the mean of each batch item (`Mean` over every axis but the first), so that a
//! big request gets a small, checkable answer. No Python, no variables.

use prost::Message;
use std::path::Path;
use tfprobe::model::{DType, Shape};
use tfprobe::pb::tensorflow as tfpb;

fn attr(value: tfpb::attr_value::Value) -> tfpb::AttrValue {
    tfpb::AttrValue { value: Some(value) }
}

fn node(
    name: &str,
    op: &str,
    inputs: &[&str],
    attrs: Vec<(&str, tfpb::AttrValue)>,
) -> tfpb::NodeDef {
    tfpb::NodeDef {
        name: name.into(),
        op: op.into(),
        input: inputs.iter().map(|input| input.to_string()).collect(),
        attr: attrs
            .into_iter()
            .map(|(key, value)| (key.to_string(), value))
            .collect(),
        ..Default::default()
    }
}

fn info(name: &str, sizes: &[i64]) -> tfpb::TensorInfo {
    tfpb::TensorInfo {
        dtype: DType::FLOAT.0,
        tensor_shape: Some(Shape::from_sizes(sizes).to_proto()),
        encoding: Some(tfpb::tensor_info::Encoding::Name(format!("{name}:0"))),
    }
}

/// Writes version `1` of the model under `base` for items of shape `dims`.
pub fn write_mean_model(base: &Path, dims: &[i64]) {
    use tfpb::attr_value::Value;
    let mut input_sizes = vec![-1];
    input_sizes.extend_from_slice(dims);
    let axes: Vec<i32> = (1..=dims.len() as i32).collect();
    let axes_tensor = tfpb::TensorProto {
        dtype: DType::INT32.0,
        tensor_shape: Some(Shape::from_sizes(&[axes.len() as i64]).to_proto()),
        int_val: axes,
        ..Default::default()
    };
    let nodes = vec![
        node(
            "x",
            "Placeholder",
            &[],
            vec![
                ("dtype", attr(Value::Type(DType::FLOAT.0))),
                (
                    "shape",
                    attr(Value::Shape(Shape::from_sizes(&input_sizes).to_proto())),
                ),
            ],
        ),
        node(
            "axes",
            "Const",
            &[],
            vec![
                ("dtype", attr(Value::Type(DType::INT32.0))),
                ("value", attr(Value::Tensor(axes_tensor))),
            ],
        ),
        node(
            "y",
            "Mean",
            &["x", "axes"],
            vec![
                ("T", attr(Value::Type(DType::FLOAT.0))),
                ("Tidx", attr(Value::Type(DType::INT32.0))),
                ("keep_dims", attr(Value::B(false))),
            ],
        ),
    ];
    let signature = tfpb::SignatureDef {
        inputs: [("x".to_string(), info("x", &input_sizes))].into(),
        outputs: [("y".to_string(), info("y", &[-1]))].into(),
        method_name: "tensorflow/serving/predict".into(),
        ..Default::default()
    };
    let meta_graph = tfpb::MetaGraphDef {
        meta_info_def: Some(tfpb::meta_graph_def::MetaInfoDef {
            tags: vec!["serve".into()],
            tensorflow_version: "2.21.0".into(),
            ..Default::default()
        }),
        graph_def: Some(tfpb::GraphDef {
            node: nodes,
            versions: Some(tfpb::VersionDef {
                producer: 1205,
                min_consumer: 12,
                bad_consumers: vec![],
            }),
            ..Default::default()
        }),
        signature_def: [("serving_default".to_string(), signature)].into(),
        ..Default::default()
    };
    let saved_model = tfpb::SavedModel {
        saved_model_schema_version: 1,
        meta_graphs: vec![meta_graph],
    };
    let dir = base.join("1");
    std::fs::create_dir_all(&dir).expect("create model dir");
    std::fs::write(dir.join("saved_model.pb"), saved_model.encode_to_vec())
        .expect("write saved_model.pb");
}
