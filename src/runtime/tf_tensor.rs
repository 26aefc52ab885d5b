//! Conversion between tfprobe's [`Tensor`] and the tensorflow crate's typed tensors, at the
//! edge of the TensorFlow backend.
//!
//! DT_STRING elements are arbitrary bytes (JPEG, PNG, serialized protos), but the crate's
//! `Tensor<String>` only holds UTF-8. [`ByteString`] implements the crate's `TensorType`
//! over `TF_TString` directly (`TF_StringInit` + `TF_StringCopy` to pack,
//! `TF_StringGetDataPointer` + `TF_StringGetSize` to unpack, `TF_StringDealloc` when the
//! tensor is freed), so no byte is ever reinterpreted as text.
//!
//! Empty tensors: TensorFlow gives a 0-element tensor a null data pointer, and slices
//! must not be built from null, so empty inputs are never written and empty outputs
//! never read.

use super::RuntimeError;
use crate::pb::tensorflow::error::Code;
use crate::tensor::{Tensor, TensorData};
use half::f16;
use std::alloc::{self, Layout};
use std::ffi::{c_int, c_void};
use std::fmt;
use tensorflow as tfc;
use tensorflow::{BFloat16, DataType, FetchToken, Operation, SessionRunArgs, Status};
use tensorflow_sys_runtime as sys;

/// One DT_STRING element: bytes, not text.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ByteString(pub Vec<u8>);

impl fmt::Display for ByteString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "b\"{}\"", self.0.escape_ascii())
    }
}

/// Frees what [`ByteString::pack`] allocated: `arg` carries the allocation's byte size
/// (at least one element, so that an empty tensor still owns a valid pointer).
unsafe extern "C" fn byte_string_deallocator(data: *mut c_void, len: usize, arg: *mut c_void) {
    let element_size = size_of::<sys::TF_TString>();
    let count = len / element_size;
    let tstrings = data.cast::<sys::TF_TString>();
    for index in 0..count {
        // SAFETY: `pack` initialised `count` TF_TStrings at `data`; each is freed once here.
        unsafe { sys::TF_StringDealloc(tstrings.add(index)) };
    }
    // SAFETY: `data` was allocated by `pack` with exactly this size and alignment.
    unsafe {
        alloc::dealloc(
            data.cast::<u8>(),
            Layout::from_size_align_unchecked(arg as usize, align_of::<sys::TF_TString>()),
        );
    }
}

impl tfc::TensorType for ByteString {
    type InnerType = tfc::TensorDataNoCRepr<ByteString>;

    fn data_type() -> DataType {
        DataType::String
    }

    fn zero() -> Self {
        ByteString(Vec::new())
    }

    fn one() -> Self {
        ByteString(vec![1])
    }

    fn is_repr_c() -> bool {
        false
    }

    fn unpack(data: &[u8], count: usize) -> tfc::Result<Vec<Self>> {
        let element_size = size_of::<sys::TF_TString>();
        if count == 0 {
            return Ok(Vec::new());
        }
        if data.len() < count * element_size
            || data.as_ptr().align_offset(align_of::<sys::TF_TString>()) != 0
        {
            return Err(Status::new_set_lossy(
                tfc::Code::Internal,
                "string tensor buffer is smaller than its element count",
            ));
        }
        let tstrings = data.as_ptr().cast::<sys::TF_TString>();
        let mut out = Vec::with_capacity(count);
        for index in 0..count {
            // SAFETY: the buffer holds `count` initialised TF_TStrings (checked size and
            // alignment above); TensorFlow owns them while we copy their bytes out.
            let bytes = unsafe {
                let tstring = tstrings.add(index);
                let size = sys::TF_StringGetSize(tstring);
                let pointer = sys::TF_StringGetDataPointer(tstring).cast::<u8>();
                if size == 0 || pointer.is_null() {
                    Vec::new()
                } else {
                    std::slice::from_raw_parts(pointer, size).to_vec()
                }
            };
            out.push(ByteString(bytes));
        }
        Ok(out)
    }

