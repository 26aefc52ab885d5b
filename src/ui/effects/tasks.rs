//! The app's background machinery: a tokio runtime owned by the app runs every I/O
//! and model task; results come back as [`Event`]s over a channel, each followed by
//! `ctx.request_repaint()` so the UI wakes up to show them.

use crate::client::VersionState;
use crate::imaging::ImageError;
use crate::model::SavedModelInfo;
use crate::server::{ModelStatus, ServerHandle};
use crate::ui::state::{ConnectionSettings, PemFile, PredictOutcome, RuntimeState, Sample};
use crate::workflow::WorkflowError;
use crate::workflow::open::OpenedModel;
use crate::workflow::target::EmbeddedEndpoints;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};

/// What background tasks report. Failures keep their kind until a handler shows them.
pub enum Event {
    ModelOpened {
        seq: u64,
        opened: PathBuf,
        result: Result<OpenedModel, WorkflowError>,
    },
    /// An open that was not a model finished (its image or rejection was sent).
    OpenDone {
        seq: u64,
    },
    /// A file the user opened or dropped is an image.
    ImageLoaded {
        name: String,
        bytes: Arc<Vec<u8>>,
    },
    /// A folder that is no model but holds images: run it as a batch.
    ImageFolder(PathBuf),
    BatchProgress {
        run: u64,
        done: usize,
        total: usize,
    },
    BatchDone {
        run: u64,
        result: Result<crate::workflow::batch::BatchReport, WorkflowError>,
    },
    /// A path that is neither a model nor an image (or could not be read).
    OpenFailed(WorkflowError),
    FolderPicked(PathBuf),
    PemFilePicked {
        which: PemFile,
        path: PathBuf,
    },
    ConnectionTested {
        seq: u64,
        result: Result<String, WorkflowError>,
    },
    Connected {
        seq: u64,
        settings: ConnectionSettings,
        result: Result<(SavedModelInfo, Vec<VersionState>), WorkflowError>,
    },
    Runtime(RuntimeState),
    ServerStarted(EmbeddedEndpoints),
    ServerFailed(WorkflowError),
    ServerModels(Vec<ModelStatus>),
    ServerStopped,
    Thumbnail {
        id: u64,
        result: Result<egui::ColorImage, ImageError>,
    },
    Predicted {
        id: u64,
        result: Result<PredictOutcome, WorkflowError>,
        curl: Option<String>,
    },
    LatencySamples {
        run: u64,
        samples: Vec<Sample>,
    },
    LatencyDone {
        run: u64,
        first_error: Option<WorkflowError>,
        elapsed_s: f64,
    },
    SaveTargetPicked {
        kind: SaveKind,
        path: PathBuf,
    },
    /// Progress of a comparison (images done, latency samples of A and B).
    CompareProgress {
        run: u64,
        events: Vec<crate::workflow::compare::Progress>,
    },
    CompareDone {
        run: u64,
        result: Result<crate::workflow::compare::CompareReport, WorkflowError>,
    },
    /// Target B's folder, picked with the dialog.
    CompareFolderPicked(PathBuf),
    /// A file was written (`Ok`: what to tell the user) or could not be.
    Saved(Result<String, WorkflowError>),
    /// A comparison of the open model with another finished.
    Diffed {
        seq: u64,
        result: Result<crate::model::ModelDiff, WorkflowError>,
    },
    DiffFolderPicked(PathBuf),
    DeployFolderPicked(PathBuf),
    /// Deploy files were written (their paths) or could not be.
    DeployWritten(Result<Vec<PathBuf>, WorkflowError>),
    GraphBuilt {
        seq: u64,
        result: Result<crate::workflow::inspect::Inspected, WorkflowError>,
    },
    GraphLaidOut {
        seq: u64,
        drawing: crate::ui::state::GraphDrawing,
        layout_ms: f64,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SaveKind {
    Csv,
    Png,
    /// The Compare tab's per-image rows.
    CompareCsv,
    BatchCsv,
    Warmup,
    GraphSvg,
    GraphPng,
}

/// Sends events to the UI and wakes it.
#[derive(Clone)]
pub struct Reporter {
    tx: Sender<Event>,
    ctx: egui::Context,
}

impl Reporter {
    pub fn send(&self, event: Event) {
        let _ = self.tx.send(event);
        self.ctx.request_repaint();
    }
}

/// The app's background machinery.
pub struct Tasks {
    runtime: Option<tokio::runtime::Runtime>,
    reporter: Reporter,
    rx: Receiver<Event>,
    pub(super) server: Arc<tokio::sync::Mutex<Option<ServerHandle>>>,
}

impl Tasks {
    pub fn new(ctx: &egui::Context) -> std::io::Result<Tasks> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("tfprobe-ui-task")
            .enable_all()
            .build()?;
        let (tx, rx) = channel();
        Ok(Tasks {
            runtime: Some(runtime),
            reporter: Reporter {
                tx,
                ctx: ctx.clone(),
            },
            rx,
            server: Arc::new(tokio::sync::Mutex::new(None)),
        })
    }

    pub fn reporter(&self) -> Reporter {
        self.reporter.clone()
    }

    /// Events that arrived since the last call.
    pub fn drain(&self) -> Vec<Event> {
        self.rx.try_iter().collect()
    }

    pub fn handle(&self) -> tokio::runtime::Handle {
        match &self.runtime {
            Some(runtime) => runtime.handle().clone(),
            None => unreachable!("the runtime lives until Tasks is dropped"),
        }
    }

    pub fn spawn<F>(&self, future: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        self.handle().spawn(future);
    }

    pub fn spawn_blocking<F>(&self, work: F)
    where
        F: FnOnce() + Send + 'static,
    {
        self.handle().spawn_blocking(work);
    }
}

impl Drop for Tasks {
    fn drop(&mut self) {
        // Dialogs and installs may block for long: do not wait for them on exit.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
