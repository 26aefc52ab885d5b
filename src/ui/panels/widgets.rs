//! Small shared widgets: chips, copyable values, state badges. Colours come from
//! the current visuals, so light and dark themes both work.

use crate::ui::command::{Command, Commands};
use crate::ui::state::PemFile;
use egui::{Color32, Frame, Margin, RichText, Sense, Ui};

/// How a badge or chip is tinted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tone {
    Neutral,
    Accent,
    Good,
    Warn,
    Bad,
}

fn tone_colors(ui: &Ui, tone: Tone) -> (Color32, Color32) {
    let visuals = ui.visuals();
    let text = visuals.text_color();
    match tone {
        Tone::Neutral => (visuals.faint_bg_color, text),
        Tone::Accent => (visuals.selection.bg_fill.gamma_multiply(0.35), text),
        Tone::Good => (visuals.selection.bg_fill, visuals.selection.stroke.color),
        Tone::Warn => (visuals.warn_fg_color.gamma_multiply(0.25), text),
        Tone::Bad => (visuals.error_fg_color.gamma_multiply(0.25), text),
    }
}

/// A small rounded label (dtype, shape, state). Click copies its text.
pub fn chip(ui: &mut Ui, text: &str, tone: Tone) -> egui::Response {
    let (fill, color) = tone_colors(ui, tone);
    let inner = Frame::NONE
        .fill(fill)
        .corner_radius(4.0)
        .inner_margin(Margin::symmetric(5, 1))
        .show(ui, |ui| {
            ui.add(
                egui::Label::new(RichText::new(text).monospace().color(color))
                    .sense(Sense::click()),
            )
        });
    let response = inner.inner;
    if response.clicked() {
        ui.ctx().copy_text(text.to_string());
    }
    response.on_hover_text("Click to copy")
}

/// A state badge (AVAILABLE, LOADING, …), bold.
pub fn badge(ui: &mut Ui, text: &str, tone: Tone) -> egui::Response {
    let (fill, color) = tone_colors(ui, tone);
    Frame::NONE
        .fill(fill)
        .corner_radius(6.0)
        .inner_margin(Margin::symmetric(8, 2))
        .show(ui, |ui| ui.label(RichText::new(text).strong().color(color)))
        .inner
}

/// A value that is copied on click (and from its context menu).
pub fn copyable(ui: &mut Ui, text: &str) -> egui::Response {
    copyable_rich(ui, RichText::new(text), text)
}

/// Like [`copyable`], monospace.
pub fn copyable_mono(ui: &mut Ui, text: &str) -> egui::Response {
    copyable_rich(ui, RichText::new(text).monospace(), text)
}

pub fn copyable_rich(ui: &mut Ui, shown: RichText, value: &str) -> egui::Response {
    let response = ui.add(egui::Label::new(shown).sense(Sense::click()).truncate());
    if response.clicked() {
        ui.ctx().copy_text(value.to_string());
    }
    response.context_menu(|ui| {
        if ui.button("Copy").clicked() {
            ui.ctx().copy_text(value.to_string());
            ui.close();
        }
    });
    response.on_hover_text(format!("{value}\n(click to copy)"))
}

/// A "Copy" button for a longer text.
pub fn copy_button(ui: &mut Ui, label: &str, text: &str) -> egui::Response {
    let response = ui.button(label).on_hover_text("Copy to the clipboard");
    if response.clicked() {
        ui.ctx().copy_text(text.to_string());
    }
    response
}

/// Human-readable byte counts.
pub fn bytes_text(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// A box for an error message that wraps and can be copied.
pub fn error_box(ui: &mut Ui, title: &str, message: &str) -> bool {
    let mut dismissed = false;
    let error_color = ui.visuals().error_fg_color;
    Frame::group(ui.style())
        .stroke(egui::Stroke::new(1.0, error_color))
        .show(ui, |ui| {
            ui.horizontal(|ui| {
                ui.label(RichText::new(title).strong().color(error_color));
                ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                    if ui.small_button("Dismiss").clicked() {
                        dismissed = true;
                    }
                    copy_button(ui, "Copy", message);
                });
            });
            ui.add(egui::Label::new(message).wrap());
        });
    dismissed
}

/// A path field with a "…" button that opens the file picker (off the UI thread);
/// returns the text field's response, for the row's label.
pub fn file_field(
    ui: &mut Ui,
    text: &mut String,
    hint: &str,
    which: PemFile,
    commands: &mut Commands,
) -> egui::Response {
    ui.horizontal(|ui| {
        let field = ui.add(
            egui::TextEdit::singleline(text)
                .hint_text(hint)
                .desired_width(190.0),
        );
        if ui.button("…").on_hover_text("Choose a file").clicked() {
            commands.push(Command::PickPemFile(which));
        }
        field
    })
    .inner
}
