//! The one place where `TensorProto` (TensorFlow's wire tensor) and tfprobe's
//! [`Tensor`] meet.
//!
//! Reading follows TensorFlow's `Tensor::FromProto`: values come either from
//! `tensor_content` (raw little-endian bytes, what Python's `make_tensor_proto`
//! writes for numeric arrays) or from the typed `*_val` field of the dtype
//! (`float_val`, `int_val` for 8/16-bit integers, `half_val` for half and
//! bfloat16 bit patterns, ...). As in TensorFlow, fewer typed values than
//! elements repeat the last value (none at all means zeros); more values than
//! elements is an error here rather than a silent truncation.
//!
//! Writing follows `Tensor::AsProtoField`, which TF Serving uses for Predict
//! responses: the typed `*_val` fields.

use super::dtype::DType;
use super::value::{Tensor, TensorData, element_count};
use crate::pb::tensorflow::{DataType, TensorProto, TensorShapeProto, tensor_shape_proto};

/// Why a `TensorProto` cannot become a [`Tensor`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConvertError {
    #[error("tensor dtype {dtype} is not supported (supported: {supported})")]
    UnsupportedDType {
        dtype: String,
        supported: &'static str,
    },

    #[error("tensor shape has unknown rank; a tensor value needs a fully known shape")]
    UnknownRank,

    #[error("tensor shape has a negative dimension ({size}); a tensor value needs every size >= 0")]
    NegativeDim { size: i64 },

    #[error("tensor shape {shape:?} has more elements than fit in memory")]
    TooLarge { shape: Vec<i64> },

    #[error(
        "tensor_content holds {actual} bytes but shape {shape:?} of {dtype} needs {expected} bytes"
    )]
    ContentSize {
        dtype: String,
        shape: Vec<u64>,
        expected: u64,
        actual: usize,
    },

    /// A small message whose shape claims far more elements than it carries
    /// (the fill rule would repeat its last value): refused before allocating.
    #[error(
        "tensor shape {shape:?} of {dtype} needs {needed_bytes} bytes once decoded, more than the limit of {limit_bytes} bytes"
    )]
    DecodedTooLarge {
        dtype: String,
        shape: Vec<u64>,
        needed_bytes: u64,
        limit_bytes: u64,
    },

    #[error("tensor of shape {shape:?} ({expected} elements) carries {actual} values in {field}")]
    TooManyValues {
        shape: Vec<u64>,
        expected: u64,
        actual: usize,
        field: &'static str,
    },
}

const SUPPORTED: &str = "DT_FLOAT, DT_DOUBLE, DT_HALF, DT_BFLOAT16, DT_INT8, DT_INT16, DT_INT32, \
                         DT_INT64, DT_UINT8, DT_UINT16, DT_UINT32, DT_UINT64, DT_BOOL, DT_STRING";

/// The shape of a `TensorProto` as element counts (a missing shape is a scalar).
pub fn shape_from_proto(shape: Option<&TensorShapeProto>) -> Result<Vec<u64>, ConvertError> {
    let Some(shape) = shape else {
        return Ok(Vec::new());
    };
    if shape.unknown_rank {
        return Err(ConvertError::UnknownRank);
    }
    shape
        .dim
        .iter()
        .map(|dim| {
            u64::try_from(dim.size).map_err(|_| ConvertError::NegativeDim { size: dim.size })
        })
        .collect()
}

/// A `TensorShapeProto` with the given sizes and empty names.
pub fn shape_to_proto(shape: &[u64]) -> TensorShapeProto {
    TensorShapeProto {
        dim: shape
            .iter()
            .map(|&size| tensor_shape_proto::Dim {
                size: size as i64,
                name: String::new(),
            })
            .collect(),
        unknown_rank: false,
    }
}

/// Largest tensor [`tensor_from_proto`] decodes: 2 GiB, protobuf's own limit
/// on a message, so only a shape that the fill rule would blow up is refused.
pub const MAX_DECODED_BYTES: u64 = 2 << 30;

