//! The eframe app: builds the window each frame from [`AppState`], collects the
//! commands the panels emit, and hands them to `handlers.rs`. Nothing here blocks.

use super::command::{Command, Commands};
use super::effects::Tasks;
use super::panels::{compare, connect, graph, handoff, latency, model_tree, predict, server};
use super::state::{AppState, NoticeLevel, Persisted, Tab, ThemeChoice};
use egui::{Key, KeyboardShortcut, Modifiers, RichText, Ui};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The storage key of [`Persisted`].
pub const STATE_KEY: &str = "tfprobe_state";

pub const SHORTCUT_OPEN: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::O);
pub const SHORTCUT_CONNECT: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::K);
pub const SHORTCUT_RUN: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::R);
pub const SHORTCUT_FIND: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::F);

/// How the window was asked to start.
#[derive(Clone, Debug, Default)]
pub struct LaunchOptions {
    /// SavedModel folders, base paths or images to open at once.
    pub paths: Vec<PathBuf>,
    /// Start the embedded server once the model is open.
    pub serve: bool,
    /// When the process started (for the first-frame time).
    pub started: Option<Instant>,
    /// Ignore saved state (tests, `--reset`).
    pub fresh_state: bool,
}

pub struct TfprobeApp {
    pub state: AppState,
    pub(crate) tasks: Tasks,
    pub(crate) commands: Commands,
    pub(crate) ctx: egui::Context,
    started: Option<Instant>,
    first_frame_built_ms: Option<f64>,
}

impl TfprobeApp {
    /// The app as eframe creates it: saved state from `cc.storage`.
    pub fn new(cc: &eframe::CreationContext<'_>, options: LaunchOptions) -> TfprobeApp {
        let persisted = match (cc.storage, options.fresh_state) {
            (Some(storage), false) => {
                eframe::get_value::<Persisted>(storage, STATE_KEY).unwrap_or_default()
            }
            _ => Persisted::default(),
        };
        TfprobeApp::with_state(&cc.egui_ctx, persisted, options)
    }

    /// The app with explicit saved state (tests build it this way too).
    pub fn with_state(
        ctx: &egui::Context,
        persisted: Persisted,
        options: LaunchOptions,
    ) -> TfprobeApp {
        ctx.set_theme(persisted.theme.preference());
        let tasks = match Tasks::new(ctx) {
            Ok(tasks) => tasks,
            // Without threads there is nothing useful to do; say why.
            Err(err) => panic!("cannot start the background runtime: {err}"),
        };
        let state = AppState {
            persisted,
            serve_when_open: options.serve,
            ..AppState::default()
        };
        let mut app = TfprobeApp {
            state,
            tasks,
            commands: Commands::default(),
            ctx: ctx.clone(),
            started: options.started,
            first_frame_built_ms: None,
        };
        app.tasks.check_runtime();
        for path in options.paths {
            app.commands.push(Command::OpenPath(path));
        }
        app.apply_commands();
        app
    }

    /// The CSV export of a latency run (one row per request).
    pub fn latency_csv(latency: &super::state::LatencyState) -> String {
        crate::workflow::latency::csv(&latency.samples)
    }

    /// Runs queued commands (tests call this after pushing one).
    pub fn push_command(&mut self, command: Command) {
        self.commands.push(command);
        self.apply_commands();
    }

    fn shortcuts(&mut self, ctx: &egui::Context) {
        let (open, connect, run, find) = ctx.input_mut(|input| {
            (
                input.consume_shortcut(&SHORTCUT_OPEN),
                input.consume_shortcut(&SHORTCUT_CONNECT),
                input.consume_shortcut(&SHORTCUT_RUN),
                input.consume_shortcut(&SHORTCUT_FIND),
            )
        });
        if find {
            // Ctrl+F searches the graph: show the Graph tab with its search box focused.
            self.state.persisted.tab = Tab::Graph;
            self.state.graph.focus_search = true;
        }
        if open {
            self.commands.push(Command::OpenDialog);
        }
        if connect {
            self.commands.push(Command::ShowConnect);
        }
        if run {
            self.commands.push(Command::RunLatency);
        }
    }

