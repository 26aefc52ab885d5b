//! The Compare tab: the current target (A) against target B (a SavedModel folder or a
//! REST/gRPC URL) on the Try it images — both latency series overlaid, the per-image
//! table (top-1, agreement, top-5 overlap, largest output difference) and CSV export.

use crate::ui::command::{Command, Commands};
use crate::ui::state::{AppState, CompareState};
use crate::workflow::compare::{CompareReport, TOP_K};
use crate::workflow::compare_target::ACCEPTED_TARGETS;
use egui::{RichText, Ui};
use egui_plot::{Legend, Plot, PlotPoints, Points};

pub fn show(ui: &mut Ui, state: &mut AppState, commands: &mut Commands) {
    super::predict::target_row(ui, state, commands);
    ui.separator();
    let images = state.predict.items.len();
    let compare = &mut state.compare;
    controls(ui, compare, images, commands);
    if let Some(error) = &compare.error {
        ui.colored_label(ui.visuals().error_fg_color, error);
    }
    ui.separator();
    series_chart(ui, compare);
    if let Some(report) = &compare.report {
        ui.separator();
        summary(ui, report);
        image_table(ui, report);
    }
}

fn controls(ui: &mut Ui, compare: &mut CompareState, images: usize, commands: &mut Commands) {
    let running = compare.running;
    ui.add_enabled_ui(!running, |ui| {
        ui.horizontal(|ui| {
            let label = ui.label("Target B");
            ui.add(
                egui::TextEdit::singleline(&mut compare.target_b)
                    .hint_text(
                        "PATH[@VERSION], http://HOST:PORT/v1/models/NAME or grpc://HOST:PORT/NAME",
                    )
                    .desired_width(440.0),
            )
            .labelled_by(label.id)
            .on_hover_text(format!("Accepted: {ACCEPTED_TARGETS}"));
            if ui.button("Folder…").clicked() {
                commands.push(Command::PickCompareFolder);
            }
        });
        ui.horizontal_wrapped(|ui| {
            let label = ui.label("Requests per target");
            ui.add(egui::DragValue::new(&mut compare.requests).range(0..=100_000))
                .labelled_by(label.id);
            let label = ui.label("Warm-up");
            ui.add(egui::DragValue::new(&mut compare.warmup).range(0..=10_000))
                .labelled_by(label.id);
            if ui.button("Choose images…").clicked() {
                commands.push(Command::PickImages);
            }
            ui.label(RichText::new(format!("{images} images (the Try it list)")).weak());
        });
    });
    ui.horizontal(|ui| {
        if running {
            if ui.button("Cancel").clicked() {
                commands.push(Command::CancelCompare);
            }
            let total = compare.images_total.max(1);
            ui.add(
                egui::ProgressBar::new(compare.images_done as f32 / total as f32)
                    .desired_width(160.0)
                    .text(format!(
                        "{} / {} images",
                        compare.images_done, compare.images_total
                    )),
            );
            ui.label(format!(
                "latency A {} · B {}",
                compare.points_a.len(),
                compare.points_b.len()
            ));
            ui.spinner();
        } else if ui.button("Run comparison").clicked() {
            commands.push(Command::RunCompare);
        }
        let exportable = compare.report.is_some() && !running;
        if ui
            .add_enabled(exportable, egui::Button::new("Export CSV…"))
            .clicked()
        {
            commands.push(Command::ExportCompareCsv);
        }
    });
}

fn series_chart(ui: &mut Ui, compare: &CompareState) {
    let visuals = ui.visuals().clone();
    Plot::new("compare_series")
        .height(220.0)
        .legend(Legend::default())
        .x_axis_label("request")
        .y_axis_label("latency (ms)")
        .include_y(0.0)
        .allow_scroll(false)
        .show(ui, |plot| {
            plot.add(
                Points::new("A", PlotPoints::Borrowed(&compare.points_a))
                    .color(visuals.hyperlink_color)
                    .radius(1.5),
            );
            plot.add(
                Points::new("B", PlotPoints::Borrowed(&compare.points_b))
                    .color(visuals.warn_fg_color)
                    .radius(1.5),
            );
        });
}

