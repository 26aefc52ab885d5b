//! The Compare tab: starting and cancelling a comparison of the current target (A)
//! with target B, its progress and latency samples coming back, and the CSV export.

use crate::ui::app::TfprobeApp;
use crate::ui::effects::CompareJob;
use crate::ui::state::{CompareState, NoticeLevel};
use crate::workflow::WorkflowError;
use crate::workflow::compare::{self, CompareReport, CompareSettings, ImageInput, Progress, Which};
use crate::workflow::compare_target::ACCEPTED_TARGETS;
use egui_plot::PlotPoint;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

impl TfprobeApp {
    pub(super) fn run_compare(&mut self) {
        if self.state.compare.running {
            return;
        }
        match self.compare_job() {
            Ok(job) => {
                let compare = &mut self.state.compare;
                *compare = CompareState {
                    target_b: std::mem::take(&mut compare.target_b),
                    requests: compare.requests,
                    warmup: compare.warmup,
                    run_id: job.run,
                    running: true,
                    images_total: job.images.len(),
                    cancel: Some(Arc::clone(&job.cancel)),
                    ..CompareState::default()
                };
                self.tasks.compare_run(job);
            }
            Err(error) => self.state.compare.error = Some(error),
        }
    }

    /// The job for the current settings, or what is missing.
    fn compare_job(&self) -> Result<CompareJob, String> {
        let state = &self.state;
        let config_a = state
            .target_config(state.persisted.latency.protocol)
            .filter(|_| state.target_ready())
            .ok_or("Target A is the current target: start the embedded server or connect to a server first")?;
        let spec_b = state.compare.target_b.trim().to_string();
        if spec_b.is_empty() {
            return Err(format!("Enter target B: {ACCEPTED_TARGETS}"));
        }
        let images: Vec<ImageInput> = state
            .predict
            .items
            .iter()
            .map(|item| ImageInput {
                name: item.name.clone(),
                bytes: Ok(Arc::clone(&item.bytes)),
            })
            .collect();
        if images.is_empty() {
            return Err("Add images first (Choose images…, or drop them on the window)".into());
        }
        let predict = &state.persisted.predict;
        let settings = CompareSettings {
            signature: Some(predict.signature.clone()).filter(|key| !key.is_empty()),
            options: predict.image_options().map_err(|err| err.to_string())?,
            requests: state.compare.requests,
            warmup: state.compare.warmup,
        };
        Ok(CompareJob {
            run: state.compare.run_id + 1,
            label_a: state.target_title(),
            config_a,
            model_dir_a: state.target_model_dir(),
            spec_b,
            images,
            settings,
            cancel: Arc::new(AtomicBool::new(false)),
        })
    }

    pub(super) fn cancel_compare(&mut self) {
        if let Some(cancel) = &self.state.compare.cancel {
            cancel.store(true, Ordering::Relaxed);
        }
    }

    pub(super) fn compare_progress(&mut self, run: u64, events: Vec<Progress>) {
        let compare = &mut self.state.compare;
        if run != compare.run_id {
            return;
        }
        for event in events {
            match event {
                Progress::Images { done, total } => {
                    compare.images_done = done;
                    compare.images_total = total;
                }
                Progress::Sample { side, sample } => {
                    if let (false, Some(ms)) = (sample.warmup, sample.latency_ms) {
                        let point = PlotPoint::new(f64::from(sample.index), ms);
                        match side {
                            Which::A => compare.points_a.push(point),
                            Which::B => compare.points_b.push(point),
                        }
                    }
                }
            }
        }
    }

    pub(super) fn compare_done(&mut self, run: u64, result: Result<CompareReport, WorkflowError>) {
        let compare = &mut self.state.compare;
        if run != compare.run_id {
            return;
        }
        compare.running = false;
        compare.cancel = None;
        match result {
            Ok(report) => compare.report = Some(report),
            Err(err) => compare.error = Some(err.to_string()),
        }
    }

    pub(super) fn compare_folder_picked(&mut self, folder: PathBuf) {
        self.state.compare.target_b = folder.display().to_string();
    }

    pub(super) fn save_compare_csv(&mut self, path: PathBuf) {
        match &self.state.compare.report {
            Some(report) => self.tasks.save_text(path, compare::csv(report)),
            None => self.state.notify(
                NoticeLevel::Error,
                "Nothing to export: run a comparison first",
            ),
        }
    }
}
