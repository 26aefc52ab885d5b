//! The left panel: the signature tree of the local or the remote model — path and
//! versions, tag-sets, signatures with their inputs and outputs, then concrete
//! functions, ops, variables and assets. Every value copies on click.

use super::widgets::{self, Tone, bytes_text, chip, copyable, copyable_mono};
use crate::model::{AssetFile, MetaGraphInfo, SavedModelInfo, SignatureInfo, TensorInfoView};
use crate::ui::command::{Command, Commands};
use crate::ui::state::{AppState, TreeSource, TreeUi};
use egui::{CollapsingHeader, RichText, Ui};

pub fn show(ui: &mut Ui, state: &mut AppState, commands: &mut Commands) {
    ui.horizontal(|ui| {
        ui.heading("Model");
        if let Some(busy) = &state.loading {
            ui.spinner();
            ui.label(RichText::new(&busy.what).weak());
        }
    });
    if state.local.is_some() && state.remote.is_some() {
        ui.horizontal(|ui| {
            ui.selectable_value(&mut state.tree_source, TreeSource::Local, "Local");
            ui.selectable_value(&mut state.tree_source, TreeSource::Remote, "Remote");
        });
    } else if state.remote.is_some() {
        state.tree_source = TreeSource::Remote;
    } else {
        state.tree_source = TreeSource::Local;
    }
    if let Some(error) = state.model_error.clone()
        && widgets::error_box(ui, "Could not open the model", &error)
    {
        commands.push(Command::DismissModelError);
    }
    ui.separator();

    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show(ui, |ui| match state.tree_source {
            TreeSource::Local => match &state.local {
                Some(local) => {
                    if ui
                        .small_button("Compare with…")
                        .on_hover_text("Diff this model with another folder or version")
                        .clicked()
                    {
                        commands.push(Command::ShowCompare);
                    }
                    let header = format!("opened in {:.0} ms", local.load_ms);
                    state.tree.graph_links = true;
                    model_tree(ui, &local.info, &mut state.tree, Some(&header));
                }
                None => empty_hint(ui, state, commands),
            },
            TreeSource::Remote => {
                if let Some(remote) = &state.remote {
                    ui.label(RichText::new("Remote model").strong());
                    copyable_mono(ui, &remote.settings.title());
                    for version in &remote.versions {
                        ui.horizontal(|ui| {
                            ui.label(format!("version {}", version.version));
                            widgets::badge(ui, &version.state, state_tone(&version.state));
                            if !version.error_message.is_empty() {
                                copyable(ui, &version.error_message);
                            }
                        });
                    }
                    if ui.small_button("Disconnect").clicked() {
                        commands.push(Command::Disconnect);
                    }
                    ui.separator();
                    state.tree.graph_links = false;
                    model_tree(ui, &remote.info, &mut state.tree, None);
                }
            }
        });
    if let Some(tensor) = state.tree.graph_jump.take() {
        commands.push(Command::ShowTensorInGraph(tensor));
    }
}

/// The tone of a TF Serving version state.
pub fn state_tone(state: &str) -> Tone {
    match state {
        "AVAILABLE" => Tone::Good,
        "LOADING" | "START" | "UNLOADING" => Tone::Warn,
        "END" | "UNKNOWN" => Tone::Neutral,
        _ => Tone::Bad,
    }
}

fn empty_hint(ui: &mut Ui, state: &AppState, commands: &mut Commands) {
    ui.add_space(8.0);
    ui.label("No model open.");
    ui.label(RichText::new("Drop a SavedModel folder here, or:").weak());
    ui.horizontal(|ui| {
        if ui.button("Open…").on_hover_text("Ctrl+O").clicked() {
            commands.push(Command::OpenDialog);
        }
        if ui.button("Connect…").on_hover_text("Ctrl+K").clicked() {
            commands.push(Command::ShowConnect);
        }
    });
    recent_list(ui, state, commands);
}

