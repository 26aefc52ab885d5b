//! The desktop app (eframe/egui): open a SavedModel and see its signature tree, serve
//! it with the embedded server or connect to a remote one, classify dropped images
//! and chart request latencies.
//!
//! Architecture (one way, checked by the layering test):
//! - [`state`]: what the app knows; imports nothing else of the app.
//! - [`command`]: what the user asked for.
//! - `panels/`: render the state and push commands; they start no work.
//! - `handlers/`: apply commands and background events to the state, asking
//!   `effects/` for work. The only place that changes state outside widget edits.
//! - [`effects`]: background work on the app's own tokio runtime, through the
//!   workflow layer; results come back as events, each followed by
//!   `ctx.request_repaint()`. Effects never touch panels.
//! - [`app`]: the eframe app that wires them together each frame.

pub mod app;
pub mod command;
pub mod effects;
mod handlers;
pub mod log;
mod panels;
pub mod state;

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
