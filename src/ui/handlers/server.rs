//! The embedded server and its TensorFlow runtime: starting, stopping, installing
//! the runtime, and the server's state coming back.

use crate::server::ModelStatus;
use crate::ui::app::TfprobeApp;
use crate::ui::command::Command;
use crate::ui::state::{
    NoticeLevel, PemFile, PredictStatus, RuntimeState, ServerPhase, Tab, TargetChoice,
};
use crate::workflow::WorkflowError;
use crate::workflow::serve::EmbeddedServer;
use crate::workflow::target::EmbeddedEndpoints;
use std::path::PathBuf;

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
        let server = EmbeddedServer {
            host: settings.host.clone(),
            grpc_port: settings.grpc_port,
            rest_port: settings.rest_port,
            tls,
            ..EmbeddedServer::for_model(&local.info, &settings.model_name)
        };
        state.server.phase = ServerPhase::Starting;
        state.server.models.clear();
        state.target = TargetChoice::Embedded;
        self.tasks.start_server(server);
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

    pub(super) fn server_started(&mut self, endpoints: EmbeddedEndpoints) {
        let tls = if endpoints.tls_cert.is_some() {
            ", TLS"
        } else {
            ""
        };
        tracing::info!(
            "embedded server for '{}' listening (REST {:?}, gRPC {:?}{tls})",
            endpoints.model_name,
            endpoints.rest,
            endpoints.grpc
        );
        self.state.server.phase = ServerPhase::Running(endpoints);
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

    pub(super) fn server_failed(&mut self, error: WorkflowError) {
        let state = &mut self.state;
        let runtime_missing = error.is_runtime_missing();
        state.server.phase = ServerPhase::Failed {
            error: error.to_string(),
        };
        if runtime_missing || matches!(state.server.runtime, RuntimeState::Missing { .. }) {
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
}