/// Decodes a wire tensor of at most [`MAX_DECODED_BYTES`].
pub fn tensor_from_proto(proto: &TensorProto) -> Result<Tensor, ConvertError> {
    tensor_from_proto_limited(proto, MAX_DECODED_BYTES)
}

/// Decodes a wire tensor whose values take at most `limit_bytes` in memory.
/// The size is worked out from the shape before anything is allocated: a
/// message of a few bytes may claim `[1 << 20, 1 << 20]` floats, which the fill
/// rule would otherwise expand to 4 TiB and abort the process.
pub fn tensor_from_proto_limited(
    proto: &TensorProto,
    limit_bytes: u64,
) -> Result<Tensor, ConvertError> {
    let shape = shape_from_proto(proto.tensor_shape.as_ref())?;
    let count = element_count(&shape).ok_or_else(|| ConvertError::TooLarge {
        shape: shape.iter().map(|&dim| dim as i64).collect(),
    })?;
    let dtype = DType(proto.dtype);
    let unsupported = || ConvertError::UnsupportedDType {
        dtype: dtype.name(),
        supported: SUPPORTED,
    };
    let n = usize::try_from(count).map_err(|_| ConvertError::TooLarge {
        shape: shape.iter().map(|&dim| dim as i64).collect(),
    })?;
    let within_limit = |shape: &[u64], needed_bytes: u64| {
        if needed_bytes > limit_bytes {
            return Err(ConvertError::DecodedTooLarge {
                dtype: dtype.name(),
                shape: shape.to_vec(),
                needed_bytes,
                limit_bytes,
            });
        }
        Ok(())
    };

    if !proto.tensor_content.is_empty() && dtype != DType::STRING {
        let size = dtype.element_size_bytes().ok_or_else(unsupported)?;
        let expected = count.saturating_mul(size as u64);
        if expected != proto.tensor_content.len() as u64 {
            return Err(ConvertError::ContentSize {
                dtype: dtype.name(),
                shape,
                expected,
                actual: proto.tensor_content.len(),
            });
        }
        within_limit(&shape, expected)?;
        let data = from_content(dtype, &proto.tensor_content).ok_or_else(unsupported)?;
        return Ok(Tensor { shape, data });
    }

    // Checked before the fill rule allocates what the shape claims.
    within_limit(&shape, decoded_bytes(proto, dtype, count))?;
    let fill = Fill { shape: &shape, n };
    let data = match dtype {
        DType::FLOAT => TensorData::Float(fill.apply(&proto.float_val, "float_val", |&v| v)?),
        DType::DOUBLE => TensorData::Double(fill.apply(&proto.double_val, "double_val", |&v| v)?),
        DType::HALF => TensorData::Half(fill.apply(&proto.half_val, "half_val", |&v| v as u16)?),
        DType::BFLOAT16 => {
            TensorData::BFloat16(fill.apply(&proto.half_val, "half_val", |&v| v as u16)?)
        }
        DType::INT8 => TensorData::Int8(fill.apply(&proto.int_val, "int_val", |&v| v as i8)?),
        DType::INT16 => TensorData::Int16(fill.apply(&proto.int_val, "int_val", |&v| v as i16)?),
        DType::INT32 => TensorData::Int32(fill.apply(&proto.int_val, "int_val", |&v| v)?),
        DType::INT64 => TensorData::Int64(fill.apply(&proto.int64_val, "int64_val", |&v| v)?),
        DType::UINT8 => TensorData::UInt8(fill.apply(&proto.int_val, "int_val", |&v| v as u8)?),
        DType::UINT16 => TensorData::UInt16(fill.apply(&proto.int_val, "int_val", |&v| v as u16)?),
        DType::UINT32 => TensorData::UInt32(fill.apply(&proto.uint32_val, "uint32_val", |&v| v)?),
        DType::UINT64 => TensorData::UInt64(fill.apply(&proto.uint64_val, "uint64_val", |&v| v)?),
        DType::BOOL => TensorData::Bool(fill.apply(&proto.bool_val, "bool_val", |&v| v)?),
        DType::STRING => {
            TensorData::String(fill.apply(&proto.string_val, "string_val", Clone::clone)?)
        }
        _ => return Err(unsupported()),
    };
    Ok(Tensor { shape, data })
}

