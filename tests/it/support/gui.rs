//! Shared helpers of the GUI tests: the app in an egui_kittest harness, waiting for
//! background work, dropped files, and an in-process TF Serving-compatible server
//! whose backend returns fixed class scores (no TensorFlow needed).

use egui_kittest::Harness;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tfprobe::model::SavedModelInfo;
use tfprobe::runtime::{Backend, NamedTensors, RuntimeError};
use tfprobe::server::{Loader, ModelSource, ServerConfig, ServerHandle, TlsSettings};
use tfprobe::tensor::{Tensor, TensorData};
use tfprobe::ui::{LaunchOptions, TfprobeApp};

/// The app with default settings, opening `paths`.
pub fn app_harness(paths: Vec<PathBuf>) -> Harness<'static, TfprobeApp> {
    Harness::builder()
        .with_size(egui::vec2(1280.0, 800.0))
        .build_eframe(move |cc| {
            TfprobeApp::new(
                cc,
                LaunchOptions {
                    paths,
                    fresh_state: true,
                    ..LaunchOptions::default()
                },
            )
        })
}

/// The app with `model` open, its embedded server set to free ports (REST and gRPC),
/// on the Server tab.
pub fn model_on_free_ports(model: PathBuf, timeout: Duration) -> Harness<'static, TfprobeApp> {
    let mut harness = app_harness(vec![model]);
    wait_until(&mut harness, "the model", timeout, |h| {
        h.state().state.local.is_some()
    });
    let state = &mut harness.state_mut().state;
    state.persisted.server.grpc_port = 0;
    state.persisted.server.rest_port = 0;
    state.persisted.tab = tfprobe::ui::state::Tab::Server;
    harness
}

/// Steps frames until `done` holds; panics with `what` after `timeout`.
pub fn wait_until(
    harness: &mut Harness<'static, TfprobeApp>,
    what: &str,
    timeout: Duration,
    mut done: impl FnMut(&Harness<'static, TfprobeApp>) -> bool,
) {
    let started = Instant::now();
    loop {
        harness.step();
        if done(harness) {
            // One more frame so widgets created from the new state are in the tree.
            harness.step();
            return;
        }
        assert!(
            started.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(15));
    }
}

/// A file dropped onto the window (what winit hands to egui).
#[derive(Debug)]
pub struct TestDroppedFile {
    pub path: PathBuf,
}

impl egui::DroppedFile for TestDroppedFile {
    fn path(&self) -> &Path {
        &self.path
    }

    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.path).map_err(|err| err.to_string())
    }
}

/// Drops `path` onto the window, as a desktop drag-and-drop does.
pub fn drop_file(harness: &mut Harness<'static, TfprobeApp>, path: PathBuf) {
    harness
        .input_mut()
        .dropped_files
        .push(Arc::new(TestDroppedFile { path }));
}

/// A backend with the real signature tree of a SavedModel (read without TensorFlow)
/// that answers every run with the same scores: class 286 first.
pub struct FixedScores {
    info: SavedModelInfo,
    delay: Duration,
}

/// The class the fixed scores rank first (line 287 of the 1001 ImageNet labels).
pub const TOP_CLASS: usize = 286;
pub const TOP_LABEL: &str = "Egyptian cat";

impl Backend for FixedScores {
    fn model(&self) -> &SavedModelInfo {
        &self.info
    }

    fn run(
        &self,
        _signature_key: &str,
        inputs: NamedTensors,
        _output_keys: &[String],
    ) -> Result<NamedTensors, RuntimeError> {
        if !self.delay.is_zero() {
            std::thread::sleep(self.delay);
        }
        let batch = inputs
            .values()
            .next()
            .map(|tensor| tensor.shape.first().copied().unwrap_or(1))
            .unwrap_or(1)
            .max(1);
        let mut scores = Vec::with_capacity(1001 * batch as usize);
        for _ in 0..batch {
            let mut row = vec![0.0f32; 1001];
            row[TOP_CLASS] = 0.70;
            row[282] = 0.20;
            row[281] = 0.06;
            row[285] = 0.04;
            scores.extend(row);
        }
        let probabilities =
            Tensor::new(vec![batch, 1001], TensorData::Float(scores)).expect("scores");
        let classes = Tensor::new(
            vec![batch],
            TensorData::Int64(vec![TOP_CLASS as i64; batch as usize]),
        )
        .expect("classes");
        Ok(NamedTensors::from([
            ("probabilities".to_string(), probabilities),
            ("classes".to_string(), classes),
        ]))
    }
}

/// A server on 127.0.0.1 (free ports) serving the demo model's signatures with
/// [`FixedScores`]; keep the runtime alive as long as the server.
pub struct FakeServer {
    pub runtime: tokio::runtime::Runtime,
    pub handle: Option<ServerHandle>,
    pub model_name: String,
}

impl FakeServer {
    pub fn start(delay: Duration) -> FakeServer {
        FakeServer::start_with_tls(delay, None)
    }

    /// [`FakeServer::start`] serving over TLS with `tls` (both ports).
    pub fn start_with_tls(delay: Duration, tls: Option<TlsSettings>) -> FakeServer {
        let model_dir = super::repo().join("assets/models/efficientnet_lite0");
        let loader: Loader = Arc::new(move |dir: &Path| {
            let info = tfprobe::model::open(dir)?;
            Ok(Arc::new(FixedScores { info, delay }) as Arc<dyn Backend>)
        });
        let mut config = ServerConfig::new(vec![ModelSource::new("lite", model_dir)], loader);
        config.grpc_port = Some(0);
        config.rest_port = Some(0);
        config.poll_interval = None;
        config.tls = tls;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio");
        let handle = runtime
            .block_on(tfprobe::server::start(config))
            .expect("the fake server starts");
        FakeServer {
            runtime,
            handle: Some(handle),
            model_name: "lite".into(),
        }
    }

    pub fn rest_port(&self) -> u16 {
        self.handle
            .as_ref()
            .and_then(ServerHandle::rest_addr)
            .map(|addr| addr.port())
            .expect("REST port")
    }

    /// Connection settings of the Connect dialog that reach this server over REST.
    pub fn connection(&self) -> tfprobe::ui::state::ConnectionSettings {
        tfprobe::ui::state::ConnectionSettings {
            host: "127.0.0.1".into(),
            port: self.rest_port(),
            model_name: self.model_name.clone(),
            ..Default::default()
        }
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            self.runtime
                .block_on(handle.shutdown_with_grace(Duration::from_secs(2)));
        }
    }
}

/// The app connected to `server` (over REST), waiting up to `timeout` for it.
pub fn connected_harness(server: &FakeServer, timeout: Duration) -> Harness<'static, TfprobeApp> {
    let mut harness = app_harness(Vec::new());
    harness.step();
    harness
        .state_mut()
        .push_command(tfprobe::ui::command::Command::Connect(server.connection()));
    wait_until(&mut harness, "the connection", timeout, |h| {
        h.state().state.remote.is_some()
    });
    harness
}

/// Drops an image on the window and waits until its prediction is done or failed.
pub fn drop_and_wait_for_prediction(
    harness: &mut Harness<'static, TfprobeApp>,
    image: PathBuf,
    timeout: Duration,
) {
    use tfprobe::ui::state::PredictStatus;
    drop_file(harness, image);
    wait_until(harness, "the prediction", timeout, |h| {
        h.state().state.predict.items.first().is_some_and(|item| {
            matches!(
                item.status,
                PredictStatus::Done(_) | PredictStatus::Failed(_)
            )
        })
    });
}
