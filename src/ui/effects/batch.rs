//! A dropped folder run as a batch on the current target, with progress, and the
//! Try-it images saved as a TF Serving warmup file; both through the workflow layer.

use super::tasks::{Event, Tasks};
use crate::client::ClientConfig;
use crate::model::SignatureInfo;
use crate::ui::state::PredictSettings;
use crate::workflow::target::ServerTarget;
use crate::workflow::{WorkflowError, batch, warmup};
use std::path::PathBuf;
use std::sync::Arc;

/// Everything a batch run needs.
#[derive(Clone, Debug)]
pub struct BatchJob {
    pub run: u64,
    pub folder: PathBuf,
    pub config: ClientConfig,
    pub signature: SignatureInfo,
    pub settings: PredictSettings,
    pub model_dir: Option<PathBuf>,
}

/// Everything saving a warmup file needs.
#[derive(Clone, Debug)]
pub struct WarmupJob {
    pub path: PathBuf,
    pub model_name: String,
    pub signature: SignatureInfo,
    pub settings: PredictSettings,
    pub model_dir: Option<PathBuf>,
    pub images: Vec<Arc<Vec<u8>>>,
}

impl Tasks {
    /// Runs every file of `job.folder` through the target, reporting progress.
    pub fn run_batch(&self, job: BatchJob) {
        let reporter = self.reporter();
        self.spawn(async move {
            let run = job.run;
            let result = async {
                let (settings, signature, folder, model_dir) = (
                    job.settings.clone(),
                    job.signature.clone(),
                    job.folder.clone(),
                    job.model_dir.clone(),
                );
                // Listing files and reading preprocessing.json touch the disk.
                let (plan, files) = tokio::task::spawn_blocking(move || {
                    let plan = settings.plan(&signature, model_dir.as_deref())?;
                    Ok::<_, WorkflowError>((plan, batch::list_files(&[folder])?))
                })
                .await
                .map_err(|join| WorkflowError::Interrupted {
                    what: "listing the folder",
                    detail: join.to_string(),
                })??;
                let target = ServerTarget::connect(&job.config)?;
                let ranking = job.settings.ranking(job.model_dir.clone());
                reporter.send(Event::BatchProgress {
                    run,
                    done: 0,
                    total: files.len(),
                });
                Ok(batch::run(&target, &plan, &ranking, &files, |done, total| {
                    reporter.send(Event::BatchProgress { run, done, total })
                })
                .await)
            }
            .await;
            reporter.send(Event::BatchDone { run, result });
        });
    }

    /// Writes the images as PredictionLogs in a TFRecord file at `job.path`.
    pub fn save_warmup(&self, job: WarmupJob) {
        let reporter = self.reporter();
        self.spawn_blocking(move || {
            let result = job
                .settings
                .plan(&job.signature, job.model_dir.as_deref())
                .and_then(|plan| warmup::build_from_bytes(&plan, &job.model_name, &job.images))
                .and_then(|logs| {
                    warmup::write(&job.path, &logs)?;
                    Ok(format!(
                        "Saved {} warmup requests to {}",
                        logs.len(),
                        job.path.display()
                    ))
                });
            reporter.send(Event::Saved(result));
        });
    }
}