/// Memory the decoded values take (saturating): element storage, plus the bytes
/// of strings, where the fill rule repeats the last string given. Unsupported
/// dtypes count as nothing here and are refused afterwards.
fn decoded_bytes(proto: &TensorProto, dtype: DType, count: u64) -> u64 {
    if dtype != DType::STRING {
        let size = dtype.element_size_bytes().unwrap_or(0) as u64;
        return count.saturating_mul(size);
    }
    let given = &proto.string_val;
    let given_bytes: u64 = given.iter().map(|value| value.len() as u64).sum();
    let repeated = count.saturating_sub(given.len() as u64);
    let last_bytes = given.last().map_or(0, |value| value.len() as u64);
    count
        .saturating_mul(std::mem::size_of::<Vec<u8>>() as u64)
        .saturating_add(given_bytes)
        .saturating_add(repeated.saturating_mul(last_bytes))
}

/// TensorFlow's fill rule for typed value fields.
struct Fill<'a> {
    shape: &'a [u64],
    n: usize,
}

impl Fill<'_> {
    fn apply<S, T: Clone + Default>(
        &self,
        values: &[S],
        field: &'static str,
        convert: impl Fn(&S) -> T,
    ) -> Result<Vec<T>, ConvertError> {
        if values.len() > self.n {
            return Err(ConvertError::TooManyValues {
                shape: self.shape.to_vec(),
                expected: self.n as u64,
                actual: values.len(),
                field,
            });
        }
        let mut out: Vec<T> = Vec::with_capacity(self.n);
        out.extend(values.iter().map(convert));
        let last = out.last().cloned().unwrap_or_default();
        out.resize(self.n, last);
        Ok(out)
    }
}

fn from_content(dtype: DType, bytes: &[u8]) -> Option<TensorData> {
    fn chunks<const N: usize, T>(bytes: &[u8], from: impl Fn([u8; N]) -> T) -> Vec<T> {
        // The caller checked that the length is a whole number of elements.
        let (elements, _) = bytes.as_chunks::<N>();
        elements.iter().map(|&element| from(element)).collect()
    }
    Some(match dtype {
        DType::FLOAT => TensorData::Float(chunks(bytes, f32::from_le_bytes)),
        DType::DOUBLE => TensorData::Double(chunks(bytes, f64::from_le_bytes)),
        DType::HALF => TensorData::Half(chunks(bytes, u16::from_le_bytes)),
        DType::BFLOAT16 => TensorData::BFloat16(chunks(bytes, u16::from_le_bytes)),
        DType::INT8 => TensorData::Int8(bytes.iter().map(|&b| b as i8).collect()),
        DType::INT16 => TensorData::Int16(chunks(bytes, i16::from_le_bytes)),
        DType::INT32 => TensorData::Int32(chunks(bytes, i32::from_le_bytes)),
        DType::INT64 => TensorData::Int64(chunks(bytes, i64::from_le_bytes)),
        DType::UINT8 => TensorData::UInt8(bytes.to_vec()),
        DType::UINT16 => TensorData::UInt16(chunks(bytes, u16::from_le_bytes)),
        DType::UINT32 => TensorData::UInt32(chunks(bytes, u32::from_le_bytes)),
        DType::UINT64 => TensorData::UInt64(chunks(bytes, u64::from_le_bytes)),
        DType::BOOL => TensorData::Bool(bytes.iter().map(|&b| b != 0).collect()),
        _ => return None,
    })
}

