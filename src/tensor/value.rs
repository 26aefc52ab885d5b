//! The tensor value: dtype, shape and typed element storage, and `NamedTensors`.

use super::dtype::DType;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Named tensors, sorted by name (inputs of a run, outputs of a run).
pub type NamedTensors = BTreeMap<String, Tensor>;

/// Typed element storage. `Half` and `BFloat16` keep their raw 16-bit patterns.
/// `String` elements are arbitrary bytes (JPEGs are not UTF-8).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "dtype", content = "values")]
pub enum TensorData {
    Float(Vec<f32>),
    Double(Vec<f64>),
    Half(Vec<u16>),
    BFloat16(Vec<u16>),
    Int8(Vec<i8>),
    Int16(Vec<i16>),
    Int32(Vec<i32>),
    Int64(Vec<i64>),
    UInt8(Vec<u8>),
    UInt16(Vec<u16>),
    UInt32(Vec<u32>),
    UInt64(Vec<u64>),
    Bool(Vec<bool>),
    String(Vec<Vec<u8>>),
}

/// Applies the same expression to the vector inside every variant.
macro_rules! each_variant {
    ($data:expr, $values:ident => $body:expr) => {
        match $data {
            TensorData::Float($values) => $body,
            TensorData::Double($values) => $body,
            TensorData::Half($values) => $body,
            TensorData::BFloat16($values) => $body,
            TensorData::Int8($values) => $body,
            TensorData::Int16($values) => $body,
            TensorData::Int32($values) => $body,
            TensorData::Int64($values) => $body,
            TensorData::UInt8($values) => $body,
            TensorData::UInt16($values) => $body,
            TensorData::UInt32($values) => $body,
            TensorData::UInt64($values) => $body,
            TensorData::Bool($values) => $body,
            TensorData::String($values) => $body,
        }
    };
}
#[allow(unused_imports)]
pub(crate) use each_variant;

impl TensorData {
    pub fn dtype(&self) -> DType {
        match self {
            TensorData::Float(_) => DType::FLOAT,
            TensorData::Double(_) => DType::DOUBLE,
            TensorData::Half(_) => DType::HALF,
            TensorData::BFloat16(_) => DType::BFLOAT16,
            TensorData::Int8(_) => DType::INT8,
            TensorData::Int16(_) => DType::INT16,
            TensorData::Int32(_) => DType::INT32,
            TensorData::Int64(_) => DType::INT64,
            TensorData::UInt8(_) => DType::UINT8,
            TensorData::UInt16(_) => DType::UINT16,
            TensorData::UInt32(_) => DType::UINT32,
            TensorData::UInt64(_) => DType::UINT64,
            TensorData::Bool(_) => DType::BOOL,
            TensorData::String(_) => DType::STRING,
        }
    }

    pub fn len(&self) -> usize {
        each_variant!(self, values => values.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Makes room for `additional` more values (exactly that many).
    pub fn reserve_exact(&mut self, additional: usize) {
        each_variant!(self, values => values.reserve_exact(additional))
    }

    /// Gives back the storage beyond the values (a buffer grown while reading).
    pub fn shrink_to_fit(&mut self) {
        each_variant!(self, values => values.shrink_to_fit())
    }

    /// Memory the values take: element storage, and for strings their bytes
    /// plus one `Vec` header each (what request size limits count).
    pub fn size_bytes(&self) -> u64 {
        let headers = each_variant!(self, values => std::mem::size_of_val(values.as_slice()));
        let strings = match self {
            TensorData::String(values) => values.iter().map(Vec::len).sum(),
            _ => 0,
        };
        headers as u64 + strings as u64
    }

    /// Empty storage of a dtype; `None` for dtypes serving cannot carry.
    pub fn empty(dtype: DType) -> Option<TensorData> {
        Some(match dtype {
            DType::FLOAT => TensorData::Float(Vec::new()),
            DType::DOUBLE => TensorData::Double(Vec::new()),
            DType::HALF => TensorData::Half(Vec::new()),
            DType::BFLOAT16 => TensorData::BFloat16(Vec::new()),
            DType::INT8 => TensorData::Int8(Vec::new()),
            DType::INT16 => TensorData::Int16(Vec::new()),
            DType::INT32 => TensorData::Int32(Vec::new()),
            DType::INT64 => TensorData::Int64(Vec::new()),
            DType::UINT8 => TensorData::UInt8(Vec::new()),
            DType::UINT16 => TensorData::UInt16(Vec::new()),
            DType::UINT32 => TensorData::UInt32(Vec::new()),
            DType::UINT64 => TensorData::UInt64(Vec::new()),
            DType::BOOL => TensorData::Bool(Vec::new()),
            DType::STRING => TensorData::String(Vec::new()),
            _ => return None,
        })
    }
}

/// A dense tensor in row-major order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Tensor {
    pub shape: Vec<u64>,
    pub data: TensorData,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TensorError {
    #[error("shape {shape:?} holds {expected} elements but {actual} values were given")]
    ElementCount {
        shape: Vec<u64>,
        expected: u64,
        actual: usize,
    },
    #[error("shape {shape:?} has more elements than fit in memory")]
    TooLarge { shape: Vec<u64> },
}

impl Tensor {
    /// A tensor whose value count matches its shape.
    pub fn new(shape: Vec<u64>, data: TensorData) -> Result<Tensor, TensorError> {
        let expected = element_count(&shape).ok_or_else(|| TensorError::TooLarge {
            shape: shape.clone(),
        })?;
        if expected != data.len() as u64 {
            return Err(TensorError::ElementCount {
                shape,
                expected,
                actual: data.len(),
            });
        }
        Ok(Tensor { shape, data })
    }

    pub fn scalar(data: TensorData) -> Result<Tensor, TensorError> {
        Tensor::new(Vec::new(), data)
    }

    pub fn dtype(&self) -> DType {
        self.data.dtype()
    }

    pub fn num_elements(&self) -> usize {
        self.data.len()
    }

    /// Shape as TensorFlow's signed dims.
    pub fn shape_i64(&self) -> Vec<i64> {
        self.shape.iter().map(|&dim| dim as i64).collect()
    }
}

/// Product of the dims, or `None` on overflow.
pub fn element_count(shape: &[u64]) -> Option<u64> {
    shape
        .iter()
        .try_fold(1u64, |count, &dim| count.checked_mul(dim))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_checks_the_element_count() {
        let err = Tensor::new(vec![2, 3], TensorData::Float(vec![0.0; 5])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "shape [2, 3] holds 6 elements but 5 values were given"
        );
        let tensor = Tensor::new(vec![2, 0], TensorData::String(vec![])).unwrap();
        assert_eq!(tensor.dtype(), DType::STRING);
        assert_eq!(tensor.num_elements(), 0);
        assert!(Tensor::new(vec![u64::MAX, 3], TensorData::Bool(vec![])).is_err());
    }

    #[test]
    fn sizes_count_elements_and_string_bytes() {
        assert_eq!(TensorData::Float(vec![0.0; 3]).size_bytes(), 12);
        assert_eq!(TensorData::Bool(vec![true; 3]).size_bytes(), 3);
        let header = std::mem::size_of::<Vec<u8>>() as u64;
        assert_eq!(
            TensorData::String(vec![b"abc".to_vec(), vec![]]).size_bytes(),
            2 * header + 3
        );
    }
}
