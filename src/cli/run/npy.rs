//! Reading and writing numpy's `.npy` format (and arrays inside `.npz` archives) for the
//! common dtypes: f2/f4/f8, i1..i8, u1..u8, b1, fixed-length bytes `S<n>` and unicode
//! `U<n>` (read as UTF-8). Object arrays are pickles and are refused.

use anyhow::{Context, bail};
use std::io::Read;
use std::path::Path;
use tfprobe::tensor::{Tensor, TensorData};

const MAGIC: &[u8] = b"\x93NUMPY";

/// `file.npy`, or `file.npz` with `variable` (optional when it holds one array).
pub fn load(path: &Path, variable: Option<&str>) -> anyhow::Result<Tensor> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    if bytes.starts_with(b"PK") {
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes))
            .context("reading the .npz archive")?;
        let names: Vec<String> = archive
            .file_names()
            .map(|name| name.map(|name| name.into_owned()))
            .collect::<Result<_, _>>()?;
        let name = match variable {
            Some(variable) => format!("{variable}.npy"),
            None if names.len() == 1 => names[0].clone(),
            None => bail!(
                "{} holds several arrays ({}); pick one with file.npz[name]",
                path.display(),
                names.join(", ")
            ),
        };
        let mut entry = archive
            .by_name(&name)
            .with_context(|| format!("{} has no array '{name}'", path.display()))?;
        let mut data = Vec::new();
        entry.read_to_end(&mut data)?;
        return parse(&data).with_context(|| format!("reading {name} in {}", path.display()));
    }
    if variable.is_some() {
        bail!(
            "{} is a .npy file; [name] only applies to .npz archives",
            path.display()
        );
    }
    parse(&bytes).with_context(|| format!("reading {}", path.display()))
}

pub fn parse(bytes: &[u8]) -> anyhow::Result<Tensor> {
    if !bytes.starts_with(MAGIC) || bytes.len() < 10 {
        bail!("not a .npy file (no \\x93NUMPY magic)");
    }
    let major = bytes[6];
    let (header_len, start) = match major {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 => {
            let raw = bytes.get(8..12).context("truncated header")?;
            (
                u32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]) as usize,
                12,
            )
        }
        other => bail!("unsupported .npy version {other}"),
    };
    let header = std::str::from_utf8(
        bytes
            .get(start..start + header_len)
            .context("truncated header")?,
    )?;
    let descr = dict_value(header, "descr").context("header has no 'descr'")?;
    let descr = descr.trim_matches(['\'', '"']);
    let fortran =
        dict_value(header, "fortran_order").context("header has no 'fortran_order'")? == "True";
    let shape_text = dict_value(header, "shape").context("header has no 'shape'")?;
    let shape: Vec<u64> = shape_text
        .trim_matches(['(', ')'])
        .split(',')
        .map(str::trim)
        .filter(|dim| !dim.is_empty())
        .map(|dim| {
            dim.parse()
                .with_context(|| format!("bad dimension '{dim}'"))
        })
        .collect::<anyhow::Result<_>>()?;
    let count = shape.iter().product::<u64>() as usize;
    let body = &bytes[start + header_len..];
    let (order, kind, size) = split_descr(descr)?;
    if kind == 'O' {
        bail!(
            "object arrays are pickles and are not read; save the array with a fixed dtype such as 'S' or 'f4'"
        );
    }
    let element = if kind == 'U' { size * 4 } else { size };
    let needed = count * element;
    if body.len() < needed {
        bail!(
            "the data is {} bytes but shape {shape:?} of {descr} needs {needed}",
            body.len()
        );
    }
    let big = order == '>';
    let chunks = body[..needed].chunks_exact(element.max(1)).take(count);
    macro_rules! numbers {
        ($ty:ty, $variant:ident) => {
            TensorData::$variant(
                chunks
                    .map(|chunk| {
                        let raw: [u8; size_of::<$ty>()] = chunk.try_into().expect("chunk size");
                        if big {
                            <$ty>::from_be_bytes(raw)
                        } else {
                            <$ty>::from_le_bytes(raw)
                        }
                    })
                    .collect(),
            )
        };
    }
    let data = match (kind, size) {
        ('f', 2) => numbers!(u16, Half),
        ('f', 4) => numbers!(f32, Float),
        ('f', 8) => numbers!(f64, Double),
        ('i', 1) => numbers!(i8, Int8),
        ('i', 2) => numbers!(i16, Int16),
        ('i', 4) => numbers!(i32, Int32),
        ('i', 8) => numbers!(i64, Int64),
        ('u', 1) => numbers!(u8, UInt8),
        ('u', 2) => numbers!(u16, UInt16),
        ('u', 4) => numbers!(u32, UInt32),
        ('u', 8) => numbers!(u64, UInt64),
        ('b', 1) => TensorData::Bool(chunks.map(|chunk| chunk[0] != 0).collect()),
        ('S', _) => TensorData::String(if size == 0 {
            vec![Vec::new(); count]
        } else {
            chunks
                .map(|chunk| {
                    chunk[..chunk
                        .iter()
                        .rposition(|&b| b != 0)
                        .map_or(0, |last| last + 1)]
                        .to_vec()
                })
                .collect()
        }),
        ('U', _) => TensorData::String(if size == 0 {
            vec![Vec::new(); count]
        } else {
            chunks
                .map(|chunk| {
                    let text: String = chunk
                        .chunks_exact(4)
                        .map(|raw| {
                            let raw = [raw[0], raw[1], raw[2], raw[3]];
                            if big {
                                u32::from_be_bytes(raw)
                            } else {
                                u32::from_le_bytes(raw)
                            }
                        })
                        .take_while(|&code| code != 0)
                        .filter_map(char::from_u32)
                        .collect();
                    text.into_bytes()
                })
                .collect()
        }),
        _ => bail!("unsupported .npy dtype '{descr}'"),
    };
    let tensor = Tensor::new(shape.clone(), data)?;
    Ok(if fortran && shape.len() > 1 {
        fortran_to_c(tensor)
    } else {
        tensor
    })
}

