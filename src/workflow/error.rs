//! One error type for the workflow layer: each variant keeps the kind of the error
//! underneath, so a front end can match on it (runtime missing, bad signature, ...)
//! instead of reading its text.

use crate::client::ClientError;
use crate::imaging::ImageError;
use crate::model::ModelError;
use crate::runtime::RuntimeError;
use crate::server::{ServeError, TlsError, WarmupError};
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum WorkflowError {
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error(transparent)]
    Serve(#[from] ServeError),
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// A warmup file that could not be replayed.
    #[error(transparent)]
    Warmup(#[from] WarmupError),
    #[error(transparent)]
    Signature(#[from] super::signature::SignatureError),
    /// A file the user named could not be read.
    #[error("cannot read {}: {source}", .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A file could not be written (an export, a saved request).
    #[error("cannot write {}: {detail}", .path.display())]
    Write { path: PathBuf, detail: String },
    /// A path that is neither a model nor an image this tool reads.
    #[error("{0}")]
    NotModelOrImage(String),
    /// A setting out of range; the message names the setting and what it accepts.
    #[error("{0}")]
    Setting(String),
    /// Background work that stopped before it answered (a panic in a blocking task).
    #[error("{what} stopped: {detail}")]
    Interrupted { what: &'static str, detail: String },
}

impl WorkflowError {
    /// Whether the TensorFlow runtime is missing (front ends offer to install it).
    pub fn is_runtime_missing(&self) -> bool {
        matches!(
            self,
            WorkflowError::Runtime(RuntimeError::LibraryNotFound { .. })
        )
    }

    pub(crate) fn interrupted(what: &'static str, join: tokio::task::JoinError) -> WorkflowError {
        WorkflowError::Interrupted {
            what,
            detail: join.to_string(),
        }
    }
}