/// The Recent models list (also in the File menu).
pub fn recent_list(ui: &mut Ui, state: &AppState, commands: &mut Commands) {
    if state.persisted.recent_models.is_empty() {
        return;
    }
    ui.add_space(8.0);
    ui.label(RichText::new("Recent").strong());
    for path in &state.persisted.recent_models {
        ui.horizontal(|ui| {
            let name = path
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default();
            let response = ui.link(name).on_hover_text(path.display().to_string());
            if response.clicked() {
                commands.push(Command::OpenPath(path.clone()));
            }
            response.context_menu(|ui| {
                if ui.button("Remove from list").clicked() {
                    commands.push(Command::ForgetRecent(path.clone()));
                    ui.close();
                }
            });
        });
    }
}

/// The tree of one model (local or remote: the same type).
pub fn model_tree(ui: &mut Ui, info: &SavedModelInfo, tree: &mut TreeUi, note: Option<&str>) {
    let path_text = info.path.display().to_string();
    if !path_text.is_empty() {
        let name = crate::workflow::open::default_model_name(info);
        ui.label(RichText::new(name).strong().size(16.0));
        copyable_mono(ui, &path_text);
    }
    ui.horizontal_wrapped(|ui| {
        if let Some(version) = info.version {
            ui.label("Version");
            chip(ui, &version.to_string(), Tone::Accent);
        }
        if info.versions.len() > 1 {
            ui.label(RichText::new(format!("of {}", join(&info.versions))).weak());
        }
        if let Some(note) = note {
            ui.label(RichText::new(note).weak());
        }
    });
    if let Some(base) = &info.base_path {
        ui.horizontal(|ui| {
            ui.label(RichText::new("Base path").weak());
            copyable_mono(ui, &base.display().to_string());
        });
    }

    for (index, meta_graph) in info.meta_graphs.iter().enumerate() {
        meta_graph_section(ui, index, meta_graph, tree);
    }
    if !info.functions.is_empty() {
        functions_section(ui, info);
    }
    let ops: usize = info.meta_graphs.iter().map(|graph| graph.ops.len()).sum();
    if ops > 0 {
        ops_section(ui, info, tree);
    }
    if !info.variables.variables.is_empty() || info.variables.error.is_some() {
        variables_section(ui, info, tree);
    }
    if !info.assets.is_empty() || !info.assets_extra.is_empty() {
        CollapsingHeader::new(format!(
            "Assets ({})",
            info.assets.len() + info.assets_extra.len()
        ))
        .id_salt("assets")
        .show(ui, |ui| {
            assets_list(ui, "assets/", &info.assets);
            assets_list(ui, "assets.extra/", &info.assets_extra);
        });
    }
    if let Some(fingerprint) = &info.fingerprint {
        CollapsingHeader::new("Fingerprint")
            .id_salt("fingerprint")
            .show(ui, |ui| {
                for (name, value) in [
                    ("saved_model_checksum", fingerprint.saved_model_checksum),
                    ("graph_def_program_hash", fingerprint.graph_def_program_hash),
                    ("signature_def_hash", fingerprint.signature_def_hash),
                    (
                        "saved_object_graph_hash",
                        fingerprint.saved_object_graph_hash,
                    ),
                    ("checkpoint_hash", fingerprint.checkpoint_hash),
                ] {
                    ui.horizontal(|ui| {
                        ui.label(RichText::new(name).weak());
                        copyable_mono(ui, &value.to_string());
                    });
                }
            });
    }
}

