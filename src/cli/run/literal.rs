//! The Python literals `saved_model_cli run --input_exprs` users write: nested lists and
//! tuples of numbers, `True`/`False`, `'text'`/`b'bytes'`, optionally wrapped in
//! `np.array(...)`; and numpy-style casting of such values to a signature's dtype.

use anyhow::{Context, bail};
use tfprobe::model::DType;
use tfprobe::tensor::{Tensor, TensorData};

#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    Int(i128),
    Float(f64),
    Bool(bool),
    Bytes(Vec<u8>),
    List(Vec<Literal>),
}

/// Parses one expression.
pub fn parse(text: &str) -> anyhow::Result<Literal> {
    let mut parser = Parser {
        text: text.as_bytes(),
        position: 0,
    };
    let value = parser
        .value()
        .with_context(|| format!("cannot read the expression `{text}`"))?;
    parser.skip_space();
    if parser.position != parser.text.len() {
        bail!(
            "unexpected text at position {} of `{text}`",
            parser.position
        );
    }
    Ok(value)
}

struct Parser<'a> {
    text: &'a [u8],
    position: usize,
}

impl Parser<'_> {
    fn skip_space(&mut self) {
        while self
            .text
            .get(self.position)
            .is_some_and(u8::is_ascii_whitespace)
        {
            self.position += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_space();
        self.text.get(self.position).copied()
    }

    fn eat(&mut self, prefix: &str) -> bool {
        self.skip_space();
        if self.text[self.position..].starts_with(prefix.as_bytes()) {
            self.position += prefix.len();
            true
        } else {
            false
        }
    }

    fn value(&mut self) -> anyhow::Result<Literal> {
        for wrapper in ["np.array(", "numpy.array(", "np.asarray(", "numpy.asarray("] {
            if self.eat(wrapper) {
                let inner = self.value()?;
                // Keyword arguments (dtype=...) are ignored: the signature decides the dtype.
                let mut depth = 1;
                while depth > 0 {
                    match self.text.get(self.position) {
                        Some(b'(') => depth += 1,
                        Some(b')') => depth -= 1,
                        Some(_) => {}
                        None => bail!("unclosed {wrapper}"),
                    }
                    self.position += 1;
                }
                return Ok(inner);
            }
        }
        match self.peek() {
            Some(b'[') => self.sequence(b']'),
            Some(b'(') => self.sequence(b')'),
            Some(b'\'' | b'"') => Ok(Literal::Bytes(self.string()?)),
            Some(b'b') if matches!(self.text.get(self.position + 1), Some(b'\'' | b'"')) => {
                self.position += 1;
                Ok(Literal::Bytes(self.string()?))
            }
            Some(_) if self.eat("True") => Ok(Literal::Bool(true)),
            Some(_) if self.eat("False") => Ok(Literal::Bool(false)),
            Some(_) => self.number(),
            None => bail!("an expression is missing"),
        }
    }

    fn sequence(&mut self, close: u8) -> anyhow::Result<Literal> {
        self.position += 1;
        let mut items = Vec::new();
        loop {
            if self.peek() == Some(close) {
                self.position += 1;
                return Ok(Literal::List(items));
            }
            items.push(self.value()?);
            match self.peek() {
                Some(b',') => self.position += 1,
                Some(found) if found == close => {}
                _ => bail!(
                    "expected ',' or '{}' at position {}",
                    close as char,
                    self.position
                ),
            }
        }
    }

    fn string(&mut self) -> anyhow::Result<Vec<u8>> {
        let quote = self.text[self.position];
        self.position += 1;
        let mut out = Vec::new();
        loop {
            let Some(&byte) = self.text.get(self.position) else {
                bail!("unterminated string")
            };
            self.position += 1;
            match byte {
                _ if byte == quote => return Ok(out),
                b'\\' => {
                    let Some(&escaped) = self.text.get(self.position) else {
                        bail!("unterminated string")
                    };
                    self.position += 1;
                    match escaped {
                        b'n' => out.push(b'\n'),
                        b't' => out.push(b'\t'),
                        b'r' => out.push(b'\r'),
                        b'0' => out.push(0),
                        b'x' => {
                            let hex = self
                                .text
                                .get(self.position..self.position + 2)
                                .context("short \\x escape")?;
                            out.push(
                                u8::from_str_radix(std::str::from_utf8(hex)?, 16)
                                    .context("bad \\x escape")?,
                            );
                            self.position += 2;
                        }
                        other => out.push(other),
                    }
                }
                _ => out.push(byte),
            }
        }
    }

    fn number(&mut self) -> anyhow::Result<Literal> {
        let start = self.position;
        while self
            .text
            .get(self.position)
            .is_some_and(|byte| byte.is_ascii_alphanumeric() || b"+-._".contains(byte))
        {
            self.position += 1;
        }
        let token = std::str::from_utf8(&self.text[start..self.position])?.replace('_', "");
        if token.is_empty() {
            bail!("unexpected character at position {start}");
        }
        let lowered = token.to_ascii_lowercase();
        let special = match lowered.trim_start_matches(['+', '-']) {
            "np.inf" | "inf" | "float('inf')" => Some(f64::INFINITY),
            "np.nan" | "nan" => Some(f64::NAN),
            _ => None,
        };
        if let Some(value) = special {
            return Ok(Literal::Float(if lowered.starts_with('-') {
                -value
            } else {
                value
            }));
        }
        if let Ok(value) = token.parse::<i128>() {
            return Ok(Literal::Int(value));
        }
        token
            .parse::<f64>()
            .map(Literal::Float)
            .with_context(|| format!("`{token}` is not a number"))
    }
}

