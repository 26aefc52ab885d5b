//! The embedded server tab: settings, Start/Stop, the state badge of every version,
//! curl commands to copy (https with TLS, see `server_tls.rs`), the TensorFlow runtime
//! (with an installer) and a live log.

use super::model_tree::state_tone;
use super::server_tls;
use super::widgets::{self, Tone, badge, copy_button};
use crate::ui::command::{Command, Commands};
use crate::ui::state::{AppState, RuntimeState, ServerPhase};
use crate::workflow::target::{EmbeddedEndpoints, reachable, rest_base_url};
use egui::{RichText, Ui};

pub fn show(ui: &mut Ui, state: &mut AppState, commands: &mut Commands) {
    ui.heading("Embedded server");
    ui.label(
        RichText::new(
            "Serves the open model with TF Serving's REST and gRPC APIs, inside this app.",
        )
        .weak(),
    );
    ui.add_space(4.0);
    let Some(local) = &state.local else {
        ui.label("Open a SavedModel (Ctrl+O) to serve it.");
        return;
    };
    let folder_name = crate::workflow::open::default_model_name(&local.info);
    let stopped = matches!(
        state.server.phase,
        ServerPhase::Stopped | ServerPhase::Failed { .. }
    );

    if ui
        .button("Deploy…")
        .on_hover_text("TF Serving in Docker, KServe or Triton: the command or files each needs")
        .clicked()
    {
        commands.push(Command::ShowDeploy);
    }
    runtime_section(ui, state, commands);
    ui.add_space(4.0);

    let settings = &mut state.persisted.server;
    ui.add_enabled_ui(stopped, |ui| {
        egui::Grid::new("server_settings")
            .num_columns(2)
            .spacing([12.0, 6.0])
            .show(ui, |ui| {
                let label = ui.label("Model name");
                ui.add(
                    egui::TextEdit::singleline(&mut settings.model_name)
                        .hint_text(folder_name.as_str())
                        .desired_width(180.0),
                )
                .labelled_by(label.id);
                ui.end_row();
                let label = ui.label("Host");
                ui.add(egui::TextEdit::singleline(&mut settings.host).desired_width(180.0))
                    .labelled_by(label.id)
                    .on_hover_text(
                        "127.0.0.1 keeps the server local; 0.0.0.0 exposes it to the network",
                    );
                ui.end_row();
                let label = ui.label("gRPC port");
                ui.add(egui::DragValue::new(&mut settings.grpc_port).range(0..=65535))
                    .labelled_by(label.id)
                    .on_hover_text("0 picks a free port");
                ui.end_row();
                let label = ui.label("REST port");
                ui.add(egui::DragValue::new(&mut settings.rest_port).range(0..=65535))
                    .labelled_by(label.id)
                    .on_hover_text("0 picks a free port");
                ui.end_row();
                server_tls::settings_rows(ui, settings, commands);
            });
    });
    let tls_check = state.persisted.server.tls_files();
    if let (true, Err(message)) = (stopped, &tls_check) {
        ui.colored_label(ui.visuals().warn_fg_color, message);
    }

    ui.horizontal(|ui| {
        match &state.server.phase {
            ServerPhase::Stopped | ServerPhase::Failed { .. } => {
                let start = egui::Button::new("Start server");
                if ui.add_enabled(tls_check.is_ok(), start).clicked() {
                    commands.push(Command::StartServer);
                }
            }
            ServerPhase::Running { .. } => {
                if ui.button("Stop server").clicked() {
                    commands.push(Command::StopServer);
                }
            }
            ServerPhase::Starting | ServerPhase::Stopping => {
                ui.spinner();
            }
        }
        phase_badges(ui, state);
    });
    if let ServerPhase::Failed { error } = &state.server.phase {
        let error = error.clone();
        widgets::error_box(ui, "The server did not start", &error);
    }

    if let ServerPhase::Running(EmbeddedEndpoints {
        rest,
        grpc,
        model_name,
        tls_cert,
    }) = &state.server.phase
    {
        ui.add_space(6.0);
        ui.label(RichText::new("Try it from a terminal").strong());
        if let Some(rest) = rest {
            let base = rest_base_url(*rest, tls_cert.is_some());
            ui.horizontal(|ui| {
                ui.label(RichText::new("REST").weak());
                widgets::copyable_mono(ui, &base);
            });
            for path in ["", "/metadata"] {
                let url = format!("{base}/v1/models/{model_name}{path}");
                command_line(ui, &server_tls::curl_get(&url, tls_cert.as_deref()));
            }
        }
        if let Some(grpc) = grpc {
            ui.horizontal(|ui| {
                let label = if tls_cert.is_some() {
                    "gRPC (TLS)"
                } else {
                    "gRPC"
                };
                ui.label(RichText::new(label).weak());
                widgets::copyable_mono(ui, &reachable(*grpc));
            });
        }
        if let Some(curl) = &state.predict.last_curl {
            copy_button(ui, "Copy the last prediction as curl", curl);
        }
    }

    ui.add_space(6.0);
    log_section(ui);
}

