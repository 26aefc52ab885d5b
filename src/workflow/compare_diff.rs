//! How far apart two targets' outputs are: per output both return with one shape, the
//! largest absolute difference of its elements (any numeric dtype, as f64).

use crate::runtime::NamedTensors;
use crate::tensor::{Tensor, TensorData};
use std::collections::BTreeMap;

/// Per output both sides returned: the largest |A − B|; and the outputs that could not
/// be compared, each with the reason.
pub fn output_differences(
    a: &NamedTensors,
    b: &NamedTensors,
) -> (BTreeMap<String, f64>, Vec<String>) {
    let mut diffs = BTreeMap::new();
    let mut not_compared = Vec::new();
    for (name, tensor_a) in a {
        let Some(tensor_b) = b.get(name) else {
            not_compared.push(format!("{name}: only A returns it"));
            continue;
        };
        match max_abs_diff(tensor_a, tensor_b) {
            Ok(diff) => {
                diffs.insert(name.clone(), diff);
            }
            Err(why) => not_compared.push(format!("{name}: {why}")),
        }
    }
    for name in b.keys().filter(|name| !a.contains_key(*name)) {
        not_compared.push(format!("{name}: only B returns it"));
    }
    (diffs, not_compared)
}

/// max |a − b| over the elements of two tensors of one shape.
pub fn max_abs_diff(a: &Tensor, b: &Tensor) -> Result<f64, String> {
    if a.shape != b.shape {
        return Err(format!("shapes differ ({:?} vs {:?})", a.shape, b.shape));
    }
    if let (TensorData::String(x), TensorData::String(y)) = (&a.data, &b.data) {
        let differing = x.iter().zip(y).filter(|(x, y)| x != y).count();
        return match differing {
            0 => Ok(0.0),
            n => Err(format!("{n} strings differ")),
        };
    }
    let (Some(x), Some(y)) = (as_f64(&a.data), as_f64(&b.data)) else {
        return Err("not numeric".into());
    };
    Ok(x.iter().zip(&y).fold(0.0_f64, |most, (x, y)| {
        let diff = match (x.is_nan(), y.is_nan()) {
            (true, true) => 0.0,
            (false, false) => (x - y).abs(),
            _ => f64::INFINITY,
        };
        most.max(diff)
    }))
}

fn as_f64(data: &TensorData) -> Option<Vec<f64>> {
    fn all<T: Copy>(values: &[T], f: impl Fn(T) -> f64) -> Option<Vec<f64>> {
        Some(values.iter().map(|&v| f(v)).collect())
    }
    match data {
        TensorData::Float(v) => all(v, f64::from),
        TensorData::Double(v) => all(v, |x| x),
        TensorData::Half(v) => all(v, |x| f64::from(half::f16::from_bits(x).to_f32())),
        TensorData::BFloat16(v) => all(v, |x| f64::from(half::bf16::from_bits(x).to_f32())),
        TensorData::Int8(v) => all(v, f64::from),
        TensorData::Int16(v) => all(v, f64::from),
        TensorData::Int32(v) => all(v, f64::from),
        TensorData::Int64(v) => all(v, |x| x as f64),
        TensorData::UInt8(v) => all(v, f64::from),
        TensorData::UInt16(v) => all(v, f64::from),
        TensorData::UInt32(v) => all(v, f64::from),
        TensorData::UInt64(v) => all(v, |x| x as f64),
        TensorData::Bool(v) => all(v, |x| f64::from(u8::from(x))),
        TensorData::String(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn floats(shape: Vec<u64>, values: Vec<f32>) -> Tensor {
        Tensor::new(shape, TensorData::Float(values)).unwrap()
    }

    #[test]
    fn differences_per_output_and_what_cannot_be_compared() {
        let a = NamedTensors::from([
            ("p".to_string(), floats(vec![1, 3], vec![0.1, 0.5, 0.4])),
            ("only_a".to_string(), floats(vec![1], vec![1.0])),
            ("wide".to_string(), floats(vec![2], vec![1.0, 2.0])),
        ]);
        let b = NamedTensors::from([
            ("p".to_string(), floats(vec![1, 3], vec![0.2, 0.5, 0.25])),
            ("wide".to_string(), floats(vec![1, 2], vec![1.0, 2.0])),
            ("only_b".to_string(), floats(vec![1], vec![1.0])),
        ]);
        let (diffs, not_compared) = output_differences(&a, &b);
        assert_eq!(diffs.len(), 1);
        assert!(
            (diffs["p"] - f64::from(0.4_f32 - 0.25_f32)).abs() < 1e-9,
            "{diffs:?}"
        );
        assert_eq!(
            not_compared,
            [
                "only_a: only A returns it",
                "wide: shapes differ ([2] vs [1, 2])",
                "only_b: only B returns it"
            ]
        );
    }
}
