//! tfprobe's own tensor: dtype, shape and typed values, and its conversion to and
//! from TensorFlow's wire `TensorProto`. Server, client, imaging and UI work with
//! this type only; the TensorFlow backend converts at its edge.
//!
//! Layer: depends on the generated protobuf types (`pb`) only — not on `model`,
//! `runtime` or anything above (see the layer table in the crate docs).

mod dtype;
pub mod proto;
mod value;

pub use dtype::DType;
pub use value::{NamedTensors, Tensor, TensorData, TensorError, element_count};