    fn pack(data: &[Self], dims: &[u64]) -> tfc::Result<*mut sys::TF_Tensor> {
        let element_size = size_of::<sys::TF_TString>();
        let alloc_size = element_size * data.len().max(1);
        let layout =
            Layout::from_size_align(alloc_size, align_of::<sys::TF_TString>()).map_err(|_| {
                Status::new_set_lossy(tfc::Code::ResourceExhausted, "string tensor too large")
            })?;
        // SAFETY: layout has a non-zero size.
        let buffer = unsafe { alloc::alloc(layout) };
        if buffer.is_null() {
            alloc::handle_alloc_error(layout);
        }
        let tstrings = buffer.cast::<sys::TF_TString>();
        for (index, element) in data.iter().enumerate() {
            // SAFETY: `index < data.len()` elements fit in the allocation; TF_StringInit
            // makes each a valid empty TF_TString before TF_StringCopy fills it.
            unsafe {
                sys::TF_StringInit(tstrings.add(index));
                sys::TF_StringCopy(
                    tstrings.add(index),
                    element.0.as_ptr().cast(),
                    element.0.len(),
                );
            }
        }
        // SAFETY: dims are u64 with i64's layout (sizes < 2^63); the deallocator frees the
        // buffer with the size passed as its argument.
        let tensor = unsafe {
            sys::TF_NewTensor(
                sys::TF_STRING,
                dims.as_ptr().cast::<i64>(),
                dims.len() as c_int,
                buffer.cast::<c_void>(),
                element_size * data.len(),
                Some(byte_string_deallocator),
                alloc_size as *mut c_void,
            )
        };
        if tensor.is_null() {
            return Err(Status::new_set_lossy(
                tfc::Code::Internal,
                "TF_NewTensor returned null for a string tensor",
            ));
        }
        Ok(tensor)
    }
}

/// A typed tensorflow-crate tensor that can be fed.
pub(crate) enum TfInput {
    Float(tfc::Tensor<f32>),
    Double(tfc::Tensor<f64>),
    Half(tfc::Tensor<f16>),
    BFloat16(tfc::Tensor<BFloat16>),
    Int8(tfc::Tensor<i8>),
    Int16(tfc::Tensor<i16>),
    Int32(tfc::Tensor<i32>),
    Int64(tfc::Tensor<i64>),
    UInt8(tfc::Tensor<u8>),
    UInt16(tfc::Tensor<u16>),
    UInt32(tfc::Tensor<u32>),
    UInt64(tfc::Tensor<u64>),
    Bool(tfc::Tensor<bool>),
    String(tfc::Tensor<ByteString>),
}

fn typed<T: tfc::TensorType + Copy>(dims: &[u64], values: &[T]) -> tfc::Tensor<T> {
    let mut tensor = tfc::Tensor::<T>::new(dims);
    if !values.is_empty() {
        tensor.copy_from_slice(values);
    }
    tensor
}

