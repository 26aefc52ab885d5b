//! The fast path for `:predict` bodies (issue 18): one pass over the text that
//! writes each value straight into its input's typed buffer (the dtype from the
//! signature), checks the shape as it goes and decodes `{"b64": ...}` straight
//! from the body. No document tree is built, so a body costs its tensors and
//! little more.
//!
//! It only ever answers for a body that the tree path (`predict`) would accept,
//! with the very same tensors. On anything else — an error of any kind, or a
//! layout it does not handle (duplicate keys, an input named `b64`) — it
//! answers `None` and the caller runs the tree path, which words the error
//! exactly like TF Serving.

use super::fill::decode_base64;
use super::parse::{NumberText, Parser};
use super::predict::Format;
use crate::model::{DEFAULT_SIGNATURE_KEY, DType, SignatureInfo};
use crate::tensor::{NamedTensors, Tensor, TensorData};
use std::borrow::Cow;

/// Lists nested deeper than this go to the tree path (no tensor has that rank).
const MAX_RANK: usize = 64;

/// A predict body read by the fast path.
#[derive(Debug)]
pub struct StreamedPredict {
    /// The signature the inputs were typed by (`signature_name` or `serving_default`).
    pub signature_key: String,
    pub format: Format,
    pub inputs: NamedTensors,
}

/// Reads `body` in one pass, typing values by the signature `lookup` returns
/// for the request's signature key; `None` means "use the tree path".
pub fn stream_predict<'s>(
    body: &[u8],
    lookup: impl Fn(&str) -> Option<&'s SignatureInfo>,
) -> Option<StreamedPredict> {
    match read_body(body, &lookup, None)? {
        Read::Done(done) => Some(done),
        // `signature_name` came after the inputs and named another signature.
        Read::Retry(key) => match read_body(body, &lookup, Some(&key))? {
            Read::Done(done) => Some(done),
            Read::Retry(_) => None,
        },
    }
}

enum Read {
    Done(StreamedPredict),
    Retry(String),
}

fn read_body<'s>(
    body: &[u8],
    lookup: &impl Fn(&str) -> Option<&'s SignatureInfo>,
    known_key: Option<&str>,
) -> Option<Read> {
    let mut p = Parser::new(body);
    p.skip_ws();
    expect(&mut p, b'{')?;
    p.skip_ws();
    let mut signature_name: Option<String> = None;
    let mut read: Option<(String, Format, NamedTensors)> = None;
    loop {
        if p.peek() != Some(b'"') {
            return None;
        }
        let name = p.string_cow().ok()?;
        p.skip_ws();
        expect(&mut p, b':')?;
        p.skip_ws();
        match &*name {
            "signature_name" if signature_name.is_none() => {
                if p.peek() != Some(b'"') {
                    return None;
                }
                signature_name = Some(p.string_cow().ok()?.into_owned());
            }
            "instances" | "inputs" if read.is_none() => {
                let key = known_key
                    .or(signature_name.as_deref().filter(|name| !name.is_empty()))
                    .unwrap_or(DEFAULT_SIGNATURE_KEY)
                    .to_string();
                let signature = lookup(&key)?;
                if signature.inputs.is_empty() {
                    return None;
                }
                read = Some(if name == "instances" {
                    (key, Format::Row, read_rows(&mut p, signature)?)
                } else {
                    (key, Format::Columnar, read_columns(&mut p, signature)?)
                });
            }
            // Both keys, or one twice: the tree path decides.
            "instances" | "inputs" => return None,
            // Other members only need to be valid JSON.
            _ => {
                p.value(1).ok()?;
            }
        }
        if !more(&mut p, b'}')? {
            break;
        }
    }
    let (used_key, format, inputs) = read?;
    let wanted = signature_name
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| DEFAULT_SIGNATURE_KEY.to_string());
    if wanted != used_key {
        return Some(Read::Retry(wanted));
    }
    Some(Read::Done(StreamedPredict {
        signature_key: used_key,
        format,
        inputs,
    }))
}

/// After a list item or an object member: `Some(true)` past a `,` (another
/// follows), `Some(false)` at `close` (not consumed), `None` on anything else.
fn more(p: &mut Parser, close: u8) -> Option<bool> {
    p.skip_ws();
    match p.peek() {
        Some(b',') => {
            p.pos += 1;
            p.skip_ws();
            Some(true)
        }
        Some(byte) if byte == close => Some(false),
        _ => None,
    }
}

fn expect(p: &mut Parser, byte: u8) -> Option<()> {
    (p.peek() == Some(byte)).then(|| p.pos += 1)
}

