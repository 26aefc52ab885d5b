use super::expand::build;
use super::layers::{summarize, summary_text};
use super::layout::{layout, view};
use super::*;
use std::path::PathBuf;

fn fixture(name: &str) -> tfpb::SavedModel {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/models")
        .join(name);
    crate::model::read_saved_model_proto(&dir).expect("fixture reads")
}

fn layer_names(summary: &layers::Summary) -> Vec<&str> {
    summary
        .layers
        .iter()
        .map(|layer| layer.name.as_str())
        .collect()
}

fn graph_of(name: &str) -> Graph {
    build(
        &fixture(name),
        &[],
        "serving_default",
        GraphLimits::default(),
    )
    .expect("graph builds")
}

#[test]
fn keras_export_is_resolved_through_its_calls_into_layers_with_parameters() {
    let graph = graph_of("keras_image/1");
    // No call op survives: every StatefulPartitionedCall was replaced by its body.
    assert!(
        graph
            .nodes
            .iter()
            .all(|node| !node.op.contains("PartitionedCall"))
    );
    let summary = summarize(&graph);
    // conv1 3·3·3·8+8, conv2 3·3·8·16+16, dense 16·10+10 (what Keras's count_params says).
    assert_eq!(summary.total_params, 224 + 1168 + 170);
    assert_eq!(summary.trainable_params, 1562);
    assert_eq!(summary.convolution_layers, 2);
    let names = layer_names(&summary);
    assert_eq!(
        names,
        [
            "serving_default_images",
            "tiny_image_classifier_1/conv1_1",
            "tiny_image_classifier_1/conv2_1",
            "tiny_image_classifier_1/pool_1",
            "tiny_image_classifier_1/probabilities_1",
            "Identity"
        ]
    );
    let conv1 = &summary.layers[1];
    assert_eq!(conv1.main_op(), "Conv2D");
    assert_eq!(conv1.params, 224);
    assert_eq!(layers::meta_text(&conv1.output), "DT_FLOAT (-1, 31, 31, 8)");
    // The signature's ends are the placeholder and the output identity.
    assert_eq!(graph.inputs[0].key, "images");
    assert_eq!(graph.nodes[graph.inputs[0].tensor.node].op, "Placeholder");
    assert_eq!(graph.nodes[graph.outputs[0].tensor.node].op, "Identity");
}

#[test]
fn tf1_graph_runs_from_placeholder_to_softmax_and_argmax() {
    let graph = graph_of("tf1_softmax/1");
    let summary = summarize(&graph);
    let names = layer_names(&summary);
    assert_eq!(
        names,
        ["Placeholder", "conv1", "dense", "softmax_tensor", "ArgMax"]
    );
    let output_ops: Vec<(&str, &str)> = graph
        .outputs
        .iter()
        .map(|output| {
            (
                output.key.as_str(),
                graph.nodes[output.tensor.node].op.as_str(),
            )
        })
        .collect();
    assert_eq!(
        output_ops,
        [("classes", "ArgMax"), ("probabilities", "Softmax")]
    );
    // Placeholder → Conv2D → … → MatMul → Softmax: the softmax's ancestors reach the input.
    let softmax = graph.outputs[1].tensor.node;
    let mut stack = vec![softmax];
    let mut seen_ops = Vec::new();
    while let Some(node) = stack.pop() {
        seen_ops.push(graph.nodes[node].op.clone());
        stack.extend(graph.nodes[node].inputs.iter().map(|input| input.node));
    }
    for op in ["Placeholder", "Conv2D", "MatMul", "Softmax"] {
        assert!(
            seen_ops.iter().any(|seen| seen == op),
            "{op} missing from {seen_ops:?}"
        );
    }
    // The non-trainable variable is kept apart, from the TF1 collection.
    assert_eq!(summary.total_params, 3 * 3 * 3 * 4 + 4 + 256 * 5 + 5);
    assert_eq!(summary.non_trainable_params, 5);
    assert_eq!(
        layers::meta_text(&summary.layers[4].output),
        "DT_INT64 (-1)"
    );
}

#[test]
fn summary_text_is_a_keras_like_table() {
    let text = summary_text(&summarize(&graph_of("tf1_softmax/1")));
    let expected_tail = "Total params: 1,397\nTrainable params: 1,392\nNon-trainable params: 5\nLayers: 5 (1 convolution), nodes: 19\n";
    assert!(text.ends_with(expected_tail), "{text}");
    assert!(text.starts_with("Signature: serving_default\n"), "{text}");
    assert!(
        text.lines().any(|line| line.starts_with("conv1 ")
            && line.contains("Conv2D, Relu, BiasAdd")
            && line.trim_end().ends_with("112")),
        "{text}"
    );
}

