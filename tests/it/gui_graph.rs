//! The app's Graph tab, driven like a person would: open a model, show the Graph tab,
//! see its layers, expand one with a click, search with Ctrl+F, and jump from the
//! signature tree to a tensor.

use crate::support::gui::{app_harness, wait_until};
use crate::support::repo;
use egui::accesskit::Role;
use egui_kittest::kittest::{NodeT, Queryable};
use std::time::Duration;
use tfprobe::model::graph::layout::ItemKind;
use tfprobe::ui::state::Tab;

const TIMEOUT: Duration = Duration::from_secs(30);

fn graph_harness() -> egui_kittest::Harness<'static, tfprobe::ui::TfprobeApp> {
    graph_harness_of("tests/fixtures/models/keras_image")
}

fn graph_harness_of(model: &str) -> egui_kittest::Harness<'static, tfprobe::ui::TfprobeApp> {
    let model = repo().join(model);
    let mut harness = app_harness(vec![model]);
    wait_until(&mut harness, "the model to open", TIMEOUT, |h| {
        h.state().state.local.is_some()
    });
    harness.get_by_label("Graph").click();
    wait_until(&mut harness, "the graph to be laid out", TIMEOUT, |h| {
        h.state().state.graph.drawing.is_some()
    });
    harness.step();
    harness
}

fn expanded_nodes(harness: &egui_kittest::Harness<'static, tfprobe::ui::TfprobeApp>) -> usize {
    harness
        .state()
        .state
        .graph
        .drawing
        .as_ref()
        .map_or(0, |drawing| {
            drawing
                .view
                .items
                .iter()
                .filter(|item| matches!(item.kind, ItemKind::Node { .. }))
                .count()
        })
}

#[test]
fn the_graph_tab_shows_layers_that_expand_on_click() {
    let mut harness = graph_harness();
    // One box per layer, found by its name.
    for layer in [
        "serving_default_images",
        "tiny_image_classifier_1/conv1_1",
        "tiny_image_classifier_1/probabilities_1",
    ] {
        harness.get_by_label(layer);
    }
    assert_eq!(expanded_nodes(&harness), 0);
    harness
        .get_by_label("tiny_image_classifier_1/conv1_1")
        .click();
    wait_until(&mut harness, "conv1's nodes to be drawn", TIMEOUT, |h| {
        expanded_nodes(h) > 0
    });
    harness.step();
    let state = &harness.state().state.graph;
    let inspected = state.inspected().expect("graph built");
    let conv1 = inspected
        .summary
        .layers
        .iter()
        .position(|layer| layer.name == "tiny_image_classifier_1/conv1_1")
        .expect("conv1 layer");
    assert!(state.expanded.contains(&conv1));
    assert_eq!(
        expanded_nodes(&harness),
        inspected.summary.layers[conv1].nodes.len()
    );
    // The expanded layer's nodes are boxes of their own (the Conv2D among them).
    harness.get_by_label("convolution");
    // The properties panel describes the selected layer.
    harness.get_by_label("Parameters");
    harness.get_by_label("224");
}

#[test]
fn ctrl_f_searches_the_graph_and_selects_the_match() {
    let mut harness = graph_harness();
    harness.state_mut().state.persisted.tab = Tab::TryIt;
    harness.step();
    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::F);
    harness.step();
    harness.step();
    assert_eq!(harness.state().state.persisted.tab, Tab::Graph);
    let search = harness.get_by_label("Search");
    assert_eq!(search.accesskit_node().role(), Role::TextInput);
    search.focus();
    search.type_text("Softmax");
    wait_until(
        &mut harness,
        "the search to select the softmax",
        TIMEOUT,
        |h| {
            let graph = &h.state().state.graph;
            graph.selected_node.is_some_and(|node| {
                graph
                    .inspected()
                    .is_some_and(|inspected| inspected.graph.nodes[node].op == "Softmax")
            })
        },
    );
    harness.step();
    harness.step();
    harness.get_by_label("match 1 of 1");
    // The node's box (its name is its op's) and the properties panel's op row.
    assert!(harness.get_all_by_label("Softmax").count() >= 2);
    harness.get_by_label("Op");
    // Its input, with the producer's name and output index, links to that node.
    harness.get_by_label_contains("probabilities_1/BiasAdd:0");
}

#[test]
fn a_tensor_in_the_signature_tree_jumps_to_its_node() {
    let mut harness = graph_harness();
    harness.state_mut().state.persisted.tab = Tab::TryIt;
    harness.step();
    let links: Vec<_> = harness.get_all_by_label("graph").collect();
    // `serve` and `serving_default` each have one input and one output.
    assert_eq!(links.len(), 4, "one link per tensor of both signatures");
    // serving_default's input (the tree lists signatures by key).
    links[2].click();
    wait_until(
        &mut harness,
        "the input's node to be selected",
        TIMEOUT,
        |h| h.state().state.graph.selected_node.is_some(),
    );
    let graph = &harness.state().state.graph;
    assert_eq!(harness.state().state.persisted.tab, Tab::Graph);
    let node = graph.selected_node.expect("selected");
    let inspected = graph.inspected().expect("built");
    assert_eq!(inspected.graph.nodes[node].name, "serving_default_images");
}

#[test]
fn the_demo_model_shows_as_layers_one_expands_and_search_finds_a_node() {
    let mut harness = graph_harness_of("assets/models/efficientnet_lite0");
    // The demo's layers: its input, the image-decoding loop and the network in one branch.
    for layer in [
        "serving_default_image_bytes",
        "map",
        "cond/then_branch",
        "Softmax",
    ] {
        harness.get_by_label(layer);
    }
    harness.get_by_label("cond/then_branch").click();
    wait_until(
        &mut harness,
        "the network's nodes to be drawn",
        TIMEOUT,
        |h| expanded_nodes(h) > 100,
    );
    harness.step();
    let search = harness.get_by_label("Search");
    search.focus();
    search.type_text("DepthwiseConv2dNative");
    wait_until(
        &mut harness,
        "the search to select a depthwise convolution",
        TIMEOUT,
        |h| {
            let graph = &h.state().state.graph;
            graph.selected_node.is_some_and(|node| {
                graph.inspected().is_some_and(|inspected| {
                    inspected.graph.nodes[node].op == "DepthwiseConv2dNative"
                })
            })
        },
    );
    harness.step();
    harness.step();
    let hits = harness.state().state.graph.hits.len();
    assert!(
        hits > 1,
        "EfficientNet-Lite0 has many depthwise convolutions, found {hits}"
    );
    harness.get_by_label(&format!("match 1 of {hits}"));
}