impl TfInput {
    /// Copies `tensor` into TensorFlow's memory. The element count must match the shape
    /// (validation checked it).
    pub(crate) fn from_tensor(tensor: &Tensor) -> TfInput {
        let dims = tensor.shape.as_slice();
        match &tensor.data {
            TensorData::Float(values) => TfInput::Float(typed(dims, values)),
            TensorData::Double(values) => TfInput::Double(typed(dims, values)),
            TensorData::Half(bits) => {
                let values: Vec<f16> = bits.iter().map(|&bits| f16::from_bits(bits)).collect();
                TfInput::Half(typed(dims, &values))
            }
            TensorData::BFloat16(bits) => {
                // BFloat16::from(f32) keeps the upper 16 bits: exact for these values.
                let values: Vec<BFloat16> = bits
                    .iter()
                    .map(|&bits| BFloat16::from(f32::from_bits(u32::from(bits) << 16)))
                    .collect();
                TfInput::BFloat16(typed(dims, &values))
            }
            TensorData::Int8(values) => TfInput::Int8(typed(dims, values)),
            TensorData::Int16(values) => TfInput::Int16(typed(dims, values)),
            TensorData::Int32(values) => TfInput::Int32(typed(dims, values)),
            TensorData::Int64(values) => TfInput::Int64(typed(dims, values)),
            TensorData::UInt8(values) => TfInput::UInt8(typed(dims, values)),
            TensorData::UInt16(values) => TfInput::UInt16(typed(dims, values)),
            TensorData::UInt32(values) => TfInput::UInt32(typed(dims, values)),
            TensorData::UInt64(values) => TfInput::UInt64(typed(dims, values)),
            TensorData::Bool(values) => TfInput::Bool(typed(dims, values)),
            TensorData::String(values) => {
                let mut out = tfc::Tensor::<ByteString>::new(dims);
                if !values.is_empty() {
                    for (slot, value) in out.iter_mut().zip(values) {
                        slot.0.clone_from(value);
                    }
                }
                TfInput::String(out)
            }
        }
    }

    pub(crate) fn feed<'a>(
        &'a self,
        args: &mut SessionRunArgs<'a>,
        operation: &Operation,
        index: c_int,
    ) {
        match self {
            TfInput::Float(tensor) => args.add_feed(operation, index, tensor),
            TfInput::Double(tensor) => args.add_feed(operation, index, tensor),
            TfInput::Half(tensor) => args.add_feed(operation, index, tensor),
            TfInput::BFloat16(tensor) => args.add_feed(operation, index, tensor),
            TfInput::Int8(tensor) => args.add_feed(operation, index, tensor),
            TfInput::Int16(tensor) => args.add_feed(operation, index, tensor),
            TfInput::Int32(tensor) => args.add_feed(operation, index, tensor),
            TfInput::Int64(tensor) => args.add_feed(operation, index, tensor),
            TfInput::UInt8(tensor) => args.add_feed(operation, index, tensor),
            TfInput::UInt16(tensor) => args.add_feed(operation, index, tensor),
            TfInput::UInt32(tensor) => args.add_feed(operation, index, tensor),
            TfInput::UInt64(tensor) => args.add_feed(operation, index, tensor),
            TfInput::Bool(tensor) => args.add_feed(operation, index, tensor),
            TfInput::String(tensor) => args.add_feed(operation, index, tensor),
        }
    }
}