#[test]
fn while_bodies_are_drawn_inside_their_loop_and_fed_by_its_inputs() {
    let graph = graph_of("seedlike/1538687457");
    let decode = graph
        .nodes
        .iter()
        .position(|node| node.op == "DecodeImage")
        .expect("the map's body decodes the image");
    assert_eq!(
        graph.nodes[decode].name,
        "map/while/body/decode_image/DecodeImage"
    );
    assert_eq!(
        graph.nodes[decode]
            .function
            .as_deref()
            .map(|f| f.contains("body")),
        Some(true)
    );
    let while_node = graph
        .nodes
        .iter()
        .position(|node| node.op == "StatelessWhile")
        .expect("loop");
    // The loop node is fed by its body's returns.
    assert!(
        graph.nodes[while_node]
            .inputs
            .iter()
            .any(|input| graph.nodes[input.node].name.starts_with("map/while/body/"))
    );
}

fn function(name: &str, nodes: Vec<tfpb::NodeDef>, ret: &[(&str, &str)]) -> tfpb::FunctionDef {
    let arg = |name: &str| tfpb::op_def::ArgDef {
        name: name.to_string(),
        r#type: DType::FLOAT.0,
        ..Default::default()
    };
    tfpb::FunctionDef {
        signature: Some(tfpb::OpDef {
            name: name.to_string(),
            input_arg: vec![arg("x")],
            output_arg: ret.iter().map(|(out, _)| arg(out)).collect(),
            ..Default::default()
        }),
        node_def: nodes,
        ret: ret
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Default::default()
    }
}

fn node(name: &str, op: &str, inputs: &[&str], call: Option<&str>) -> tfpb::NodeDef {
    let mut attr = std::collections::BTreeMap::new();
    if let Some(callee) = call {
        attr.insert(
            "f".to_string(),
            tfpb::AttrValue {
                value: Some(tfpb::attr_value::Value::Func(tfpb::NameAttrList {
                    name: callee.to_string(),
                    attr: Default::default(),
                })),
            },
        );
    }
    tfpb::NodeDef {
        name: name.to_string(),
        op: op.to_string(),
        input: inputs.iter().map(|i| i.to_string()).collect(),
        attr,
        ..Default::default()
    }
}