/// Encodes a tensor into the typed `*_val` field of its dtype (TensorFlow's
/// `AsProtoField`, as TF Serving writes Predict outputs).
pub fn tensor_to_proto(tensor: &Tensor) -> TensorProto {
    let mut proto = TensorProto {
        dtype: tensor.dtype().0,
        tensor_shape: Some(shape_to_proto(&tensor.shape)),
        ..Default::default()
    };
    match &tensor.data {
        TensorData::Float(v) => proto.float_val = v.clone(),
        TensorData::Double(v) => proto.double_val = v.clone(),
        TensorData::Half(v) | TensorData::BFloat16(v) => {
            proto.half_val = v.iter().map(|&x| i32::from(x)).collect()
        }
        TensorData::Int8(v) => proto.int_val = v.iter().map(|&x| i32::from(x)).collect(),
        TensorData::Int16(v) => proto.int_val = v.iter().map(|&x| i32::from(x)).collect(),
        TensorData::Int32(v) => proto.int_val = v.clone(),
        TensorData::Int64(v) => proto.int64_val = v.clone(),
        TensorData::UInt8(v) => proto.int_val = v.iter().map(|&x| i32::from(x)).collect(),
        TensorData::UInt16(v) => proto.int_val = v.iter().map(|&x| i32::from(x)).collect(),
        TensorData::UInt32(v) => proto.uint32_val = v.clone(),
        TensorData::UInt64(v) => proto.uint64_val = v.clone(),
        TensorData::Bool(v) => proto.bool_val = v.clone(),
        TensorData::String(v) => proto.string_val = v.clone(),
    }
    proto
}

/// Same as [`tensor_to_proto`] but takes the tensor, so the values move
/// instead of being copied where the field type allows it.
pub fn tensor_into_proto(tensor: Tensor) -> TensorProto {
    let mut proto = TensorProto {
        dtype: tensor.dtype().0,
        tensor_shape: Some(shape_to_proto(&tensor.shape)),
        ..Default::default()
    };
    match tensor.data {
        TensorData::Float(v) => proto.float_val = v,
        TensorData::Double(v) => proto.double_val = v,
        TensorData::Int32(v) => proto.int_val = v,
        TensorData::Int64(v) => proto.int64_val = v,
        TensorData::UInt32(v) => proto.uint32_val = v,
        TensorData::UInt64(v) => proto.uint64_val = v,
        TensorData::Bool(v) => proto.bool_val = v,
        TensorData::String(v) => proto.string_val = v,
        data => {
            return tensor_to_proto(&Tensor {
                shape: tensor.shape,
                data,
            });
        }
    }
    proto
}

/// Encodes a tensor as raw little-endian `tensor_content` (TensorFlow's
/// `AsProtoTensorContent`; what Python's `make_tensor_proto` writes for numeric
/// arrays). Strings always use `string_val`.
pub fn tensor_to_proto_content(tensor: &Tensor) -> TensorProto {
    fn bytes<T: Copy, const N: usize>(values: &[T], to: impl Fn(T) -> [u8; N]) -> Vec<u8> {
        values.iter().flat_map(|&v| to(v)).collect()
    }
    let content = match &tensor.data {
        TensorData::String(_) => return tensor_to_proto(tensor),
        TensorData::Float(v) => bytes(v, f32::to_le_bytes),
        TensorData::Double(v) => bytes(v, f64::to_le_bytes),
        TensorData::Half(v) | TensorData::BFloat16(v) | TensorData::UInt16(v) => {
            bytes(v, u16::to_le_bytes)
        }
        TensorData::Int8(v) => v.iter().map(|&x| x as u8).collect(),
        TensorData::Int16(v) => bytes(v, i16::to_le_bytes),
        TensorData::Int32(v) => bytes(v, i32::to_le_bytes),
        TensorData::Int64(v) => bytes(v, i64::to_le_bytes),
        TensorData::UInt8(v) => v.clone(),
        TensorData::UInt32(v) => bytes(v, u32::to_le_bytes),
        TensorData::UInt64(v) => bytes(v, u64::to_le_bytes),
        TensorData::Bool(v) => v.iter().map(|&x| u8::from(x)).collect(),
    };
    TensorProto {
        dtype: tensor.dtype().0,
        tensor_shape: Some(shape_to_proto(&tensor.shape)),
        tensor_content: content,
        ..Default::default()
    }
}

