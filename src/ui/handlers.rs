//! Turning commands into state changes and background tasks, and task events back
//! into state. The only place that changes [`AppState`] outside of widget edits.

use super::app::TfprobeApp;
use super::command::Command;
use super::requests::{LatencyJob, PredictJob, client_config, validate};
use super::state::{
    Busy, LatencyState, LocalModel, NoticeLevel, PredictItem, PredictStatus, RemoteModel,
    RuntimeState, ServerPhase, Tab, TargetChoice, TreeSource,
};
use super::tasks::{Event, SaveKind, ServerRequest};
use crate::client::{ClientConfig, Protocol};
use egui_plot::PlotPoint;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

impl TfprobeApp {
    pub(crate) fn apply_commands(&mut self) {
        while !self.commands.is_empty() {
            for command in self.commands.take() {
                self.apply_command(command);
            }
        }
    }

    fn apply_command(&mut self, command: Command) {
        let state = &mut self.state;
        match command {
            Command::OpenDialog => {
                let start = state
                    .persisted
                    .recent_models
                    .first()
                    .and_then(|path| path.parent())
                    .map(|dir| dir.to_path_buf());
                self.tasks.pick_folder(start);
            }
            Command::OpenPath(path) => {
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
            Command::CloseModel => {
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
            Command::ForgetRecent(path) => state
                .persisted
                .recent_models
                .retain(|recent| *recent != path),
            Command::ShowConnect => {
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
            Command::TestConnection(settings) | Command::Connect(settings)
                if validate(&settings).is_err() =>
            {
                if let Err(message) = validate(&settings) {
                    state.connect.result = Some(Err(message));
                }
            }
            Command::TestConnection(settings) => {
                state.connect.seq += 1;
                state.connect.testing = true;
                state.connect.result = None;
                self.tasks.test_connection(state.connect.seq, settings);
            }
            Command::Connect(settings) => {
                state.connect.seq += 1;
                state.connect.testing = true;
                state.connect.result = None;
                self.tasks.connect(state.connect.seq, settings);
            }
            Command::SaveConnection(settings) => {
                state.notify(
                    NoticeLevel::Info,
                    format!("Saved connection {}", settings.title()),
                );
                state.persisted.save_connection(settings);
            }
            Command::ForgetConnection(index) => {
                if index < state.persisted.saved_connections.len() {
                    state.persisted.saved_connections.remove(index);
                }
            }
            Command::Disconnect => {
                state.remote = None;
                state.tree_source = TreeSource::Local;
                state.target = TargetChoice::Embedded;
            }
            Command::StartServer => self.start_server(),
            Command::StopServer => {
                state.server.phase = ServerPhase::Stopping;
                self.tasks.stop_server();
            }
            Command::InstallRuntime => {
                state.server.runtime = RuntimeState::Installing {
                    fraction: None,
                    text: "starting pip…".into(),
                };
                state.server.start_after_install = state.local.is_some();
                self.tasks.install_runtime();
            }
            Command::SetTarget(target) => state.target = target,
            Command::PickImages => self.tasks.pick_images(),
            Command::AddImage { name, bytes } => self.add_image(name, bytes),
            Command::PredictAll => {
                let ids: Vec<u64> = state.predict.items.iter().map(|item| item.id).collect();
                for id in ids {
                    self.predict(id);
                }
            }
            Command::ClearImages => {
                state.predict.items.clear();
                state.predict.selected = 0;
            }
            Command::RunLatency => self.run_latency(),
            Command::CancelLatency => {
                if let Some(cancel) = &state.latency.cancel {
                    cancel.store(true, Ordering::Relaxed);
                }
            }
            Command::ExportCsv => self
                .tasks
                .pick_save_path(SaveKind::Csv, "latency.csv".into()),
            Command::ExportPng => self
                .tasks
                .pick_save_path(SaveKind::Png, "latency.png".into()),
            Command::CopyText(text) => self.ctx.copy_text(text),
            Command::DismissModelError => state.model_error = None,
        }
    }

    fn start_server(&mut self) {
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
        };
        state.server.phase = ServerPhase::Starting;
        state.server.models.clear();
        state.target = TargetChoice::Embedded;
        self.tasks.start_server(request);
    }

    /// The client settings of the current target.
    fn target_config(&self, protocol: Protocol) -> Option<ClientConfig> {
        match self.state.target {
            TargetChoice::Embedded => {
                let ServerPhase::Running {
                    rest,
                    grpc,
                    model_name,
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
                let host = super::server_ui::reachable(addr);
                let mut config = ClientConfig::parse_target(&host, protocol)
                    .ok()?
                    .with_model(model_name.clone());
                config.timeout = Duration::from_secs(60);
                Some(config)
            }
            TargetChoice::Remote => self
                .state
                .remote
                .as_ref()
                .map(|remote| client_config(&remote.settings)),
        }
    }

    fn model_dir(&self) -> Option<std::path::PathBuf> {
        match self.state.target {
            TargetChoice::Embedded => self
                .state
                .local
                .as_ref()
                .map(|local| local.info.path.clone()),
            TargetChoice::Remote => None,
        }
    }

    fn add_image(&mut self, name: String, bytes: Arc<Vec<u8>>) {
        let id = self.state.fresh_id();
        self.state.predict.items.push(PredictItem {
            id,
            name,
            bytes: Arc::clone(&bytes),
            thumbnail: None,
            status: PredictStatus::Decoding,
        });
        self.state.predict.selected = self.state.predict.items.len() - 1;
        self.state.persisted.tab = Tab::TryIt;
        self.tasks.thumbnail(id, bytes);
        self.predict(id);
    }

    fn predict(&mut self, id: u64) {
        let signature = super::predict_ui::chosen_signature(&self.state);
        let config = self.target_config(self.state.persisted.predict.protocol);
        let model_dir = self.model_dir();
        let ready = self.state.target_ready();
        let settings = self.state.persisted.predict.clone();
        let Some(item) = self
            .state
            .predict
            .items
            .iter_mut()
            .find(|item| item.id == id)
        else {
            return;
        };
        let (Some(signature), Some(mut config), true) = (signature, config, ready) else {
            item.status = PredictStatus::Waiting;
            return;
        };
        config.signature = Some(signature.key.clone());
        item.status = PredictStatus::Running;
        let job = PredictJob {
            id,
            config,
            signature,
            settings,
            bytes: Arc::clone(&item.bytes),
            model_dir,
        };
        self.tasks.predict(job);
    }

    fn run_latency(&mut self) {
        if self.state.latency.running {
            return;
        }
        let settings = self.state.persisted.latency.clone();
        let (Some(signature), Some(mut config), true) = (
            super::predict_ui::chosen_signature(&self.state),
            self.target_config(settings.protocol),
            self.state.target_ready(),
        ) else {
            self.state.notify(
                NoticeLevel::Error,
                "Nothing to measure: start the embedded server or connect to a server first",
            );
            return;
        };
        config.signature = Some(signature.key.clone());
        let bytes = self
            .state
            .predict
            .items
            .get(self.state.predict.selected)
            .map(|item| Arc::clone(&item.bytes));
        let cancel = Arc::new(AtomicBool::new(false));
        let run_id = self.state.latency.run_id + 1;
        self.state.latency = LatencyState {
            run_id,
            running: true,
            planned: settings.requests + settings.warmup,
            started: Some(Instant::now()),
            cancel: Some(Arc::clone(&cancel)),
            ..LatencyState::default()
        };
        self.state.persisted.tab = Tab::Latency;
        let job = LatencyJob {
            run: run_id,
            config,
            signature,
            settings: self.state.persisted.predict.clone(),
            bytes,
            model_dir: self.model_dir(),
            requests: settings.requests,
            warmup: settings.warmup,
            concurrency: settings.concurrency,
            cancel,
        };
        self.tasks.latency_run(job);
    }

    pub(crate) fn apply_event(&mut self, event: Event) {
        let state = &mut self.state;
        match event {
            Event::ModelOpened {
                seq,
                opened,
                result,
            } => {
                state.finish_open(seq);
                if seq < state.model_seq {
                    return;
                }
                state.model_seq = seq;
                match result {
                    Ok((info, load_ms)) => {
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
                    Err(message) => state.model_error = Some(message),
                }
            }
            Event::OpenDone { seq } => state.finish_open(seq),
            Event::ImageLoaded { name, bytes } => self.add_image(name, bytes),
            Event::PathRejected { message } => state.notify(NoticeLevel::Error, message),
            Event::FolderPicked(path) => self.commands.push(Command::OpenPath(path)),
            Event::ConnectionTested { seq, result } => {
                if seq == state.connect.seq {
                    state.connect.testing = false;
                    if result.is_ok() {
                        state
                            .persisted
                            .add_recent_host(state.connect.draft.host.trim().to_string());
                    }
                    state.connect.result = Some(result);
                }
            }
            Event::Connected {
                seq,
                settings,
                result,
            } => {
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
                    Err(message) => state.connect.result = Some(Err(message)),
                }
            }
            Event::Runtime(runtime) => {
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
            Event::ServerStarted {
                rest,
                grpc,
                model_name,
            } => {
                tracing::info!(
                    "embedded server for '{model_name}' listening (REST {rest:?}, gRPC {grpc:?})"
                );
                state.server.phase = ServerPhase::Running {
                    rest,
                    grpc,
                    model_name,
                };
            }
            Event::ServerFailed(error) => {
                state.server.phase = ServerPhase::Failed { error };
                if matches!(state.server.runtime, RuntimeState::Missing { .. }) {
                    state.persisted.tab = Tab::Server;
                }
            }
            Event::ServerModels(models) => {
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
            Event::ServerStopped => {
                state.server.phase = ServerPhase::Stopped;
                state.server.models.clear();
            }
            Event::Thumbnail { id, result } => {
                let Some(item) = state.predict.items.iter_mut().find(|item| item.id == id) else {
                    return;
                };
                match result {
                    Ok(image) => {
                        item.thumbnail = Some(self.ctx.load_texture(
                            format!("thumbnail-{id}"),
                            image,
                            egui::TextureOptions::LINEAR,
                        ))
                    }
                    Err(message) => item.status = PredictStatus::Failed(message),
                }
            }
            Event::Predicted { id, result, curl } => {
                if curl.is_some() {
                    state.predict.last_curl = curl;
                }
                let Some(item) = state.predict.items.iter_mut().find(|item| item.id == id) else {
                    return;
                };
                if matches!(item.status, PredictStatus::Failed(_)) && result.is_err() {
                    return; // the thumbnail already said it is not an image
                }
                item.status = match result {
                    Ok(outcome) => PredictStatus::Done(Box::new(outcome)),
                    Err(message) => PredictStatus::Failed(message),
                };
            }
            Event::LatencySamples { run, samples } => {
                let latency = &mut state.latency;
                if run != latency.run_id {
                    return;
                }
                for sample in samples {
                    let x = f64::from(sample.index);
                    match (sample.warmup, sample.latency_ms) {
                        (true, Some(ms)) => latency.warmup_points.push(PlotPoint::new(x, ms)),
                        (false, Some(ms)) => {
                            latency.stats.record(Duration::from_secs_f64(ms / 1000.0));
                            latency.main_points.push(PlotPoint::new(x, ms));
                        }
                        (warmup, None) => {
                            if !warmup {
                                latency.stats.record_error();
                            }
                            latency.error_points.push(PlotPoint::new(x, 0.0));
                        }
                    }
                    latency.samples.push(sample);
                }
                latency.snapshot = latency.stats.snapshot();
                latency.elapsed_s = latency
                    .started
                    .map(|started| started.elapsed().as_secs_f64())
                    .unwrap_or_default();
            }
            Event::LatencyDone {
                run,
                first_error,
                elapsed_s,
            } => {
                if run == state.latency.run_id {
                    state.latency.running = false;
                    state.latency.cancel = None;
                    state.latency.elapsed_s = elapsed_s;
                    state.latency.first_error = first_error;
                }
            }
            Event::SaveTargetPicked { kind, path } => self.export(kind, path),
            Event::Notice { error, text } => state.notify(
                if error {
                    NoticeLevel::Error
                } else {
                    NoticeLevel::Info
                },
                text,
            ),
        }
    }

    fn export(&mut self, kind: SaveKind, path: std::path::PathBuf) {
        let reporter = self.tasks.reporter();
        match kind {
            SaveKind::Csv => {
                let text = super::latency_ui::csv(&self.state.latency);
                self.tasks.spawn_blocking(move || {
                    let (error, text) = match std::fs::write(&path, text) {
                        Ok(()) => (false, format!("Saved {}", path.display())),
                        Err(err) => (true, format!("Cannot write {}: {err}", path.display())),
                    };
                    reporter.send(Event::Notice { error, text });
                });
            }
            SaveKind::Png => {
                let Some(rect) = self.state.latency.chart_rect else {
                    return;
                };
                let pixels_per_point = self.ctx.pixels_per_point();
                self.ctx.request_screenshot(move |image| {
                    let region = image.region(&rect, Some(pixels_per_point));
                    let (width, height) = (region.size[0] as u32, region.size[1] as u32);
                    let saved = image::RgbaImage::from_raw(width, height, region.as_raw().to_vec())
                        .ok_or_else(|| "the screenshot had an unexpected size".to_string())
                        .and_then(|rgba| rgba.save(&path).map_err(|err| err.to_string()));
                    reporter.send(match saved {
                        Ok(()) => Event::Notice {
                            error: false,
                            text: format!("Saved {}", path.display()),
                        },
                        Err(err) => Event::Notice {
                            error: true,
                            text: format!("Cannot save {}: {err}", path.display()),
                        },
                    });
                });
            }
        }
    }
}

/// The name a model is served under by default: its base path's (or folder's) name.
pub fn default_model_name(info: &crate::model::SavedModelInfo) -> String {
    let folder = info.base_path.as_ref().unwrap_or(&info.path);
    let name = folder
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name: String = name
        .chars()
        .map(|c| {
            if c == '/' || c == ':' || c.is_whitespace() {
                '_'
            } else {
                c
            }
        })
        .collect();
    if name.is_empty() || name.chars().all(|c| c.is_ascii_digit()) {
        // A bare version folder such as `1/`: use its parent's name.
        info.path
            .parent()
            .and_then(|parent| parent.file_name())
            .map(|name| name.to_string_lossy().replace([':', ' '], "_"))
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| "model".into())
    } else {
        name
    }
}