/// One input being filled: its buffer and the shape its first value had.
struct Column {
    name: String,
    data: TensorData,
    shape: Option<Vec<u64>>,
}

/// `"instances"`: one element per batch item, a value (one input) or an object
/// with one member per input.
fn read_rows(p: &mut Parser, signature: &SignatureInfo) -> Option<NamedTensors> {
    expect(p, b'[')?;
    p.skip_ws();
    if p.peek() == Some(b']') {
        return None;
    }
    let named = p.peek() == Some(b'{') && !at_b64_object(p);
    if !named && signature.inputs.len() > 1 {
        return None;
    }
    let mut columns: Vec<Column> = Vec::with_capacity(signature.inputs.len());
    let mut batch = 0u64;
    let first_start = p.pos;
    loop {
        if named {
            read_named_item(p, signature, &mut columns)?;
        } else {
            if p.peek() == Some(b'{') && !at_b64_object(p) {
                return None;
            }
            let info = &signature.inputs[0];
            add_item(p, &mut columns, &info.key, info.dtype)?;
        }
        batch += 1;
        if batch == 1 {
            reserve_for_batch(&mut columns, p.pos - first_start, p.text.len() - p.pos);
        }
        if !more(p, b']')? {
            p.pos += 1;
            break;
        }
    }
    let mut tensors = NamedTensors::new();
    for column in columns {
        let mut shape = vec![batch];
        shape.extend(column.shape.unwrap_or_default());
        tensors.insert(column.name, finish(shape, column.data)?);
    }
    Some(tensors)
}

/// After the first item, room for as many more as the rest of the body holds
/// if they are written like it (exact for the usual uniform batch; the buffers
/// still grow by a quarter past that, and give back what was not used). Never
/// more bytes than the rest of the body (a short first item followed by
/// padding reserves nothing), and none for strings.
fn reserve_for_batch(columns: &mut [Column], item_bytes: usize, rest_bytes: usize) {
    let more_items = rest_bytes / item_bytes.max(1);
    for column in columns {
        let per_item = column.data.len();
        if per_item == 0 || matches!(column.data, TensorData::String(_)) {
            continue;
        }
        let value_bytes = column.data.size_bytes() as usize / per_item;
        let more_values = per_item.saturating_mul(more_items);
        if more_values.saturating_mul(value_bytes) <= rest_bytes {
            column.data.reserve_exact(more_values);
        }
    }
}

/// One `{"input": value, ...}` item of a named `instances` list: every input
/// of the signature exactly once.
fn read_named_item(
    p: &mut Parser,
    signature: &SignatureInfo,
    columns: &mut Vec<Column>,
) -> Option<()> {
    if p.peek() != Some(b'{') || at_b64_object(p) {
        return None;
    }
    p.pos += 1;
    p.skip_ws();
    let mut keys: Vec<String> = Vec::with_capacity(signature.inputs.len());
    if p.peek() != Some(b'}') {
        loop {
            if p.peek() != Some(b'"') {
                return None;
            }
            let name = p.string_cow().ok()?.into_owned();
            p.skip_ws();
            expect(p, b':')?;
            p.skip_ws();
            let info = signature.input(&name)?;
            if keys.contains(&name) {
                return None;
            }
            add_item(p, columns, &name, info.dtype)?;
            keys.push(name);
            if !more(p, b'}')? {
                break;
            }
        }
    }
    p.pos += 1;
    // The same rule as the tree path: the sorted keys equal the signature's list.
    keys.sort_unstable();
    let same = keys.len() == signature.inputs.len()
        && keys
            .iter()
            .zip(&signature.inputs)
            .all(|(key, input)| *key == input.key);
    same.then_some(())
}

/// Appends one batch item's value for input `name`; its shape must equal the first item's.
fn add_item(p: &mut Parser, columns: &mut Vec<Column>, name: &str, dtype: DType) -> Option<()> {
    let index = match columns.iter().position(|column| column.name == name) {
        Some(index) => index,
        None => {
            columns.push(Column {
                name: name.to_string(),
                data: TensorData::empty(dtype)?,
                shape: None,
            });
            columns.len() - 1
        }
    };
    let column = &mut columns[index];
    let shape = read_values(p, &mut column.data)?;
    match &column.shape {
        None => column.shape = Some(shape),
        Some(first) if *first != shape => return None,
        Some(_) => {}
    }
    Some(())
}

