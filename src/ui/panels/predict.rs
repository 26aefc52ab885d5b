//! The Try it tab: images in (drop or pick), the input mapping, and top-k classes
//! out as labelled bars, with the raw outputs and the request's latency.

use super::widgets::{self, copy_button};
use crate::client::Protocol;
use crate::imaging::Normalization;
use crate::model::SignatureInfo;
use crate::ui::command::{Command, Commands};
use crate::ui::state::{
    AppState, InputMode, PredictItem, PredictSettings, PredictStatus, ServerPhase, TargetChoice,
};
use crate::workflow::signature;
use egui::{RichText, Ui};

pub fn show(ui: &mut Ui, state: &mut AppState, commands: &mut Commands) {
    target_row(ui, state, commands);
    ui.separator();
    input_mapping(ui, state, commands);
    ui.horizontal(|ui| {
        if ui.button("Choose images…").clicked() {
            commands.push(Command::PickImages);
        }
        let has_items = !state.predict.items.is_empty();
        if ui
            .add_enabled(
                has_items && state.target_ready(),
                egui::Button::new("Send again"),
            )
            .clicked()
        {
            commands.push(Command::PredictAll);
        }
        if ui
            .add_enabled(has_items, egui::Button::new("Clear"))
            .clicked()
        {
            commands.push(Command::ClearImages);
        }
        if ui
            .add_enabled(has_items, egui::Button::new("Save as warmup…"))
            .on_hover_text(
                "Save these images as a TF Serving warmup file (assets.extra/tf_serving_warmup_requests)",
            )
            .clicked()
        {
            commands.push(Command::SaveWarmup);
        }
    });
    ui.separator();
    if let Some(view) = &state.predict.batch {
        super::batch::show(ui, view, commands);
        ui.separator();
    }
    if state.predict.items.is_empty() {
        drop_zone(ui, state);
        return;
    }
    if state.predict.items.len() > 1 {
        results_table(ui, state);
        ui.separator();
    }
    let selected = state.predict.selected.min(state.predict.items.len() - 1);
    let mut show_raw = state.predict.show_raw;
    if let Some(item) = state.predict.items.get(selected) {
        item_details(ui, item, &mut show_raw);
    }
    state.predict.show_raw = show_raw;
}

/// Where requests go: the embedded server or the remote connection.
pub fn target_row(ui: &mut Ui, state: &AppState, commands: &mut Commands) {
    ui.horizontal_wrapped(|ui| {
        ui.label("Send to");
        let mut target = state.target;
        ui.radio_value(&mut target, TargetChoice::Embedded, "Embedded server");
        ui.radio_value(&mut target, TargetChoice::Remote, "Remote server");
        if target != state.target {
            commands.push(Command::SetTarget(target));
        }
        ui.label(RichText::new(state.target_title()).weak());
    });
    if !state.target_ready() {
        ui.horizontal(|ui| match state.target {
            TargetChoice::Embedded => {
                if state.local.is_none() {
                    ui.label("Open a model (Ctrl+O) and start the embedded server, or connect to a server (Ctrl+K).");
                } else if matches!(state.server.phase, ServerPhase::Starting) {
                    ui.spinner();
                    ui.label("The server is starting…");
                } else {
                    ui.label("The embedded server is not running.");
                    if ui.button("Start server").clicked() {
                        commands.push(Command::StartServer);
                    }
                }
            }
            TargetChoice::Remote => {
                ui.label("Not connected.");
                if ui.button("Connect…").clicked() {
                    commands.push(Command::ShowConnect);
                }
            }
        });
    }
}

/// The signatures a request can run (not `__saved_model_init_op`).
fn runnable_signatures(state: &AppState) -> Vec<SignatureInfo> {
    state
        .target_model()
        .map(|model| signature::runnable_in(model).into_iter().cloned().collect())
        .unwrap_or_default()
}

