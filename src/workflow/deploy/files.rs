//! A deploy plan's files, and writing them into a folder: text files (overwritten),
//! the SavedModel copied or linked (never over an existing folder, so nothing of the
//! user's is lost).

use crate::workflow::WorkflowError;
use std::path::{Path, PathBuf};

/// Where the model is handed to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeployTarget {
    Docker,
    Compose,
    Kserve,
    Triton,
}

impl DeployTarget {
    pub const ALL: [DeployTarget; 4] = [
        DeployTarget::Docker,
        DeployTarget::Compose,
        DeployTarget::Kserve,
        DeployTarget::Triton,
    ];

    /// The name the CLI takes (`--target docker`).
    pub fn name(self) -> &'static str {
        match self {
            DeployTarget::Docker => "docker",
            DeployTarget::Compose => "compose",
            DeployTarget::Kserve => "kserve",
            DeployTarget::Triton => "triton",
        }
    }
}

/// One file of a plan, relative to the output folder.
#[derive(Clone, Debug, PartialEq)]
pub struct DeployFile {
    pub relative_path: PathBuf,
    pub contents: DeployContents,
}

#[derive(Clone, Debug, PartialEq)]
pub enum DeployContents {
    Text(String),
    /// A copy of this folder (the SavedModel version folder).
    CopyOf(PathBuf),
    /// A symbolic link to this folder.
    LinkTo(PathBuf),
}

/// What one target needs: its files and what the user must know about them.
#[derive(Clone, Debug, PartialEq)]
pub struct DeployPlan {
    pub target: DeployTarget,
    pub model_name: String,
    pub files: Vec<DeployFile>,
    /// Layout advice (a version folder opened on its own, a storage URI to fill in).
    pub notes: Vec<String>,
}

impl DeployPlan {
    /// The text files, for showing and copying (folder copies are listed by name).
    pub fn text(&self) -> String {
        let mut text = String::new();
        for file in &self.files {
            if self.files.len() > 1 {
                text.push_str(&format!("# {}\n", file.relative_path.display()));
            }
            match &file.contents {
                DeployContents::Text(body) => text.push_str(body),
                DeployContents::CopyOf(from) => {
                    text.push_str(&format!("# a copy of {}\n", from.display()));
                }
                DeployContents::LinkTo(to) => {
                    text.push_str(&format!("# a link to {}\n", to.display()));
                }
            }
        }
        text
    }
}

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
