//! Background work: a tokio runtime owned by the app runs every I/O and model task;
//! results come back as [`Event`]s over a channel, each followed by
//! `ctx.request_repaint()` so the UI wakes up to show them.

use super::state::{PredictOutcome, RuntimeState, Sample};
use crate::client::VersionState;
use crate::model::SavedModelInfo;
use crate::runtime::{Backend, LoadOptions, TfBackend};
use crate::server::{
    self, Loader, ModelSource, ModelStatus, ServerConfig, ServerHandle, VersionPolicy,
};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::{Duration, Instant};

/// Largest file read as an image.
const MAX_IMAGE_BYTES: u64 = 64 << 20;

/// What background tasks report.
pub enum Event {
    ModelOpened {
        seq: u64,
        opened: PathBuf,
        result: Result<(SavedModelInfo, f64), String>,
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
    /// A path that is neither a model nor an image (or could not be read).
    PathRejected {
        message: String,
    },
    FolderPicked(PathBuf),
    PemFilePicked {
        which: super::server_tls::PemFile,
        path: PathBuf,
    },
    ConnectionTested {
        seq: u64,
        result: Result<String, String>,
    },
    Connected {
        seq: u64,
        settings: super::state::ConnectionSettings,
        result: Result<(SavedModelInfo, Vec<VersionState>), String>,
    },
    Runtime(RuntimeState),
    ServerStarted(ServerStarted),
    ServerFailed(String),
    ServerModels(Vec<ModelStatus>),
    ServerStopped,
    Thumbnail {
        id: u64,
        result: Result<egui::ColorImage, String>,
    },
    Predicted {
        id: u64,
        result: Result<PredictOutcome, String>,
        curl: Option<String>,
    },
    LatencySamples {
        run: u64,
        samples: Vec<Sample>,
    },
    LatencyDone {
        run: u64,
        first_error: Option<String>,
        elapsed_s: f64,
    },
    SaveTargetPicked {
        kind: SaveKind,
        path: PathBuf,
    },
    Notice {
        error: bool,
        text: String,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SaveKind {
    Csv,
    Png,
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
    server: Arc<tokio::sync::Mutex<Option<ServerHandle>>>,
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

    /// Opens a SavedModel, or recognises an image, in the background.
    pub fn open_path(&self, seq: u64, path: PathBuf) {
        let reporter = self.reporter();
        self.spawn_blocking(move || {
            let event = open_path_blocking(seq, path);
            let model = matches!(event, Event::ModelOpened { .. });
            reporter.send(event);
            if !model {
                reporter.send(Event::OpenDone { seq });
            }
        });
    }

    /// The folder picker (rfd; blocking, so off the UI thread).
    pub fn pick_folder(&self, start: Option<PathBuf>) {
        let reporter = self.reporter();
        self.spawn_blocking(move || {
            let mut dialog = rfd::FileDialog::new().set_title("Open a SavedModel folder");
            if let Some(dir) = start.filter(|dir| dir.is_dir()) {
                dialog = dialog.set_directory(dir);
            }
            if let Some(folder) = dialog.pick_folder() {
                reporter.send(Event::FolderPicked(folder));
            }
        });
    }

    pub fn pick_images(&self) {
        let reporter = self.reporter();
        self.spawn_blocking(move || {
            let files = rfd::FileDialog::new()
                .set_title("Choose images")
                .add_filter("Images", &["jpg", "jpeg", "png", "webp", "bmp", "gif"])
                .pick_files()
                .unwrap_or_default();
            for file in files {
                reporter.send(read_image_event(&file));
            }
        });
    }

    pub fn pick_save_path(&self, kind: SaveKind, default_name: String) {
        let reporter = self.reporter();
        self.spawn_blocking(move || {
            let (title, filter, ext) = match kind {
                SaveKind::Csv => ("Export latencies as CSV", "CSV", "csv"),
                SaveKind::Png => ("Export the chart as PNG", "PNG image", "png"),
            };
            let picked = rfd::FileDialog::new()
                .set_title(title)
                .set_file_name(default_name)
                .add_filter(filter, &[ext])
                .save_file();
            if let Some(path) = picked {
                reporter.send(Event::SaveTargetPicked { kind, path });
            }
        });
    }

    /// Decodes a thumbnail (at most 256 px) for the Try it panel.
    pub fn thumbnail(&self, id: u64, bytes: Arc<Vec<u8>>) {
        let reporter = self.reporter();
        self.spawn_blocking(move || {
            let result = crate::imaging::decode_image(&bytes)
                .map_err(|err| err.to_string())
                .map(|decoded| {
                    let small = decoded.image.thumbnail(256, 256).to_rgba8();
                    let size = [small.width() as usize, small.height() as usize];
                    egui::ColorImage::from_rgba_unmultiplied(size, small.as_raw())
                });
            reporter.send(Event::Thumbnail { id, result });
        });
    }

    /// Finds libtensorflow (without loading it).
    pub fn check_runtime(&self) {
        let reporter = self.reporter();
        self.spawn_blocking(move || reporter.send(Event::Runtime(runtime_state())));
    }

    /// Installs libtensorflow with progress; `Ready` at the end.
    pub fn install_runtime(&self) {
        let reporter = self.reporter();
        self.spawn_blocking(move || {
            let version = crate::runtime::discovery::DEFAULT_VERSION;
            let progress_reporter = reporter.clone();
            let result = crate::runtime::install::install(version, move |progress| {
                progress_reporter.send(Event::Runtime(install_progress_state(&progress)));
            });
            reporter.send(Event::Runtime(match result {
                Ok(location) => RuntimeState::Ready {
                    version: location.version.unwrap_or_else(|| version.to_string()),
                },
                Err(err) => RuntimeState::InstallFailed {
                    error: err.to_string(),
                },
            }));
        });
    }

    /// Loads libtensorflow and starts the embedded server for `model`.
    pub fn start_server(&self, request: ServerRequest) {
        let reporter = self.reporter();
        let slot = Arc::clone(&self.server);
        self.spawn(async move {
            if let Some(old) = slot.lock().await.take() {
                old.shutdown_with_grace(Duration::from_secs(2)).await;
            }
            // Settings first (TLS files included): a bad key fails at once, not after
            // loading TensorFlow, and even where the runtime is missing.
            let config = match request.config() {
                Ok(config) => config,
                Err(message) => {
                    reporter.send(Event::ServerFailed(message));
                    return;
                }
            };
            let loaded = tokio::task::spawn_blocking(crate::runtime::library::ensure_loaded).await;
            match loaded {
                Ok(Ok(runtime)) => reporter.send(Event::Runtime(RuntimeState::Ready {
                    version: runtime.version.clone(),
                })),
                Ok(Err(crate::runtime::RuntimeError::LibraryNotFound { how_to_fix })) => {
                    reporter.send(Event::Runtime(RuntimeState::Missing { how_to_fix }));
                    reporter.send(Event::ServerFailed(
                        "the TensorFlow runtime (libtensorflow) is not installed".into(),
                    ));
                    return;
                }
                Ok(Err(err)) => {
                    reporter.send(Event::ServerFailed(format!(
                        "cannot load TensorFlow: {err}"
                    )));
                    return;
                }
                Err(join) => {
                    reporter.send(Event::ServerFailed(format!(
                        "loading TensorFlow stopped: {join}"
                    )));
                    return;
                }
            }
            match server::start(config).await {
                Ok(handle) => {
                    reporter.send(Event::ServerStarted(ServerStarted {
                        rest: handle.rest_addr(),
                        grpc: handle.grpc_addr(),
                        model_name: request.model_name,
                        tls_cert: request.tls.map(|tls| tls.cert_file),
                    }));
                    reporter.send(Event::ServerModels(handle.models()));
                    *slot.lock().await = Some(handle);
                    watch_server(slot, reporter).await;
                }
                Err(err) => reporter.send(Event::ServerFailed(err.to_string())),
            }
        });
    }

    pub fn stop_server(&self) {
        let reporter = self.reporter();
        let slot = Arc::clone(&self.server);
        self.spawn(async move {
            if let Some(handle) = slot.lock().await.take() {
                handle.shutdown_with_grace(Duration::from_secs(3)).await;
            }
            reporter.send(Event::ServerStopped);
        });
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

/// Reports the server's model states while it runs (only when they change).
async fn watch_server(slot: Arc<tokio::sync::Mutex<Option<ServerHandle>>>, reporter: Reporter) {
    let mut last: Vec<ModelStatus> = Vec::new();
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let models = match slot.lock().await.as_ref() {
            Some(handle) => handle.models(),
            None => return,
        };
        if models != last {
            reporter.send(Event::ServerModels(models.clone()));
            last = models;
        }
    }
}

/// What the embedded server should serve.
#[derive(Clone, Debug)]
pub struct ServerRequest {
    pub model_name: String,
    pub host: String,
    pub grpc_port: u16,
    pub rest_port: u16,
    /// The model's version folder.
    pub version_dir: PathBuf,
    pub base_path: Option<PathBuf>,
    pub version: Option<i64>,
    /// `None`: plain HTTP and gRPC.
    pub tls: Option<super::server_tls::TlsFiles>,
}

/// Where the embedded server listens, once it does.
#[derive(Clone, Debug)]
pub struct ServerStarted {
    pub rest: Option<SocketAddr>,
    pub grpc: Option<SocketAddr>,
    pub model_name: String,
    pub tls_cert: Option<PathBuf>,
}

impl ServerRequest {
    fn config(&self) -> Result<ServerConfig, String> {
        let host: IpAddr = self.host.trim().parse().map_err(|_| {
            format!(
                "'{}' is not an IP address (use 127.0.0.1 to stay local, 0.0.0.0 to listen on all)",
                self.host
            )
        })?;
        let source = self.model_source()?;
        let options = LoadOptions::default();
        let loader: Loader = Arc::new(move |dir: &Path| {
            TfBackend::load(dir, &options).map(|backend| Arc::new(backend) as Arc<dyn Backend>)
        });
        let mut config = ServerConfig::new(vec![source], loader);
        config.host = host;
        config.grpc_port = Some(self.grpc_port);
        config.rest_port = Some(self.rest_port);
        config.tls = self.tls.as_ref().map(|tls| tls.settings()).transpose()?;
        // Report LOADING while the model loads instead of blocking the start.
        config.wait_for_models = false;
        Ok(config)
    }

    /// A TF Serving base path for the model: its own, the parent of a numeric version
    /// folder (serving exactly that version), or a folder of links made for it.
    fn model_source(&self) -> Result<ModelSource, String> {
        if let Some(base) = &self.base_path {
            let mut source = ModelSource::new(&self.model_name, base);
            if let Some(version) = self.version {
                source.policy = VersionPolicy::Specific {
                    versions: vec![version],
                };
            }
            return Ok(source);
        }
        if let (Some(version), Some(parent)) = (self.version, self.version_dir.parent()) {
            let mut source = ModelSource::new(&self.model_name, parent);
            source.policy = VersionPolicy::Specific {
                versions: vec![version],
            };
            return Ok(source);
        }
        linked_base_path(&self.version_dir, &self.model_name)
            .map(|base| ModelSource::new(&self.model_name, base))
    }
}

#[cfg(unix)]
fn linked_base_path(version_dir: &Path, name: &str) -> Result<PathBuf, String> {
    let absolute = std::fs::canonicalize(version_dir)
        .map_err(|err| format!("{}: {err}", version_dir.display()))?;
    let base = std::env::temp_dir()
        .join(format!("tfprobe-serve-{}", std::process::id()))
        .join(name);
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&base)
        .map_err(|err| format!("cannot create {}: {err}", base.display()))?;
    std::os::unix::fs::symlink(&absolute, base.join("1"))
        .map_err(|err| format!("cannot link the model as version 1: {err}"))?;
    Ok(base)
}

#[cfg(not(unix))]
fn linked_base_path(version_dir: &Path, _name: &str) -> Result<PathBuf, String> {
    Err(format!(
        "{} is not inside a numeric version folder; the server needs MODEL/1/saved_model.pb (move it into a folder named 1)",
        version_dir.display()
    ))
}

fn runtime_state() -> RuntimeState {
    if let Some(loaded) = crate::runtime::library::loaded() {
        return RuntimeState::Ready {
            version: loaded.version.clone(),
        };
    }
    match crate::runtime::discovery::discover() {
        Ok(location) => RuntimeState::Ready {
            version: location.version.unwrap_or_else(|| "found".into()),
        },
        Err(crate::runtime::RuntimeError::LibraryNotFound { how_to_fix }) => {
            RuntimeState::Missing { how_to_fix }
        }
        Err(err) => RuntimeState::Missing {
            how_to_fix: err.to_string(),
        },
    }
}

fn install_progress_state(progress: &crate::runtime::install::InstallProgress) -> RuntimeState {
    use crate::runtime::install::InstallProgress as P;
    let mb = |bytes: u64| bytes as f64 / 1e6;
    let (fraction, text) = match progress {
        P::AlreadyInstalled { dir } => {
            (Some(1.0), format!("already installed in {}", dir.display()))
        }
        P::WaitingForLock { lock } => (
            None,
            format!("waiting for another install ({})", lock.display()),
        ),
        P::Downloading {
            downloaded,
            total: Some(total),
        } if *total > 0 => (
            Some((*downloaded as f32 / *total as f32).min(1.0) * 0.8),
            format!(
                "downloading tensorflow-cpu: {:.0} / {:.0} MB",
                mb(*downloaded),
                mb(*total)
            ),
        ),
        P::Downloading { downloaded, .. } => (
            None,
            format!("downloading tensorflow-cpu: {:.0} MB", mb(*downloaded)),
        ),
        P::Extracting { file, done, total } => (
            Some(0.8 + 0.2 * (*done as f32 / (*total).max(1) as f32).min(1.0)),
            format!("extracting {file}: {:.0} / {:.0} MB", mb(*done), mb(*total)),
        ),
        P::Finished { dir } => (Some(1.0), format!("installed in {}", dir.display())),
    };
    RuntimeState::Installing { fraction, text }
}

/// A model folder, a `saved_model.pb`, or an image file.
fn open_path_blocking(seq: u64, path: PathBuf) -> Event {
    let is_model_file = path
        .file_name()
        .is_some_and(|name| name == "saved_model.pb" || name == "saved_model.pbtxt");
    if path.is_dir() || is_model_file || !path.exists() {
        let started = Instant::now();
        let result = crate::model::open(&path)
            .map(|info| (info, started.elapsed().as_secs_f64() * 1000.0))
            .map_err(|err| err.to_string());
        return Event::ModelOpened {
            seq,
            opened: path,
            result,
        };
    }
    read_image_event(&path)
}

/// Reads a file that should be an image; explains what it is otherwise.
pub fn read_image_event(path: &Path) -> Event {
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    match std::fs::metadata(path) {
        Ok(meta) if meta.len() > MAX_IMAGE_BYTES => {
            return Event::PathRejected {
                message: format!(
                    "{name} is {:.0} MB; images up to {} MB are accepted",
                    meta.len() as f64 / 1e6,
                    MAX_IMAGE_BYTES >> 20
                ),
            };
        }
        Err(err) => {
            return Event::PathRejected {
                message: format!("cannot read {}: {err}", path.display()),
            };
        }
        Ok(_) => {}
    }
    match std::fs::read(path) {
        Ok(bytes) => image_or_rejection(name, bytes),
        Err(err) => Event::PathRejected {
            message: format!("cannot read {}: {err}", path.display()),
        },
    }
}

/// An image event when `bytes` look like an image this tool decodes.
pub fn image_or_rejection(name: String, bytes: Vec<u8>) -> Event {
    let known = image::guess_format(&bytes).ok().filter(|format| {
        use image::ImageFormat as F;
        matches!(format, F::Jpeg | F::Png | F::WebP | F::Bmp | F::Gif)
    });
    match known {
        Some(_) => Event::ImageLoaded {
            name,
            bytes: Arc::new(bytes),
        },
        None => Event::PathRejected {
            message: format!(
                "{name} is neither a SavedModel nor an image. Drop a SavedModel folder (holding saved_model.pb, or \
                 numeric version folders) to inspect it, or a JPEG, PNG, WebP, BMP or GIF image to classify it."
            ),
        },
    }
}
