//! Two windows: "Compare with…" (the open model against another folder or version,
//! rendered from the diff struct `tfprobe diff` prints) and "Deploy…" (each target's
//! files with copy buttons, and a write to a folder).

use super::widgets::{Tone, badge};
use crate::model::ModelDiff;
use crate::ui::command::{Command, Commands};
use crate::ui::state::{AppState, CompareWith};
use crate::workflow::deploy::DeployTarget;
use egui::{RichText, Ui};
use std::path::PathBuf;

pub fn compare_window(ctx: &egui::Context, state: &mut AppState, commands: &mut Commands) {
    let mut open = state.diff_window.open;
    egui::Window::new("Compare models")
        .open(&mut open)
        .default_width(560.0)
        .show(ctx, |ui| compare_body(ui, state, commands));
    state.diff_window.open = open;
}

fn compare_body(ui: &mut Ui, state: &mut AppState, commands: &mut Commands) {
    let Some(local) = &state.local else {
        ui.label("Open a model to compare it.");
        return;
    };
    ui.label(RichText::new(format!("A: {}", local.info.path.display())).monospace());
    let others: Vec<i64> = local
        .info
        .versions
        .iter()
        .copied()
        .filter(|version| Some(*version) != local.info.version)
        .collect();
    if !others.is_empty() {
        ui.horizontal_wrapped(|ui| {
            for version in others {
                if ui
                    .button(format!("Compare with version {version}"))
                    .clicked()
                {
                    commands.push(Command::CompareWith(CompareWith::Version(version)));
                }
            }
        });
    }
    let compare = &mut state.diff_window;
    ui.horizontal(|ui| {
        ui.label("or folder:");
        ui.add(
            egui::TextEdit::singleline(&mut compare.other_path)
                .hint_text("SavedModel folder or base path")
                .desired_width(280.0),
        );
        if ui.button("Browse…").clicked() {
            commands.push(Command::PickDiffFolder);
        }
        let path = compare.other_path.trim();
        if ui
            .add_enabled(!path.is_empty(), egui::Button::new("Compare"))
            .clicked()
        {
            commands.push(Command::CompareWith(CompareWith::Folder(PathBuf::from(
                path,
            ))));
        }
    });
    ui.separator();
    if compare.running.is_some() {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label("Comparing…");
        });
        return;
    }
    match &compare.result {
        None => {
            ui.label(RichText::new("Choose a version or a folder to compare with.").weak());
        }
        Some(Err(error)) => {
            ui.colored_label(ui.visuals().error_fg_color, error);
        }
        Some(Ok(diff)) => diff_view(ui, diff),
    }
}

/// The diff, section by section, with the CLI's `+`/`-`/`~` marks.
fn diff_view(ui: &mut Ui, diff: &ModelDiff) {
    let count = diff.difference_count();
    ui.horizontal(|ui| {
        ui.label(RichText::new(format!("B: {}", diff.b.display())).monospace());
    });
    match count {
        0 => badge(ui, "The models are the same", Tone::Good),
        1 => badge(ui, "1 difference", Tone::Warn),
        _ => badge(ui, &format!("{count} differences"), Tone::Warn),
    };
    let text = crate::model::diff_text(diff);
    egui::ScrollArea::vertical()
        .max_height(360.0)
        .show(ui, |ui| {
            // The first two lines name A and B, shown above.
            for line in text.lines().skip(2) {
                let trimmed = line.trim_start();
                let color = if trimmed.starts_with('+') {
                    Some(ui.visuals().selection.stroke.color)
                } else if trimmed.starts_with('-') {
                    Some(ui.visuals().error_fg_color)
                } else if trimmed.starts_with('~') {
                    Some(ui.visuals().warn_fg_color)
                } else {
                    None
                };
                let mut rich = RichText::new(line).monospace();
                if let Some(color) = color {
                    rich = rich.color(color);
                }
                ui.label(rich);
            }
        });
}

pub fn deploy_window(ctx: &egui::Context, state: &mut AppState, commands: &mut Commands) {
    let mut open = state.deploy.open;
    egui::Window::new("Deploy")
        .open(&mut open)
        .default_width(620.0)
        .show(ctx, |ui| deploy_body(ui, state, commands));
    state.deploy.open = open;
}

fn deploy_body(ui: &mut Ui, state: &mut AppState, commands: &mut Commands) {
    let window = &mut state.deploy;
    if window.plans.is_empty() {
        ui.label("Open a model to deploy it.");
        return;
    }
    ui.label(
        RichText::new("Serve the model on an engine built for it: TF Serving, KServe or Triton.")
            .weak(),
    );
    ui.horizontal(|ui| {
        for target in DeployTarget::ALL {
            ui.selectable_value(&mut window.selected, Some(target), target.name());
        }
    });
    let selected = window.selected.unwrap_or(DeployTarget::Docker);
    let Some((_, plan)) = window.plans.iter().find(|(target, _)| *target == selected) else {
        return;
    };
    ui.separator();
    match plan {
        Err(error) => {
            ui.colored_label(ui.visuals().error_fg_color, error);
        }
        Ok(plan) => {
            for note in &plan.notes {
                ui.label(RichText::new(format!("Note: {note}")).weak());
            }
            let text = plan.text();
            egui::ScrollArea::vertical()
                .max_height(320.0)
                .show(ui, |ui| {
                    ui.label(RichText::new(&text).monospace());
                });
            ui.horizontal(|ui| {
                if ui.button("Copy").clicked() {
                    commands.push(Command::CopyText(text.clone()));
                }
                let label = if window.writing {
                    "Writing…"
                } else {
                    "Write to folder…"
                };
                if ui
                    .add_enabled(!window.writing, egui::Button::new(label))
                    .clicked()
                {
                    commands.push(Command::PickDeployFolder);
                }
            });
        }
    }
    match &window.written {
        Some(Ok(done)) => {
            ui.label(RichText::new(done).monospace());
        }
        Some(Err(error)) => {
            ui.colored_label(ui.visuals().error_fg_color, error);
        }
        None => {}
    }
}
