//! A folder dropped on Try it: its batch run (progress, then one row per file).

use crate::workflow::batch::BatchReport;
use std::path::PathBuf;

/// The last folder run through the current target.
#[derive(Clone, Debug, Default)]
pub struct BatchView {
    /// Which run this is (results of an older one are dropped).
    pub run: u64,
    pub folder: PathBuf,
    pub done: usize,
    pub total: usize,
    /// The rows, once the run is over.
    pub report: Option<BatchReport>,
    /// Why the run could not start (no target, no signature, no files).
    pub error: Option<String>,
}

impl BatchView {
    pub fn running(&self) -> bool {
        self.report.is_none() && self.error.is_none()
    }
}
