//! The Graph tab's background work: building a signature's graph (reading and
//! expanding `saved_model.pb`) and laying out a view of it, both off the UI thread.

use super::tasks::{Event, Tasks};
use crate::model::graph::layout;
use crate::ui::state::GraphDrawing;
use crate::workflow::inspect::{self, Inspected};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// Width of one character of the box text at zoom 1 (the canvas's 12 px font).
pub const GRAPH_CHAR_WIDTH: f32 = 7.0;

impl Tasks {
    pub fn build_graph(&self, seq: u64, model: PathBuf, signature: Option<String>) {
        let reporter = self.reporter();
        self.spawn_blocking(move || {
            let result = inspect::inspect(&model, signature.as_deref());
            reporter.send(Event::GraphBuilt { seq, result });
        });
    }

    pub fn layout_graph(&self, seq: u64, inspected: Arc<Inspected>, expanded: BTreeSet<usize>) {
        let reporter = self.reporter();
        self.spawn_blocking(move || {
            let started = Instant::now();
            let view = layout::view(&inspected.graph, &inspected.summary, &|layer| {
                expanded.contains(&layer)
            });
            let laid_out = layout::layout(&view, GRAPH_CHAR_WIDTH);
            reporter.send(Event::GraphLaidOut {
                seq,
                drawing: GraphDrawing {
                    view,
                    layout: laid_out,
                },
                layout_ms: started.elapsed().as_secs_f64() * 1000.0,
            });
        });
    }
}