/// `'<f4'` -> ('<', 'f', 4).
fn split_descr(descr: &str) -> anyhow::Result<(char, char, usize)> {
    let mut chars = descr.chars();
    let first = chars.next().context("empty descr")?;
    let (order, kind) = if "<>|=".contains(first) {
        (first, chars.next().context("short descr")?)
    } else {
        ('=', first)
    };
    let size: usize = chars
        .as_str()
        .parse()
        .unwrap_or(if kind == 'O' { 8 } else { 0 });
    Ok((order, kind, size))
}

/// The text after `'key':` up to the next top-level comma of the header dict.
fn dict_value<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let quoted = [format!("'{key}'"), format!("\"{key}\"")];
    let at = quoted
        .iter()
        .find_map(|quoted| header.find(quoted.as_str()).map(|at| at + quoted.len()))?;
    let rest = header[at..].trim_start().strip_prefix(':')?.trim_start();
    let mut depth = 0;
    for (index, ch) in rest.char_indices() {
        match ch {
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            ',' | '}' if depth == 0 => return Some(rest[..index].trim()),
            _ => {}
        }
    }
    Some(rest.trim())
}

/// Reorders column-major data to row-major.
fn fortran_to_c(tensor: Tensor) -> Tensor {
    let shape = tensor.shape.clone();
    let count = tensor.num_elements();
    let rank = shape.len();
    let mut order = Vec::with_capacity(count);
    for c_index in 0..count {
        // Row-major multi-index of c_index, then its column-major offset.
        let mut rest = c_index as u64;
        let mut index = vec![0u64; rank];
        for axis in (0..rank).rev() {
            index[axis] = rest % shape[axis];
            rest /= shape[axis];
        }
        let mut offset = 0u64;
        for axis in (0..rank).rev() {
            offset = offset * shape[axis] + index[axis];
        }
        order.push(offset as usize);
    }
    macro_rules! pick {
        ($values:expr, $variant:ident) => {
            TensorData::$variant(order.iter().map(|&from| $values[from].clone()).collect())
        };
    }
    let data = match &tensor.data {
        TensorData::Float(v) => pick!(v, Float),
        TensorData::Double(v) => pick!(v, Double),
        TensorData::Half(v) => pick!(v, Half),
        TensorData::BFloat16(v) => pick!(v, BFloat16),
        TensorData::Int8(v) => pick!(v, Int8),
        TensorData::Int16(v) => pick!(v, Int16),
        TensorData::Int32(v) => pick!(v, Int32),
        TensorData::Int64(v) => pick!(v, Int64),
        TensorData::UInt8(v) => pick!(v, UInt8),
        TensorData::UInt16(v) => pick!(v, UInt16),
        TensorData::UInt32(v) => pick!(v, UInt32),
        TensorData::UInt64(v) => pick!(v, UInt64),
        TensorData::Bool(v) => pick!(v, Bool),
        TensorData::String(v) => pick!(v, String),
    };
    Tensor { shape, data }
}

