//! What the app knows: [`Persisted`] (saved between runs) and [`AppState`] (one run).
//! Panels read this; only the handlers change it, from commands and background events.
//! It imports nothing from the rest of the app: every other ui module may use it.

mod batch;
mod compare;
mod graph;
mod handoff;
mod settings;

pub use crate::workflow::image_request::InputMode;
pub use crate::workflow::latency::Sample;
pub use batch::BatchView;
pub use compare::CompareState;
pub use graph::*;
pub use handoff::{CompareWindow, CompareWith, DeployWindow};
pub use settings::*;

use crate::client::stats::LatencySnapshot;
use crate::client::{ClientConfig, Protocol, VersionState};
use crate::imaging::Classification;
use crate::model::{SavedModelInfo, SignatureInfo};
use crate::server::ModelStatus;
use crate::workflow::signature::{self, SignatureError};
use crate::workflow::target::EmbeddedEndpoints;
use std::path::PathBuf;
use std::time::Instant;

/// Which model the signature tree shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TreeSource {
    #[default]
    Local,
    Remote,
}

/// A model opened from disk.
#[derive(Clone, Debug)]
pub struct LocalModel {
    /// What the user opened (base path or version folder).
    pub opened: PathBuf,
    pub info: SavedModelInfo,
    pub load_ms: f64,
}

/// A model behind a server, described by its metadata.
#[derive(Clone, Debug)]
pub struct RemoteModel {
    pub settings: ConnectionSettings,
    pub info: SavedModelInfo,
    pub versions: Vec<VersionState>,
}

/// Background work that shows a spinner.
#[derive(Clone, Debug)]
pub struct Busy {
    pub what: String,
    pub since: Instant,
}

#[derive(Clone, Debug, Default)]
pub struct TreeUi {
    pub op_filter: String,
    pub variable_filter: String,
    /// Whether tensors get a "graph" link (local models: their graph can be built).
    pub graph_links: bool,
    /// A tensor whose "graph" link was clicked this frame.
    pub graph_jump: Option<String>,
}

/// TensorFlow runtime availability, as the server panel shows it.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum RuntimeState {
    #[default]
    Unknown,
    Ready {
        version: String,
    },
    Missing {
        how_to_fix: String,
    },
    Installing {
        fraction: Option<f32>,
        text: String,
    },
    InstallFailed {
        error: String,
    },
}

