//! The compare and deploy windows' work, off the UI thread: reading the other model
//! and diffing, picking folders (rfd blocks), and writing deploy files.

use super::tasks::{Event, Tasks};
use crate::model::SavedModelInfo;
use crate::ui::state::CompareWith;
use crate::workflow::deploy::{self, DeployPlan};
use crate::workflow::diff;
use std::path::PathBuf;

impl Tasks {
    /// Diffs `open` (A) against the folder or version `with` (B).
    pub fn diff_with(&self, seq: u64, open: SavedModelInfo, with: CompareWith) {
        let reporter = self.reporter();
        self.spawn_blocking(move || {
            let result = match with {
                CompareWith::Folder(path) => crate::model::open(&path)
                    .map_err(Into::into)
                    .map(|other| diff::diff_models(&open, &other)),
                CompareWith::Version(version) => match &open.base_path {
                    Some(base) => crate::model::open(&base.join(version.to_string()))
                        .map_err(Into::into)
                        .map(|other| diff::diff_models(&open, &other)),
                    None => Err(crate::workflow::WorkflowError::Setting(format!(
                        "{} was not opened through a base path, so it has no version {version}",
                        open.path.display()
                    ))),
                },
            };
            reporter.send(Event::Diffed { seq, result });
        });
    }

    /// A folder picker whose answer becomes `event`.
    fn pick_folder_for(&self, title: &'static str, event: fn(PathBuf) -> Event) {
        let reporter = self.reporter();
        self.spawn_blocking(move || {
            if let Some(folder) = rfd::FileDialog::new().set_title(title).pick_folder() {
                reporter.send(event(folder));
            }
        });
    }

    pub fn pick_diff_folder(&self) {
        self.pick_folder_for("Compare with a SavedModel folder", Event::DiffFolderPicked);
    }

    pub fn pick_deploy_folder(&self) {
        self.pick_folder_for("Write the deploy files into", Event::DeployFolderPicked);
    }

    pub fn write_deploy(&self, plan: DeployPlan, dir: PathBuf) {
        let reporter = self.reporter();
        self.spawn_blocking(move || {
            reporter.send(Event::DeployWritten(deploy::write_plan(&plan, &dir)));
        });
    }
}
