//! The compare window (a diff of the open model with another folder or version) and
//! the deploy window (what TF Serving in Docker, KServe and Triton need).

use crate::model::ModelDiff;
use crate::workflow::deploy::{DeployPlan, DeployTarget};
use std::path::PathBuf;

/// What the open model is compared with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CompareWith {
    /// A SavedModel folder or base path.
    Folder(PathBuf),
    /// Another numeric version under the open model's base path.
    Version(i64),
}

#[derive(Clone, Debug, Default)]
pub struct CompareWindow {
    pub open: bool,
    /// The folder typed (or picked) to compare with.
    pub other_path: String,
    /// The comparison running now, if any (its sequence number).
    pub running: Option<u64>,
    pub seq: u64,
    /// What the last comparison was with, and what it found.
    pub with: Option<CompareWith>,
    pub result: Option<Result<ModelDiff, String>>,
}

#[derive(Clone, Debug, Default)]
pub struct DeployWindow {
    pub open: bool,
    pub selected: Option<DeployTarget>,
    /// One plan per target (or why that target cannot take the model).
    pub plans: Vec<(DeployTarget, Result<DeployPlan, String>)>,
    /// A write is running.
    pub writing: bool,
    /// The last write: what was written, or why it failed.
    pub written: Option<Result<String, String>>,
}
