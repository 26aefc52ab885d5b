//! Running models: the `Backend` trait (synchronous; TensorFlow sessions are
//! thread-safe), the TensorFlow implementation behind runtime linking, discovery
//! and installation of libtensorflow, and the model worker that server and GUI call.
//!
//! Layer: depends on `pb`, `tensor` and `model` only — never on `server`, `client`,
//! `imaging` or the front ends. This file only declares and re-exports.

mod backend;
pub mod discovery;
mod error;
pub mod install;
pub mod library;
mod stderr_filter;
pub mod tf;
mod tf_tensor;
pub mod validate;
pub mod worker;

pub use crate::tensor::NamedTensors;
pub use backend::Backend;
pub use error::RuntimeError;
pub use tf::{LoadOptions, TfBackend};
pub use worker::{ModelWorker, WorkerOptions};
