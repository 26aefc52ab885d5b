//! Writing a deploy plan into a folder: text files (overwritten), the SavedModel copied
//! or linked (never over an existing folder, so nothing of the user's is lost).

use super::{DeployContents, DeployPlan};
use crate::workflow::WorkflowError;
use std::path::{Path, PathBuf};

/// Writes every file of `plan` under `out_dir`; returns the paths written.
pub fn write_plan(plan: &DeployPlan, out_dir: &Path) -> Result<Vec<PathBuf>, WorkflowError> {
    let mut written = Vec::new();
    for file in &plan.files {
        let target = out_dir.join(&file.relative_path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|err| write_error(parent, err))?;
        }
        match &file.contents {
            DeployContents::Text(text) => {
                std::fs::write(&target, text).map_err(|err| write_error(&target, err))?;
            }
            DeployContents::CopyOf(from) => {
                refuse_existing(&target)?;
                copy_dir(from, &target)?;
            }
            DeployContents::LinkTo(to) => {
                refuse_existing(&target)?;
                link_dir(to, &target)?;
            }
        }
        written.push(target);
    }
    Ok(written)
}

fn write_error(path: &Path, err: std::io::Error) -> WorkflowError {
    WorkflowError::Write {
        path: path.to_path_buf(),
        detail: err.to_string(),
    }
}

fn refuse_existing(target: &Path) -> Result<(), WorkflowError> {
    if std::fs::symlink_metadata(target).is_ok() {
        return Err(WorkflowError::Write {
            path: target.to_path_buf(),
            detail: "it already exists; remove it or write to another folder".to_string(),
        });
    }
    Ok(())
}

#[cfg(unix)]
fn link_dir(to: &Path, target: &Path) -> Result<(), WorkflowError> {
    std::os::unix::fs::symlink(to, target).map_err(|err| write_error(target, err))
}

#[cfg(not(unix))]
fn link_dir(_to: &Path, target: &Path) -> Result<(), WorkflowError> {
    Err(WorkflowError::Write {
        path: target.to_path_buf(),
        detail: "symbolic links are made on Unix only here; copy the model instead".to_string(),
    })
}

/// Copies a folder tree; symbolic links inside are not followed (a model folder is
/// untrusted input and may hold loops).
fn copy_dir(from: &Path, to: &Path) -> Result<(), WorkflowError> {
    let read_error = |path: &Path, source| WorkflowError::Read {
        path: path.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(to).map_err(|err| write_error(to, err))?;
    for entry in std::fs::read_dir(from).map_err(|err| read_error(from, err))? {
        let entry = entry.map_err(|err| read_error(from, err))?;
        let file_type = entry
            .file_type()
            .map_err(|err| read_error(&entry.path(), err))?;
        let target = to.join(entry.file_name());
        if file_type.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else if file_type.is_file() {
            std::fs::copy(entry.path(), &target).map_err(|err| write_error(&target, err))?;
        }
    }
    Ok(())
}
