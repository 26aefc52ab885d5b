//! A folder dropped on Try it runs as a batch; its rows export as CSV; the Try-it
//! images save as a TF Serving warmup file.

use crate::ui::app::TfprobeApp;
use crate::ui::effects::{BatchJob, SaveKind, WarmupJob};
use crate::ui::state::{BatchView, NoticeLevel, Tab};
use crate::workflow::WorkflowError;
use crate::workflow::batch::BatchReport;
use std::path::PathBuf;
use std::sync::Arc;

impl TfprobeApp {
    pub(super) fn image_folder(&mut self, folder: PathBuf) {
        let run = self.state.fresh_id();
        self.state.persisted.tab = Tab::TryIt;
        let mut view = BatchView {
            run,
            folder: folder.clone(),
            ..BatchView::default()
        };
        let config = self
            .state
            .target_config(self.state.persisted.predict.protocol)
            .filter(|_| self.state.target_ready());
        match (self.state.chosen_signature(), config) {
            (Some(Ok(signature)), Some(config)) => {
                let job = BatchJob {
                    run,
                    folder,
                    config,
                    signature: signature.clone(),
                    settings: self.state.persisted.predict.clone(),
                    model_dir: self.state.target_model_dir(),
                };
                self.tasks.run_batch(job);
            }
            (Some(Err(err)), _) => view.error = Some(err.to_string()),
            _ => {
                view.error = Some(
                    "no model is serving yet: start the server (or connect), then drop the folder again"
                        .into(),
                )
            }
        }
        self.state.predict.batch = Some(view);
    }

    pub(super) fn batch_progress(&mut self, run: u64, done: usize, total: usize) {
        if let Some(view) = self.state.predict.batch.as_mut().filter(|v| v.run == run) {
            view.done = done;
            view.total = total;
        }
    }

    pub(super) fn batch_done(&mut self, run: u64, result: Result<BatchReport, WorkflowError>) {
        if let Some(view) = self.state.predict.batch.as_mut().filter(|v| v.run == run) {
            match result {
                Ok(report) => {
                    view.done = report.rows.len();
                    view.total = report.rows.len();
                    view.report = Some(report);
                }
                Err(err) => view.error = Some(format!("{err:#}")),
            }
        }
    }

    pub(super) fn save_batch_csv(&mut self, path: PathBuf) {
        match self
            .state
            .predict
            .batch
            .as_ref()
            .and_then(|view| view.report.as_ref())
        {
            Some(report) => self.tasks.save_text(path, report.csv()),
            None => self
                .state
                .notify(NoticeLevel::Error, "no batch results to export yet"),
        }
    }

    pub(super) fn save_warmup_to(&mut self, path: PathBuf) {
        let Some(Ok(signature)) = self.state.chosen_signature() else {
            self.state.notify(
                NoticeLevel::Error,
                "open a model (and choose its signature) before saving a warmup file",
            );
            return;
        };
        let model_name = self
            .state
            .target_config(self.state.persisted.predict.protocol)
            .map(|config| config.model_name)
            .unwrap_or_else(|| "default".into());
        let job = WarmupJob {
            path,
            model_name,
            signature: signature.clone(),
            settings: self.state.persisted.predict.clone(),
            model_dir: self.state.target_model_dir(),
            images: self
                .state
                .predict
                .items
                .iter()
                .map(|item| Arc::clone(&item.bytes))
                .collect(),
        };
        self.tasks.save_warmup(job);
    }

    pub(super) fn pick_warmup_path(&mut self) {
        self.tasks
            .pick_save_path(SaveKind::Warmup, crate::server::WARMUP_FILE.into());
    }
}