/// `"inputs"`: the whole tensor (one input) or an object keyed by input name
/// (the first member of each name counts; other members are only checked as JSON).
fn read_columns(p: &mut Parser, signature: &SignatureInfo) -> Option<NamedTensors> {
    let mut tensors = NamedTensors::new();
    if p.peek() != Some(b'{') || at_b64_object(p) {
        if signature.inputs.len() > 1 {
            return None;
        }
        let info = &signature.inputs[0];
        tensors.insert(info.key.clone(), read_tensor(p, info.dtype)?);
        return Some(tensors);
    }
    p.pos += 1;
    p.skip_ws();
    if p.peek() != Some(b'}') {
        loop {
            if p.peek() != Some(b'"') {
                return None;
            }
            let name = p.string_cow().ok()?;
            p.skip_ws();
            expect(p, b':')?;
            p.skip_ws();
            match signature.input(&name) {
                Some(info) if !tensors.contains_key(&*name) => {
                    let tensor = read_tensor(p, info.dtype)?;
                    tensors.insert(name.into_owned(), tensor);
                }
                _ => {
                    p.value(2).ok()?;
                }
            }
            if !more(p, b'}')? {
                break;
            }
        }
    }
    p.pos += 1;
    (tensors.len() == signature.inputs.len()).then_some(tensors)
}

fn read_tensor(p: &mut Parser, dtype: DType) -> Option<Tensor> {
    let mut data = TensorData::empty(dtype)?;
    let shape = read_values(p, &mut data)?;
    finish(shape, data)
}

fn finish(shape: Vec<u64>, mut data: TensorData) -> Option<Tensor> {
    data.shrink_to_fit();
    Tensor::new(shape, data).ok()
}

/// Whether the object at the cursor is exactly `{"b64": "<string>"}` (TF
/// Serving's binary string); the cursor does not move.
fn at_b64_object(p: &Parser) -> bool {
    let mut probe = p.clone();
    read_b64_object(&mut probe).is_some()
}

/// Reads `{"b64": "<string>"}` and answers the string.
fn read_b64_object<'a>(p: &mut Parser<'a>) -> Option<Cow<'a, str>> {
    expect(p, b'{')?;
    p.skip_ws();
    if p.peek() != Some(b'"') || p.string_cow().ok()? != "b64" {
        return None;
    }
    p.skip_ws();
    expect(p, b':')?;
    p.skip_ws();
    if p.peek() != Some(b'"') {
        return None;
    }
    let text = p.string_cow().ok()?;
    p.skip_ws();
    expect(p, b'}')?;
    Some(text)
}

/// The shape of a nested list as it is read: the rank is fixed by the first
/// leaf (or first empty list) and each level's size by its first list, both
/// on the path of first elements, which is the first one a depth-first read
/// finishes; every later list and leaf must agree.
struct Walk {
    dims: Vec<Option<u64>>,
    rank: Option<usize>,
}

/// Reads one JSON value (a leaf or nested lists of leaves) into `data`,
/// answering its shape.
fn read_values(p: &mut Parser, data: &mut TensorData) -> Option<Vec<u64>> {
    let mut walk = Walk {
        dims: Vec::new(),
        rank: None,
    };
    match data {
        TensorData::Float(values) => walk.value(p, 0, &mut |p| {
            grow_push(values, read_float(p)? as f32);
            Some(())
        }),
        TensorData::Double(values) => walk.value(p, 0, &mut |p| {
            grow_push(values, read_float(p)?);
            Some(())
        }),
        TensorData::Half(values) => walk.value(p, 0, &mut |p| {
            grow_push(values, half::f16::from_f64(read_float(p)?).to_bits());
            Some(())
        }),
        TensorData::BFloat16(values) => walk.value(p, 0, &mut |p| {
            grow_push(values, half::bf16::from_f64(read_float(p)?).to_bits());
            Some(())
        }),
        TensorData::Int8(values) => walk.value(p, 0, &mut |p| push_int(p, values)),
        TensorData::Int16(values) => walk.value(p, 0, &mut |p| push_int(p, values)),
        TensorData::Int32(values) => walk.value(p, 0, &mut |p| push_int(p, values)),
        TensorData::Int64(values) => walk.value(p, 0, &mut |p| push_int(p, values)),
        TensorData::UInt8(values) => walk.value(p, 0, &mut |p| push_int(p, values)),
        TensorData::UInt16(values) => walk.value(p, 0, &mut |p| push_int(p, values)),
        TensorData::UInt32(values) => walk.value(p, 0, &mut |p| push_int(p, values)),
        TensorData::UInt64(values) => walk.value(p, 0, &mut |p| {
            grow_push(values, read_u64(p)?);
            Some(())
        }),
        TensorData::Bool(values) => walk.value(p, 0, &mut |p| {
            grow_push(values, read_bool(p)?);
            Some(())
        }),
        TensorData::String(values) => walk.value(p, 0, &mut |p| {
            grow_push(values, read_string(p)?);
            Some(())
        }),
    }?;
    let rank = walk.rank.unwrap_or(0);
    walk.dims.truncate(rank);
    walk.dims.into_iter().collect()
}

