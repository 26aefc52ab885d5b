//! Opening and closing SavedModels: the folder picker, opening a path, and the
//! opened model (or its error) coming back.

use crate::ui::app::TfprobeApp;
use crate::ui::command::Command;
use crate::ui::state::{Busy, LocalModel, NoticeLevel, ServerPhase, TreeSource};
use crate::workflow::WorkflowError;
use crate::workflow::open::{OpenedModel, default_model_name};
use std::path::PathBuf;
use std::time::Instant;

impl TfprobeApp {
    pub(super) fn open_dialog(&mut self) {
        let start = self
            .state
            .persisted
            .recent_models
            .first()
            .and_then(|path| path.parent())
            .map(|dir| dir.to_path_buf());
        self.tasks.pick_folder(start);
    }

    pub(super) fn open_path(&mut self, path: PathBuf) {
        let state = &mut self.state;
        state.open_seq += 1;
        state.pending_opens.push(state.open_seq);
        let name = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        state.loading = Some(Busy {
            what: format!("Opening {name}…"),
            since: Instant::now(),
        });
        self.tasks.open_path(state.open_seq, path);
    }

    pub(super) fn close_model(&mut self) {
        let state = &mut self.state;
        state.local = None;
        if !matches!(
            state.server.phase,
            ServerPhase::Stopped | ServerPhase::Failed { .. }
        ) {
            self.commands.push(Command::StopServer);
        }
        self.ctx
            .send_viewport_cmd(egui::ViewportCommand::Title("tfprobe".into()));
    }

    pub(super) fn model_opened(
        &mut self,
        seq: u64,
        opened: PathBuf,
        result: Result<OpenedModel, WorkflowError>,
    ) {
        let state = &mut self.state;
        state.finish_open(seq);
        if seq < state.model_seq {
            return;
        }
        state.model_seq = seq;
        match result {
            Ok(OpenedModel {
                info,
                read_ms: load_ms,
            }) => {
                tracing::info!("opened {} in {load_ms:.0} ms", opened.display());
                let title = format!("tfprobe — {}", default_model_name(&info));
                self.ctx
                    .send_viewport_cmd(egui::ViewportCommand::Title(title));
                state.persisted.add_recent_model(opened.clone());
                state.persisted.server.model_name.clear();
                state.local = Some(LocalModel {
                    opened,
                    info,
                    load_ms,
                });
                state.tree_source = TreeSource::Local;
                state.model_error = None;
                if matches!(
                    state.server.phase,
                    ServerPhase::Running { .. } | ServerPhase::Starting
                ) {
                    state.notify(
                        NoticeLevel::Info,
                        "A new model is open: restart the server to serve it",
                    );
                } else if std::mem::take(&mut state.serve_when_open) {
                    self.commands.push(Command::StartServer);
                }
            }
            Err(err) => state.model_error = Some(err.to_string()),
        }
    }
}
