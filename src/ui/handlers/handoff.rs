//! The compare window (diff of the open model with another folder or version) and the
//! deploy window (the four targets' files, written to a folder on request).

use crate::model::ModelDiff;
use crate::ui::app::TfprobeApp;
use crate::ui::state::CompareWith;
use crate::workflow::WorkflowError;
use crate::workflow::deploy::{self, DeployOptions, DeployTarget};
use std::path::PathBuf;

impl TfprobeApp {
    pub(super) fn show_compare(&mut self) {
        self.state.diff_window.open = true;
    }

    pub(super) fn compare_with(&mut self, with: CompareWith) {
        let Some(local) = &self.state.local else {
            self.state.diff_window.result = Some(Err("Open a model first.".to_string()));
            return;
        };
        let compare = &mut self.state.diff_window;
        compare.open = true;
        compare.seq += 1;
        compare.running = Some(compare.seq);
        compare.with = Some(with.clone());
        compare.result = None;
        self.tasks.diff_with(compare.seq, local.info.clone(), with);
    }

    pub(super) fn diff_folder_picked(&mut self, path: PathBuf) {
        self.state.diff_window.other_path = path.display().to_string();
        self.compare_with(CompareWith::Folder(path));
    }

    pub(super) fn diffed(&mut self, seq: u64, result: Result<ModelDiff, WorkflowError>) {
        let compare = &mut self.state.diff_window;
        if compare.running != Some(seq) {
            return; // an older comparison, superseded
        }
        compare.running = None;
        compare.result = Some(result.map_err(|err| err.to_string()));
    }

    /// Opens the deploy window with every target's plan for the open model.
    pub(super) fn show_deploy(&mut self) {
        let window = &mut self.state.deploy;
        window.open = true;
        window.written = None;
        window.plans = match &self.state.local {
            Some(local) => DeployTarget::ALL
                .iter()
                .map(|&target| {
                    let plan = deploy::plan(&local.info, target, &DeployOptions::default());
                    (target, plan.map_err(|err| err.to_string()))
                })
                .collect(),
            None => Vec::new(),
        };
        if window.selected.is_none() {
            window.selected = Some(DeployTarget::Docker);
        }
    }

    pub(super) fn write_deploy(&mut self, dir: PathBuf) {
        let window = &mut self.state.deploy;
        let selected = window.selected.unwrap_or(DeployTarget::Docker);
        let plan = window
            .plans
            .iter()
            .find(|(target, _)| *target == selected)
            .and_then(|(_, plan)| plan.as_ref().ok());
        match plan {
            Some(plan) => {
                window.writing = true;
                window.written = None;
                self.tasks.write_deploy(plan.clone(), dir);
            }
            None => {
                window.written = Some(Err(format!(
                    "{} has nothing to write for this model",
                    selected.name()
                )));
            }
        }
    }

    pub(super) fn deploy_written(&mut self, result: Result<Vec<PathBuf>, WorkflowError>) {
        let window = &mut self.state.deploy;
        window.writing = false;
        window.written = Some(match result {
            Ok(paths) => Ok(paths
                .iter()
                .map(|path| format!("wrote {}", path.display()))
                .collect::<Vec<_>>()
                .join("\n")),
            Err(err) => Err(err.to_string()),
        });
    }
}
