//! Try it's batch view: a dropped folder's progress, then one row per file (top-1,
//! probability, latency, or the error) and "Export CSV…".

use crate::ui::command::{Command, Commands};
use crate::ui::state::BatchView;
use egui::Ui;

pub fn show(ui: &mut Ui, view: &BatchView, commands: &mut Commands) {
    ui.horizontal(|ui| {
        ui.strong(format!("Folder {}", view.folder.display()));
        if ui
            .add_enabled(view.report.is_some(), egui::Button::new("Export CSV…"))
            .clicked()
        {
            commands.push(Command::ExportBatchCsv);
        }
    });
    if let Some(error) = &view.error {
        ui.colored_label(ui.visuals().error_fg_color, format!("error: {error}"));
        return;
    }
    let Some(report) = &view.report else {
        let fraction = if view.total == 0 {
            0.0
        } else {
            view.done as f32 / view.total as f32
        };
        ui.add(
            egui::ProgressBar::new(fraction)
                .text(format!("{} of {} images", view.done, view.total)),
        );
        return;
    };
    ui.label(format!(
        "{} images, {} failed",
        report.rows.len(),
        report.failures()
    ));
    ui.push_id("batch_table", |ui| {
        egui_extras::TableBuilder::new(ui)
            .striped(true)
            .vscroll(true)
            .max_scroll_height(240.0)
            .column(egui_extras::Column::initial(180.0).clip(true))
            .column(egui_extras::Column::remainder().clip(true))
            .column(egui_extras::Column::auto().at_least(80.0))
            .column(egui_extras::Column::auto().at_least(70.0))
            .header(20.0, |mut header| {
                for title in ["File", "Top-1", "Probability", "Latency"] {
                    header.col(|ui| {
                        ui.strong(title);
                    });
                }
            })
            .body(|body| {
                body.rows(22.0, report.rows.len(), |mut row| {
                    let Some(result) = report.rows.get(row.index()) else {
                        return;
                    };
                    let name = result
                        .file
                        .file_name()
                        .map(|name| name.to_string_lossy().into_owned())
                        .unwrap_or_else(|| result.file.display().to_string());
                    row.col(|ui| {
                        ui.label(name);
                    });
                    match (&result.error, result.top_k.first()) {
                        (Some(error), _) => {
                            row.col(|ui| {
                                ui.colored_label(
                                    ui.visuals().error_fg_color,
                                    format!("error: {error}"),
                                );
                            });
                            row.col(|_| {});
                            row.col(|_| {});
                        }
                        (None, top) => {
                            row.col(|ui| {
                                ui.label(top.map_or(String::new(), |top| {
                                    top.label.clone().unwrap_or_else(|| top.class.to_string())
                                }));
                            });
                            row.col(|ui| {
                                ui.label(top.map_or(String::new(), |top| {
                                    format!("{:.1} %", top.probability * 100.0)
                                }));
                            });
                            row.col(|ui| {
                                ui.label(format!(
                                    "{:.1} ms",
                                    result.latency_ms.unwrap_or_default()
                                ));
                            });
                        }
                    }
                });
            });
    });
}
