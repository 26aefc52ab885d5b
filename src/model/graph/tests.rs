use super::layers::{summarize, summary_text};
use super::*;
use std::path::PathBuf;

fn fixture(name: &str) -> tfpb::SavedModel {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/models")
        .join(name);
    crate::model::read_saved_model_proto(&dir).expect("fixture reads")
}

#[test]
fn debug_print() {
    for (name, key) in [
        ("keras_image/1", "serving_default"),
        ("classify_regress/1", "serving_default"),
        ("seedlike/1538687457", "serving_default"),
    ] {
        let model = fixture(name);
        for mg in &model.meta_graphs {
            if let Some(og) = &mg.object_graph_def {
                for n in &og.nodes {
                    if let Some(tfpb::saved_object::Kind::Variable(v)) = &n.kind {
                        eprintln!("OBJVAR {:?} {}", v.name, v.trainable);
                    }
                }
            }
            for n in &mg.graph_def.as_ref().unwrap().node {
                if n.op == "VarHandleOp" {
                    eprintln!("VH {} {:?}", n.name, n.attr.get("shared_name"));
                }
            }
        }
        let graph = build(&fixture(name), &[], key, GraphLimits::default()).expect("builds");
        eprintln!("{}", summary_text(&summarize(&graph)));
        for node in &graph.nodes {
            eprintln!(
                "{} {} {:?} {:?}",
                node.name, node.op, node.inputs, node.outputs
            );
        }
    }
}
