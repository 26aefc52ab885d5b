//! The Latency tab: "Run N requests" streams every request's latency into a chart
//! (warm-up marked, p50/p90/p99 lines) or a histogram, with the statistics table,
//! cancel, and CSV/PNG export.

use crate::client::Protocol;
use crate::client::stats::LatencySnapshot;
use crate::ui::command::{Command, Commands};
use crate::ui::state::{AppState, LatencyState};
use egui::{Color32, RichText, Ui, Visuals};
use egui_plot::{Bar, BarChart, HLine, Legend, LineStyle, Plot, PlotPoints, Points, VLine};

/// Bins of the histogram view.
const BINS: usize = 40;

pub fn show(ui: &mut Ui, state: &mut AppState, commands: &mut Commands) {
    super::predict::target_row(ui, state, commands);
    ui.separator();
    controls(ui, state, commands);
    ui.separator();
    let latency = &mut state.latency;
    if let Some(error) = &latency.first_error {
        ui.colored_label(ui.visuals().error_fg_color, format!("First error: {error}"));
    }
    ui.horizontal_top(|ui| {
        let table_width = 190.0;
        let chart_width = (ui.available_width() - table_width - 12.0).max(200.0);
        ui.vertical(|ui| {
            ui.set_width(chart_width);
            if state.persisted.latency.histogram {
                histogram_chart(ui, latency);
            } else {
                series_chart(ui, latency);
            }
        });
        ui.vertical(|ui| stats_table(ui, latency));
    });
}

fn controls(ui: &mut Ui, state: &mut AppState, commands: &mut Commands) {
    let running = state.latency.running;
    let ready = state.target_ready();
    let has_data = !state.latency.samples.is_empty();
    let done = state.latency.samples.len() as u32;
    let planned = state.latency.planned.max(1);
    let no_images = state.predict.items.is_empty();
    let settings = &mut state.persisted.latency;
    ui.add_enabled_ui(!running, |ui| {
        ui.horizontal_wrapped(|ui| {
            let label = ui.label("Requests");
            ui.add(egui::DragValue::new(&mut settings.requests).range(1..=1_000_000))
                .labelled_by(label.id);
            let label = ui.label("Warm-up");
            ui.add(egui::DragValue::new(&mut settings.warmup).range(0..=10_000))
                .labelled_by(label.id);
            let label = ui.label("Concurrency");
            ui.add(egui::DragValue::new(&mut settings.concurrency).range(1..=256))
                .labelled_by(label.id);
            ui.label("Protocol").on_hover_text(
                "For the embedded server; a remote connection uses its own protocol",
            );
            ui.selectable_value(&mut settings.protocol, Protocol::Rest, "REST");
            ui.selectable_value(&mut settings.protocol, Protocol::Grpc, "gRPC");
        });
    });
    ui.horizontal(|ui| {
        if running {
            if ui.button("Cancel").clicked() {
                commands.push(Command::CancelLatency);
            }
        } else {
            let button = ui.add_enabled(
                ready,
                egui::Button::new(format!("Run {} requests", settings.requests)),
            );
            if button.on_hover_text("Ctrl+R").clicked() {
                commands.push(Command::RunLatency);
            }
        }
        ui.toggle_value(&mut settings.histogram, "Histogram");
        if ui
            .add_enabled(has_data && !running, egui::Button::new("Export CSV…"))
            .clicked()
        {
            commands.push(Command::ExportCsv);
        }
        if ui
            .add_enabled(has_data && !running, egui::Button::new("Export PNG…"))
            .clicked()
        {
            commands.push(Command::ExportPng);
        }
        if running || done > 0 {
            let fraction = (done as f32 / planned as f32).min(1.0);
            ui.add(
                egui::ProgressBar::new(fraction)
                    .desired_width(160.0)
                    .text(format!("{done} / {planned}")),
            );
        }
        if running {
            ui.spinner();
        }
    });
    if no_images {
        ui.label(
            RichText::new(
                "Sends the selected Try it image; without one, a plain grey 224×224 image.",
            )
            .weak()
            .small(),
        );
    }
}

fn series_chart(ui: &mut Ui, latency: &mut LatencyState) {
    let visuals = ui.visuals().clone();
    let snapshot = latency.snapshot;
    let warmup_end = latency.warmup_points.last().map(|point| point.x + 0.5);
    let response = Plot::new("latency_series")
        .height(ui.available_height().clamp(220.0, 480.0))
        .legend(Legend::default())
        .x_axis_label("request")
        .y_axis_label("latency (ms)")
        .include_y(0.0)
        .allow_scroll(false)
        .show(ui, |plot| {
            if !latency.warmup_points.is_empty() {
                plot.add(
                    Points::new("warm-up", PlotPoints::Borrowed(&latency.warmup_points))
                        .color(visuals.weak_text_color())
                        .radius(2.0),
                );
            }
            if let Some(x) = warmup_end {
                plot.add(
                    VLine::new("end of warm-up", x)
                        .color(visuals.weak_text_color())
                        .style(LineStyle::dashed_dense()),
                );
            }
            if !latency.main_points.is_empty() {
                plot.add(
                    Points::new("latency", PlotPoints::Borrowed(&latency.main_points))
                        .color(visuals.hyperlink_color)
                        .radius(1.5),
                );
            }
            if !latency.error_points.is_empty() {
                plot.add(
                    Points::new("errors", PlotPoints::Borrowed(&latency.error_points))
                        .color(visuals.error_fg_color)
                        .radius(3.0),
                );
            }
            for (label, value, color) in percentile_marks(&snapshot, &visuals) {
                plot.add(
                    HLine::new(label, value)
                        .color(color)
                        .style(LineStyle::dashed_loose()),
                );
            }
        });
    latency.chart_rect = Some(response.response.rect);
}