    fn dropped_files(&mut self, ctx: &egui::Context) {
        let (hovering, dropped) = ctx.input(|input| {
            (
                !input.raw.hovered_files.is_empty(),
                input.raw.dropped_files.clone(),
            )
        });
        self.state.hovering_files = hovering;
        for file in dropped {
            let path = file.path().to_path_buf();
            if !path.as_os_str().is_empty() {
                self.commands.push(Command::OpenPath(path));
                continue;
            }
            match file.bytes() {
                Ok(bytes) => self.commands.push(Command::AddImage {
                    name: "dropped image".into(),
                    bytes: std::sync::Arc::new(bytes),
                }),
                Err(err) => self.state.notify(
                    NoticeLevel::Error,
                    format!("cannot read the dropped file: {err}"),
                ),
            }
        }
    }

    fn menu_bar(&mut self, ui: &mut Ui) {
        let commands = &mut self.commands;
        let state = &mut self.state;
        egui::MenuBar::new().ui(ui, |ui| {
            ui.menu_button("File", |ui| {
                if ui
                    .add(
                        egui::Button::new("Open…")
                            .shortcut_text(ui.ctx().format_shortcut(&SHORTCUT_OPEN)),
                    )
                    .clicked()
                {
                    commands.push(Command::OpenDialog);
                }
                ui.menu_button("Recent", |ui| {
                    if state.persisted.recent_models.is_empty() {
                        ui.label(RichText::new("(none)").weak());
                    }
                    for path in &state.persisted.recent_models {
                        if ui.button(path.display().to_string()).clicked() {
                            commands.push(Command::OpenPath(path.clone()));
                        }
                    }
                });
                if ui
                    .add_enabled(state.local.is_some(), egui::Button::new("Close model"))
                    .clicked()
                {
                    commands.push(Command::CloseModel);
                }
                ui.separator();
                if ui.button("Quit").clicked() {
                    ui.ctx().send_viewport_cmd(egui::ViewportCommand::Close);
                }
            });
            ui.menu_button("Server", |ui| {
                if ui
                    .add(
                        egui::Button::new("Connect…")
                            .shortcut_text(ui.ctx().format_shortcut(&SHORTCUT_CONNECT)),
                    )
                    .clicked()
                {
                    commands.push(Command::ShowConnect);
                }
                if ui
                    .add_enabled(state.remote.is_some(), egui::Button::new("Disconnect"))
                    .clicked()
                {
                    commands.push(Command::Disconnect);
                }
                ui.separator();
                if ui
                    .add_enabled(
                        state.local.is_some(),
                        egui::Button::new("Start embedded server"),
                    )
                    .clicked()
                {
                    commands.push(Command::StartServer);
                }
                if ui.button("Stop embedded server").clicked() {
                    commands.push(Command::StopServer);
                }
                ui.separator();
                if ui
                    .add(
                        egui::Button::new("Run latency test")
                            .shortcut_text(ui.ctx().format_shortcut(&SHORTCUT_RUN)),
                    )
                    .clicked()
                {
                    commands.push(Command::RunLatency);
                }
            });
            ui.menu_button("View", |ui| {
                let before = state.persisted.theme;
                ui.radio_value(
                    &mut state.persisted.theme,
                    ThemeChoice::System,
                    "Follow the system",
                );
                ui.radio_value(&mut state.persisted.theme, ThemeChoice::Light, "Light");
                ui.radio_value(&mut state.persisted.theme, ThemeChoice::Dark, "Dark");
                if state.persisted.theme != before {
                    ui.ctx().set_theme(state.persisted.theme.preference());
                }
            });
            ui.menu_button("Help", |ui| {
                if ui.button("Keyboard shortcuts").clicked() {
                    state.show_shortcuts = true;
                }
                if ui.button("About tfprobe").clicked() {
                    state.show_about = true;
                }
            });
        });
    }

