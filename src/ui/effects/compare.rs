//! The Compare tab's background work: opening target B (a folder loads here, a URL is
//! asked for its signatures), running the comparison through the workflow layer with
//! progress streamed to the UI, and target B's folder dialog.

use super::requests::forward_batches;
use super::tasks::{Event, Reporter, Tasks};
use crate::client::ClientConfig;
use crate::workflow::WorkflowError;
use crate::workflow::compare::{self, CompareReport, CompareSettings, ImageInput};
use crate::workflow::compare_target::{self, Side};
use crate::workflow::target::{AnyTarget, ServerTarget};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

/// Deadline of one call to target B when it is a server.
const B_TIMEOUT: Duration = Duration::from_secs(60);

/// Everything one comparison needs.
#[derive(Clone, Debug)]
pub struct CompareJob {
    pub run: u64,
    /// Target A: the app's current target.
    pub label_a: String,
    pub config_a: ClientConfig,
    /// A's version folder when it is on this machine (preprocessing.json, labels).
    pub model_dir_a: Option<PathBuf>,
    /// Target B as typed (see `compare_target::parse_target`).
    pub spec_b: String,
    pub images: Vec<ImageInput>,
    pub settings: CompareSettings,
    pub cancel: Arc<AtomicBool>,
}

impl Tasks {
    /// Runs a comparison; `CompareProgress` batches stream in, `CompareDone` ends it.
    pub fn compare_run(&self, job: CompareJob) {
        let reporter = self.reporter();
        self.spawn(async move {
            let run = job.run;
            let result = run_compare(job, &reporter).await;
            reporter.send(Event::CompareDone { run, result });
        });
    }

    /// Target B's folder picker (rfd; blocking, so off the UI thread).
    pub fn pick_compare_folder(&self) {
        let reporter = self.reporter();
        self.spawn_blocking(move || {
            let picked = rfd::FileDialog::new()
                .set_title("Compare with a SavedModel folder")
                .pick_folder();
            if let Some(folder) = picked {
                reporter.send(Event::CompareFolderPicked(folder));
            }
        });
    }
}

async fn run_compare(job: CompareJob, reporter: &Reporter) -> Result<CompareReport, WorkflowError> {
    let spec_b = compare_target::parse_target(&job.spec_b)?;
    let target_a = AnyTarget::Server(Box::new(ServerTarget::connect(&job.config_a)?));
    let a = Side::from_target(job.label_a.clone(), target_a, job.model_dir_a.clone()).await?;
    let b = compare_target::open(&spec_b, B_TIMEOUT).await?;
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let run = job.run;
    let forwarder = tokio::spawn(forward_batches(rx, reporter.clone(), move |events| {
        Event::CompareProgress { run, events }
    }));
    let result = compare::compare(&a, &b, &job.images, &job.settings, job.cancel, tx).await;
    let _ = forwarder.await;
    result
}