/// The p50 / p90 / p99 marks as `(label, ms, colour)`; none before a sample.
fn percentile_marks(snapshot: &LatencySnapshot, visuals: &Visuals) -> Vec<(String, f64, Color32)> {
    if snapshot.count == 0 {
        return Vec::new();
    }
    [
        ("p50", snapshot.p50_ms, visuals.selection.bg_fill),
        ("p90", snapshot.p90_ms, visuals.warn_fg_color),
        ("p99", snapshot.p99_ms, visuals.error_fg_color),
    ]
    .into_iter()
    .map(|(name, value, color)| (format!("{name} {value:.2} ms"), value, color))
    .collect()
}

/// `(centre, width, count)` of each bin of the non-warm-up latencies.
fn histogram_bins(latency: &LatencyState) -> Vec<(f64, f64, f64)> {
    let values: Vec<f64> = latency.main_points.iter().map(|point| point.y).collect();
    let (Some(min), Some(max)) = (
        values.iter().copied().reduce(f64::min),
        values.iter().copied().reduce(f64::max),
    ) else {
        return Vec::new();
    };
    let width = ((max - min) / BINS as f64).max(1e-3);
    let mut counts = vec![0.0; BINS];
    for value in values {
        let bin = (((value - min) / width) as usize).min(BINS - 1);
        counts[bin] += 1.0;
    }
    counts
        .into_iter()
        .enumerate()
        .map(|(bin, count)| (min + width * (bin as f64 + 0.5), width, count))
        .collect()
}

fn histogram_chart(ui: &mut Ui, latency: &mut LatencyState) {
    let count = latency.main_points.len();
    if latency
        .histogram
        .as_ref()
        .is_none_or(|(cached, _)| *cached != count)
    {
        latency.histogram = Some((count, histogram_bins(latency)));
    }
    let bars: Vec<Bar> = latency
        .histogram
        .as_ref()
        .map(|(_, bins)| {
            bins.iter()
                .map(|&(centre, width, count)| Bar::new(centre, count).width(width * 0.95))
                .collect()
        })
        .unwrap_or_default();
    let visuals = ui.visuals().clone();
    let snapshot = latency.snapshot;
    let response = Plot::new("latency_histogram")
        .height(ui.available_height().clamp(220.0, 480.0))
        .legend(Legend::default())
        .x_axis_label("latency (ms)")
        .y_axis_label("requests")
        .allow_scroll(false)
        .show(ui, |plot| {
            plot.add(BarChart::new("requests", bars).color(visuals.hyperlink_color));
            for (label, value, color) in percentile_marks(&snapshot, &visuals) {
                plot.add(
                    VLine::new(label, value)
                        .color(color)
                        .style(LineStyle::dashed_loose()),
                );
            }
        });
    latency.chart_rect = Some(response.response.rect);
}

fn stats_table(ui: &mut Ui, latency: &LatencyState) {
    let snapshot = latency.snapshot;
    ui.label(RichText::new("Statistics").strong());
    let throughput = if latency.elapsed_s > 0.0 {
        (snapshot.count + snapshot.errors) as f64 / latency.elapsed_s
    } else {
        0.0
    };
    egui::Grid::new("latency_stats")
        .num_columns(2)
        .striped(true)
        .spacing([16.0, 4.0])
        .show(ui, |ui| {
            let mut row = |name: &str, value: String| {
                ui.label(name);
                ui.label(RichText::new(value).monospace());
                ui.end_row();
            };
            row("requests", snapshot.count.to_string());
            row("errors", snapshot.errors.to_string());
            for (name, value) in [
                ("min", snapshot.min_ms),
                ("mean", snapshot.mean_ms),
                ("p50", snapshot.p50_ms),
                ("p90", snapshot.p90_ms),
                ("p95", snapshot.p95_ms),
                ("p99", snapshot.p99_ms),
                ("max", snapshot.max_ms),
            ] {
                row(
                    name,
                    if snapshot.count > 0 {
                        format!("{value:.2} ms")
                    } else {
                        "—".into()
                    },
                );
            }
            row(
                "throughput",
                if throughput > 0.0 {
                    format!("{throughput:.1} req/s")
                } else {
                    "—".into()
                },
            );
            row(
                "elapsed",
                if latency.elapsed_s > 0.0 {
                    format!("{:.2} s", latency.elapsed_s)
                } else {
                    "—".into()
                },
            );
        });
    ui.label(
        RichText::new("warm-up requests are not counted")
            .small()
            .weak(),
    );
}
