//! Background work through the workflow layer: files and dialogs, the TensorFlow
//! runtime, the embedded server, and requests to servers. Results come back as
//! [`Event`]s; effects never import panels or handlers.

mod batch;
mod compare;
mod files;
mod graph;
mod handoff;
mod requests;
mod runtime;
mod server;
mod tasks;

pub use batch::{BatchJob, WarmupJob};
pub use compare::CompareJob;
pub use files::PngSaver;
pub use graph::GRAPH_CHAR_WIDTH;
pub use requests::{LatencyJob, PredictJob};
pub use tasks::{Event, Reporter, SaveKind, Tasks};
