//! The desktop app (eframe/egui): open a SavedModel and see its signature tree, serve
//! it with the embedded server or connect to a remote one, classify dropped images
//! and chart request latencies.
//!
//! Architecture: panels (`*_ui.rs`) only render [`state::AppState`] and push
//! [`command::Command`]s; `handlers.rs` applies them, starting background work on the
//! app's own tokio runtime ([`tasks`], [`requests`]), whose results come back as
//! events over a channel followed by `ctx.request_repaint()`.

pub mod app;
pub mod command;
mod connect_ui;
mod handlers;
mod latency_ui;
pub mod log;
mod model_tree_ui;
mod predict_ui;
pub mod requests;
pub mod server_tls;
mod server_ui;
pub mod state;
pub mod tasks;
mod widgets;

pub use app::{LaunchOptions, TfprobeApp};

/// The native window's options: glow (OpenGL; software GL works under Xvfb),
/// persisted window size, file drops.
pub fn native_options() -> eframe::NativeOptions {
    let viewport = egui::ViewportBuilder::default()
        .with_title("tfprobe")
        .with_app_id("tfprobe")
        .with_inner_size([1280.0, 800.0])
        .with_min_inner_size([720.0, 480.0])
        .with_drag_and_drop(true);
    eframe::NativeOptions {
        viewport,
        renderer: eframe::Renderer::Glow,
        persist_window: true,
        ..Default::default()
    }
}

/// Opens the window and runs until it closes.
pub fn run(options: LaunchOptions) -> Result<(), eframe::Error> {
    log::install_subscriber();
    eframe::run_native(
        "tfprobe",
        native_options(),
        Box::new(move |cc| Ok(Box::new(TfprobeApp::new(cc, options)))),
    )
}