fn model(nodes: Vec<tfpb::NodeDef>, functions: Vec<tfpb::FunctionDef>) -> tfpb::SavedModel {
    let info = |name: &str| tfpb::TensorInfo {
        encoding: Some(tfpb::tensor_info::Encoding::Name(name.to_string())),
        dtype: DType::FLOAT.0,
        tensor_shape: None,
    };
    let signature = tfpb::SignatureDef {
        inputs: [("x".to_string(), info("x:0"))].into(),
        outputs: [("y".to_string(), info("call:0"))].into(),
        method_name: "tensorflow/serving/predict".to_string(),
        ..Default::default()
    };
    tfpb::SavedModel {
        meta_graphs: vec![tfpb::MetaGraphDef {
            meta_info_def: Some(tfpb::meta_graph_def::MetaInfoDef {
                tags: vec!["serve".to_string()],
                ..Default::default()
            }),
            graph_def: Some(tfpb::GraphDef {
                node: nodes,
                library: Some(tfpb::FunctionDefLibrary {
                    function: functions,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            signature_def: [("serving_default".to_string(), signature)].into(),
            ..Default::default()
        }],
        ..Default::default()
    }
}

#[test]
fn a_call_to_a_missing_function_is_one_node_and_a_warning() {
    let saved = model(
        vec![
            node("x", "Placeholder", &[], None),
            node(
                "call",
                "StatefulPartitionedCall",
                &["x"],
                Some("__inference_gone_7"),
            ),
        ],
        vec![],
    );
    let graph = build(&saved, &[], "serving_default", GraphLimits::default()).expect("builds");
    assert_eq!(graph.nodes.len(), 2);
    assert_eq!(
        graph.warnings,
        [
            "call: calls function '__inference_gone_7', which is not in the function library; shown as one node"
        ]
    );
}

#[test]
fn recursive_functions_stop_at_the_cycle_with_a_warning() {
    let saved = model(
        vec![
            node("x", "Placeholder", &[], None),
            node("call", "PartitionedCall", &["x"], Some("f")),
        ],
        vec![
            function(
                "f",
                vec![node("inner", "PartitionedCall", &["x"], Some("g"))],
                &[("out", "inner:output:0")],
            ),
            function(
                "g",
                vec![
                    node("back", "PartitionedCall", &["x"], Some("f")),
                    node("relu", "Relu", &["back:output:0"], None),
                ],
                &[("out", "relu:y:0")],
            ),
        ],
    );
    let graph = build(&saved, &[], "serving_default", GraphLimits::default()).expect("builds");
    assert_eq!(
        graph.warnings,
        ["back: calls function 'f' recursively (f → g → f); the cycle is shown as one node"]
    );
    let ops: Vec<&str> = graph.nodes.iter().map(|node| node.op.as_str()).collect();
    assert_eq!(ops, ["Placeholder", "PartitionedCall", "Relu"]);
    // The argument chain is followed: the unexpanded call reads the signature input.
    assert_eq!(graph.nodes[1].inputs, [TensorRef { node: 0, output: 0 }]);
}

#[test]
fn a_huge_graph_is_refused_past_the_node_limit_and_built_below_it() {
    let count = 100_000;
    let mut nodes = vec![node("x", "Placeholder", &[], None)];
    for index in 0..count {
        let input = if index == 0 {
            "x".to_string()
        } else {
            format!("n{}", index - 1)
        };
        nodes.push(node(&format!("n{index}"), "Relu", &[&input], None));
    }
    nodes.push(node(
        "call",
        "Identity",
        &[&format!("n{}", count - 1)],
        None,
    ));
    let saved = model(nodes, vec![]);
    let limits = GraphLimits {
        max_nodes: 50_000,
        ..GraphLimits::default()
    };
    let err = build(&saved, &[], "serving_default", limits).expect_err("over the limit");
    assert_eq!(
        err.to_string(),
        "the graph has more than 50000 nodes once its functions are expanded; tfprobe stops there to stay responsive"
    );
    let graph = build(&saved, &[], "serving_default", GraphLimits::default()).expect("builds");
    assert_eq!(graph.nodes.len(), count + 2);
    let summary = summarize(&graph);
    let drawn = view(&graph, &summary, &|_| false);
    let laid_out = layout(&drawn, 7.0);
    assert_eq!(laid_out.boxes.len(), drawn.items.len());
}

#[test]
fn an_unknown_signature_lists_the_valid_ones() {
    let err = build(
        &fixture("tf1_softmax/1"),
        &[],
        "nope",
        GraphLimits::default(),
    )
    .expect_err("unknown");
    assert_eq!(
        err.to_string(),
        "no signature 'nope' in this MetaGraph; valid signatures: 'serving_default'"
    );
}

#[test]
fn layout_puts_producers_above_consumers_without_overlap() {
    let graph = graph_of("keras_image/1");
    let summary = summarize(&graph);
    let drawn = view(&graph, &summary, &|_| true);
    let laid_out = layout(&drawn, 7.0);
    for (from, to) in &drawn.edges {
        assert!(
            laid_out.boxes[*from].y < laid_out.boxes[*to].y,
            "{from} -> {to}"
        );
    }
    for (a, first) in laid_out.boxes.iter().enumerate() {
        for second in &laid_out.boxes[a + 1..] {
            let apart_x = (first.x - second.x).abs() >= (first.width + second.width) / 2.0;
            let apart_y = (first.y - second.y).abs() >= (first.height + second.height) / 2.0;
            assert!(apart_x || apart_y, "{first:?} overlaps {second:?}");
        }
    }
}

#[test]
fn search_finds_nodes_by_name_or_op() {
    let graph = graph_of("keras_image/1");
    let hits = graph.search("conv2d");
    assert_eq!(hits.len(), 2);
    assert!(hits.iter().all(|hit| graph.nodes[*hit].op == "Conv2D"));
    assert_eq!(graph.search("probabilities_1/softmax").len(), 1);
    assert!(graph.search("").is_empty());
}

#[test]
fn thousands_groups_digits_like_keras() {
    assert_eq!(thousands(25_636_712), "25,636,712");
    assert_eq!(thousands(999), "999");
    assert_eq!(thousands(1000), "1,000");
}