    fn status_bar(&mut self, ui: &mut Ui) {
        let state = &self.state;
        ui.horizontal(|ui| {
            server::phase_badges(ui, state);
            ui.separator();
            ui.label(RichText::new(state.target_title()).small());
            if let Some(busy) = &state.loading {
                ui.separator();
                ui.spinner();
                ui.label(
                    RichText::new(format!(
                        "{} ({:.1} s)",
                        busy.what,
                        busy.since.elapsed().as_secs_f32()
                    ))
                    .small(),
                );
            }
            if let Some(notice) = state.notices.last() {
                ui.separator();
                let color = match notice.level {
                    NoticeLevel::Info => ui.visuals().text_color(),
                    NoticeLevel::Error => ui.visuals().error_fg_color,
                };
                ui.add(
                    egui::Label::new(RichText::new(&notice.text).small().color(color)).truncate(),
                );
            }
        });
    }

    fn central(&mut self, ui: &mut Ui) {
        ui.horizontal(|ui| {
            ui.selectable_value(
                &mut self.state.persisted.tab,
                Tab::TryIt,
                RichText::new("Try it").strong(),
            );
            ui.selectable_value(
                &mut self.state.persisted.tab,
                Tab::Latency,
                RichText::new("Latency").strong(),
            );
            ui.selectable_value(
                &mut self.state.persisted.tab,
                Tab::Server,
                RichText::new("Server").strong(),
            );
            ui.selectable_value(
                &mut self.state.persisted.tab,
                Tab::Compare,
                RichText::new("Compare").strong(),
            );
            ui.selectable_value(
                &mut self.state.persisted.tab,
                Tab::Graph,
                RichText::new("Graph").strong(),
            );
        });
        ui.separator();
        let (state, commands) = (&mut self.state, &mut self.commands);
        match state.persisted.tab {
            Tab::TryIt => {
                egui::ScrollArea::vertical()
                    .id_salt("try_it")
                    .auto_shrink([false, false])
                    .show(ui, |ui| predict::show(ui, state, commands));
            }
            Tab::Latency => latency::show(ui, state, commands),
            Tab::Server => server::show(ui, state, commands),
            Tab::Compare => {
                egui::ScrollArea::vertical()
                    .id_salt("compare")
                    .auto_shrink([false, false])
                    .show(ui, |ui| compare::show(ui, state, commands));
            }
            Tab::Graph => graph::show(ui, state, commands),
        }
    }

    fn windows(&mut self, ctx: &egui::Context) {
        connect::show(ctx, &mut self.state, &mut self.commands);
        handoff::compare_window(ctx, &mut self.state, &mut self.commands);
        handoff::deploy_window(ctx, &mut self.state, &mut self.commands);
        let mut open = self.state.show_shortcuts;
        egui::Window::new("Keyboard shortcuts")
            .open(&mut open)
            .collapsible(false)
            .resizable(false)
            .show(ctx, |ui| {
                egui::Grid::new("shortcuts")
                    .num_columns(2)
                    .spacing([16.0, 6.0])
                    .show(ui, |ui| {
                        for (shortcut, what) in [
                            (SHORTCUT_OPEN, "Open a SavedModel folder"),
                            (SHORTCUT_FIND, "Search the graph"),
                            (SHORTCUT_CONNECT, "Connect to a model server"),
                            (SHORTCUT_RUN, "Run the latency test"),
                        ] {
                            ui.label(
                                RichText::new(ctx.format_shortcut(&shortcut))
                                    .monospace()
                                    .strong(),
                            );
                            ui.label(what);
                            ui.end_row();
                        }
                        ui.label(RichText::new("Drop").monospace().strong());
                        ui.label("a SavedModel folder to open it, images to classify them");
                        ui.end_row();
                    });
            });
        self.state.show_shortcuts = open;
        let mut open = self.state.show_about;
        egui::Window::new("About tfprobe")
            .open(&mut open)
            .collapsible(false)
            .resizable(false)
            .show(ctx, |ui| {
                ui.label(RichText::new(format!("tfprobe {}", env!("CARGO_PKG_VERSION"))).strong());
                ui.label(env!("CARGO_PKG_DESCRIPTION"));
                ui.label(self.state.server.runtime.summary());
                ui.label(
                    RichText::new(format!(
                        "app id tfprobe · licence {} · the TensorFlow runtime is not bundled: \
                         tfprobe installs it on first use",
                        env!("CARGO_PKG_LICENSE")
                    ))
                    .weak(),
                );
                if let Some(ms) = self.state.first_frame_ms {
                    ui.label(RichText::new(format!("first frame {ms:.0} ms after start")).weak());
                }
            });
        self.state.show_about = open;
        self.drop_overlay(ctx);
    }

