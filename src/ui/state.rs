//! What the app knows: [`Persisted`] (saved between runs through eframe's storage,
//! every field defaulted so old or partial saves still load) and [`AppState`] (one
//! run). Panels read this; only `app.rs` changes it, from commands and task events.

use crate::client::stats::LatencySnapshot;
use crate::client::{Protocol, VersionState};
use crate::imaging::Classification;
use crate::model::SavedModelInfo;
use crate::server::ModelStatus;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Instant;

/// Most entries kept in the Recent lists.
pub const MAX_RECENT: usize = 10;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ThemeChoice {
    #[default]
    System,
    Light,
    Dark,
}

impl ThemeChoice {
    pub fn preference(self) -> egui::ThemePreference {
        match self {
            ThemeChoice::System => egui::ThemePreference::System,
            ThemeChoice::Light => egui::ThemePreference::Light,
            ThemeChoice::Dark => egui::ThemePreference::Dark,
        }
    }
}

/// One remote TF Serving endpoint, as the Connect dialog edits it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConnectionSettings {
    pub host: String,
    pub port: u16,
    pub protocol: Protocol,
    pub model_name: String,
    /// A version number; empty for the latest.
    pub version: String,
    /// A version label (`stable`); used when `version` is empty.
    pub label: String,
    pub timeout_ms: u64,
    pub tls: bool,
    /// PEM file with extra CA certificates; empty for the system's roots only.
    pub ca_file: String,
    pub accept_invalid_certs: bool,
    /// PEM client certificate for servers that require one (mutual TLS); empty for none.
    pub client_cert_file: String,
    /// PEM private key of `client_cert_file`.
    pub client_key_file: String,
}

/// The file fields of the Connect dialog, for the file picker to fill in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectFile {
    CaFile,
    ClientCert,
    ClientKey,
}

impl Default for ConnectionSettings {
    fn default() -> Self {
        ConnectionSettings {
            host: "localhost".into(),
            port: Protocol::Rest.default_port(),
            protocol: Protocol::Rest,
            model_name: String::new(),
            version: String::new(),
            label: String::new(),
            timeout_ms: 10_000,
            tls: false,
            ca_file: String::new(),
            accept_invalid_certs: false,
            client_cert_file: String::new(),
            client_key_file: String::new(),
        }
    }
}

impl ConnectionSettings {
    pub fn file_mut(&mut self, which: ConnectFile) -> &mut String {
        match which {
            ConnectFile::CaFile => &mut self.ca_file,
            ConnectFile::ClientCert => &mut self.client_cert_file,
            ConnectFile::ClientKey => &mut self.client_key_file,
        }
    }

    /// `rest://host:port/model` style text for lists and the status bar.
    pub fn title(&self) -> String {
        let scheme = match (self.protocol, self.tls) {
            (Protocol::Rest, false) => "http",
            (Protocol::Rest, true) => "https",
            (Protocol::Grpc, false) => "grpc",
            (Protocol::Grpc, true) => "grpcs",
        };
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!("{scheme}://{host}:{}/{}", self.port, self.model_name)
    }
}

/// The embedded server's last settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServerSettings {
    /// Empty: the model folder's name.
    pub model_name: String,
    pub host: String,
    pub grpc_port: u16,
    pub rest_port: u16,
    /// Serve both ports over TLS (see `server_tls.rs`).
    pub tls: bool,
    /// PEM certificate (chain); Try it and the curl commands trust it as the CA.
    pub tls_cert_file: String,
    /// PEM private key of `tls_cert_file`.
    pub tls_key_file: String,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            model_name: String::new(),
            host: "127.0.0.1".into(),
            grpc_port: 8500,
            rest_port: 8501,
            tls: false,
            tls_cert_file: String::new(),
            tls_key_file: String::new(),
        }
    }
}