fn input_mapping(ui: &mut Ui, state: &mut AppState, commands: &mut Commands) {
    let signatures = runnable_signatures(state);
    let chosen = state.chosen_signature().map(|chosen| chosen.cloned());
    let settings = &mut state.persisted.predict;
    let before = settings.clone();
    egui::CollapsingHeader::new("Input mapping")
        .id_salt("input_mapping")
        .default_open(true)
        .show(ui, |ui| {
            egui::Grid::new("predict_settings")
                .num_columns(4)
                .spacing([10.0, 4.0])
                .show(ui, |ui| {
                    let label = ui.label("Signature");
                    let selected = match &chosen {
                        Some(Ok(signature)) => signature.key.clone(),
                        _ => "—".into(),
                    };
                    egui::ComboBox::from_id_salt("signature")
                        .selected_text(selected)
                        .show_ui(ui, |ui| {
                            for signature in &signatures {
                                ui.selectable_value(
                                    &mut settings.signature,
                                    signature.key.clone(),
                                    &signature.key,
                                );
                            }
                        })
                        .response
                        .labelled_by(label.id);
                    ui.label("Input as");
                    ui.horizontal(|ui| {
                        ui.selectable_value(&mut settings.input_mode, InputMode::Auto, "Auto");
                        ui.selectable_value(&mut settings.input_mode, InputMode::Bytes, "Bytes");
                        ui.selectable_value(&mut settings.input_mode, InputMode::Tensor, "Tensor");
                    });
                    ui.end_row();
                    let label = ui.label("Size");
                    ui.add(
                        egui::DragValue::new(&mut settings.size)
                            .range(8..=2048)
                            .suffix(" px"),
                    )
                    .labelled_by(label.id)
                    .on_hover_text("Height and width when the signature leaves them open");
                    let label = ui.label("Preset");
                    let preset_text = if settings.preset.is_empty() {
                        "model default".to_string()
                    } else {
                        settings.preset.clone()
                    };
                    egui::ComboBox::from_id_salt("preset")
                        .selected_text(preset_text)
                        .show_ui(ui, |ui| {
                            ui.selectable_value(
                                &mut settings.preset,
                                String::new(),
                                "model default",
                            );
                            for normalization in Normalization::ALL {
                                ui.selectable_value(
                                    &mut settings.preset,
                                    normalization.name().to_string(),
                                    normalization.name(),
                                )
                                .on_hover_text(normalization.formula());
                            }
                        })
                        .response
                        .labelled_by(label.id);
                    ui.end_row();
                    let label = ui.label("Top k");
                    ui.add(egui::DragValue::new(&mut settings.top_k).range(1..=100))
                        .labelled_by(label.id);
                    ui.label("Protocol").on_hover_text(
                        "For the embedded server; a remote connection uses its own protocol",
                    );
                    ui.horizontal(|ui| {
                        ui.selectable_value(&mut settings.protocol, Protocol::Rest, "REST");
                        ui.selectable_value(&mut settings.protocol, Protocol::Grpc, "gRPC");
                    });
                    ui.end_row();
                    let label = ui.label("Labels");
                    ui.add(
                        egui::TextEdit::singleline(&mut settings.labels_file)
                            .hint_text("model assets / ImageNet")
                            .desired_width(160.0),
                    )
                    .labelled_by(label.id);
                    ui.end_row();
                });
            match &chosen {
                // No model_dir: the UI thread reads no files (requests read
                // preprocessing.json when they are planned).
                Some(Ok(signature)) => match settings.plan(signature, None) {
                    Ok(plan) => {
                        ui.label(RichText::new(plan.summary()).monospace().small());
                    }
                    Err(err) => {
                        ui.colored_label(ui.visuals().warn_fg_color, err.to_string());
                    }
                },
                Some(Err(err)) => {
                    ui.colored_label(ui.visuals().warn_fg_color, err.to_string());
                }
                None => {
                    ui.label(RichText::new("No model: open one or connect to a server.").weak());
                }
            }
        });
    // Re-send when the mapping changed (not on every keystroke of the labels path).
    let changed = PredictSettings {
        labels_file: String::new(),
        ..settings.clone()
    } != PredictSettings {
        labels_file: String::new(),
        ..before
    };
    if changed
        && !state.predict.items.is_empty()
        && state.target_ready()
        && ui.ctx().input(|input| !input.pointer.any_down())
    {
        commands.push(Command::PredictAll);
    }
}

fn drop_zone(ui: &mut Ui, state: &AppState) {
    let stroke_color = if state.hovering_files {
        ui.visuals().selection.stroke.color
    } else {
        ui.visuals().weak_text_color()
    };
    egui::Frame::group(ui.style())
        .stroke(egui::Stroke::new(1.5, stroke_color))
        .show(ui, |ui| {
            ui.set_min_size(egui::vec2(ui.available_width(), 160.0));
            ui.vertical_centered(|ui| {
                ui.add_space(50.0);
                ui.label(RichText::new("Drop JPEG or PNG images here").size(18.0));
                ui.label(
                    RichText::new("or use Choose images…; several images give a results table")
                        .weak(),
                );
            });
        });
}

fn status_text(item: &PredictItem) -> String {
    match &item.status {
        PredictStatus::Decoding => "decoding…".into(),
        PredictStatus::Waiting => "waiting for a server".into(),
        PredictStatus::Running => "running…".into(),
        PredictStatus::Done(outcome) => match outcome
            .classification
            .as_ref()
            .and_then(|c| c.rows.first())
            .and_then(|row| row.first())
        {
            Some(best) => format!(
                "{} {:.1} %",
                best.label
                    .clone()
                    .unwrap_or_else(|| format!("class {}", best.class)),
                best.score * 100.0
            ),
            None => "done".into(),
        },
        PredictStatus::Failed(message) => format!("error: {message}"),
    }
}