    fn drop_overlay(&self, ctx: &egui::Context) {
        if !self.state.hovering_files {
            return;
        }
        let screen = ctx.content_rect();
        let painter = ctx.layer_painter(egui::LayerId::new(
            egui::Order::Foreground,
            egui::Id::unique("drop_overlay"),
        ));
        let visuals = ctx.global_style().visuals.clone();
        painter.rect_filled(screen, 0.0, visuals.extreme_bg_color.gamma_multiply(0.8));
        painter.text(
            screen.center(),
            egui::Align2::CENTER_CENTER,
            "Drop a SavedModel folder or images",
            egui::FontId::proportional(24.0),
            visuals.strong_text_color(),
        );
    }

    /// Times the first frame: built (end of the first `ui`) and presented (the next
    /// frame starts only after the first one was painted and swapped).
    fn first_frame(&mut self, ctx: &egui::Context) {
        let Some(started) = self.started else { return };
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        match (self.state.first_frame_ms, self.first_frame_built_ms) {
            (None, None) => {
                self.first_frame_built_ms = Some(ms);
                ctx.request_repaint();
            }
            (None, Some(built)) => {
                self.state.first_frame_ms = Some(ms);
                tracing::info!(
                    "first frame {ms:.0} ms after start (built at {built:.0} ms, presented by {ms:.0} ms)"
                );
            }
            _ => {}
        }
    }
}

impl eframe::App for TfprobeApp {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        if self.first_frame_built_ms.is_some() {
            self.first_frame(ctx);
        }
        for event in self.tasks.drain() {
            self.apply_event(event);
        }
        self.shortcuts(ctx);
        self.dropped_files(ctx);
        self.apply_commands();
        // Old notices fade from the status bar.
        let keep = Duration::from_secs(12);
        self.state
            .notices
            .retain(|notice| notice.at.elapsed() < keep);
        let busy = self.state.loading.is_some()
            || self.state.latency.running
            || self.state.compare.running
            || !self.state.notices.is_empty();
        if busy {
            ctx.request_repaint_after(Duration::from_millis(250));
        }
    }

    fn ui(&mut self, ui: &mut Ui, _frame: &mut eframe::Frame) {
        let ctx = ui.ctx().clone();
        egui::Panel::top("menu_bar").show(ui, |ui| self.menu_bar(ui));
        egui::Panel::bottom("status_bar").show(ui, |ui| self.status_bar(ui));
        egui::Panel::left("model_tree")
            .resizable(true)
            .default_size(380.0)
            .min_size(240.0)
            .show(ui, |ui| {
                model_tree::show(ui, &mut self.state, &mut self.commands);
            });
        egui::CentralPanel::default().show(ui, |ui| self.central(ui));
        self.windows(&ctx);
        self.apply_commands();
        if self.first_frame_built_ms.is_none() {
            self.first_frame(&ctx);
        }
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, STATE_KEY, &self.state.persisted);
    }
}