/// The nested shape of a literal; lists must be rectangular.
fn shape_of(value: &Literal) -> anyhow::Result<Vec<u64>> {
    match value {
        Literal::List(items) => {
            let mut shape = vec![items.len() as u64];
            if let Some(first) = items.first() {
                let inner = shape_of(first)?;
                for item in &items[1..] {
                    if shape_of(item)? != inner {
                        bail!(
                            "the nested lists are not rectangular (numpy would make an object array)"
                        );
                    }
                }
                shape.extend(inner);
            }
            Ok(shape)
        }
        _ => Ok(Vec::new()),
    }
}

fn flatten<'a>(value: &'a Literal, out: &mut Vec<&'a Literal>) {
    match value {
        Literal::List(items) => items.iter().for_each(|item| flatten(item, out)),
        scalar => out.push(scalar),
    }
}

/// A tensor of `dtype` from a literal, converting like `np.asarray(value, dtype)`.
pub fn to_tensor(value: &Literal, dtype: DType) -> anyhow::Result<Tensor> {
    let shape = shape_of(value)?;
    let mut scalars = Vec::new();
    flatten(value, &mut scalars);
    build(dtype, shape, &scalars)
}

fn as_f64(value: &Literal) -> anyhow::Result<f64> {
    Ok(match value {
        Literal::Int(value) => *value as f64,
        Literal::Float(value) => *value,
        Literal::Bool(value) => f64::from(u8::from(*value)),
        Literal::Bytes(bytes) => std::str::from_utf8(bytes)?
            .trim()
            .parse()
            .context("not a number")?,
        Literal::List(_) => bail!("nested list where a number was expected"),
    })
}

fn as_i128(value: &Literal) -> anyhow::Result<i128> {
    Ok(match value {
        Literal::Int(value) => *value,
        Literal::Float(value) if value.is_finite() => value.trunc() as i128,
        Literal::Float(value) => bail!("{value} cannot become an integer"),
        Literal::Bool(value) => i128::from(*value),
        Literal::Bytes(bytes) => std::str::from_utf8(bytes)?
            .trim()
            .parse()
            .context("not an integer")?,
        Literal::List(_) => bail!("nested list where a number was expected"),
    })
}

fn as_bytes(value: &Literal) -> Vec<u8> {
    match value {
        Literal::Bytes(bytes) => bytes.clone(),
        Literal::Int(value) => value.to_string().into_bytes(),
        Literal::Float(value) => format!("{value:?}").into_bytes(),
        Literal::Bool(value) => (if *value { "True" } else { "False" }).as_bytes().to_vec(),
        Literal::List(_) => Vec::new(),
    }
}

fn ints<T: TryFrom<i128>>(scalars: &[&Literal], dtype: DType) -> anyhow::Result<Vec<T>> {
    scalars
        .iter()
        .map(|value| {
            let wide = as_i128(value)?;
            T::try_from(wide).map_err(|_| anyhow::anyhow!("{wide} does not fit in {dtype}"))
        })
        .collect()
}

fn floats(scalars: &[&Literal]) -> anyhow::Result<Vec<f64>> {
    scalars.iter().map(|value| as_f64(value)).collect()
}

