//! `DType` lives in [`crate::tensor`], below `model` (the protobuf conversion needs
//! it); this keeps `model::DType` and the model files' `super::dtype::DType` paths.

pub use crate::tensor::DType;
