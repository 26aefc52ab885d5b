//! Reading SavedModels without TensorFlow: the signature tree that the CLI prints,
//! the GUI renders and the server answers metadata from.
//!
//! This module deliberately depends on nothing but the generated protobuf types and
//! `tensor` (for `DType`): no egui, no tokio, no tensorflow, and no `runtime`,
//! `server` or anything above it.

pub mod diff;
mod diff_text;
mod dtype;
mod error;
mod functions;
pub mod graph;
mod light;
mod ops;
mod reader;
pub mod show;
mod tree;
mod variables;

pub use diff::{ModelDiff, diff};
pub use diff_text::diff_text;
pub use dtype::DType;
pub use error::ModelError;
pub use functions::{ArgumentSpec, ConcreteFunctionInfo, FunctionInfo, PyValue};
pub use reader::{
    ModelLocation, locate, numeric_versions, open, open_signatures, read_saved_model_proto,
};
pub use tree::{
    AssetFile, Dim, FingerprintInfo, MetaGraphInfo, SavedModelInfo, Shape, SignatureInfo,
    TensorInfoView, signature_from_proto,
};
pub use variables::{VariableInfo, VariablesInfo, read_variables_index};

/// The signature a request without a signature name runs, as in TF Serving and
/// `saved_model_cli` (`tf.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY`).
pub const DEFAULT_SIGNATURE_KEY: &str = "serving_default";