impl RuntimeState {
    /// One line for the About dialog and the server panel.
    pub fn summary(&self) -> String {
        match self {
            RuntimeState::Unknown => "TensorFlow runtime: checking…".into(),
            RuntimeState::Ready { version } => format!("TensorFlow runtime {version}"),
            RuntimeState::Missing { .. } => {
                "TensorFlow runtime: not installed (Server ▸ Install TensorFlow runtime)".into()
            }
            RuntimeState::Installing { .. } => "TensorFlow runtime: installing…".into(),
            RuntimeState::InstallFailed { .. } => "TensorFlow runtime: install failed".into(),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub enum ServerPhase {
    #[default]
    Stopped,
    Starting,
    /// Listening; requests go to these addresses.
    Running(EmbeddedEndpoints),
    Stopping,
    Failed {
        error: String,
    },
}

#[derive(Clone, Debug, Default)]
pub struct ServerState {
    pub phase: ServerPhase,
    pub models: Vec<ModelStatus>,
    pub runtime: RuntimeState,
    /// Start the server once the runtime install finishes.
    pub start_after_install: bool,
}

/// The connect dialog's state.
#[derive(Clone, Debug, Default)]
pub struct ConnectDialog {
    pub open: bool,
    pub draft: ConnectionSettings,
    pub testing: bool,
    /// Outcome of the last test: Ok(summary) or Err(message).
    pub result: Option<Result<String, String>>,
    pub seq: u64,
}

/// Where predictions and latency runs are sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TargetChoice {
    #[default]
    Embedded,
    Remote,
}

/// One image in the Try it panel.
pub struct PredictItem {
    pub id: u64,
    pub name: String,
    pub bytes: std::sync::Arc<Vec<u8>>,
    pub thumbnail: Option<egui::TextureHandle>,
    pub status: PredictStatus,
}

pub enum PredictStatus {
    Decoding,
    Waiting,
    Running,
    Done(Box<PredictOutcome>),
    Failed(String),
}

/// A finished prediction.
#[derive(Clone, Debug)]
pub struct PredictOutcome {
    pub classification: Option<Classification>,
    /// Why there is no top-k (outputs are not class scores), if so.
    pub classification_error: Option<String>,
    /// The outputs as pretty JSON.
    pub raw: String,
    pub latency_ms: f64,
    /// How the input was built ("image_bytes: DT_STRING [1] (JPEG bytes)").
    pub input_summary: String,
    pub model_version: Option<i64>,
}

#[derive(Default)]
pub struct PredictState {
    pub items: Vec<PredictItem>,
    pub selected: usize,
    pub show_raw: bool,
    /// The curl command of the last request, for copying.
    pub last_curl: Option<String>,
    /// The folder dropped last, run as a batch.
    pub batch: Option<BatchView>,
}

/// Sample count the bins were built from, and `(centre, width, count)` per bin.
pub type HistogramCache = (usize, Vec<(f64, f64, f64)>);

#[derive(Default)]
pub struct LatencyState {
    pub run_id: u64,
    pub running: bool,
    pub samples: Vec<Sample>,
    /// Chart series, appended as samples arrive (never rebuilt per frame).
    pub main_points: Vec<egui_plot::PlotPoint>,
    pub warmup_points: Vec<egui_plot::PlotPoint>,
    /// Request indices that failed.
    pub error_points: Vec<egui_plot::PlotPoint>,
    /// Requests asked for (warm-up included), for the progress bar.
    pub planned: u32,
    /// Histogram bars, rebuilt when the sample count changed.
    pub histogram: Option<HistogramCache>,
    pub stats: crate::client::stats::LatencyStats,
    pub snapshot: LatencySnapshot,
    pub started: Option<Instant>,
    pub elapsed_s: f64,
    pub first_error: Option<String>,
    pub cancel: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
    /// Screen rectangle of the chart (for PNG export).
    pub chart_rect: Option<egui::Rect>,
    pub export_png_pending: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoticeLevel {
    Info,
    Error,
}

#[derive(Clone, Debug)]
pub struct Notice {
    pub level: NoticeLevel,
    pub text: String,
    pub at: Instant,
}

/// Everything the panels render.
#[derive(Default)]
pub struct AppState {
    pub persisted: Persisted,
    pub local: Option<LocalModel>,
    pub remote: Option<RemoteModel>,
    pub tree_source: TreeSource,
    pub tree: TreeUi,
    /// Model loading in the background.
    pub loading: Option<Busy>,
    pub open_seq: u64,
    /// Opens still running (their sequence numbers).
    pub pending_opens: Vec<u64>,
    /// The sequence number of the model shown; older results are dropped.
    pub model_seq: u64,
    /// Start the embedded server when the next model is open (`tfprobe gui --serve`).
    pub serve_when_open: bool,
    /// The last error of opening a model (shown in the tree panel until dismissed).
    pub model_error: Option<String>,
    pub server: ServerState,
    pub connect: ConnectDialog,
    pub target: TargetChoice,
    pub predict: PredictState,
    pub latency: LatencyState,
    pub compare: CompareState,
    pub graph: GraphState,
    pub notices: Vec<Notice>,
    pub show_shortcuts: bool,
    pub show_about: bool,
    /// Files are hovering over the window (drag in progress).
    pub hovering_files: bool,
    pub next_id: u64,
    /// Milliseconds from process start to the first rendered frame.
    pub first_frame_ms: Option<f64>,
    /// The "Compare with…" window (a diff of the open model with another).
    pub diff_window: CompareWindow,
    pub deploy: DeployWindow,
}

impl AppState {
    pub fn notify(&mut self, level: NoticeLevel, text: impl Into<String>) {
        self.notices.push(Notice {
            level,
            text: text.into(),
            at: Instant::now(),
        });
        if self.notices.len() > 20 {
            self.notices.remove(0);
        }
    }

    /// An open finished: the spinner stops once none is left.
    pub fn finish_open(&mut self, seq: u64) {
        self.pending_opens.retain(|pending| *pending != seq);
        if self.pending_opens.is_empty() {
            self.loading = None;
        }
    }

    pub fn fresh_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// The model the tree shows.
    pub fn shown_model(&self) -> Option<&SavedModelInfo> {
        match self.tree_source {
            TreeSource::Local => self.local.as_ref().map(|local| &local.info),
            TreeSource::Remote => self.remote.as_ref().map(|remote| &remote.info),
        }
    }

    /// The model requests go to, and its signatures.
    pub fn target_model(&self) -> Option<&SavedModelInfo> {
        match self.target {
            TargetChoice::Embedded => self.local.as_ref().map(|local| &local.info),
            TargetChoice::Remote => self.remote.as_ref().map(|remote| &remote.info),
        }
    }

    /// The signature requests run: the one chosen in Try it, else the workflow's
    /// default (`serving_default`, or the only one), or why there is none.
    pub fn chosen_signature(&self) -> Option<Result<&SignatureInfo, SignatureError>> {
        let model = self.target_model()?;
        Some(signature::pick(
            model,
            Some(&self.persisted.predict.signature),
        ))
    }

    /// The client settings of the current target, once it can be reached.
    pub fn target_config(&self, protocol: Protocol) -> Option<ClientConfig> {
        match self.target {
            TargetChoice::Embedded => match &self.server.phase {
                ServerPhase::Running(endpoints) => endpoints.client_config(protocol),
                _ => None,
            },
            TargetChoice::Remote => self
                .remote
                .as_ref()
                .map(|remote| remote.settings.client_config()),
        }
    }

    /// The SavedModel folder of the current target, when it is on this machine
    /// (`preprocessing.json`, labels in `assets/`).
    pub fn target_model_dir(&self) -> Option<PathBuf> {
        match self.target {
            TargetChoice::Embedded => self.local.as_ref().map(|local| local.info.path.clone()),
            TargetChoice::Remote => None,
        }
    }

    /// Whether a request could be sent now.
    pub fn target_ready(&self) -> bool {
        match self.target {
            TargetChoice::Embedded => {
                matches!(self.server.phase, ServerPhase::Running { .. })
                    && self.server.models.iter().flat_map(|model| &model.versions).any(|version| {
                        version.state == crate::pb::tensorflow::serving::model_version_status::State::Available
                    })
            }
            TargetChoice::Remote => self.remote.is_some(),
        }
    }

    /// A label for the current target.
    pub fn target_title(&self) -> String {
        match (self.target, &self.server.phase, &self.remote) {
            (TargetChoice::Embedded, ServerPhase::Running(endpoints), _) => {
                format!(
                    "embedded server {} / {}",
                    endpoints.url(),
                    endpoints.model_name
                )
            }
            (TargetChoice::Embedded, _, _) => "embedded server (not running)".into(),
            (TargetChoice::Remote, _, Some(remote)) => remote.settings.title(),
            (TargetChoice::Remote, _, None) => "remote server (not connected)".into(),
        }
    }
}
