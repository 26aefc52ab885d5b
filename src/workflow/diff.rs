//! Comparing two models: two folders (version folders or base paths, whose highest
//! version is taken), or two versions under one base path. The comparison itself is
//! [`crate::model::diff`]; this opens both sides and hashes their assets.

use super::WorkflowError;
use crate::model::{self, ModelDiff, SavedModelInfo};
use std::path::Path;

/// Compares the models at `a` and `b`.
pub fn diff_paths(a: &Path, b: &Path) -> Result<ModelDiff, WorkflowError> {
    let model_a = model::open(a)?;
    let model_b = model::open(b)?;
    Ok(diff_models(&model_a, &model_b))
}

/// Compares versions `a` and `b` of the base path `base`.
pub fn diff_versions(base: &Path, a: i64, b: i64) -> Result<ModelDiff, WorkflowError> {
    let version_dir = |version: i64| -> Result<std::path::PathBuf, WorkflowError> {
        let versions = model::numeric_versions(base)?;
        if versions.contains(&version) {
            return Ok(base.join(version.to_string()));
        }
        let held: Vec<String> = versions.iter().map(i64::to_string).collect();
        Err(WorkflowError::Setting(format!(
            "version {version} is not a SavedModel folder under {}; it holds {}",
            base.display(),
            if held.is_empty() {
                "no numeric version folders".to_string()
            } else {
                format!("versions {}", held.join(", "))
            }
        )))
    };
    diff_paths(&version_dir(a)?, &version_dir(b)?)
}

/// Compares two trees already open (the app holds one of them).
pub fn diff_models(a: &SavedModelInfo, b: &SavedModelInfo) -> ModelDiff {
    model::diff(
        a,
        b,
        &model::diff::asset_digests(a),
        &model::diff::asset_digests(b),
    )
}
