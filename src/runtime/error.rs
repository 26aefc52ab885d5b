//! One error type for loading and running models. Each variant knows its
//! TensorFlow status code, which the server maps to HTTP and gRPC statuses.

use crate::model::ModelError;
use crate::pb::tensorflow::error::Code;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// libtensorflow was not found; the message says how to get it.
    #[error("TensorFlow runtime not found: {how_to_fix}")]
    LibraryNotFound { how_to_fix: String },

    #[error("cannot load libtensorflow from {}: {message}", .path.display())]
    LibraryLoad { path: PathBuf, message: String },

    #[error(transparent)]
    Model(#[from] ModelError),

    #[error("TensorFlow could not load the SavedModel at {}: {message}", .path.display())]
    ModelLoad { path: PathBuf, message: String },

    #[error(
        "Serving signature name: \"{requested}\" not found in signature def; valid signatures: {available}"
    )]
    SignatureNotFound {
        requested: String,
        available: String,
    },

    #[error(
        "input '{input}' of signature '{signature}' is missing; the signature expects: {expected}"
    )]
    MissingInput {
        signature: String,
        input: String,
        expected: String,
    },

    #[error("signature '{signature}' has no input '{input}'; it expects: {expected}")]
    UnknownInput {
        signature: String,
        input: String,
        expected: String,
    },

    #[error("signature '{signature}' has no output '{output}'; its outputs are: {available}")]
    UnknownOutput {
        signature: String,
        output: String,
        available: String,
    },

    #[error("input '{input}' expects dtype {expected} but got {actual}")]
    DTypeMismatch {
        input: String,
        expected: String,
        actual: String,
    },

    #[error("input '{input}' expects shape {expected} but got {actual:?}")]
    ShapeMismatch {
        input: String,
        expected: String,
        actual: Vec<u64>,
    },

    #[error("{message}")]
    InvalidArgument { message: String },

    /// TensorFlow's own status from a session run.
    #[error("{message}")]
    Run { code: Code, message: String },

    #[error(
        "the model's request queue is full ({capacity} waiting); retry later or raise the queue size (tfprobe serve --model_queue_capacity)"
    )]
    QueueFull { capacity: usize },

    #[error("the model worker is shutting down")]
    ShuttingDown,

    /// The system refused to start a model worker thread (a process or memory limit).
    #[error(
        "cannot start model worker threads: {started} of {wanted} started, then the system refused one: {message}"
    )]
    WorkerThreads {
        started: usize,
        wanted: usize,
        message: String,
    },

    #[error("request timed out after {timeout_ms} ms")]
    Timeout { timeout_ms: u64 },

    #[error("installing the TensorFlow runtime failed: {message}")]
    Install { message: String },
}

impl RuntimeError {
    /// The TensorFlow status code this error stands for.
    pub fn code(&self) -> Code {
        match self {
            RuntimeError::SignatureNotFound { .. }
            | RuntimeError::MissingInput { .. }
            | RuntimeError::UnknownInput { .. }
            | RuntimeError::UnknownOutput { .. }
            | RuntimeError::DTypeMismatch { .. }
            | RuntimeError::ShapeMismatch { .. }
            | RuntimeError::InvalidArgument { .. } => Code::InvalidArgument,
            RuntimeError::Run { code, .. } => *code,
            RuntimeError::QueueFull { .. } => Code::ResourceExhausted,
            RuntimeError::ShuttingDown => Code::Unavailable,
            RuntimeError::Timeout { .. } => Code::DeadlineExceeded,
            RuntimeError::LibraryNotFound { .. } | RuntimeError::LibraryLoad { .. } => {
                Code::FailedPrecondition
            }
            RuntimeError::Model(_) | RuntimeError::ModelLoad { .. } => Code::FailedPrecondition,
            RuntimeError::Install { .. } => Code::Internal,
            RuntimeError::WorkerThreads { .. } => Code::ResourceExhausted,
        }
    }
}