/// Reads one fetched output (`position` = the order of `request_fetch` calls).
pub(crate) fn fetch_output(
    args: &mut SessionRunArgs<'_>,
    token: FetchToken,
    position: usize,
    output_key: &str,
) -> Result<Tensor, RuntimeError> {
    fn take<T: tfc::TensorType + Copy>(
        args: &mut SessionRunArgs<'_>,
        token: FetchToken,
    ) -> Result<(Vec<u64>, Vec<T>), RuntimeError> {
        let tensor = args.fetch::<T>(token).map_err(status_error)?;
        let dims = tensor.dims().to_vec();
        let values = if dims.contains(&0) {
            Vec::new()
        } else {
            tensor.to_vec()
        };
        Ok((dims, values))
    }
    let dtype = args
        .output_data_type(position)
        .ok_or_else(|| RuntimeError::Run {
            code: Code::Internal,
            message: format!("TensorFlow returned no tensor for output '{output_key}'"),
        })?;
    let (shape, data) = match dtype {
        DataType::Float => {
            take::<f32>(args, token).map(|(dims, values)| (dims, TensorData::Float(values)))?
        }
        DataType::Double => {
            take::<f64>(args, token).map(|(dims, values)| (dims, TensorData::Double(values)))?
        }
        DataType::Half => take::<f16>(args, token).map(|(dims, values)| {
            (
                dims,
                TensorData::Half(values.iter().map(|value| value.to_bits()).collect()),
            )
        })?,
        DataType::BFloat16 => take::<BFloat16>(args, token).map(|(dims, values)| {
            (
                dims,
                TensorData::BFloat16(
                    values
                        .iter()
                        .map(|&value| (f32::from(value).to_bits() >> 16) as u16)
                        .collect(),
                ),
            )
        })?,
        DataType::Int8 => {
            take::<i8>(args, token).map(|(dims, values)| (dims, TensorData::Int8(values)))?
        }
        DataType::Int16 => {
            take::<i16>(args, token).map(|(dims, values)| (dims, TensorData::Int16(values)))?
        }
        DataType::Int32 => {
            take::<i32>(args, token).map(|(dims, values)| (dims, TensorData::Int32(values)))?
        }
        DataType::Int64 => {
            take::<i64>(args, token).map(|(dims, values)| (dims, TensorData::Int64(values)))?
        }
        DataType::UInt8 => {
            take::<u8>(args, token).map(|(dims, values)| (dims, TensorData::UInt8(values)))?
        }
        DataType::UInt16 => {
            take::<u16>(args, token).map(|(dims, values)| (dims, TensorData::UInt16(values)))?
        }
        DataType::UInt32 => {
            take::<u32>(args, token).map(|(dims, values)| (dims, TensorData::UInt32(values)))?
        }
        DataType::UInt64 => {
            take::<u64>(args, token).map(|(dims, values)| (dims, TensorData::UInt64(values)))?
        }
        DataType::Bool => {
            take::<bool>(args, token).map(|(dims, values)| (dims, TensorData::Bool(values)))?
        }
        DataType::String => {
            let tensor = args.fetch::<ByteString>(token).map_err(status_error)?;
            let dims = tensor.dims().to_vec();
            let values = if dims.contains(&0) {
                Vec::new()
            } else {
                tensor.iter().map(|value| value.0.clone()).collect()
            };
            (dims, TensorData::String(values))
        }
        other => {
            return Err(RuntimeError::Run {
                code: Code::Unimplemented,
                message: format!(
                    "output '{output_key}' has dtype {other}, which tfprobe cannot carry"
                ),
            });
        }
    };
    Tensor::new(shape, data).map_err(|err| RuntimeError::Run {
        code: Code::Internal,
        message: err.to_string(),
    })
}

/// TensorFlow's status as our error, keeping its code; the message without the crate's
/// `Code: ` prefix.
pub(crate) fn status_error(status: Status) -> RuntimeError {
    RuntimeError::Run {
        code: code_of(status.code()),
        message: status_message(&status),
    }
}

pub(crate) fn status_message(status: &Status) -> String {
    let text = status.to_string();
    let prefix = format!("{}: ", status.code());
    text.strip_prefix(&prefix)
        .map(str::to_string)
        .unwrap_or(text)
}

pub(crate) fn code_of(code: tfc::Code) -> Code {
    match code {
        tfc::Code::Ok => Code::Ok,
        tfc::Code::Cancelled => Code::Cancelled,
        tfc::Code::InvalidArgument => Code::InvalidArgument,
        tfc::Code::DeadlineExceeded => Code::DeadlineExceeded,
        tfc::Code::NotFound => Code::NotFound,
        tfc::Code::AlreadyExists => Code::AlreadyExists,
        tfc::Code::PermissionDenied => Code::PermissionDenied,
        tfc::Code::ResourceExhausted => Code::ResourceExhausted,
        tfc::Code::FailedPrecondition => Code::FailedPrecondition,
        tfc::Code::Aborted => Code::Aborted,
        tfc::Code::OutOfRange => Code::OutOfRange,
        tfc::Code::Unimplemented => Code::Unimplemented,
        tfc::Code::Internal => Code::Internal,
        tfc::Code::Unavailable => Code::Unavailable,
        tfc::Code::DataLoss => Code::DataLoss,
        tfc::Code::Unauthenticated => Code::Unauthenticated,
        _ => Code::Unknown,
    }
}
