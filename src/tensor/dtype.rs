//! TensorFlow data types as our own value type, so that callers match on names
//! (`DType::FLOAT`) and print them the way TensorFlow tools do (`DT_FLOAT`).

use crate::pb::tensorflow::DataType;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A `tensorflow.DataType` enum value. Unknown numbers are kept (a newer
/// TensorFlow may write them) and print as `DT_<number>`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct DType(pub i32);

impl DType {
    pub const INVALID: DType = DType(DataType::DtInvalid as i32);
    pub const FLOAT: DType = DType(DataType::DtFloat as i32);
    pub const DOUBLE: DType = DType(DataType::DtDouble as i32);
    pub const INT32: DType = DType(DataType::DtInt32 as i32);
    pub const UINT8: DType = DType(DataType::DtUint8 as i32);
    pub const INT16: DType = DType(DataType::DtInt16 as i32);
    pub const INT8: DType = DType(DataType::DtInt8 as i32);
    pub const STRING: DType = DType(DataType::DtString as i32);
    pub const INT64: DType = DType(DataType::DtInt64 as i32);
    pub const BOOL: DType = DType(DataType::DtBool as i32);
    pub const BFLOAT16: DType = DType(DataType::DtBfloat16 as i32);
    pub const UINT16: DType = DType(DataType::DtUint16 as i32);
    pub const HALF: DType = DType(DataType::DtHalf as i32);
    pub const UINT32: DType = DType(DataType::DtUint32 as i32);
    pub const UINT64: DType = DType(DataType::DtUint64 as i32);
    pub const RESOURCE: DType = DType(DataType::DtResource as i32);
    pub const VARIANT: DType = DType(DataType::DtVariant as i32);

    /// `DT_FLOAT`, as `saved_model_cli` and TF Serving's JSON print it.
    pub fn name(self) -> String {
        match DataType::try_from(self.0) {
            Ok(known) => known.as_str_name().to_string(),
            Err(_) => format!("DT_{}", self.0),
        }
    }

    pub fn from_name(name: &str) -> Option<DType> {
        DataType::from_str_name(name).map(|known| DType(known as i32))
    }

    /// The name Python's `tf.DType` uses (`float32`), as `repr(tf.float32)` shows it
    /// after `tf.`. Reference types (`DT_FLOAT_REF`) print as `float32_ref`.
    pub fn python_name(self) -> String {
        const REF_OFFSET: i32 = 100;
        if self.0 > REF_OFFSET {
            return format!("{}_ref", DType(self.0 - REF_OFFSET).python_name());
        }
        let name = self.name();
        let short = name
            .strip_prefix("DT_")
            .unwrap_or(&name)
            .to_ascii_lowercase();
        match short.as_str() {
            "float" => "float32".into(),
            "double" => "float64".into(),
            "half" => "float16".into(),
            _ => short,
        }
    }

    /// Bytes per element for fixed-size types; `None` for strings, resources, variants.
    pub fn element_size_bytes(self) -> Option<usize> {
        Some(match self {
            DType::FLOAT | DType::INT32 | DType::UINT32 => 4,
            DType::DOUBLE | DType::INT64 | DType::UINT64 => 8,
            DType::UINT8 | DType::INT8 | DType::BOOL => 1,
            DType::INT16 | DType::UINT16 | DType::HALF | DType::BFLOAT16 => 2,
            _ => match DataType::try_from(self.0).ok()? {
                DataType::DtComplex64 => 8,
                DataType::DtComplex128 => 16,
                DataType::DtQint8 | DataType::DtQuint8 => 1,
                DataType::DtQint16 | DataType::DtQuint16 => 2,
                DataType::DtQint32 => 4,
                _ => return None,
            },
        })
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl Serialize for DType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.name())
    }
}

impl<'de> Deserialize<'de> for DType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        if let Some(dtype) = DType::from_name(&name) {
            return Ok(dtype);
        }
        name.strip_prefix("DT_")
            .and_then(|number| number.parse().ok())
            .map(DType)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown TensorFlow dtype {name:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_python_names_match_tf() {
        assert_eq!(DType::FLOAT.name(), "DT_FLOAT");
        assert_eq!(DType::from_name("DT_INT64"), Some(DType::INT64));
        assert_eq!(DType::FLOAT.python_name(), "float32");
        assert_eq!(DType::DOUBLE.python_name(), "float64");
        assert_eq!(DType::HALF.python_name(), "float16");
        assert_eq!(DType::STRING.python_name(), "string");
        assert_eq!(DType(101).python_name(), "float32_ref");
        assert_eq!(DType(9999).name(), "DT_9999");
        let json = serde_json::to_string(&DType::BOOL).unwrap();
        assert_eq!(json, "\"DT_BOOL\"");
        assert_eq!(serde_json::from_str::<DType>(&json).unwrap(), DType::BOOL);
    }
}
