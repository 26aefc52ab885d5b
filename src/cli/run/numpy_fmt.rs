//! `str(ndarray)` as numpy 2 prints it (what `saved_model_cli run` shows): uniform
//! float formatting (positional, or scientific when values span more than 1e3 or reach
//! 1e8), right-aligned integers, ` True`/`False`, `b'...'` bytes, 75-column wrapping and
//! `...` summaries of arrays over 1000 elements (3 edge items per axis).

use tfprobe::tensor::{Tensor, TensorData};

const LINE_WIDTH: usize = 75;
const THRESHOLD: usize = 1000;
const EDGE_ITEMS: u64 = 3;
const PRECISION: usize = 8;

pub fn numpy_str(tensor: &Tensor) -> String {
    let shape = &tensor.shape;
    if shape.is_empty() {
        return scalar_str(&tensor.data);
    }
    if tensor.num_elements() == 0 {
        return "[]".into();
    }
    let summarize = tensor.num_elements() > THRESHOLD;
    let mut shown = Vec::new();
    collect_shown(shape, summarize, 0, 0, &mut shown);
    let formatter = Formatter::new(&tensor.data, &shown);
    let mut text = format_axis(tensor, &formatter, summarize, 0, 0, " ", LINE_WIDTH);
    text.truncate(text.trim_end().len());
    text
}

/// Flat indices of the elements printed (all, or the edges of each axis).
fn collect_shown(shape: &[u64], summarize: bool, axis: usize, base: u64, out: &mut Vec<usize>) {
    if axis == shape.len() {
        out.push(base as usize);
        return;
    }
    let stride: u64 = shape[axis + 1..].iter().product();
    for index in axis_indices(shape[axis], summarize).into_iter().flatten() {
        collect_shown(shape, summarize, axis + 1, base + index * stride, out);
    }
}

/// Indices of one axis; `None` marks where `...` goes.
fn axis_indices(len: u64, summarize: bool) -> Vec<Option<u64>> {
    if summarize && 2 * EDGE_ITEMS < len {
        (0..EDGE_ITEMS)
            .map(Some)
            .chain([None])
            .chain((len - EDGE_ITEMS..len).map(Some))
            .collect()
    } else {
        (0..len).map(Some).collect()
    }
}

fn format_axis(
    tensor: &Tensor,
    formatter: &Formatter,
    summarize: bool,
    axis: usize,
    base: u64,
    hanging: &str,
    width: usize,
) -> String {
    let shape = &tensor.shape;
    let axes_left = shape.len() - axis;
    let stride: u64 = shape[axis + 1..].iter().product();
    let next_hanging = format!("{hanging} ");
    let next_width = width - 1;
    let indices = axis_indices(shape[axis], summarize);
    let mut s = String::new();
    if axes_left == 1 {
        let elem_width = width - 1;
        let mut line = hanging.to_string();
        let last = indices.len() - 1;
        for (position, index) in indices.iter().enumerate() {
            let word = match index {
                Some(index) => formatter.format(&tensor.data, (base + index * stride) as usize),
                None => "...".into(),
            };
            let needs_wrap = line.len() + word.len() > elem_width && line.len() > hanging.len();
            if needs_wrap {
                s.push_str(line.trim_end());
                s.push('\n');
                line = hanging.to_string();
            }
            line.push_str(&word);
            if position != last {
                line.push(' ');
            }
        }
        s.push_str(&line);
    } else {
        let separator = "\n".repeat(axes_left - 1);
        let last = indices.len() - 1;
        for (position, index) in indices.iter().enumerate() {
            s.push_str(hanging);
            match index {
                Some(index) => s.push_str(&format_axis(
                    tensor,
                    formatter,
                    summarize,
                    axis + 1,
                    base + index * stride,
                    &next_hanging,
                    next_width,
                )),
                None => s.push_str("..."),
            }
            if position != last {
                s.push_str(&separator);
            }
        }
    }
    format!("[{}]", &s[hanging.len()..])
}

enum Formatter {
    Float(FloatFormat),
    Int { width: usize },
    Bool,
    Bytes,
}

