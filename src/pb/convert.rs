//! The former home of the `Tensor` ⇄ `TensorProto` conversion, now
//! [`crate::tensor::proto`]: this re-export keeps `tfprobe::pb::convert::…` paths
//! working. New code uses `tensor::proto`. It is the one part of `pb` that depends
//! on anything (`tensor`, its own row in the layer table).

pub use crate::tensor::proto::*;