fn ratio_text(ratio: Option<f64>) -> String {
    ratio.map_or_else(|| "–".into(), |ratio| format!("{ratio:.2}×"))
}

fn summary(ui: &mut Ui, report: &CompareReport) {
    let summary = &report.summary;
    ui.label(format!("A: {}", report.target_a));
    ui.label(format!("B: {}", report.target_b));
    let agreement = match summary.agreement_rate {
        Some(rate) => format!(
            "top-1 agreement {}/{} ({:.1} %)",
            summary.top1_agreed,
            summary.ranked,
            rate * 100.0
        ),
        None => "top-1 agreement – (the outputs are not class scores)".into(),
    };
    ui.label(RichText::new(agreement).strong());
    for (name, diff) in &summary.max_abs_diff {
        ui.label(format!("max |A−B| {name}: {diff:.3e}"));
    }
    if summary.failed > 0 {
        ui.colored_label(
            ui.visuals().error_fg_color,
            format!("{} of {} images failed", summary.failed, summary.images),
        );
    }
    let Some(latency) = &report.latency else {
        return;
    };
    egui::Grid::new("compare_latency")
        .num_columns(5)
        .striped(true)
        .show(ui, |ui| {
            for title in ["", "p50", "p90", "p99", "req/s"] {
                ui.strong(title);
            }
            ui.end_row();
            for (name, side) in [("A", &latency.a), ("B", &latency.b)] {
                ui.label(name);
                for ms in [side.p50_ms, side.p90_ms, side.p99_ms] {
                    ui.label(format!("{ms:.2} ms"));
                }
                ui.label(format!("{:.1}", side.throughput_rps));
                ui.end_row();
            }
            let ratios = &latency.ratio_b_over_a;
            ui.label("B/A");
            for ratio in [ratios.p50, ratios.p90, ratios.p99, ratios.throughput] {
                ui.label(ratio_text(ratio));
            }
            ui.end_row();
        });
}

fn image_table(ui: &mut Ui, report: &CompareReport) {
    let outputs: Vec<&String> = report.summary.max_abs_diff.keys().collect();
    let row_height = ui.text_style_height(&egui::TextStyle::Body) + 4.0;
    let mut table = egui_extras::TableBuilder::new(ui)
        .id_salt("compare_table")
        .striped(true)
        .resizable(true)
        .vscroll(true)
        .max_scroll_height(260.0)
        .column(
            egui_extras::Column::initial(180.0)
                .at_least(80.0)
                .clip(true),
        );
    for _ in 0..4 + outputs.len() {
        table = table.column(egui_extras::Column::auto().at_least(60.0));
    }
    table = table.column(egui_extras::Column::remainder().at_least(60.0));
    let top5 = format!("top-{TOP_K} overlap");
    table
        .header(row_height, |mut header| {
            let mut titles = vec!["Image".to_string(), "Top-1 A".into(), "Top-1 B".into()];
            titles.push("Agree".into());
            titles.push(top5.clone());
            titles.extend(outputs.iter().map(|name| format!("max |A−B| {name}")));
            titles.push("Error".into());
            for title in titles {
                header.col(|ui| {
                    ui.strong(title);
                });
            }
        })
        .body(|body| {
            body.rows(row_height, report.images.len(), |mut row| {
                let Some(image) = report.images.get(row.index()) else {
                    return;
                };
                let optional = |value: Option<usize>| value.map_or("–".into(), |v| v.to_string());
                let agree = match image.top1_agree {
                    Some(true) => "yes",
                    Some(false) => "no",
                    None => "–",
                };
                let mut cells = vec![
                    image.image.clone(),
                    optional(image.top1_a),
                    optional(image.top1_b),
                    agree.to_string(),
                    optional(image.top5_overlap),
                ];
                cells.extend(outputs.iter().map(|name| {
                    image
                        .max_abs_diff
                        .get(*name)
                        .map_or("–".into(), |diff| format!("{diff:.3e}"))
                }));
                cells.push(image.error.clone().unwrap_or_default());
                for cell in cells {
                    row.col(|ui| {
                        ui.label(cell);
                    });
                }
            });
        });
}