/// How an image becomes the model's input.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum InputMode {
    /// Whatever the signature asks for (bytes for DT_STRING, pixels otherwise).
    #[default]
    Auto,
    /// The encoded file, as a DT_STRING tensor.
    Bytes,
    /// Decoded, resized, normalised pixels.
    Tensor,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PredictSettings {
    /// Signature key; empty for `serving_default` (or the only one).
    pub signature: String,
    pub input_mode: InputMode,
    /// Pixel size (height = width) when the signature leaves it open.
    pub size: u32,
    /// Normalisation preset name (see `imaging::Normalization`); empty: the model's choice.
    pub preset: String,
    pub top_k: usize,
    /// Labels file; empty: the model's assets, else the built-in ImageNet labels.
    pub labels_file: String,
    pub protocol: Protocol,
}

impl Default for PredictSettings {
    fn default() -> Self {
        PredictSettings {
            signature: String::new(),
            input_mode: InputMode::Auto,
            size: 224,
            preset: String::new(),
            top_k: 5,
            labels_file: String::new(),
            protocol: Protocol::Rest,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LatencySettings {
    pub requests: u32,
    pub warmup: u32,
    pub concurrency: u32,
    pub protocol: Protocol,
    /// Show the histogram instead of the per-request series.
    pub histogram: bool,
}

impl Default for LatencySettings {
    fn default() -> Self {
        LatencySettings {
            requests: 200,
            warmup: 10,
            concurrency: 1,
            protocol: Protocol::Rest,
            histogram: false,
        }
    }
}

/// Everything saved between runs (window size is saved by eframe itself).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Persisted {
    pub theme: ThemeChoice,
    pub recent_models: Vec<PathBuf>,
    pub saved_connections: Vec<ConnectionSettings>,
    pub recent_hosts: Vec<String>,
    pub last_connection: ConnectionSettings,
    pub server: ServerSettings,
    pub predict: PredictSettings,
    pub latency: LatencySettings,
    pub tab: Tab,
}

impl Persisted {
    pub fn add_recent_model(&mut self, path: PathBuf) {
        push_front_unique(&mut self.recent_models, path);
    }

    pub fn add_recent_host(&mut self, host: String) {
        push_front_unique(&mut self.recent_hosts, host);
    }

    /// Saves (or replaces the entry with the same endpoint and model).
    pub fn save_connection(&mut self, settings: ConnectionSettings) {
        self.saved_connections
            .retain(|saved| saved.title() != settings.title());
        self.saved_connections.insert(0, settings);
        self.saved_connections.truncate(MAX_RECENT * 2);
    }
}

fn push_front_unique<T: PartialEq>(list: &mut Vec<T>, item: T) {
    list.retain(|existing| *existing != item);
    list.insert(0, item);
    list.truncate(MAX_RECENT);
}

/// The central panel's tabs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Tab {
    #[default]
    TryIt,
    Latency,
    Server,
}

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
    Running {
        rest: Option<SocketAddr>,
        grpc: Option<SocketAddr>,
        model_name: String,
        /// The certificate clients trust when the server speaks TLS; `None`: plain.
        tls_cert: Option<PathBuf>,
    },
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
}

/// One request of a latency run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    pub index: u32,
    /// `None` for a failed request.
    pub latency_ms: Option<f64>,
    pub warmup: bool,
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
    pub notices: Vec<Notice>,
    pub show_shortcuts: bool,
    pub show_about: bool,
    /// Files are hovering over the window (drag in progress).
    pub hovering_files: bool,
    pub next_id: u64,
    /// Milliseconds from process start to the first rendered frame.
    pub first_frame_ms: Option<f64>,
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
            (
                TargetChoice::Embedded,
                ServerPhase::Running {
                    rest,
                    grpc,
                    model_name,
                    tls_cert,
                },
                _,
            ) => {
                let url = super::server_tls::server_url(*rest, *grpc, tls_cert.is_some());
                format!("embedded server {url} / {model_name}")
            }
            (TargetChoice::Embedded, _, _) => "embedded server (not running)".into(),
            (TargetChoice::Remote, _, Some(remote)) => remote.settings.title(),
            (TargetChoice::Remote, _, None) => "remote server (not connected)".into(),
        }
    }
}