fn join(versions: &[i64]) -> String {
    versions
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn meta_graph_section(ui: &mut Ui, index: usize, meta_graph: &MetaGraphInfo, tree: &mut TreeUi) {
    let tags = if meta_graph.tags.is_empty() {
        "(no tags)".to_string()
    } else {
        meta_graph.tags.join(", ")
    };
    CollapsingHeader::new(RichText::new(format!("Tag-set: {tags}")).strong())
        .id_salt(("meta_graph", index))
        .default_open(index == 0)
        .show(ui, |ui| {
            if !meta_graph.tensorflow_version.is_empty() {
                ui.label(
                    RichText::new(format!(
                        "saved with TensorFlow {}",
                        meta_graph.tensorflow_version
                    ))
                    .weak(),
                );
            }
            let visible: Vec<&SignatureInfo> = meta_graph.signatures.iter().collect();
            if visible.is_empty() {
                ui.label(RichText::new("no signatures").weak());
            }
            for (position, signature) in visible.iter().enumerate() {
                let open = position < 4 && !signature.key.starts_with("__");
                signature_section(ui, index, signature, open, tree);
            }
        });
}

fn signature_section(
    ui: &mut Ui,
    graph_index: usize,
    signature: &SignatureInfo,
    default_open: bool,
    tree: &mut TreeUi,
) {
    let response = CollapsingHeader::new(RichText::new(&signature.key).monospace().strong())
        .id_salt(("signature", graph_index, &signature.key))
        .default_open(default_open)
        .show(ui, |ui| {
            ui.horizontal(|ui| {
                ui.label(RichText::new("method").weak());
                let method = if signature.method_name.is_empty() {
                    "(none)"
                } else {
                    signature.method_name.as_str()
                };
                copyable_mono(ui, method);
            });
            tensor_group(ui, "Inputs", &signature.inputs, tree);
            tensor_group(ui, "Outputs", &signature.outputs, tree);
        });
    response.header_response.context_menu(|ui| {
        if ui.button("Copy signature key").clicked() {
            ui.ctx().copy_text(signature.key.clone());
            ui.close();
        }
        if ui.button("Copy as JSON").clicked() {
            ui.ctx()
                .copy_text(serde_json::to_string_pretty(signature).unwrap_or_default());
            ui.close();
        }
    });
}

fn tensor_group(ui: &mut Ui, title: &str, tensors: &[TensorInfoView], tree: &mut TreeUi) {
    ui.label(RichText::new(format!("{title} ({})", tensors.len())).strong());
    ui.indent(title, |ui| {
        for tensor in tensors {
            tensor_row(ui, tensor, tree);
        }
        if tensors.is_empty() {
            ui.label(RichText::new("none").weak());
        }
    });
}

/// `key  DT_FLOAT  (-1, 224, 224, 3)  name:0`, and a link to it in the Graph tab.
pub fn tensor_row(ui: &mut Ui, tensor: &TensorInfoView, tree: &mut TreeUi) {
    ui.horizontal_wrapped(|ui| {
        copyable_mono(ui, &tensor.key);
        chip(ui, &tensor.dtype.name(), Tone::Accent);
        chip(ui, &tensor.shape.cli_text(), Tone::Neutral);
        if !tensor.name.is_empty() {
            widgets::copyable_rich(
                ui,
                RichText::new(&tensor.name).monospace().weak(),
                &tensor.name,
            );
            if tree.graph_links
                && ui
                    .small_button("graph")
                    .on_hover_text(format!("Show {} in the Graph tab", tensor.name))
                    .clicked()
            {
                tree.graph_jump = Some(tensor.name.clone());
            }
        }
    });
}

fn functions_section(ui: &mut Ui, info: &SavedModelInfo) {
    let count: usize = info
        .functions
        .iter()
        .map(|function| function.concrete_functions.len())
        .sum();
    CollapsingHeader::new(format!("Concrete functions ({count})"))
        .id_salt("functions")
        .show(ui, |ui| {
            for function in &info.functions {
                CollapsingHeader::new(RichText::new(&function.name).monospace())
                    .id_salt(("function", &function.name))
                    .show(ui, |ui| {
                        for (index, concrete) in function.concrete_functions.iter().enumerate() {
                            ui.label(RichText::new(format!("Option #{}", index + 1)).weak());
                            ui.indent(("concrete", index), |ui| {
                                copyable_mono(ui, &concrete.name);
                                for (position, arg) in concrete.args.iter().enumerate() {
                                    ui.horizontal_wrapped(|ui| {
                                        ui.label(RichText::new(format!("arg {position}")).weak());
                                        copyable_mono(ui, &arg.repr());
                                    });
                                }
                                for (name, value) in &concrete.kwargs {
                                    ui.horizontal_wrapped(|ui| {
                                        ui.label(RichText::new(name).weak());
                                        copyable_mono(ui, &value.repr());
                                    });
                                }
                            });
                        }
                    });
            }
        });
}

fn ops_section(ui: &mut Ui, info: &SavedModelInfo, tree: &mut TreeUi) {
    let mut ops: Vec<&str> = info
        .meta_graphs
        .iter()
        .flat_map(|graph| graph.ops.iter().map(String::as_str))
        .collect();
    ops.sort_unstable();
    ops.dedup();
    CollapsingHeader::new(format!("Ops ({})", ops.len()))
        .id_salt("ops")
        .show(ui, |ui| {
            ui.horizontal(|ui| {
                let label = ui.label("Filter ops");
                ui.add(
                    egui::TextEdit::singleline(&mut tree.op_filter)
                        .hint_text("op name")
                        .desired_width(140.0),
                )
                .labelled_by(label.id);
            });
            let filter = tree.op_filter.to_ascii_lowercase();
            ui.horizontal_wrapped(|ui| {
                for op in ops
                    .iter()
                    .filter(|op| op.to_ascii_lowercase().contains(&filter))
                {
                    chip(ui, op, Tone::Neutral);
                }
            });
        });
}

fn variables_section(ui: &mut Ui, info: &SavedModelInfo, tree: &mut TreeUi) {
    let variables = &info.variables;
    let title = format!(
        "Variables ({}, {})",
        variables.variables.len(),
        bytes_text(variables.total_bytes)
    );
    CollapsingHeader::new(title)
        .id_salt("variables")
        .show(ui, |ui| {
            if let Some(error) = &variables.error {
                ui.colored_label(ui.visuals().warn_fg_color, error);
            }
            ui.horizontal(|ui| {
                let label = ui.label("Filter variables");
                ui.add(
                    egui::TextEdit::singleline(&mut tree.variable_filter)
                        .hint_text("variable name")
                        .desired_width(140.0),
                )
                .labelled_by(label.id);
            });
            let filter = tree.variable_filter.to_ascii_lowercase();
            let rows: Vec<&crate::model::VariableInfo> = variables
                .variables
                .iter()
                .filter(|variable| variable.name.to_ascii_lowercase().contains(&filter))
                .collect();
            let row_height = ui.text_style_height(&egui::TextStyle::Monospace) + 4.0;
            egui_extras::TableBuilder::new(ui)
                .id_salt("variables_table")
                .striped(true)
                .resizable(true)
                .vscroll(true)
                .max_scroll_height(260.0)
                .column(
                    egui_extras::Column::initial(180.0)
                        .at_least(80.0)
                        .clip(true),
                )
                .column(egui_extras::Column::auto().at_least(60.0))
                .column(egui_extras::Column::auto().at_least(60.0))
                .column(egui_extras::Column::remainder().at_least(50.0))
                .header(row_height, |mut header| {
                    for title in ["Name", "DType", "Shape", "Size"] {
                        header.col(|ui| {
                            ui.strong(title);
                        });
                    }
                })
                .body(|body| {
                    body.rows(row_height, rows.len(), |mut row| {
                        let Some(variable) = rows.get(row.index()) else {
                            return;
                        };
                        row.col(|ui| {
                            copyable_mono(ui, &variable.name);
                        });
                        row.col(|ui| {
                            copyable_mono(ui, &variable.dtype.name());
                        });
                        row.col(|ui| {
                            let shape = format!(
                                "({})",
                                variable
                                    .shape
                                    .iter()
                                    .map(i64::to_string)
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            );
                            copyable_mono(ui, &shape);
                        });
                        row.col(|ui| {
                            ui.label(bytes_text(variable.size_bytes));
                        });
                    });
                });
        });
}

fn assets_list(ui: &mut Ui, folder: &str, assets: &[AssetFile]) {
    for asset in assets {
        ui.horizontal(|ui| {
            copyable_mono(ui, &format!("{folder}{}", asset.relative_path));
            ui.label(RichText::new(bytes_text(asset.size_bytes)).weak());
        });
    }
}
