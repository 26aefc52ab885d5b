//! The Graph tab: building the graph of the chosen signature, expanding and
//! collapsing layers (each change lays the view out again in the background), search,
//! selection, jumping from the signature tree, and exports.

use crate::model::graph::layout::ItemKind;
use crate::ui::app::TfprobeApp;
use crate::ui::effects::SaveKind;
use crate::ui::state::{GRAPH_GUARD_ITEMS, GraphDrawing, GraphStatus, NoticeLevel, Tab};
use crate::workflow::WorkflowError;
use crate::workflow::inspect::Inspected;
use std::path::PathBuf;
use std::sync::Arc;

impl TfprobeApp {
    /// Builds the graph unless the one shown is already of this model and signature.
    pub(super) fn build_graph(&mut self) {
        let state = &mut self.state;
        let Some(local) = &state.local else {
            state.graph.reset();
            return;
        };
        let signature = match state.chosen_signature() {
            Some(Ok(signature)) => signature.key.clone(),
            Some(Err(err)) => {
                state.graph.status = GraphStatus::Failed(err.to_string());
                return;
            }
            None => return,
        };
        let wanted = (local.info.path.clone(), signature.clone());
        if state.graph.built_for.as_ref() == Some(&wanted)
            && !matches!(state.graph.status, GraphStatus::Idle)
        {
            return;
        }
        let model = local.info.path.clone();
        state.graph.reset();
        state.graph.seq += 1;
        state.graph.status = GraphStatus::Building;
        state.graph.built_for = Some(wanted);
        self.tasks
            .build_graph(state.graph.seq, model, Some(signature));
    }

    pub(super) fn graph_built(&mut self, seq: u64, result: Result<Inspected, WorkflowError>) {
        let graph = &mut self.state.graph;
        if seq != graph.seq {
            return;
        }
        match result {
            Ok(inspected) => {
                for warning in &inspected.graph.warnings {
                    self.state
                        .notify(NoticeLevel::Info, format!("graph: {warning}"));
                }
                self.state.graph.status = GraphStatus::Ready(Arc::new(inspected));
                self.relayout_graph();
            }
            Err(err) => {
                graph.status = GraphStatus::Failed(format!("{err:#}"));
            }
        }
    }

    /// Lays the current view out again, unless it is over the guard and not allowed.
    fn relayout_graph(&mut self) {
        let graph = &mut self.state.graph;
        let Some(inspected) = graph.inspected().cloned() else {
            return;
        };
        let items: usize = inspected
            .summary
            .layers
            .iter()
            .enumerate()
            .map(|(index, layer)| {
                if graph.expanded.contains(&index) {
                    layer.nodes.len()
                } else {
                    1
                }
            })
            .sum();
        if items > GRAPH_GUARD_ITEMS && !graph.show_anyway {
            graph.guarded_items = Some(items);
            return;
        }
        graph.guarded_items = None;
        graph.layout_seq += 1;
        graph.laying_out = true;
        self.tasks
            .layout_graph(graph.layout_seq, inspected, graph.expanded.clone());
    }

    pub(super) fn graph_laid_out(&mut self, seq: u64, drawing: GraphDrawing, layout_ms: f64) {
        let graph = &mut self.state.graph;
        if seq != graph.layout_seq {
            return;
        }
        graph.laying_out = false;
        graph.layout_ms = layout_ms;
        let first = graph.drawing.is_none();
        graph.drawing = Some(Arc::new(drawing));
        if first {
            graph.fit_pending = true;
        }
        if let Some(node) = graph.focus_after_layout.take() {
            graph.focus_node = Some(node);
        }
    }

    pub(super) fn toggle_graph_layer(&mut self, layer: usize) {
        let graph = &mut self.state.graph;
        if !graph.expanded.remove(&layer) {
            graph.expanded.insert(layer);
        }
        graph.selected_layer = Some(layer);
        graph.selected_node = None;
        // Keep the layer in view: its first node (or the collapsed box) is centred.
        graph.focus_after_layout = graph
            .inspected()
            .and_then(|inspected| inspected.summary.layers.get(layer))
            .and_then(|layer| layer.nodes.first().copied());
        self.relayout_graph();
    }