fn float_at(data: &TensorData, index: usize) -> Option<(f64, bool)> {
    Some(match data {
        TensorData::Float(values) => (f64::from(values[index]), true),
        TensorData::Double(values) => (values[index], false),
        TensorData::Half(values) => (
            f64::from(half::f16::from_bits(values[index]).to_f32()),
            true,
        ),
        TensorData::BFloat16(values) => (
            f64::from(half::bf16::from_bits(values[index]).to_f32()),
            true,
        ),
        _ => return None,
    })
}

fn int_at(data: &TensorData, index: usize) -> Option<i128> {
    Some(match data {
        TensorData::Int8(values) => i128::from(values[index]),
        TensorData::Int16(values) => i128::from(values[index]),
        TensorData::Int32(values) => i128::from(values[index]),
        TensorData::Int64(values) => i128::from(values[index]),
        TensorData::UInt8(values) => i128::from(values[index]),
        TensorData::UInt16(values) => i128::from(values[index]),
        TensorData::UInt32(values) => i128::from(values[index]),
        TensorData::UInt64(values) => i128::from(values[index]),
        _ => return None,
    })
}

impl Formatter {
    fn new(data: &TensorData, shown: &[usize]) -> Formatter {
        match data {
            TensorData::Bool(_) => Formatter::Bool,
            TensorData::String(_) => Formatter::Bytes,
            TensorData::Float(_)
            | TensorData::Double(_)
            | TensorData::Half(_)
            | TensorData::BFloat16(_) => {
                let values: Vec<(f64, bool)> = shown
                    .iter()
                    .filter_map(|&index| float_at(data, index))
                    .collect();
                Formatter::Float(FloatFormat::new(&values))
            }
            _ => {
                let width = shown
                    .iter()
                    .filter_map(|&index| int_at(data, index))
                    .map(|value| value.to_string().len())
                    .max()
                    .unwrap_or(1);
                Formatter::Int { width }
            }
        }
    }

    fn format(&self, data: &TensorData, index: usize) -> String {
        match (self, data) {
            (Formatter::Bool, TensorData::Bool(values)) => {
                (if values[index] { " True" } else { "False" }).into()
            }
            (Formatter::Bytes, TensorData::String(values)) => bytes_repr(&values[index]),
            (Formatter::Int { width }, _) => {
                format!("{:>width$}", int_at(data, index).unwrap_or_default())
            }
            (Formatter::Float(format), _) => {
                let (value, single) = float_at(data, index).unwrap_or((0.0, false));
                format.format(value, single)
            }
            _ => String::new(),
        }
    }
}

/// numpy's FloatingFormat with floatmode `maxprec`, precision 8.
struct FloatFormat {
    exp: bool,
    pad_left: usize,
    pad_right: usize,
    /// Scientific mode: fraction digits of every mantissa, and exponent digits.
    precision: usize,
    exp_size: usize,
}

/// Shortest round-trip digits (of f32 when `single`).
fn shortest(value: f64, single: bool) -> String {
    if single {
        format!("{}", value as f32)
    } else {
        format!("{value}")
    }
}

fn shortest_sci(value: f64, single: bool) -> String {
    if single {
        format!("{:e}", value as f32)
    } else {
        format!("{value:e}")
    }
}

/// `(int part, fraction digits)` of positional text, at most 8 fraction digits.
fn positional(value: f64, single: bool) -> (String, String) {
    let mut text = shortest(value, single);
    if text
        .split_once('.')
        .is_some_and(|(_, fraction)| fraction.len() > PRECISION)
    {
        text = format!("{value:.PRECISION$}");
        text = text.trim_end_matches('0').to_string();
    }
    match text.split_once('.') {
        Some((int, fraction)) => (int.to_string(), fraction.to_string()),
        None => (text, String::new()),
    }
}

/// `(int digit with sign, fraction digits, exponent)` of scientific text.
fn scientific(value: f64, single: bool) -> (String, String, i32) {
    let mut text = shortest_sci(value, single);
    let fraction_len = |text: &str| {
        text.split('e')
            .next()
            .and_then(|mantissa| mantissa.split_once('.'))
            .map_or(0, |(_, f)| f.len())
    };
    if fraction_len(&text) > PRECISION {
        text = format!("{value:.PRECISION$e}");
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
        let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
        text = format!("{mantissa}e{exponent}");
    }
    let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    match mantissa.split_once('.') {
        Some((int, fraction)) => (int.to_string(), fraction.to_string(), exponent),
        None => (mantissa.to_string(), String::new(), exponent),
    }
}

