//! tfprobe: open a TensorFlow SavedModel, see its signatures, serve it with TF
//! Serving's REST and gRPC APIs, and test it — without Python or Docker.
//!
//! The module list is the map of the product; dependencies point inward:
//! - [`pb`]: generated protobuf/gRPC types of TensorFlow and TF Serving.
//! - [`model`]: reading SavedModels without TensorFlow (signature tree, `show` text).

pub mod client;
pub mod imaging;
pub mod model;
pub mod pb;
pub mod runtime;
pub mod server;
pub mod tensor;
pub mod ui;