    pub(super) fn set_all_graph_layers(&mut self, expanded: bool) {
        let graph = &mut self.state.graph;
        let Some(inspected) = graph.inspected() else {
            return;
        };
        graph.expanded = if expanded {
            (0..inspected.summary.layers.len()).collect()
        } else {
            Default::default()
        };
        self.relayout_graph();
    }

    pub(super) fn show_graph_anyway(&mut self) {
        self.state.graph.show_anyway = true;
        self.relayout_graph();
    }

    pub(super) fn search_graph(&mut self) {
        let graph = &mut self.state.graph;
        let Some(inspected) = graph.inspected() else {
            return;
        };
        graph.hits = inspected.graph.search(graph.search.trim());
        graph.hit_cursor = 0;
        if let Some(first) = graph.hits.first().copied() {
            self.select_graph_node(first);
        }
    }

    pub(super) fn next_graph_hit(&mut self) {
        let graph = &mut self.state.graph;
        if graph.hits.is_empty() {
            return;
        }
        graph.hit_cursor = (graph.hit_cursor + 1) % graph.hits.len();
        let node = graph.hits[graph.hit_cursor];
        self.select_graph_node(node);
    }

    /// Selects a node, expanding its layer so that it is drawn, and brings it into view.
    pub(super) fn select_graph_node(&mut self, node: usize) {
        let graph = &mut self.state.graph;
        let Some(inspected) = graph.inspected().cloned() else {
            return;
        };
        graph.selected_node = Some(node);
        let layer = inspected
            .summary
            .layers
            .iter()
            .position(|layer| layer.nodes.contains(&node));
        graph.selected_layer = layer;
        let shown_alone = graph.drawing.as_ref().is_some_and(|drawing| {
            let item = drawing.view.item_of_node.get(node).copied();
            item.is_some_and(|item| matches!(drawing.view.items[item].kind, ItemKind::Node { .. }))
        });
        match layer {
            Some(layer) if !shown_alone && inspected.summary.layers[layer].nodes.len() > 1 => {
                graph.expanded.insert(layer);
                graph.focus_after_layout = Some(node);
                self.relayout_graph();
            }
            _ => graph.focus_node = Some(node),
        }
    }

    pub(super) fn select_graph_layer(&mut self, layer: usize) {
        let graph = &mut self.state.graph;
        graph.selected_layer = Some(layer);
        graph.selected_node = None;
    }

    /// From the signature tree: the node that produces `tensor`, in the Graph tab.
    pub(super) fn show_tensor_in_graph(&mut self, tensor: String) {
        self.state.persisted.tab = Tab::Graph;
        let graph = &self.state.graph;
        let Some(inspected) = graph.inspected() else {
            self.state.notify(
                NoticeLevel::Info,
                format!("the graph is still being built; open {tensor} again when it is shown"),
            );
            self.build_graph();
            return;
        };
        let found = inspected
            .graph
            .inputs
            .iter()
            .chain(&inspected.graph.outputs)
            .find(|endpoint| endpoint.tensor_name == tensor)
            .map(|endpoint| endpoint.tensor.node);
        match found {
            Some(node) => self.select_graph_node(node),
            None => self.state.notify(
                NoticeLevel::Info,
                format!(
                    "{tensor} is not in the graph of signature '{}'",
                    inspected.graph.signature
                ),
            ),
        }
    }

    pub(super) fn export_graph(&mut self, kind: SaveKind, path: PathBuf) {
        let graph = &self.state.graph;
        let Some(drawing) = graph.drawing.clone() else {
            self.state.notify(
                NoticeLevel::Error,
                "there is no graph drawing to export yet",
            );
            return;
        };
        match kind {
            SaveKind::GraphSvg => {
                let text = crate::model::graph::export::svg(&drawing.view, &drawing.layout);
                self.tasks.save_text(path, text);
            }
            _ => {
                if let Some(rect) = graph.canvas_rect {
                    self.save_screen_region(rect, path);
                }
            }
        }
    }
}