fn command_line(ui: &mut Ui, command: &str) {
    ui.horizontal(|ui| {
        copy_button(ui, "Copy", command);
        widgets::copyable_mono(ui, command);
    });
}

/// STOPPED / STARTING / the state of every served version.
pub fn phase_badges(ui: &mut Ui, state: &AppState) {
    match &state.server.phase {
        ServerPhase::Stopped => {
            badge(ui, "STOPPED", Tone::Neutral);
        }
        ServerPhase::Starting => {
            badge(ui, "STARTING", Tone::Warn);
        }
        ServerPhase::Stopping => {
            badge(ui, "STOPPING", Tone::Warn);
        }
        ServerPhase::Failed { .. } => {
            badge(ui, "ERROR", Tone::Bad);
        }
        ServerPhase::Running { .. } => {
            let versions: Vec<_> = state
                .server
                .models
                .iter()
                .flat_map(|model| model.versions.iter())
                .collect();
            if versions.is_empty() {
                badge(ui, "LOADING", Tone::Warn);
            }
            for version in versions {
                let name = version.state.as_str_name();
                let response = badge(
                    ui,
                    &format!("v{} {name}", version.version),
                    state_tone(name),
                );
                if let Some((code, message)) = &version.error {
                    response.on_hover_text(format!("{}: {message}", code.as_str_name()));
                }
            }
        }
    }
}

fn runtime_section(ui: &mut Ui, state: &mut AppState, commands: &mut Commands) {
    match &state.server.runtime {
        RuntimeState::Unknown | RuntimeState::Ready { .. } => {
            ui.label(RichText::new(state.server.runtime.summary()).weak());
        }
        RuntimeState::Missing { how_to_fix } => {
            let how_to_fix = how_to_fix.clone();
            egui::Frame::group(ui.style()).show(ui, |ui| {
                ui.label(RichText::new("TensorFlow runtime not found").strong().color(ui.visuals().warn_fg_color));
                ui.add(egui::Label::new(RichText::new(how_to_fix).weak()).wrap());
                if ui
                    .button("Install TensorFlow runtime")
                    .on_hover_text("Downloads the tensorflow-cpu wheel with pip (about 274 MB) and keeps only libtensorflow")
                    .clicked()
                {
                    commands.push(Command::InstallRuntime);
                }
            });
        }
        RuntimeState::Installing { fraction, text } => {
            ui.label("Installing the TensorFlow runtime…");
            let bar = match fraction {
                Some(fraction) => egui::ProgressBar::new(*fraction).show_percentage(),
                None => egui::ProgressBar::new(0.0).animate(true),
            };
            ui.add(bar.text(text.as_str()));
        }
        RuntimeState::InstallFailed { error } => {
            let error = error.clone();
            widgets::error_box(ui, "Installing the TensorFlow runtime failed", &error);
            if ui.button("Retry install").clicked() {
                commands.push(Command::InstallRuntime);
            }
        }
    }
}

fn log_section(ui: &mut Ui) {
    // Logging never wakes the UI (see log.rs): poll while this tab shows.
    ui.ctx()
        .request_repaint_after(std::time::Duration::from_millis(500));
    let lines = crate::ui::log::buffer().tail(500);
    ui.horizontal(|ui| {
        ui.label(RichText::new("Log").strong());
        if ui.small_button("Clear").clicked() {
            crate::ui::log::buffer().clear();
        }
        copy_button(ui, "Copy log", &lines.join("\n"));
    });
    egui::Frame::group(ui.style()).show(ui, |ui| {
        egui::ScrollArea::vertical()
            .id_salt("server_log")
            .stick_to_bottom(true)
            .auto_shrink([false, false])
            .show(ui, |ui| {
                if lines.is_empty() {
                    ui.label(RichText::new("(nothing logged yet)").weak());
                }
                for line in &lines {
                    ui.label(RichText::new(line).monospace().small());
                }
            });
    });
}