/// Serialises a tensor as `.npy` (version 1, little-endian, C order).
pub fn to_npy(tensor: &Tensor) -> Vec<u8> {
    let mut body = Vec::new();
    let descr = match &tensor.data {
        TensorData::Float(v) => {
            (
                v.iter().for_each(|x| body.extend(x.to_le_bytes())),
                "<f4".to_string(),
            )
                .1
        }
        TensorData::Double(v) => {
            (
                v.iter().for_each(|x| body.extend(x.to_le_bytes())),
                "<f8".to_string(),
            )
                .1
        }
        TensorData::Half(v) => {
            (
                v.iter().for_each(|x| body.extend(x.to_le_bytes())),
                "<f2".to_string(),
            )
                .1
        }
        TensorData::BFloat16(v) => {
            // numpy has no bfloat16: widen to float32.
            v.iter()
                .for_each(|x| body.extend(half::bf16::from_bits(*x).to_f32().to_le_bytes()));
            "<f4".to_string()
        }
        TensorData::Int8(v) => {
            (
                v.iter().for_each(|x| body.extend(x.to_le_bytes())),
                "|i1".to_string(),
            )
                .1
        }
        TensorData::Int16(v) => {
            (
                v.iter().for_each(|x| body.extend(x.to_le_bytes())),
                "<i2".to_string(),
            )
                .1
        }
        TensorData::Int32(v) => {
            (
                v.iter().for_each(|x| body.extend(x.to_le_bytes())),
                "<i4".to_string(),
            )
                .1
        }
        TensorData::Int64(v) => {
            (
                v.iter().for_each(|x| body.extend(x.to_le_bytes())),
                "<i8".to_string(),
            )
                .1
        }
        TensorData::UInt8(v) => (body.extend(v), "|u1".to_string()).1,
        TensorData::UInt16(v) => {
            (
                v.iter().for_each(|x| body.extend(x.to_le_bytes())),
                "<u2".to_string(),
            )
                .1
        }
        TensorData::UInt32(v) => {
            (
                v.iter().for_each(|x| body.extend(x.to_le_bytes())),
                "<u4".to_string(),
            )
                .1
        }
        TensorData::UInt64(v) => {
            (
                v.iter().for_each(|x| body.extend(x.to_le_bytes())),
                "<u8".to_string(),
            )
                .1
        }
        TensorData::Bool(v) => {
            (
                body.extend(v.iter().map(|&b| u8::from(b))),
                "|b1".to_string(),
            )
                .1
        }
        TensorData::String(v) => {
            let width = v.iter().map(Vec::len).max().unwrap_or(0).max(1);
            for element in v {
                body.extend(element);
                body.extend(std::iter::repeat_n(0u8, width - element.len()));
            }
            format!("|S{width}")
        }
    };
    let shape = match tensor.shape.len() {
        1 => format!("({},)", tensor.shape[0]),
        _ => format!(
            "({})",
            tensor
                .shape
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    // Magic (6) + version (2) + length (2) + header + '\n' is a multiple of 64.
    while !(10 + header.len() + 1).is_multiple_of(64) {
        header.push(' ');
    }
    header.push('\n');
    let mut out = MAGIC.to_vec();
    out.extend([1, 0]);
    out.extend((header.len() as u16).to_le_bytes());
    out.extend(header.as_bytes());
    out.extend(body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_reads_fortran_order() {
        for tensor in [
            Tensor::new(
                vec![2, 3],
                TensorData::Float(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.5]),
            )
            .unwrap(),
            Tensor::new(vec![3], TensorData::Int64(vec![-1, 0, i64::MAX])).unwrap(),
            Tensor::new(
                vec![2],
                TensorData::String(vec![b"ab".to_vec(), vec![0xff]]),
            )
            .unwrap(),
            Tensor::new(vec![], TensorData::Bool(vec![true])).unwrap(),
        ] {
            assert_eq!(parse(&to_npy(&tensor)).unwrap(), tensor);
        }
        // np.asfortranarray(np.arange(6, dtype='<i4').reshape(2, 3)) saved with np.save.
        let mut bytes = MAGIC.to_vec();
        let mut header = "{'descr': '<i4', 'fortran_order': True, 'shape': (2, 3), }".to_string();
        while !(10 + header.len() + 1).is_multiple_of(64) {
            header.push(' ');
        }
        header.push('\n');
        bytes.extend([1, 0]);
        bytes.extend((header.len() as u16).to_le_bytes());
        bytes.extend(header.as_bytes());
        for value in [0i32, 3, 1, 4, 2, 5] {
            bytes.extend(value.to_le_bytes());
        }
        assert_eq!(
            parse(&bytes).unwrap().data,
            TensorData::Int32(vec![0, 1, 2, 3, 4, 5])
        );
        assert!(parse(b"not numpy").is_err());
    }
}
