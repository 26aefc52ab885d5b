//! The `Backend` trait: a loaded model that runs its signatures. The TensorFlow
//! backend implements it; the worker, the server and tests (fakes) use it.

use super::error::RuntimeError;
use crate::model::SavedModelInfo;
use crate::tensor::NamedTensors;

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