/// `DataType` of a dtype, when it is one of the known enum values.
pub fn data_type(dtype: DType) -> Option<DataType> {
    DataType::try_from(dtype.0).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples() -> Vec<Tensor> {
        vec![
            Tensor::new(
                vec![2, 2],
                TensorData::Float(vec![1.5, -2.0, f32::NAN, f32::INFINITY]),
            )
            .unwrap(),
            Tensor::new(vec![2], TensorData::Double(vec![0.1, -1e300])).unwrap(),
            Tensor::new(vec![2], TensorData::Half(vec![0x3c00, 0xc000])).unwrap(),
            Tensor::new(vec![1], TensorData::BFloat16(vec![0x3f80])).unwrap(),
            Tensor::new(vec![3], TensorData::Int8(vec![-128, 0, 127])).unwrap(),
            Tensor::new(vec![2], TensorData::Int16(vec![-32768, 32767])).unwrap(),
            Tensor::new(vec![2], TensorData::Int32(vec![i32::MIN, i32::MAX])).unwrap(),
            Tensor::new(
                vec![2],
                TensorData::Int64(vec![i64::MIN, 9_007_199_254_740_993]),
            )
            .unwrap(),
            Tensor::new(vec![2], TensorData::UInt8(vec![0, 255])).unwrap(),
            Tensor::new(vec![2], TensorData::UInt16(vec![0, 65535])).unwrap(),
            Tensor::new(vec![2], TensorData::UInt32(vec![0, u32::MAX])).unwrap(),
            Tensor::new(vec![2], TensorData::UInt64(vec![0, u64::MAX])).unwrap(),
            Tensor::new(vec![3], TensorData::Bool(vec![true, false, true])).unwrap(),
            Tensor::new(
                vec![2],
                TensorData::String(vec![b"a".to_vec(), vec![0xff, 0xfe, 0x00]]),
            )
            .unwrap(),
            Tensor::new(vec![], TensorData::Float(vec![7.0])).unwrap(),
            Tensor::new(vec![0, 3], TensorData::Int64(vec![])).unwrap(),
        ]
    }

    fn same(a: &Tensor, b: &Tensor) -> bool {
        // NaN != NaN: compare float bit patterns.
        match (&a.data, &b.data) {
            (TensorData::Float(x), TensorData::Float(y)) => {
                a.shape == b.shape
                    && x.iter()
                        .map(|v| v.to_bits())
                        .eq(y.iter().map(|v| v.to_bits()))
            }
            _ => a == b,
        }
    }

    #[test]
    fn every_dtype_round_trips_through_fields_and_content() {
        for tensor in samples() {
            let back = tensor_from_proto(&tensor_to_proto(&tensor)).unwrap();
            assert!(same(&back, &tensor), "fields: {tensor:?} -> {back:?}");
            let back = tensor_from_proto(&tensor_to_proto_content(&tensor)).unwrap();
            assert!(same(&back, &tensor), "content: {tensor:?} -> {back:?}");
            let back = tensor_from_proto(&tensor_into_proto(tensor.clone())).unwrap();
            assert!(same(&back, &tensor), "into: {tensor:?} -> {back:?}");
        }
    }

    #[test]
    fn typed_fields_fill_like_tensorflow() {
        let proto = TensorProto {
            dtype: DataType::DtInt32 as i32,
            tensor_shape: Some(shape_to_proto(&[2, 2])),
            int_val: vec![7],
            ..Default::default()
        };
        assert_eq!(
            tensor_from_proto(&proto).unwrap().data,
            TensorData::Int32(vec![7; 4])
        );
        let proto = TensorProto {
            int_val: vec![],
            ..proto
        };
        assert_eq!(
            tensor_from_proto(&proto).unwrap().data,
            TensorData::Int32(vec![0; 4])
        );
        let proto = TensorProto {
            int_val: vec![1, 2, 3, 4, 5],
            ..proto
        };
        let err = tensor_from_proto(&proto).unwrap_err();
        assert_eq!(
            err.to_string(),
            "tensor of shape [2, 2] (4 elements) carries 5 values in int_val"
        );
    }

    #[test]
    fn bad_protos_say_what_is_wrong() {
        let proto = TensorProto {
            dtype: DataType::DtFloat as i32,
            tensor_shape: Some(shape_to_proto(&[3])),
            tensor_content: vec![0; 8],
            ..Default::default()
        };
        assert_eq!(
            tensor_from_proto(&proto).unwrap_err().to_string(),
            "tensor_content holds 8 bytes but shape [3] of DT_FLOAT needs 12 bytes"
        );
        let proto = TensorProto {
            dtype: DataType::DtComplex64 as i32,
            ..Default::default()
        };
        assert!(
            tensor_from_proto(&proto)
                .unwrap_err()
                .to_string()
                .starts_with("tensor dtype DT_COMPLEX64 is not supported")
        );
        let proto = TensorProto {
            dtype: DataType::DtFloat as i32,
            tensor_shape: Some(TensorShapeProto {
                dim: vec![],
                unknown_rank: true,
            }),
            ..Default::default()
        };
        assert_eq!(
            tensor_from_proto(&proto).unwrap_err(),
            ConvertError::UnknownRank
        );
        let proto = TensorProto {
            dtype: DataType::DtFloat as i32,
            tensor_shape: Some(TensorShapeProto {
                dim: vec![tensor_shape_proto::Dim {
                    size: -1,
                    name: String::new(),
                }],
                unknown_rank: false,
            }),
            ..Default::default()
        };
        assert_eq!(
            tensor_from_proto(&proto).unwrap_err(),
            ConvertError::NegativeDim { size: -1 }
        );
    }

    #[test]
    fn huge_claimed_shapes_are_refused_before_allocating() {
        // 2^40 floats from one float_val: 4 TiB if the fill rule ran.
        let proto = TensorProto {
            dtype: DataType::DtFloat as i32,
            tensor_shape: Some(shape_to_proto(&[1 << 20, 1 << 20])),
            float_val: vec![1.0],
            ..Default::default()
        };
        assert_eq!(
            tensor_from_proto(&proto).unwrap_err().to_string(),
            "tensor shape [1048576, 1048576] of DT_FLOAT needs 4398046511104 bytes once decoded, \
             more than the limit of 2147483648 bytes"
        );
        // One 1 MiB string repeated a million times.
        let proto = TensorProto {
            dtype: DataType::DtString as i32,
            tensor_shape: Some(shape_to_proto(&[1 << 20])),
            string_val: vec![vec![b'x'; 1 << 20]],
            ..Default::default()
        };
        assert!(matches!(
            tensor_from_proto(&proto).unwrap_err(),
            ConvertError::DecodedTooLarge { needed_bytes, .. } if needed_bytes > 1 << 40
        ));
        // The limit is exact: 16 floats are 64 bytes.
        let proto = TensorProto {
            dtype: DataType::DtFloat as i32,
            tensor_shape: Some(shape_to_proto(&[4, 4])),
            ..Default::default()
        };
        assert_eq!(
            tensor_from_proto_limited(&proto, 64)
                .unwrap()
                .num_elements(),
            16
        );
        assert!(matches!(
            tensor_from_proto_limited(&proto, 63).unwrap_err(),
            ConvertError::DecodedTooLarge {
                needed_bytes: 64,
                limit_bytes: 63,
                ..
            }
        ));
    }
}
