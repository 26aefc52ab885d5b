//! The Latency tab: starting and cancelling runs, samples and the end of a run
//! coming back, and exporting the results as CSV or a PNG of the chart.

use crate::ui::app::TfprobeApp;
use crate::ui::effects::{LatencyJob, SaveKind};
use crate::ui::state::{LatencyState, NoticeLevel, Sample, Tab};
use crate::workflow::WorkflowError;
use egui_plot::PlotPoint;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

impl TfprobeApp {
    pub(super) fn run_latency(&mut self) {
        if self.state.latency.running {
            return;
        }
        let settings = self.state.persisted.latency.clone();
        let (Some(Ok(signature)), Some(config), true) = (
            self.state.chosen_signature().map(|chosen| chosen.cloned()),
            self.state.target_config(settings.protocol),
            self.state.target_ready(),
        ) else {
            self.state.notify(
                NoticeLevel::Error,
                "Nothing to measure: start the embedded server or connect to a server first",
            );
            return;
        };
        let bytes = self
            .state
            .predict
            .items
            .get(self.state.predict.selected)
            .map(|item| Arc::clone(&item.bytes));
        let cancel = Arc::new(AtomicBool::new(false));
        let run_id = self.state.latency.run_id + 1;
        self.state.latency = LatencyState {
            run_id,
            running: true,
            planned: settings.requests + settings.warmup,
            started: Some(Instant::now()),
            cancel: Some(Arc::clone(&cancel)),
            ..LatencyState::default()
        };
        self.state.persisted.tab = Tab::Latency;
        let job = LatencyJob {
            run: run_id,
            config,
            signature,
            settings: self.state.persisted.predict.clone(),
            bytes,
            model_dir: self.state.target_model_dir(),
            requests: settings.requests,
            warmup: settings.warmup,
            concurrency: settings.concurrency,
            cancel,
        };
        self.tasks.latency_run(job);
    }

    pub(super) fn cancel_latency(&mut self) {
        if let Some(cancel) = &self.state.latency.cancel {
            cancel.store(true, Ordering::Relaxed);
        }
    }

    pub(super) fn latency_samples(&mut self, run: u64, samples: Vec<Sample>) {
        let latency = &mut self.state.latency;
        if run != latency.run_id {
            return;
        }
        for sample in samples {
            let x = f64::from(sample.index);
            match (sample.warmup, sample.latency_ms) {
                (true, Some(ms)) => latency.warmup_points.push(PlotPoint::new(x, ms)),
                (false, Some(ms)) => {
                    latency.stats.record(Duration::from_secs_f64(ms / 1000.0));
                    latency.main_points.push(PlotPoint::new(x, ms));
                }
                (warmup, None) => {
                    if !warmup {
                        latency.stats.record_error();
                    }
                    latency.error_points.push(PlotPoint::new(x, 0.0));
                }
            }
            latency.samples.push(sample);
        }
        latency.snapshot = latency.stats.snapshot();
        latency.elapsed_s = latency
            .started
            .map(|started| started.elapsed().as_secs_f64())
            .unwrap_or_default();
    }

    pub(super) fn latency_done(
        &mut self,
        run: u64,
        first_error: Option<WorkflowError>,
        elapsed_s: f64,
    ) {
        let latency = &mut self.state.latency;
        if run == latency.run_id {
            latency.running = false;
            latency.cancel = None;
            latency.elapsed_s = elapsed_s;
            latency.first_error = first_error.map(|err| err.to_string());
        }
    }

    pub(super) fn export(&mut self, kind: SaveKind, path: PathBuf) {
        match kind {
            SaveKind::Csv => {
                let text = crate::workflow::latency::csv(&self.state.latency.samples);
                self.tasks.save_text(path, text);
            }
            SaveKind::CompareCsv => self.save_compare_csv(path),
            SaveKind::BatchCsv => self
                .commands
                .push(crate::ui::command::Command::SaveBatchCsv(path)),
            SaveKind::Warmup => self
                .commands
                .push(crate::ui::command::Command::SaveWarmupTo(path)),
            SaveKind::Png => {
                if let Some(rect) = self.state.latency.chart_rect {
                    self.save_screen_region(rect, path);
                }
            }
            SaveKind::GraphSvg | SaveKind::GraphPng => self.export_graph(kind, path),
        }
    }

    /// Saves what the window shows inside `rect` as a PNG (taken on the next frame).
    pub(super) fn save_screen_region(&self, rect: egui::Rect, path: PathBuf) {
        let pixels_per_point = self.ctx.pixels_per_point();
        let saver = self.tasks.png_saver();
        self.ctx.request_screenshot(move |image| {
            let region = image.region(&rect, Some(pixels_per_point));
            saver.save(path, region.size, region.as_raw().to_vec());
        });
    }
}
