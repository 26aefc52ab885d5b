//! A small JSON reader for request bodies. It accepts what TF Serving's
//! rapidjson settings accept — `NaN`, `Infinity`, `-Infinity` (and `Inf`)
//! as numbers, trailing content after the document is ignored — keeps
//! integers exact (int64 and uint64 values do not pass through a double), and
//! reports errors with rapidjson's wording and byte offset.

/// A parsed JSON value. Object members keep their order; lookups take the first.
#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

/// A JSON number: integer literals stay integers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Number {
    /// An integer literal that fits in i64.
    Int(i64),
    /// A non-negative integer literal above i64::MAX that fits in u64.
    UInt(u64),
    /// Anything else: fractions, exponents, huge integers, NaN and infinities.
    Float(f64),
}

impl Number {
    pub fn as_f64(self) -> f64 {
        match self {
            Number::Int(v) => v as f64,
            Number::UInt(v) => v as f64,
            Number::Float(v) => v,
        }
    }
}

impl Json {
    /// The first member named `key` of an object.
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(members) => members
                .iter()
                .find(|(name, _)| name == key)
                .map(|(_, value)| value),
            _ => None,
        }
    }

    /// `{"b64": "<string>"}` and nothing else: TF Serving's binary string form.
    pub fn as_b64(&self) -> Option<&str> {
        match self {
            Json::Object(members) if members.len() == 1 && members[0].0 == "b64" => {
                match &members[0].1 {
                    Json::String(text) => Some(text),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// rapidjson's type names, as TF Serving's messages print them.
    pub fn type_name(&self) -> &'static str {
        match self {
            Json::Null => "Null",
            Json::Bool(false) => "False",
            Json::Bool(true) => "True",
            Json::Object(_) => "Object",
            Json::Array(_) => "Array",
            Json::String(_) => "String",
            Json::Number(_) => "Number",
        }
    }
}

/// Nesting deeper than this is refused (no tensor has that many dimensions).
const MAX_DEPTH: usize = 512;

/// Parses one JSON document from the start of `text`.
pub fn parse(text: &[u8]) -> Result<Json, String> {
    let mut parser = Parser { text, pos: 0 };
    parser.skip_ws();
    if parser.pos == text.len() {
        return Err("JSON Parse error: The document is empty. at offset: 0".into());
    }
    parser
        .value(0)
        .map_err(|(message, offset)| format!("JSON Parse error: {message} at offset: {offset}"))
}

pub(super) type ParseResult<T> = Result<T, (&'static str, usize)>;

/// The reader's cursor; `stream` reads predict bodies token by token with it.
#[derive(Clone)]
pub(super) struct Parser<'a> {
    pub(super) text: &'a [u8],
    pub(super) pos: usize,
}

/// A number literal's text, checked against JSON's grammar (plus rapidjson's
/// `NaN` / `Infinity` / `Inf`) but not converted yet.
pub(super) enum NumberText {
    /// `NaN`, `Infinity`, `Inf` with an optional `-`.
    Special(f64),
    /// `text[start..end]`; `integral` when it has no fraction and no exponent.
    Literal {
        start: usize,
        end: usize,
        integral: bool,
        negative: bool,
    },
}

impl<'a> Parser<'a> {
    pub(super) fn new(text: &'a [u8]) -> Parser<'a> {
        Parser { text, pos: 0 }
    }

    pub(super) fn skip_ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.text.get(self.pos) {
            self.pos += 1;
        }
    }

    pub(super) fn peek(&self) -> Option<u8> {
        self.text.get(self.pos).copied()
    }

    fn eat(&mut self, literal: &[u8]) -> bool {
        if self.text[self.pos..].starts_with(literal) {
            self.pos += literal.len();
            true
        } else {
            false
        }
    }

    pub(super) fn value(&mut self, depth: usize) -> ParseResult<Json> {
        if depth > MAX_DEPTH {
            return Err(("Nesting is too deep.", self.pos));
        }
        match self.peek() {
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => self.string().map(Json::String),
            Some(b't') if self.eat(b"true") => Ok(Json::Bool(true)),
            Some(b'f') if self.eat(b"false") => Ok(Json::Bool(false)),
            Some(b'n') if self.eat(b"null") => Ok(Json::Null),
            Some(b'-' | b'0'..=b'9' | b'N' | b'I') => self.number().map(Json::Number),
            _ => Err(("Invalid value.", self.pos)),
        }
    }

    fn object(&mut self, depth: usize) -> ParseResult<Json> {
        self.pos += 1;
        let mut members = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Json::Object(members));
        }
        loop {
            if self.peek() != Some(b'"') {
                return Err(("Missing a name for object member.", self.pos));
            }
            let name = self.string()?;
            self.skip_ws();
            if self.peek() != Some(b':') {
                return Err(("Missing a colon after a name of object member.", self.pos));
            }
            self.pos += 1;
            self.skip_ws();
            let value = self.value(depth + 1)?;
            members.push((name, value));
            self.skip_ws();
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    self.skip_ws();
                }
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Json::Object(members));
                }
                _ => return Err(("Missing a comma or '}' after an object member.", self.pos)),
            }
        }
    }

    fn array(&mut self, depth: usize) -> ParseResult<Json> {
        self.pos += 1;
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Json::Array(items));
        }
        loop {
            items.push(self.value(depth + 1)?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    self.skip_ws();
                }
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Json::Array(items));
                }
                _ => return Err(("Missing a comma or ']' after an array element.", self.pos)),
            }
        }
    }

    fn string(&mut self) -> ParseResult<String> {
        self.string_cow().map(std::borrow::Cow::into_owned)
    }

    /// A string literal, borrowed from the text when it has no escapes.
    pub(super) fn string_cow(&mut self) -> ParseResult<std::borrow::Cow<'a, str>> {
        let start = self.pos;
        self.pos += 1;
        // Fast path: no escapes.
        let text: &'a [u8] = self.text;
        let rest = &text[self.pos..];
        if let Some(end) = rest
            .iter()
            .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
            && rest[end] == b'"'
        {
            let text = std::str::from_utf8(&rest[..end])
                .map_err(|_| ("Invalid encoding in string.", start))?;
            self.pos += end + 1;
            return Ok(std::borrow::Cow::Borrowed(text));
        }
        let mut bytes = Vec::new();
        loop {
            let Some(byte) = self.peek() else {
                return Err(("Missing a closing quotation mark in string.", start));
            };
            self.pos += 1;
            match byte {
                b'"' => break,
                b'\\' => {
                    let escape_pos = self.pos - 1;
                    let Some(escaped) = self.peek() else {
                        return Err(("Missing a closing quotation mark in string.", start));
                    };
                    self.pos += 1;
                    let simple = match escaped {
                        b'"' => Some(b'"'),
                        b'\\' => Some(b'\\'),
                        b'/' => Some(b'/'),
                        b'b' => Some(0x08),
                        b'f' => Some(0x0c),
                        b'n' => Some(b'\n'),
                        b'r' => Some(b'\r'),
                        b't' => Some(b'\t'),
                        b'u' => None,
                        _ => return Err(("Invalid escape character in string.", escape_pos)),
                    };
                    if let Some(byte) = simple {
                        bytes.push(byte);
                        continue;
                    }
                    let mut code = u32::from(self.hex4()?);
                    if (0xD800..0xDC00).contains(&code) {
                        if !self.eat(b"\\u") {
                            return Err(("The surrogate pair in string is invalid.", self.pos));
                        }
                        let low = u32::from(self.hex4()?);
                        if !(0xDC00..0xE000).contains(&low) {
                            return Err(("The surrogate pair in string is invalid.", self.pos));
                        }
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
                    }
                    let ch = char::from_u32(code)
                        .ok_or(("The surrogate pair in string is invalid.", self.pos))?;
                    let mut buf = [0u8; 4];
                    bytes.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                }
                0x00..=0x1f => return Err(("Invalid encoding in string.", self.pos - 1)),
                _ => bytes.push(byte),
            }
        }
        String::from_utf8(bytes)
            .map(std::borrow::Cow::Owned)
            .map_err(|_| ("Invalid encoding in string.", start))
    }

    fn hex4(&mut self) -> ParseResult<u16> {
        let digits = self
            .text
            .get(self.pos..self.pos + 4)
            .ok_or(("Incorrect hex digit after \\u escape in string.", self.pos))?;
        let text = std::str::from_utf8(digits)
            .map_err(|_| ("Incorrect hex digit after \\u escape in string.", self.pos))?;
        let value = u16::from_str_radix(text, 16)
            .map_err(|_| ("Incorrect hex digit after \\u escape in string.", self.pos))?;
        self.pos += 4;
        Ok(value)
    }

    fn number(&mut self) -> ParseResult<Number> {
        let (start, end, integral, negative) = match self.number_text()? {
            NumberText::Special(value) => return Ok(Number::Float(value)),
            NumberText::Literal {
                start,
                end,
                integral,
                negative,
            } => (start, end, integral, negative),
        };
        // Only ASCII digits, signs, '.', 'e' were consumed.
        let text =
            std::str::from_utf8(&self.text[start..end]).map_err(|_| ("Invalid value.", start))?;
        if integral {
            if let Ok(value) = text.parse::<i64>() {
                return Ok(Number::Int(value));
            }
            if !negative && let Ok(value) = text.parse::<u64>() {
                return Ok(Number::UInt(value));
            }
        }
        let value: f64 = text.parse().map_err(|_| ("Invalid value.", start))?;
        if value.is_infinite() {
            return Err(("Number too big to be stored in double.", start));
        }
        Ok(Number::Float(value))
    }

    /// Reads a number literal's extent (rapidjson's grammar and messages).
    pub(super) fn number_text(&mut self) -> ParseResult<NumberText> {
        let start = self.pos;
        let negative = self.eat(b"-");
        if self.eat(b"NaN") {
            return Ok(NumberText::Special(f64::NAN));
        }
        if self.eat(b"Infinity") || self.eat(b"Inf") {
            return Ok(NumberText::Special(if negative {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            }));
        }
        let digits = |parser: &mut Self| {
            while let Some(b'0'..=b'9') = parser.peek() {
                parser.pos += 1;
            }
        };
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => digits(self),
            _ => return Err(("Invalid value.", start)),
        }
        let mut integral = true;
        if self.peek() == Some(b'.') {
            integral = false;
            self.pos += 1;
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(("Miss fraction part in number.", self.pos));
            }
            digits(self);
        }
        if let Some(b'e' | b'E') = self.peek() {
            integral = false;
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(("Miss exponent in number.", self.pos));
            }
            digits(self);
        }
        Ok(NumberText::Literal {
            start,
            end: self.pos,
            integral,
            negative,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(value: &Json) -> Number {
        match value {
            Json::Number(n) => *n,
            other => panic!("not a number: {other:?}"),
        }
    }

    #[test]
    fn parses_documents_with_nan_infinity_and_exact_integers() {
        let doc = parse(
            br#" {"a": [1, -2, 3.5, 1e2, NaN, Infinity, -Infinity, -Inf],
                              "big": 9007199254740993, "huge": 18446744073709551615,
                              "s": "x\u00e9\ud83d\ude00\n", "t": true, "n": null} trailing"#,
        )
        .unwrap();
        let Some(Json::Array(items)) = doc.get("a") else {
            panic!()
        };
        assert_eq!(num(&items[0]), Number::Int(1));
        assert_eq!(num(&items[1]), Number::Int(-2));
        assert_eq!(num(&items[2]), Number::Float(3.5));
        assert_eq!(num(&items[3]), Number::Float(100.0));
        assert!(num(&items[4]).as_f64().is_nan());
        assert_eq!(num(&items[5]).as_f64(), f64::INFINITY);
        assert_eq!(num(&items[6]).as_f64(), f64::NEG_INFINITY);
        assert_eq!(num(&items[7]).as_f64(), f64::NEG_INFINITY);
        assert_eq!(
            num(doc.get("big").unwrap()),
            Number::Int(9_007_199_254_740_993)
        );
        assert_eq!(num(doc.get("huge").unwrap()), Number::UInt(u64::MAX));
        assert_eq!(doc.get("s"), Some(&Json::String("xé😀\n".into())));
        assert_eq!(doc.get("t"), Some(&Json::Bool(true)));
        assert_eq!(doc.get("n"), Some(&Json::Null));
    }

    #[test]
    fn errors_use_rapidjson_wording() {
        let exact: [(&[u8], &str); 5] = [
            (b"", "JSON Parse error: The document is empty. at offset: 0"),
            (
                b"{\"a\" 1}",
                "JSON Parse error: Missing a colon after a name of object member. at offset: 5",
            ),
            (
                b"[1 2]",
                "JSON Parse error: Missing a comma or ']' after an array element. at offset: 3",
            ),
            (
                b"{\"a\": x}",
                "JSON Parse error: Invalid value. at offset: 6",
            ),
            (
                b"\"abc",
                "JSON Parse error: Missing a closing quotation mark in string. at offset: 0",
            ),
        ];
        for (input, message) in exact {
            assert_eq!(parse(input).unwrap_err(), message);
        }
        let nested = [b'['; 600];
        let contains: [(&[u8], &str); 3] = [
            (b"1.", "Miss fraction part in number."),
            (&nested, "Nesting is too deep."),
            (b"\"\xff\"", "Invalid encoding in string."),
        ];
        for (input, message) in contains {
            let err = parse(input).unwrap_err();
            assert!(err.contains(message), "{err}");
        }
    }

    #[test]
    fn b64_objects_are_recognised() {
        let doc = parse(br#"[{"b64": "YQ=="}, {"b64": "YQ==", "x": 1}, {"b64": 1}]"#).unwrap();
        let Json::Array(items) = doc else { panic!() };
        assert_eq!(items[0].as_b64(), Some("YQ=="));
        assert_eq!(items[1].as_b64(), None);
        assert_eq!(items[2].as_b64(), None);
    }
}
