//! JSON values into tensor data: the dense shape a nested list implies, filling
//! level by level with TF Serving's shape checks, and per-dtype conversion of
//! each value (integer range checks, `{"b64": ...}` strings).

use super::parse::{Json, Number};
use super::{debug_string, tf_type_name};
use crate::model::DType;
use crate::tensor::TensorData;
use base64::Engine;

/// The shape implied by following the first element of each nested list.
pub(super) fn dense_shape(value: &Json) -> Vec<u64> {
    let mut shape = Vec::new();
    let mut current = value;
    while let Json::Array(items) = current {
        shape.push(items.len() as u64);
        match items.first() {
            Some(first) => current = first,
            None => break,
        }
    }
    shape
}

pub(super) fn fill(
    value: &Json,
    level: usize,
    shape: &[u64],
    dtype: DType,
    data: &mut TensorData,
) -> Result<(), String> {
    let rank = shape.len();
    let Json::Array(items) = value else {
        if level != rank {
            return Err(format!(
                "JSON Value: {} found at incorrect level: {} in the JSON DOM. Expected at level: {rank}",
                debug_string(value),
                level + 1
            ));
        }
        return push_value(value, dtype, data);
    };
    if level >= rank {
        return Err(format!(
            "Encountered list at unexpected level: {level} expected < {rank}"
        ));
    }
    if items.len() as u64 != shape[level] {
        return Err(format!(
            "Encountered list at unexpected size: {} at level: {level} expected size: {}",
            items.len(),
            shape[level]
        ));
    }
    items
        .iter()
        .try_for_each(|item| fill(item, level + 1, shape, dtype, data))
}

fn push_value(value: &Json, dtype: DType, data: &mut TensorData) -> Result<(), String> {
    let type_error = || {
        format!(
            "JSON Value: {} Type: {} is not of expected type: {}",
            debug_string(value),
            value.type_name(),
            tf_type_name(dtype)
        )
    };
    let number = match value {
        Json::Number(number) => Some(*number),
        _ => None,
    };
    let int = |number: Option<Number>| match number {
        Some(Number::Int(v)) => Some(v),
        _ => None,
    };
    macro_rules! push_int {
        ($values:expr, $ty:ty) => {
            $values.push(
                int(number)
                    .and_then(|v| <$ty>::try_from(v).ok())
                    .ok_or_else(type_error)?,
            )
        };
    }
    match data {
        TensorData::Float(values) => values.push(number.ok_or_else(type_error)?.as_f64() as f32),
        TensorData::Double(values) => values.push(number.ok_or_else(type_error)?.as_f64()),
        TensorData::Half(values) => {
            values.push(half::f16::from_f64(number.ok_or_else(type_error)?.as_f64()).to_bits())
        }
        TensorData::BFloat16(values) => {
            values.push(half::bf16::from_f64(number.ok_or_else(type_error)?.as_f64()).to_bits())
        }
        TensorData::Int8(values) => push_int!(values, i8),
        TensorData::Int16(values) => push_int!(values, i16),
        TensorData::Int32(values) => push_int!(values, i32),
        TensorData::Int64(values) => push_int!(values, i64),
        TensorData::UInt8(values) => push_int!(values, u8),
        TensorData::UInt16(values) => push_int!(values, u16),
        TensorData::UInt32(values) => push_int!(values, u32),
        TensorData::UInt64(values) => values.push(match number {
            Some(Number::Int(v)) => u64::try_from(v).map_err(|_| type_error())?,
            Some(Number::UInt(v)) => v,
            _ => return Err(type_error()),
        }),
        TensorData::Bool(values) => match value {
            Json::Bool(flag) => values.push(*flag),
            _ => return Err(type_error()),
        },
        TensorData::String(values) => match value {
            Json::String(text) => values.push(text.as_bytes().to_vec()),
            Json::Object(_) => {
                let Some(encoded) = value.as_b64() else {
                    return Err(format!(
                        "JSON Value: {} not formatted correctly for base64 data",
                        debug_string(value)
                    ));
                };
                values.push(
                    decode_base64(encoded).ok_or_else(|| "Unable to base64 decode".to_string())?,
                );
            }
            _ => return Err(type_error()),
        },
    }
    Ok(())
}

pub(super) fn decode_base64(text: &str) -> Option<Vec<u8>> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    LENIENT.decode(text).ok()
}