impl FloatFormat {
    fn new(values: &[(f64, bool)]) -> FloatFormat {
        let finite: Vec<(f64, bool)> = values
            .iter()
            .copied()
            .filter(|(value, _)| value.is_finite())
            .collect();
        let non_zero: Vec<f64> = finite
            .iter()
            .map(|(value, _)| value.abs())
            .filter(|value| *value != 0.0)
            .collect();
        let exp = match (
            non_zero.iter().copied().reduce(f64::max),
            non_zero.iter().copied().reduce(f64::min),
        ) {
            (Some(max), Some(min)) => max >= 1e8 || min < 1e-4 || max / min > 1000.0,
            _ => false,
        };
        let mut format = FloatFormat {
            exp,
            pad_left: 0,
            pad_right: 0,
            precision: 0,
            exp_size: 0,
        };
        if finite.is_empty() {
            format.exp = false;
        } else if exp {
            let parts: Vec<_> = finite
                .iter()
                .map(|&(value, single)| scientific(value, single))
                .collect();
            format.precision = parts
                .iter()
                .map(|(_, fraction, _)| fraction.len())
                .max()
                .unwrap_or(0);
            format.exp_size = parts
                .iter()
                .map(|(_, _, exponent)| exponent.unsigned_abs().to_string().len())
                .max()
                .unwrap_or(1)
                .max(2);
            format.pad_left = parts.iter().map(|(int, _, _)| int.len()).max().unwrap_or(1);
            format.pad_right = format.exp_size + 2 + format.precision;
        } else {
            let parts: Vec<_> = finite
                .iter()
                .map(|&(value, single)| positional(value, single))
                .collect();
            format.pad_left = parts.iter().map(|(int, _)| int.len()).max().unwrap_or(1);
            format.pad_right = parts
                .iter()
                .map(|(_, fraction)| fraction.len())
                .max()
                .unwrap_or(0);
        }
        if finite.len() != values.len() {
            let negative_infinity = values
                .iter()
                .any(|(value, _)| value.is_infinite() && *value < 0.0);
            let offset = format.pad_right + 1;
            format.pad_left = format
                .pad_left
                .max(3usize.saturating_sub(offset))
                .max((3 + usize::from(negative_infinity)).saturating_sub(offset));
        }
        format
    }

    fn format(&self, value: f64, single: bool) -> String {
        if !value.is_finite() {
            let text = if value.is_nan() {
                "nan"
            } else if value > 0.0 {
                "inf"
            } else {
                "-inf"
            };
            let width = self.pad_left + self.pad_right + 1;
            return format!("{text:>width$}");
        }
        if self.exp {
            let (int, mut fraction, exponent) = scientific(value, single);
            while fraction.len() < self.precision {
                fraction.push('0');
            }
            let sign = if exponent < 0 { '-' } else { '+' };
            let digits = format!(
                "{:0>width$}",
                exponent.unsigned_abs(),
                width = self.exp_size
            );
            format!(
                "{int:>left$}.{fraction}e{sign}{digits}",
                left = self.pad_left
            )
        } else {
            let (int, fraction) = positional(value, single);
            format!(
                "{int:>left$}.{fraction:<right$}",
                left = self.pad_left,
                right = self.pad_right
            )
        }
    }
}

/// Python's `repr(bytes)`.
pub fn bytes_repr(bytes: &[u8]) -> String {
    let quote = if bytes.contains(&b'\'') && !bytes.contains(&b'"') {
        '"'
    } else {
        '\''
    };
    let mut out = format!("b{quote}");
    for &byte in bytes {
        match byte {
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            _ if byte as char == quote => {
                out.push('\\');
                out.push(quote);
            }
            0x20..=0x7e => out.push(byte as char),
            _ => out.push_str(&format!("\\x{byte:02x}")),
        }
    }
    out.push(quote);
    out
}

/// A 0-d array prints as its Python scalar.
fn scalar_str(data: &TensorData) -> String {
    if let Some((value, single)) = float_at(data, 0) {
        return python_float_str(value, single);
    }
    if let Some(value) = int_at(data, 0) {
        return value.to_string();
    }
    match data {
        TensorData::Bool(values) => (if values[0] { "True" } else { "False" }).into(),
        TensorData::String(values) => bytes_repr(&values[0]),
        _ => String::new(),
    }
}

