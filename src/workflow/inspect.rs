//! Looking inside a model: the expanded graph of one signature, its layer summary,
//! and exports (DOT, SVG, JSON). The CLI's `summary` and `graph` and the app's Graph
//! tab all come through here, so they pick the same signature the same way.

use super::WorkflowError;
use super::signature;
use crate::model::graph::layers::{self, Summary};
use crate::model::graph::{self, Graph, GraphLimits, export, layout};
use std::path::Path;
use std::time::Instant;

/// A signature's graph and summary, and how long building them took.
#[derive(Clone, Debug)]
pub struct Inspected {
    pub graph: Graph,
    pub summary: Summary,
    pub build_ms: f64,
}

/// The export formats of `tfprobe graph`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GraphFormat {
    Dot,
    Svg,
    Json,
}

/// Builds the graph of `asked` (or the signature a request would run) of the model
/// at `path`, a version folder or a base path.
pub fn inspect(path: &Path, asked: Option<&str>) -> Result<Inspected, WorkflowError> {
    let started = Instant::now();
    let info = crate::model::open(path)?;
    let key = signature::pick(&info, asked)?.key.clone();
    let proto = crate::model::read_saved_model_proto(&info.path)?;
    let graph = graph::expand::build(&proto, &[], &key, GraphLimits::default())?;
    let summary = layers::summarize(&graph);
    Ok(Inspected {
        graph,
        summary,
        build_ms: started.elapsed().as_secs_f64() * 1000.0,
    })
}

/// The graph as a file's text: layers collapsed, or every node with `expand`.
pub fn export(inspected: &Inspected, format: GraphFormat, expand: bool) -> String {
    let Inspected { graph, summary, .. } = inspected;
    match format {
        GraphFormat::Json => export::json(graph, summary),
        GraphFormat::Svg => export::svg_of(graph, summary, expand),
        GraphFormat::Dot => {
            let view = layout::view(graph, summary, &|_| expand);
            export::dot(graph, summary, &view)
        }
    }
}