fn build(dtype: DType, shape: Vec<u64>, scalars: &[&Literal]) -> anyhow::Result<Tensor> {
    let data = match dtype {
        DType::FLOAT => TensorData::Float(floats(scalars)?.into_iter().map(|v| v as f32).collect()),
        DType::DOUBLE => TensorData::Double(floats(scalars)?),
        DType::HALF => TensorData::Half(
            floats(scalars)?
                .into_iter()
                .map(|v| half::f16::from_f64(v).to_bits())
                .collect(),
        ),
        DType::BFLOAT16 => TensorData::BFloat16(
            floats(scalars)?
                .into_iter()
                .map(|v| half::bf16::from_f64(v).to_bits())
                .collect(),
        ),
        DType::INT8 => TensorData::Int8(ints(scalars, dtype)?),
        DType::INT16 => TensorData::Int16(ints(scalars, dtype)?),
        DType::INT32 => TensorData::Int32(ints(scalars, dtype)?),
        DType::INT64 => TensorData::Int64(ints(scalars, dtype)?),
        DType::UINT8 => TensorData::UInt8(ints(scalars, dtype)?),
        DType::UINT16 => TensorData::UInt16(ints(scalars, dtype)?),
        DType::UINT32 => TensorData::UInt32(ints(scalars, dtype)?),
        DType::UINT64 => TensorData::UInt64(ints(scalars, dtype)?),
        DType::BOOL => TensorData::Bool(floats(scalars)?.into_iter().map(|v| v != 0.0).collect()),
        DType::STRING => TensorData::String(scalars.iter().map(|value| as_bytes(value)).collect()),
        other => bail!("tfprobe cannot feed {other}"),
    };
    Ok(Tensor::new(shape, data)?)
}

/// Casts a tensor (e.g. from a .npy file) to `dtype` the way a session feed would.
pub fn cast(tensor: Tensor, dtype: DType) -> anyhow::Result<Tensor> {
    if tensor.dtype() == dtype {
        return Ok(tensor);
    }
    let scalars: Vec<Literal> = match &tensor.data {
        TensorData::Float(values) => values
            .iter()
            .map(|&v| Literal::Float(f64::from(v)))
            .collect(),
        TensorData::Double(values) => values.iter().map(|&v| Literal::Float(v)).collect(),
        TensorData::Half(values) => values
            .iter()
            .map(|&v| Literal::Float(half::f16::from_bits(v).to_f64()))
            .collect(),
        TensorData::BFloat16(values) => values
            .iter()
            .map(|&v| Literal::Float(half::bf16::from_bits(v).to_f64()))
            .collect(),
        TensorData::Int8(values) => values.iter().map(|&v| Literal::Int(v.into())).collect(),
        TensorData::Int16(values) => values.iter().map(|&v| Literal::Int(v.into())).collect(),
        TensorData::Int32(values) => values.iter().map(|&v| Literal::Int(v.into())).collect(),
        TensorData::Int64(values) => values.iter().map(|&v| Literal::Int(v.into())).collect(),
        TensorData::UInt8(values) => values.iter().map(|&v| Literal::Int(v.into())).collect(),
        TensorData::UInt16(values) => values.iter().map(|&v| Literal::Int(v.into())).collect(),
        TensorData::UInt32(values) => values.iter().map(|&v| Literal::Int(v.into())).collect(),
        TensorData::UInt64(values) => values.iter().map(|&v| Literal::Int(v.into())).collect(),
        TensorData::Bool(values) => values.iter().map(|&v| Literal::Bool(v)).collect(),
        TensorData::String(values) => values.iter().map(|v| Literal::Bytes(v.clone())).collect(),
    };
    let refs: Vec<&Literal> = scalars.iter().collect();
    build(dtype, tensor.shape, &refs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_python_literals() {
        let value = parse("[[1, 2.5], (3, -4e-1)]").unwrap();
        let tensor = to_tensor(&value, DType::FLOAT).unwrap();
        assert_eq!(tensor.shape, vec![2, 2]);
        assert_eq!(tensor.data, TensorData::Float(vec![1.0, 2.5, 3.0, -0.4]));
        let tensor = to_tensor(&parse("0.5").unwrap(), DType::DOUBLE).unwrap();
        assert_eq!(
            (tensor.shape.clone(), tensor.data),
            (vec![], TensorData::Double(vec![0.5]))
        );
        let tensor = to_tensor(
            &parse("[b'\\xff\\x00', 'hi', \"it's\"]").unwrap(),
            DType::STRING,
        )
        .unwrap();
        assert_eq!(
            tensor.data,
            TensorData::String(vec![vec![0xff, 0], b"hi".to_vec(), b"it's".to_vec()])
        );
        let tensor = to_tensor(
            &parse("np.array([True, False], dtype=np.bool_)").unwrap(),
            DType::BOOL,
        )
        .unwrap();
        assert_eq!(tensor.data, TensorData::Bool(vec![true, false]));
        assert_eq!(
            to_tensor(&parse("[1.9, -1.9]").unwrap(), DType::INT32)
                .unwrap()
                .data,
            TensorData::Int32(vec![1, -1])
        );
        assert!(to_tensor(&parse("[300]").unwrap(), DType::UINT8).is_err());
        assert!(to_tensor(&parse("[[1], [2, 3]]").unwrap(), DType::INT64).is_err());
        assert_eq!(
            to_tensor(&parse("[]").unwrap(), DType::FLOAT)
                .unwrap()
                .shape,
            vec![0]
        );
        assert!(parse("[1, 2").is_err());
        assert!(parse("[1] x").is_err());
    }
}
