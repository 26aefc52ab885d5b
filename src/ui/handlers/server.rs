//! The embedded server and its TensorFlow runtime: starting, stopping,
//! installing the runtime, the server's state coming back, and the client
//! settings that reach the current target (embedded or remote).

use super::default_model_name;
use crate::client::{ClientConfig, Protocol};
use crate::server::ModelStatus;
use crate::ui::app::TfprobeApp;
use crate::ui::command::Command;
use crate::ui::requests::client_config;
use crate::ui::server_tls::PemFile;
use crate::ui::state::{NoticeLevel, PredictStatus, RuntimeState, ServerPhase, Tab, TargetChoice};
use crate::ui::tasks::{ServerRequest, ServerStarted};
use std::path::PathBuf;
use std::time::Duration;

impl TfprobeApp {
    pub(super) fn start_server(&mut self) {
        let state = &mut self.state;
        let Some(local) = &state.local else {
            state.notify(
                NoticeLevel::Error,
                "Open a model before starting the server",
            );
            return;
        };
        if matches!(
            state.server.phase,
            ServerPhase::Starting | ServerPhase::Running { .. }
        ) {
            return;
        }
        let settings = &state.persisted.server;
        // The panel disables Start while this fails; a start after a runtime install
        // does not go through the panel, so check again.
        let tls = match settings.tls_files() {
            Ok(tls) => tls,
            Err(error) => {
                state.server.phase = ServerPhase::Failed { error };
                return;
            }
        };
        let model_name = if settings.model_name.trim().is_empty() {
            default_model_name(&local.info)
        } else {
            settings.model_name.trim().to_string()
        };
        let request = ServerRequest {
            model_name,
            host: settings.host.clone(),
            grpc_port: settings.grpc_port,
            rest_port: settings.rest_port,
            version_dir: local.info.path.clone(),
            base_path: local.info.base_path.clone(),
            version: local.info.version,
            tls,
        };
        state.server.phase = ServerPhase::Starting;
        state.server.models.clear();
        state.target = TargetChoice::Embedded;
        self.tasks.start_server(request);
    }

    pub(super) fn stop_server(&mut self) {
        self.state.server.phase = ServerPhase::Stopping;
        self.tasks.stop_server();
    }

    pub(super) fn install_runtime(&mut self) {
        let state = &mut self.state;
        state.server.runtime = RuntimeState::Installing {
            fraction: None,
            text: "starting pip…".into(),
        };
        state.server.start_after_install = state.local.is_some();
        self.tasks.install_runtime();
    }

    pub(super) fn runtime_changed(&mut self, runtime: RuntimeState) {
        let state = &mut self.state;
        let ready = matches!(runtime, RuntimeState::Ready { .. });
        if ready
            && state.server.start_after_install
            && matches!(state.server.runtime, RuntimeState::Installing { .. })
        {
            state.server.start_after_install = false;
            self.commands.push(Command::StartServer);
        }
        state.server.runtime = runtime;
    }

    pub(super) fn server_started(&mut self, started: ServerStarted) {
        let ServerStarted {
            rest,
            grpc,
            model_name,
            tls_cert,
        } = started;
        let tls = if tls_cert.is_some() { ", TLS" } else { "" };
        tracing::info!(
            "embedded server for '{model_name}' listening (REST {rest:?}, gRPC {grpc:?}{tls})"
        );
        self.state.server.phase = ServerPhase::Running {
            rest,
            grpc,
            model_name,
            tls_cert,
        };
    }

    /// A file picker of a PEM field answered.
    pub(super) fn pem_file_picked(&mut self, which: PemFile, path: PathBuf) {
        let path = path.display().to_string();
        match which {
            PemFile::Connect(which) => {
                *self.state.connect.draft.file_mut(which) = path;
                self.state.connect.result = None;
            }
            PemFile::Server(which) => *self.state.persisted.server.file_mut(which) = path,
        }
    }

    pub(super) fn server_failed(&mut self, error: String) {
        let state = &mut self.state;
        state.server.phase = ServerPhase::Failed { error };
        if matches!(state.server.runtime, RuntimeState::Missing { .. }) {
            state.persisted.tab = Tab::Server;
        }
    }

    /// The server's models changed: images waiting for a ready target are sent.
    pub(super) fn server_models(&mut self, models: Vec<ModelStatus>) {
        let state = &mut self.state;
        let was_ready = state.target_ready();
        state.server.models = models;
        if !was_ready && state.target_ready() {
            let waiting: Vec<u64> = state
                .predict
                .items
                .iter()
                .filter(|item| matches!(item.status, PredictStatus::Waiting))
                .map(|item| item.id)
                .collect();
            for id in waiting {
                self.predict(id);
            }
        }
    }

    pub(super) fn server_stopped(&mut self) {
        self.state.server.phase = ServerPhase::Stopped;
        self.state.server.models.clear();
    }

    /// The client settings of the current target.
    pub(super) fn target_config(&self, protocol: Protocol) -> Option<ClientConfig> {
        match self.state.target {
            TargetChoice::Embedded => {
                let ServerPhase::Running {
                    rest,
                    grpc,
                    model_name,
                    tls_cert,
                } = &self.state.server.phase
                else {
                    return None;
                };
                let (addr, protocol) = match (protocol, rest, grpc) {
                    (Protocol::Grpc, _, Some(grpc)) => (*grpc, Protocol::Grpc),
                    (_, Some(rest), _) => (*rest, Protocol::Rest),
                    (_, None, Some(grpc)) => (*grpc, Protocol::Grpc),
                    (_, None, None) => return None,
                };
                let host = crate::ui::server_ui::reachable(addr);
                let mut config = ClientConfig::parse_target(&host, protocol)
                    .ok()?
                    .with_model(model_name.clone());
                config.timeout = Duration::from_secs(60);
                config.tls = tls_cert.as_deref().map(crate::ui::server_tls::client_tls);
                Some(config)
            }
            TargetChoice::Remote => self
                .state
                .remote
                .as_ref()
                .map(|remote| client_config(&remote.settings)),
        }
    }

    /// The SavedModel folder of the current target, when it is on this machine.
    pub(super) fn model_dir(&self) -> Option<PathBuf> {
        match self.state.target {
            TargetChoice::Embedded => self
                .state
                .local
                .as_ref()
                .map(|local| local.info.path.clone()),
            TargetChoice::Remote => None,
        }
    }
}
