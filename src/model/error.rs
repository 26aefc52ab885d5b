//! Errors of the SavedModel reader. Every message names what was expected, so a
//! user who points tfprobe at the wrong folder learns what a SavedModel looks like.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// Same wording as saved_model_cli, so people searching for it find answers.
    #[error(
        "SavedModel file does not exist at: {} (expected a SavedModel directory holding \
         saved_model.pb and variables/, or a base path with numeric version folders such as 1/)",
        .dir.display()
    )]
    NotASavedModel { dir: PathBuf },

    #[error("SavedModel file does not exist at: {}: no such file or directory", .path.display())]
    NotFound { path: PathBuf },

    #[error("{} is a file; expected a SavedModel directory", .path.display())]
    NotADirectory { path: PathBuf },

    #[error("cannot read {}: {reason}", .path.display())]
    Io {
        path: PathBuf,
        // Named `reason`, not `source`: thiserror would chain a `source` field and
        // `{err:#}` would print it twice.
        reason: std::io::Error,
    },

    #[error(
        "Cannot parse proto file {}: {reason} (the file is truncated, corrupt or not a SavedModel)",
        .path.display()
    )]
    Corrupt {
        path: PathBuf,
        reason: prost::DecodeError,
    },

    #[error("{} is empty (0 bytes); expected a serialized SavedModel protobuf", .path.display())]
    EmptyFile { path: PathBuf },

    #[error(
        "{} is in text format (saved_model.pbtxt), which tfprobe cannot read yet; re-export with tf.saved_model.save",
        .path.display()
    )]
    TextFormatUnsupported { path: PathBuf },

    #[error("{} contains no MetaGraphDef", .path.display())]
    NoMetaGraphs { path: PathBuf },

    #[error(
        "MetaGraphDef associated with tag-set {requested} could not be found in the SavedModel. Please use one of the following tag-sets: {available}"
    )]
    TagSetNotFound {
        requested: String,
        available: String,
    },

    #[error("Could not find signature \"{requested}\". Please choose from: {available}")]
    SignatureNotFound {
        requested: String,
        available: String,
    },

    /// The graph of a signature could not be built (the message says why and what exists).
    #[error("{0}")]
    Graph(String),
    #[error("variables index {}: {reason}", .path.display())]
    VariablesIndex { path: PathBuf, reason: String },
}

impl ModelError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ModelError::Io {
            path: path.into(),
            reason: source,
        }
    }
}
