//! Connections to remote servers: the connect dialog, testing and connecting,
//! saved connections, and the answers coming back.

use crate::client::VersionState;
use crate::model::SavedModelInfo;
use crate::ui::app::TfprobeApp;
use crate::ui::command::Command;
use crate::ui::state::{ConnectionSettings, NoticeLevel, RemoteModel, TargetChoice, TreeSource};
use crate::workflow::WorkflowError;
use crate::workflow::open::default_model_name;

impl TfprobeApp {
    pub(super) fn show_connect(&mut self) {
        let state = &mut self.state;
        if !state.connect.open {
            state.connect.draft = state.persisted.last_connection.clone();
            if state.connect.draft.model_name.is_empty()
                && let Some(local) = &state.local
            {
                state.connect.draft.model_name = default_model_name(&local.info);
            }
            state.connect.result = None;
        }
        state.connect.open = true;
    }

    /// Tests the settings (`connect` false) or connects with them, once they
    /// are valid.
    pub(super) fn start_connection(&mut self, settings: ConnectionSettings, connect: bool) {
        let state = &mut self.state;
        if let Err(message) = settings.validate() {
            state.connect.result = Some(Err(message));
            return;
        }
        state.connect.seq += 1;
        state.connect.testing = true;
        state.connect.result = None;
        if connect {
            self.tasks.connect(state.connect.seq, settings);
        } else {
            self.tasks.test_connection(state.connect.seq, settings);
        }
    }

    pub(super) fn save_connection(&mut self, settings: ConnectionSettings) {
        let state = &mut self.state;
        state.notify(
            NoticeLevel::Info,
            format!("Saved connection {}", settings.title()),
        );
        state.persisted.save_connection(settings);
    }

    pub(super) fn forget_connection(&mut self, index: usize) {
        let saved = &mut self.state.persisted.saved_connections;
        if index < saved.len() {
            saved.remove(index);
        }
    }

    pub(super) fn disconnect(&mut self) {
        let state = &mut self.state;
        state.remote = None;
        state.tree_source = TreeSource::Local;
        state.target = TargetChoice::Embedded;
    }

    pub(super) fn connection_tested(&mut self, seq: u64, result: Result<String, WorkflowError>) {
        let state = &mut self.state;
        if seq == state.connect.seq {
            state.connect.testing = false;
            if result.is_ok() {
                state
                    .persisted
                    .add_recent_host(state.connect.draft.host.trim().to_string());
            }
            state.connect.result = Some(result.map_err(|err| err.to_string()));
        }
    }

    pub(super) fn connected(
        &mut self,
        seq: u64,
        settings: ConnectionSettings,
        result: Result<(SavedModelInfo, Vec<VersionState>), WorkflowError>,
    ) {
        let state = &mut self.state;
        if seq != state.connect.seq {
            return;
        }
        state.connect.testing = false;
        match result {
            Ok((info, versions)) => {
                state
                    .persisted
                    .add_recent_host(settings.host.trim().to_string());
                state.persisted.last_connection = settings.clone();
                state.notify(
                    NoticeLevel::Info,
                    format!("Connected to {}", settings.title()),
                );
                state.remote = Some(RemoteModel {
                    settings,
                    info,
                    versions,
                });
                state.tree_source = TreeSource::Remote;
                state.target = TargetChoice::Remote;
                state.connect.open = false;
                state.connect.result = None;
                self.commands.push(Command::PredictAll);
            }
            Err(err) => state.connect.result = Some(Err(err.to_string())),
        }
    }
}