/// `str(np.float32(x))` / `repr(float)`: shortest digits (of f32 when `single`),
/// positional between 1e-4 and 1e16, else scientific.
fn python_float_str(value: f64, single: bool) -> String {
    if !value.is_finite() {
        return if value.is_nan() {
            "nan".into()
        } else if value > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        };
    }
    let magnitude = value.abs();
    if magnitude != 0.0 && !(1e-4..1e16).contains(&magnitude) {
        let text = shortest_sci(value, single);
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
        let exponent: i32 = exponent.parse().unwrap_or(0);
        return format!(
            "{mantissa}e{}{:02}",
            if exponent < 0 { '-' } else { '+' },
            exponent.unsigned_abs()
        );
    }
    let text = shortest(value, single);
    if text.contains('.') {
        text
    } else {
        format!("{text}.0")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(shape: Vec<u64>, data: TensorData) -> String {
        numpy_str(&Tensor::new(shape, data).unwrap())
    }

    #[test]
    fn matches_numpy_2() {
        // Expected strings printed by numpy 2.4 for the same arrays.
        assert_eq!(
            show(
                vec![4],
                TensorData::Float(vec![3.0, -4.5, 0.2, 1.7014117e38])
            ),
            "[ 3.0000000e+00 -4.5000000e+00  2.0000000e-01  1.7014117e+38]"
        );
        assert_eq!(
            show(vec![2], TensorData::Float(vec![1.0, 2.5])),
            "[1.  2.5]"
        );
        assert_eq!(
            show(vec![2, 2], TensorData::Int64(vec![1, 2, 3, 40])),
            "[[ 1  2]\n [ 3 40]]"
        );
        assert_eq!(
            show(vec![2], TensorData::Bool(vec![true, false])),
            "[ True False]"
        );
        assert_eq!(
            show(
                vec![3],
                TensorData::String(vec![
                    b"ab!".to_vec(),
                    vec![0xff, 0xfe, 0, b'!'],
                    b"x".to_vec()
                ])
            ),
            "[b'ab!' b'\\xff\\xfe\\x00!' b'x']"
        );
        assert_eq!(show(vec![], TensorData::Float(vec![5.0])), "5.0");
        assert_eq!(show(vec![], TensorData::Int32(vec![6])), "6");
        assert_eq!(
            show(vec![2], TensorData::Float(vec![0.1, 0.2])),
            "[0.1 0.2]"
        );
        assert_eq!(
            show(vec![2], TensorData::Float(vec![1e-5, 1.0])),
            "[1.e-05 1.e+00]"
        );
        assert_eq!(
            show(
                vec![2, 3, 2],
                TensorData::Float((0..12).map(|v| v as f32).collect())
            ),
            "[[[ 0.  1.]\n  [ 2.  3.]\n  [ 4.  5.]]\n\n [[ 6.  7.]\n  [ 8.  9.]\n  [10. 11.]]]"
        );
        assert_eq!(show(vec![0, 3], TensorData::Float(vec![])), "[]");
        assert_eq!(
            show(
                vec![3],
                TensorData::Double(vec![f64::NAN, f64::INFINITY, -1.0])
            ),
            "[nan inf -1.]"
        );
        assert_eq!(
            show(
                vec![3],
                TensorData::Float(vec![0.415_198_3, 0.331_523_15, 1e-3])
            ),
            "[0.4151983  0.33152315 0.001     ]"
        );
        let ramp: Vec<f32> = (0..1001).map(|i| i as f32 / 1000.0).collect();
        assert_eq!(
            show(vec![1, 1001], TensorData::Float(ramp)),
            "[[0.    0.001 0.002 ... 0.998 0.999 1.   ]]"
        );
        let sevenths: Vec<f32> = (0..30).map(|i| i as f32 / 7.0).collect();
        assert_eq!(
            show(vec![30], TensorData::Float(sevenths)),
            "[0.         0.14285715 0.2857143  0.42857143 0.5714286  0.71428573\n 0.85714287 1.         1.1428572  1.2857143  1.4285715  1.5714285\n 1.7142857  1.8571428  2.         2.142857   2.2857144  2.4285715\n 2.5714285  2.7142856  2.857143   3.         3.142857   3.2857144\n 3.4285715  3.5714285  3.7142856  3.857143   4.         4.142857  ]"
        );
    }
}
