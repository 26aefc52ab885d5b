//! Running models: the `Backend` trait (synchronous; TensorFlow sessions are
//! thread-safe), the TensorFlow implementation behind runtime linking, discovery
//! and installation of libtensorflow, and the model worker that server and GUI call.

pub mod discovery;
mod error;
pub mod install;
pub mod library;
pub mod tf;
mod tf_tensor;
pub mod validate;
pub mod worker;

pub use error::RuntimeError;
pub use tf::{LoadOptions, TfBackend};
pub use worker::{ModelWorker, WorkerOptions};

use crate::model::SavedModelInfo;
use crate::tensor::Tensor;
use std::collections::BTreeMap;

/// Named tensors, sorted by name (inputs of a run, outputs of a run).
pub type NamedTensors = BTreeMap<String, Tensor>;

/// A loaded model that can run its signatures.
pub trait Backend: Send + Sync {
    /// The signature tree of the loaded version (read by `model::open`).
    fn model(&self) -> &SavedModelInfo;

    /// Runs `signature_key` (of the `serve` MetaGraph) with inputs keyed by the
    /// signature's input keys. `output_keys` selects outputs; empty means all.
    /// Inputs are validated against the signature before anything runs.
    fn run(
        &self,
        signature_key: &str,
        inputs: NamedTensors,
        output_keys: &[String],
    ) -> Result<NamedTensors, RuntimeError>;
}
