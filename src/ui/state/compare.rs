//! The Compare tab's state: target B as the user typed or picked it, the run's
//! progress, both latency series and the finished report.

use crate::workflow::compare::CompareReport;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

pub struct CompareState {
    /// Target B: a SavedModel folder (PATH or PATH@VERSION) or a REST/gRPC URL.
    pub target_b: String,
    /// Measured requests per target.
    pub requests: u32,
    pub warmup: u32,
    pub run_id: u64,
    pub running: bool,
    /// Images compared so far, of `images_total`.
    pub images_done: usize,
    pub images_total: usize,
    /// Latency series (request index, ms) of A and of B, appended as samples arrive.
    pub points_a: Vec<egui_plot::PlotPoint>,
    pub points_b: Vec<egui_plot::PlotPoint>,
    pub report: Option<CompareReport>,
    /// Why the run could not start or stopped.
    pub error: Option<String>,
    pub cancel: Option<Arc<AtomicBool>>,
}

impl Default for CompareState {
    fn default() -> Self {
        CompareState {
            target_b: String::new(),
            requests: 50,
            warmup: 5,
            run_id: 0,
            running: false,
            images_done: 0,
            images_total: 0,
            points_a: Vec::new(),
            points_b: Vec::new(),
            report: None,
            error: None,
            cancel: None,
        }
    }
}
