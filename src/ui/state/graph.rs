//! What the Graph tab knows: the built graph of the chosen signature, which layers
//! are expanded, the laid-out drawing, the search and the selection, and the view
//! (zoom and pan). Building and laying out run in the background; this holds results.

use crate::model::graph::layout::{Layout, View};
use crate::workflow::inspect::Inspected;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

/// Past this many boxes a drawing waits for "show anyway" (a clear guard, not a hang).
pub const GRAPH_GUARD_ITEMS: usize = 4_000;

#[derive(Clone, Debug, Default)]
pub enum GraphStatus {
    /// Nothing built (no model, or the tab not opened yet).
    #[default]
    Idle,
    Building,
    Ready(Arc<Inspected>),
    Failed(String),
}

/// A view and where its boxes go.
#[derive(Clone, Debug, PartialEq)]
pub struct GraphDrawing {
    pub view: View,
    pub layout: Layout,
}

#[derive(Clone, Debug)]
pub struct GraphState {
    /// Build requests; a result for an older one is dropped.
    pub seq: u64,
    pub status: GraphStatus,
    /// The model and signature the graph is of (a rebuild is needed when they change).
    pub built_for: Option<(PathBuf, String)>,
    /// Summary indices of the layers shown node by node.
    pub expanded: BTreeSet<usize>,
    pub layout_seq: u64,
    pub laying_out: bool,
    pub drawing: Option<Arc<GraphDrawing>>,
    /// Boxes the next drawing would have when it is over the guard and not yet allowed.
    pub guarded_items: Option<usize>,
    pub show_anyway: bool,
    pub search: String,
    /// Node indices that match the search, and which one is shown.
    pub hits: Vec<usize>,
    pub hit_cursor: usize,
    pub selected_node: Option<usize>,
    pub selected_layer: Option<usize>,
    /// Screen pixels per layout unit, and where the layout's origin is on screen
    /// relative to the canvas's top-left.
    pub zoom: f32,
    pub pan: egui::Vec2,
    /// Fit the drawing to the canvas on the next frame.
    pub fit_pending: bool,
    /// Bring this node into view on the next frame.
    pub focus_node: Option<usize>,
    /// Bring this node into view once the layout under way arrives.
    pub focus_after_layout: Option<usize>,
    pub focus_search: bool,
    /// Milliseconds the last layout took (shown in the tab's status line).
    pub layout_ms: f64,
    /// Screen rectangle of the canvas (for PNG export).
    pub canvas_rect: Option<egui::Rect>,
}

impl Default for GraphState {
    fn default() -> Self {
        GraphState {
            seq: 0,
            status: GraphStatus::Idle,
            built_for: None,
            expanded: BTreeSet::new(),
            layout_seq: 0,
            laying_out: false,
            drawing: None,
            guarded_items: None,
            show_anyway: false,
            search: String::new(),
            hits: Vec::new(),
            hit_cursor: 0,
            selected_node: None,
            selected_layer: None,
            zoom: 1.0,
            pan: egui::Vec2::ZERO,
            fit_pending: true,
            focus_node: None,
            focus_after_layout: None,
            focus_search: false,
            layout_ms: 0.0,
            canvas_rect: None,
        }
    }
}

impl GraphState {
    pub fn inspected(&self) -> Option<&Arc<Inspected>> {
        match &self.status {
            GraphStatus::Ready(inspected) => Some(inspected),
            _ => None,
        }
    }

    /// Forgets everything about the previous graph (a new model or signature).
    pub fn reset(&mut self) {
        let seq = self.seq;
        let layout_seq = self.layout_seq;
        *self = GraphState::default();
        self.seq = seq;
        self.layout_seq = layout_seq;
    }
}
