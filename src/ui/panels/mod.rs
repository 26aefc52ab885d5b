//! The panels: each renders part of [`crate::ui::state::AppState`] and pushes
//! [`crate::ui::command::Command`]s. Panels start no work and import neither
//! handlers nor effects.

pub mod batch;
pub mod compare;
pub mod connect;
pub mod graph;
pub mod handoff;
pub mod latency;
pub mod model_tree;
pub mod predict;
pub mod server;
pub mod server_tls;
pub mod widgets;
