//! tfprobe: open a TensorFlow SavedModel, see its signatures, serve it with TF
//! Serving's REST and gRPC APIs, and test it — without Python or Docker.
//!
//! # Layers
//!
//! The module list is the map of the product; dependencies point one way, down this
//! table. A file belongs to the most specific row whose module path is a prefix of its
//! own; it may reference its own row's modules and the modules in "May depend on"
//! (through `use`, `crate::…`, `super::…` or, in the binary, `tfprobe::…`). Files may
//! not reference each other in a circle either. `src/architecture_test/` reads this
//! table and checks both (`cargo test --lib architecture`); it is the only copy.
//!
//! | Module | May depend on | What it is |
//! |---|---|---|
//! | `lib` | — | this file: the module list and this table |
//! | `pb` | — | generated protobuf/gRPC types of TensorFlow and TF Serving |
//! | `tensor` | `pb` | `Tensor`, `TensorData`, `DType`, `NamedTensors`; `Tensor` ⇄ `TensorProto` |
//! | `pb::convert` | `tensor` | re-exports `tensor::proto` for old `pb::convert` paths; new code uses `tensor::proto` |
//! | `model` | `pb`, `tensor` | reading SavedModels (signature tree, `show` text); no egui, tokio or tensorflow |
//! | `runtime` | `pb`, `tensor`, `model` | the `Backend` trait, the TensorFlow backend, library loading, the model worker |
//! | `imaging` | `tensor`, `model` | image → tensor, top-k |
//! | `client` | `pb`, `tensor`, `model` | REST and gRPC clients, statistics, bench, snippets |
//! | `server` | `pb`, `tensor`, `model`, `runtime` | TF Serving's REST and gRPC APIs over a backend |
//! | `workflow` | `pb`, `tensor`, `model`, `runtime`, `imaging`, `client`, `server` | the product's rules, shared by every front end |
//! | `ui` | `pb`, `tensor`, `model`, `runtime`, `imaging`, `client`, `server`, `workflow` | the egui desktop app |
//! | `ui::log` | — | the app's log buffer (shown in the server panel) |
//! | `ui::state` | `pb`, `tensor`, `model`, `runtime`, `imaging`, `client`, `server`, `workflow` | what the app knows; nothing else of the app |
//! | `ui::command` | `ui::state` | what the user asked for |
//! | `ui::panels` | `pb`, `tensor`, `model`, `imaging`, `client`, `workflow`, `ui::state`, `ui::command`, `ui::log` | render state, push commands; start no work |
//! | `ui::effects` | `pb`, `tensor`, `model`, `runtime`, `imaging`, `client`, `server`, `workflow`, `ui::state` | background work; never panels or handlers |
//! | `ui::handlers` | `pb`, `tensor`, `model`, `runtime`, `imaging`, `client`, `server`, `workflow`, `ui::state`, `ui::command`, `ui::effects`, `ui::app` | commands and events → state and effects; the handlers are methods of `ui::app`'s app type, never panels |
//! | `cli` | `pb`, `tensor`, `model`, `runtime`, `imaging`, `client`, `server`, `workflow`, `ui` | the binary's command line (`src/cli/`); `tfprobe gui` starts `ui` |
//! | `main` | `cli` | the binary's entry point (`src/main.rs`) |
//!
//! A row may name a submodule (`ui::state`) to give it narrower rules than its
//! parent's; such rows are listed below their parent, lowest first.

pub mod client;
pub mod imaging;
pub mod model;
pub mod pb;
pub mod runtime;
pub mod server;
pub mod tensor;
pub mod ui;
pub mod workflow;

#[cfg(test)]
mod architecture_test;