impl Walk {
    fn value(
        &mut self,
        p: &mut Parser,
        level: usize,
        leaf: &mut impl FnMut(&mut Parser) -> Option<()>,
    ) -> Option<()> {
        if p.peek() != Some(b'[') {
            match self.rank {
                None => self.rank = Some(level),
                Some(rank) if rank != level => return None,
                Some(_) => {}
            }
            return leaf(p);
        }
        if self.rank.is_some_and(|rank| level >= rank) || level >= MAX_RANK {
            return None;
        }
        if self.dims.len() <= level {
            self.dims.resize(level + 1, None);
        }
        p.pos += 1;
        p.skip_ws();
        let mut count = 0u64;
        if p.peek() == Some(b']') {
            p.pos += 1;
        } else {
            loop {
                self.value(p, level + 1, leaf)?;
                count += 1;
                if self.dims[level].is_some_and(|size| count > size) {
                    return None;
                }
                if !more(p, b']')? {
                    p.pos += 1;
                    break;
                }
            }
        }
        match self.dims[level] {
            None => self.dims[level] = Some(count),
            Some(size) if size != count => return None,
            Some(_) => {}
        }
        if count == 0 && self.rank.is_none() {
            self.rank = Some(level + 1);
        }
        Some(())
    }
}

/// Appends growing the buffer by a quarter (not doubling it), so that a
/// buffer whose final size is unknown never holds more than 1.25x its values.
fn grow_push<T>(values: &mut Vec<T>, value: T) {
    if values.len() == values.capacity() {
        values.reserve_exact((values.len() / 4).max(256));
    }
    values.push(value);
}

/// A number as a double, converted like the tree path's `Number::as_f64`:
/// integer literals as their exact value rounded once (so `-0` is `0.0`).
fn read_float(p: &mut Parser) -> Option<f64> {
    if !matches!(p.peek(), Some(b'-' | b'0'..=b'9' | b'N' | b'I')) {
        return None;
    }
    match p.number_text().ok()? {
        NumberText::Special(value) => Some(value),
        NumberText::Literal {
            start,
            end,
            integral,
            ..
        } => {
            let value: f64 = fast_float2::parse(&p.text[start..end]).ok()?;
            if value.is_infinite() {
                // "Number too big to be stored in double."
                return None;
            }
            Some(if integral && value == 0.0 { 0.0 } else { value })
        }
    }
}

/// The text of an integer literal that fits in i64 (what the tree path calls `Number::Int`).
fn read_i64(p: &mut Parser) -> Option<i64> {
    integer_text(p)?.parse().ok()
}

fn integer_text<'a>(p: &mut Parser<'a>) -> Option<&'a str> {
    if !matches!(p.peek(), Some(b'-' | b'0'..=b'9')) {
        return None;
    }
    let text: &'a [u8] = p.text;
    match p.number_text().ok()? {
        NumberText::Literal {
            start,
            end,
            integral: true,
            ..
        } => std::str::from_utf8(&text[start..end]).ok(),
        _ => None,
    }
}

fn push_int<T: TryFrom<i64>>(p: &mut Parser, values: &mut Vec<T>) -> Option<()> {
    grow_push(values, T::try_from(read_i64(p)?).ok()?);
    Some(())
}

/// uint64 also takes literals above i64::MAX; `-0` is 0.
fn read_u64(p: &mut Parser) -> Option<u64> {
    let text = integer_text(p)?;
    match text.parse::<i64>() {
        Ok(value) => u64::try_from(value).ok(),
        Err(_) if !text.starts_with('-') => text.parse().ok(),
        Err(_) => None,
    }
}

fn read_bool(p: &mut Parser) -> Option<bool> {
    let rest = &p.text[p.pos..];
    let (value, len) = if rest.starts_with(b"true") {
        (true, 4)
    } else if rest.starts_with(b"false") {
        (false, 5)
    } else {
        return None;
    };
    p.pos += len;
    Some(value)
}

/// A string element: the text's bytes, or `{"b64": ...}` decoded straight from the body.
fn read_string(p: &mut Parser) -> Option<Vec<u8>> {
    match p.peek() {
        Some(b'"') => Some(p.string_cow().ok()?.into_owned().into_bytes()),
        Some(b'{') => decode_base64(&read_b64_object(p)?),
        _ => None,
    }
}

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;
