//! The product's rules, once, for every front end: the CLI (`src/cli/`) and the
//! desktop app (`src/ui/`) both call this layer and decide nothing of their own about
//! models, signatures, requests or rankings.
//!
//! - [`open`]: what the user opened — a SavedModel folder, a TF Serving base path (its
//!   highest version, or one asked for) or an image file.
//! - [`signature`]: which signature runs, with one error that lists the choices.
//! - [`image_request`]: how an image becomes the request a signature wants (encoded
//!   bytes, or a float/uint8 pixel tensor with the presets and `preprocessing.json`).
//! - [`target`]: where a request runs, behind one trait — the local TensorFlow backend,
//!   the embedded server, or a remote server over REST or gRPC.
//! - [`classify`]: outputs to labelled top-k, with the labels a user expects.
//! - [`predict`]: the whole "this image through that model" flow.
//! - [`warmup`]: TF Serving warmup files built from images, and what they buy.
//! - [`batch`]: many images through one target, one row each, as CSV or JSON.
//! - [`latency`]: repeated runs with latency statistics.
//! - [`compare`] and [`compare_target`]: the same images through two targets side by
//!   side (outputs, rankings, latency).
//! - [`deploy`]: what TF Serving in Docker, KServe and Triton need to serve a model.
//! - [`diff`]: what changed between two models or two versions.
//! - [`inspect`]: a signature's expanded graph, layer summary and exports.
//! - [`serve`]: starting a server (the embedded one from an opened model, or
//!   `tfprobe serve`'s), with the TensorFlow runtime checked first.
//!
//! This layer knows no front end: no egui, no clap, no terminal. Its errors keep their
//! kind ([`WorkflowError`]) until a front end shows them.

pub mod batch;
pub mod classify;
pub mod compare;
mod compare_diff;
pub mod compare_target;
pub mod deploy;
pub mod diff;
mod error;
pub mod image_request;
pub mod inspect;
pub mod latency;
pub mod open;
pub mod predict;
pub mod serve;
pub mod signature;
pub mod target;
pub mod warmup;

pub use error::WorkflowError;
