//! JSON text the way TF Serving writes it: escaped strings, float formatting,
//! one-line bounded debug renderings of request values and TensorFlow type names.
//! The leaf of `server::json`: it may use `parse`'s value type and `model`, nothing
//! else of the server.

use super::parse::{Json, Number};
use std::fmt::Write;

/// Appends `text` as a JSON string literal.
pub fn write_json_string(out: &mut String, text: &str) {
    out.reserve(text.len() + 2);
    out.push('"');
    let mut start = 0;
    for (index, byte) in text.bytes().enumerate() {
        let escape: Option<&str> = match byte {
            b'"' => Some("\\\""),
            b'\\' => Some("\\\\"),
            b'\n' => Some("\\n"),
            b'\r' => Some("\\r"),
            b'\t' => Some("\\t"),
            0x00..=0x1f => None,
            _ => continue,
        };
        out.push_str(&text[start..index]);
        match escape {
            Some(escape) => out.push_str(escape),
            None => {
                let _ = write!(out, "\\u{byte:04x}");
            }
        }
        start = index + 1;
    }
    out.push_str(&text[start..]);
    out.push('"');
}

/// A float as TF Serving writes it: shortest text that reads back to the same
/// value, `NaN`, `Infinity` and `-Infinity` for the non-finite ones.
pub fn write_f32(out: &mut String, value: f32) {
    if value.is_finite() {
        out.push_str(ryu::Buffer::new().format_finite(value));
    } else {
        out.push_str(non_finite(f64::from(value)));
    }
}

pub fn write_f64(out: &mut String, value: f64) {
    if value.is_finite() {
        out.push_str(ryu::Buffer::new().format_finite(value));
    } else {
        out.push_str(non_finite(value));
    }
}

fn non_finite(value: f64) -> &'static str {
    if value.is_nan() {
        "NaN"
    } else if value > 0.0 {
        "Infinity"
    } else {
        "-Infinity"
    }
}

/// At most this many bytes of a JSON value are quoted in an error message.
const MAX_DEBUG_BYTES: usize = 256;

/// A JSON value on one line for error messages, cut after 256 bytes like TF
/// Serving's `JsonValueToDebugString`.
pub fn debug_string(value: &Json) -> String {
    let mut out = String::new();
    write_debug(&mut out, value);
    if out.len() > MAX_DEBUG_BYTES {
        let mut cut = MAX_DEBUG_BYTES;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
    }
    out
}

fn write_debug(out: &mut String, value: &Json) {
    if out.len() > MAX_DEBUG_BYTES {
        return;
    }
    match value {
        Json::Null => out.push_str("null"),
        Json::Bool(flag) => out.push_str(if *flag { "true" } else { "false" }),
        Json::Number(Number::Int(v)) => out.push_str(itoa::Buffer::new().format(*v)),
        Json::Number(Number::UInt(v)) => out.push_str(itoa::Buffer::new().format(*v)),
        Json::Number(Number::Float(v)) => write_f64(out, *v),
        Json::String(text) => write_json_string(out, text),
        Json::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                write_debug(out, item);
                if out.len() > MAX_DEBUG_BYTES {
                    return;
                }
            }
            out.push(']');
        }
        Json::Object(members) => {
            out.push('{');
            for (index, (name, item)) in members.iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                write_json_string(out, name);
                out.push_str(": ");
                write_debug(out, item);
                if out.len() > MAX_DEBUG_BYTES {
                    return;
                }
            }
            out.push('}');
        }
    }
}

/// TensorFlow's `DataTypeString` (`float`, `int64`, `string`, ...), which TF
/// Serving's JSON messages use.
pub fn tf_type_name(dtype: crate::model::DType) -> String {
    let name = dtype.name();
    name.strip_prefix("DT_")
        .unwrap_or(&name)
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::json::parse::parse;

    #[test]
    fn strings_and_numbers_are_written_as_json() {
        let mut out = String::new();
        write_json_string(&mut out, "a\"b\\c\nd\u{1}é");
        assert_eq!(out, r#""a\"b\\c\nd\u0001é""#);
        let mut out = String::new();
        for value in [
            1.0f32,
            0.2,
            2.416_283_2e-6,
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
        ] {
            write_f32(&mut out, value);
            out.push(' ');
        }
        assert_eq!(out, "1.0 0.2 0.0000024162832 NaN Infinity -Infinity ");
        let mut out = String::new();
        write_f64(&mut out, 1e300);
        assert_eq!(out, "1e300");
    }

    #[test]
    fn debug_strings_are_single_line_and_bounded() {
        let doc = parse(br#"{"instances": [1, 2.5, "x", {"b64": "YQ=="}]}"#).unwrap();
        assert_eq!(
            debug_string(&doc),
            r#"{"instances": [1, 2.5, "x", {"b64": "YQ=="}]}"#
        );
        let long = Json::Array(vec![Json::Number(Number::Int(123_456)); 1000]);
        assert!(debug_string(&long).len() <= MAX_DEBUG_BYTES);
        assert_eq!(tf_type_name(crate::model::DType::FLOAT), "float");
        assert_eq!(tf_type_name(crate::model::DType::BFLOAT16), "bfloat16");
    }
}