fn results_table(ui: &mut Ui, state: &mut AppState) {
    let row_height = 36.0;
    let mut clicked = None;
    ui.push_id("results_table", |ui| {
        egui_extras::TableBuilder::new(ui)
            .striped(true)
            .sense(egui::Sense::click())
            .vscroll(true)
            .max_scroll_height(200.0)
            .column(egui_extras::Column::exact(40.0))
            .column(egui_extras::Column::initial(160.0).clip(true))
            .column(egui_extras::Column::remainder().clip(true))
            .column(egui_extras::Column::auto().at_least(70.0))
            .header(20.0, |mut header| {
                for title in ["", "Image", "Top-1", "Latency"] {
                    header.col(|ui| {
                        ui.strong(title);
                    });
                }
            })
            .body(|body| {
                body.rows(row_height, state.predict.items.len(), |mut row| {
                    let index = row.index();
                    let Some(item) = state.predict.items.get(index) else {
                        return;
                    };
                    row.set_selected(index == state.predict.selected);
                    row.col(|ui| {
                        if let Some(texture) = &item.thumbnail {
                            ui.add(egui::Image::new(texture).max_size(egui::vec2(32.0, 32.0)));
                        }
                    });
                    row.col(|ui| {
                        ui.label(&item.name);
                    });
                    row.col(|ui| {
                        ui.label(status_text(item));
                    });
                    row.col(|ui| {
                        if let PredictStatus::Done(outcome) = &item.status {
                            ui.label(format!("{:.1} ms", outcome.latency_ms));
                        }
                    });
                    if row.response().clicked() {
                        clicked = Some(index);
                    }
                });
            });
    });
    if let Some(index) = clicked {
        state.predict.selected = index;
    }
}

fn item_details(ui: &mut Ui, item: &PredictItem, show_raw: &mut bool) {
    ui.horizontal_top(|ui| {
        ui.vertical(|ui| {
            ui.set_width(200.0);
            match &item.thumbnail {
                Some(texture) => {
                    ui.add(
                        egui::Image::new(texture)
                            .max_size(egui::vec2(200.0, 200.0))
                            .corner_radius(4.0),
                    );
                }
                None => {
                    ui.spinner();
                }
            }
            ui.label(RichText::new(&item.name).weak());
        });
        ui.vertical(|ui| match &item.status {
            PredictStatus::Decoding | PredictStatus::Running => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label(status_text(item));
                });
            }
            PredictStatus::Waiting => {
                ui.label(
                    "Waiting: start the embedded server or connect to a server, then Send again.",
                );
            }
            PredictStatus::Failed(message) => {
                widgets::error_box(ui, "The prediction failed", message);
            }
            PredictStatus::Done(outcome) => {
                ui.horizontal_wrapped(|ui| {
                    ui.label(RichText::new(format!("{:.1} ms", outcome.latency_ms)).strong())
                        .on_hover_text("Request latency");
                    if let Some(version) = outcome.model_version {
                        ui.label(RichText::new(format!("model version {version}")).weak());
                    }
                });
                ui.label(
                    RichText::new(&outcome.input_summary)
                        .monospace()
                        .small()
                        .weak(),
                );
                match (&outcome.classification, &outcome.classification_error) {
                    (Some(classification), _) => {
                        for prediction in classification.rows.first().into_iter().flatten() {
                            ui.horizontal(|ui| {
                                let label = prediction
                                    .label
                                    .clone()
                                    .unwrap_or_else(|| format!("class {}", prediction.class));
                                let size = egui::vec2(170.0, ui.spacing().interact_size.y);
                                ui.allocate_ui_with_layout(
                                    size,
                                    egui::Layout::left_to_right(egui::Align::Center),
                                    |ui| {
                                        ui.set_min_size(size);
                                        ui.add(
                                            egui::Label::new(RichText::new(label).strong())
                                                .truncate(),
                                        );
                                    },
                                );
                                ui.add(
                                    egui::ProgressBar::new(prediction.score.clamp(0.0, 1.0))
                                        .desired_width((ui.available_width() - 8.0).max(60.0))
                                        .text(format!("{:.1} %", prediction.score * 100.0)),
                                )
                                .on_hover_text(format!(
                                    "class {} · score {}",
                                    prediction.class, prediction.score
                                ));
                            });
                        }
                        let mut notes = vec![format!(
                            "output '{}', {} classes",
                            classification.output, classification.classes
                        )];
                        if classification.softmax_applied {
                            notes.push("softmax applied to logits".into());
                        }
                        if let Some(source) = &classification.labels_source {
                            notes.push(format!("labels: {source}"));
                        }
                        ui.label(RichText::new(notes.join(" · ")).small().weak());
                    }
                    (None, Some(message)) => {
                        ui.label(RichText::new(format!("No top-k: {message}")).weak());
                    }
                    (None, None) => {}
                }
                ui.horizontal(|ui| {
                    ui.toggle_value(show_raw, "Raw output");
                    copy_button(ui, "Copy raw", &outcome.raw);
                });
                if *show_raw {
                    egui::ScrollArea::vertical()
                        .id_salt("raw_output")
                        .max_height(220.0)
                        .show(ui, |ui| {
                            ui.add(
                                egui::Label::new(RichText::new(&outcome.raw).monospace().small())
                                    .wrap(),
                            );
                        });
                }
            }
        });
    });
}
