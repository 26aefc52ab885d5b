//! Background work through the workflow layer: files and dialogs, the TensorFlow
//! runtime, the embedded server, and requests to servers. Results come back as
//! [`Event`]s; effects never import panels or handlers.

mod compare;
mod batch;
mod files;
mod handoff;
mod graph;
mod requests;
mod runtime;
mod server;
mod tasks;

pub use compare::CompareJob;
pub use batch::{BatchJob, WarmupJob};
pub use files::PngSaver;
pub use graph::GRAPH_CHAR_WIDTH;
pub use requests::{LatencyJob, PredictJob};
pub use tasks::{Event, Reporter, SaveKind, Tasks};
