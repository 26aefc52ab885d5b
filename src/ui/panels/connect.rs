//! The Connect dialog (Ctrl+K): a remote TF Serving endpoint, checked as it is typed,
//! tested with a status call, saved for next time.

use super::widgets;
use crate::client::Protocol;
use crate::ui::command::{Command, Commands};
use crate::ui::state::PemFile;
use crate::ui::state::{AppState, ConnectFile};
use egui::{RichText, Ui};

pub fn show(ctx: &egui::Context, state: &mut AppState, commands: &mut Commands) {
    if !state.connect.open {
        return;
    }
    let mut open = true;
    egui::Window::new("Connect to a model server")
        .id(egui::Id::unique("connect_dialog"))
        .open(&mut open)
        .collapsible(false)
        .resizable(false)
        .default_width(420.0)
        // Roughly centred; not pivoted, so the dialog stays put when a message appears.
        .default_pos(ctx.content_rect().center() - egui::vec2(210.0, 170.0))
        .show(ctx, |ui| contents(ui, state, commands));
    if !open {
        state.connect.open = false;
    }
}

fn labelled(
    ui: &mut Ui,
    label: &str,
    add: impl FnOnce(&mut Ui) -> egui::Response,
) -> egui::Response {
    let label_response = ui.label(label);
    let response = add(ui).labelled_by(label_response.id);
    ui.end_row();
    response
}

fn contents(ui: &mut Ui, state: &mut AppState, commands: &mut Commands) {
    let saved = state.persisted.saved_connections.clone();
    if !saved.is_empty() {
        ui.horizontal(|ui| {
            let label = ui.label("Saved");
            let combo = egui::ComboBox::from_id_salt("saved_connections")
                .selected_text("choose…")
                .width(300.0)
                .show_ui(ui, |ui| {
                    for (index, connection) in saved.iter().enumerate() {
                        ui.horizontal(|ui| {
                            if ui.selectable_label(false, connection.title()).clicked() {
                                state.connect.draft = connection.clone();
                                state.connect.result = None;
                            }
                            if ui
                                .small_button("Forget")
                                .on_hover_text("Forget this connection")
                                .clicked()
                            {
                                commands.push(Command::ForgetConnection(index));
                            }
                        });
                    }
                });
            combo.response.labelled_by(label.id);
        });
        ui.separator();
    }
    let recent_hosts = state.persisted.recent_hosts.clone();
    let draft = &mut state.connect.draft;
    let before = draft.clone();
    egui::Grid::new("connect_grid")
        .num_columns(2)
        .spacing([12.0, 6.0])
        .show(ui, |ui| {
            let host_label = ui.label("Host");
            ui.horizontal(|ui| {
                ui.add(
                    egui::TextEdit::singleline(&mut draft.host)
                        .hint_text("localhost")
                        .desired_width(220.0),
                )
                .labelled_by(host_label.id);
                if !recent_hosts.is_empty() {
                    ui.menu_button("Recent", |ui| {
                        for host in &recent_hosts {
                            if ui.button(host).clicked() {
                                draft.host = host.clone();
                                ui.close();
                            }
                        }
                    })
                    .response
                    .on_hover_text("Recent hosts");
                }
            });
            ui.end_row();
            labelled(ui, "Port", |ui| {
                ui.add(egui::DragValue::new(&mut draft.port).range(0..=65535))
            });
            ui.label("Protocol");
            ui.horizontal(|ui| {
                let old = draft.protocol;
                ui.radio_value(&mut draft.protocol, Protocol::Rest, "REST");
                ui.radio_value(&mut draft.protocol, Protocol::Grpc, "gRPC");
                if draft.protocol != old && draft.port == old.default_port() {
                    draft.port = draft.protocol.default_port();
                }
            });
            ui.end_row();
            labelled(ui, "Model name", |ui| {
                ui.add(
                    egui::TextEdit::singleline(&mut draft.model_name)
                        .hint_text("resnet")
                        .desired_width(220.0),
                )
            });
            labelled(ui, "Version", |ui| {
                ui.add(
                    egui::TextEdit::singleline(&mut draft.version)
                        .hint_text("latest")
                        .desired_width(120.0),
                )
            });
            labelled(ui, "Version label", |ui| {
                ui.add(
                    egui::TextEdit::singleline(&mut draft.label)
                        .hint_text("stable (optional)")
                        .desired_width(120.0),
                )
            });
            labelled(ui, "Timeout (ms)", |ui| {
                ui.add(
                    egui::DragValue::new(&mut draft.timeout_ms)
                        .range(1..=600_000)
                        .speed(100.0),
                )
            });
            labelled(ui, "TLS", |ui| {
                ui.checkbox(&mut draft.tls, "use TLS (https / grpcs)")
            });
            if draft.tls {
                let mut file_row = |label, which, hint| {
                    labelled(ui, label, |ui| {
                        let field = PemFile::Connect(which);
                        widgets::file_field(ui, draft.file_mut(which), hint, field, commands)
                    })
                };
                file_row("CA file", ConnectFile::CaFile, "system roots");
                file_row(
                    "Client certificate",
                    ConnectFile::ClientCert,
                    "none (PEM, for mutual TLS)",
                );
                file_row("Client key", ConnectFile::ClientKey, "none (PEM)");
                labelled(ui, "", |ui| {
                    ui.checkbox(
                        &mut draft.accept_invalid_certs,
                        "accept invalid certificates (testing only)",
                    )
                });
            }
        });
    if *draft != before {
        state.connect.result = None;
    }

    let validation = state.connect.draft.validate();
    ui.add_space(4.0);
    if let Err(message) = &validation {
        ui.colored_label(ui.visuals().warn_fg_color, message);
    }
    ui.horizontal(|ui| {
        let valid = validation.is_ok();
        let testing = state.connect.testing;
        if ui
            .add_enabled(valid && !testing, egui::Button::new("Test connection"))
            .clicked()
        {
            commands.push(Command::TestConnection(state.connect.draft.clone()));
        }
        if ui
            .add_enabled(valid && !testing, egui::Button::new("Connect"))
            .clicked()
        {
            commands.push(Command::Connect(state.connect.draft.clone()));
        }
        if ui
            .add_enabled(valid, egui::Button::new("Save"))
            .on_hover_text("Keep in Saved connections")
            .clicked()
        {
            commands.push(Command::SaveConnection(state.connect.draft.clone()));
        }
        if ui.button("Cancel").clicked() {
            state.connect.open = false;
        }
        if testing {
            ui.spinner();
        }
    });
    match &state.connect.result {
        Some(Ok(summary)) => {
            ui.label(RichText::new(summary.as_str()).strong());
        }
        Some(Err(message)) => {
            let message = message.clone();
            if widgets::error_box(ui, "Connection failed", &message) {
                state.connect.result = None;
            }
        }
        None => {}
    }
}
