//! A small Rust lexer for the architecture test: turns source text into a tree of
//! tokens (identifiers, punctuation, delimited groups) with comments, string, char and
//! number literals reduced to placeholders, so that nothing inside a comment or a
//! string can look like a path. It knows nothing about the rest of the crate.

/// One token with the 1-based line it starts on.
#[derive(Clone, Debug, PartialEq)]
pub struct Token {
    pub kind: Kind,
    pub line: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    /// Identifier or keyword (`r#type` is `type`).
    Ident(String),
    /// `::` or a single punctuation character.
    Punct(&'static str),
    /// A string literal's text (escapes left as written; only `#[path = "…"]` reads it).
    Str(String),
    /// Any other literal (number, char, byte), and lifetimes.
    Other,
    /// `(…)`, `[…]` or `{…}` with its contents.
    Group(char, Vec<Token>),
}

impl Token {
    pub fn ident(&self) -> Option<&str> {
        match &self.kind {
            Kind::Ident(name) => Some(name),
            _ => None,
        }
    }

    pub fn is_punct(&self, punct: &str) -> bool {
        matches!(&self.kind, Kind::Punct(p) if *p == punct)
    }

    pub fn is_ident(&self, name: &str) -> bool {
        self.ident() == Some(name)
    }

    pub fn group(&self, delimiter: char) -> Option<&[Token]> {
        match &self.kind {
            Kind::Group(d, tokens) if *d == delimiter => Some(tokens),
            _ => None,
        }
    }
}

const PUNCTS: &str = "!#$%&*+,-./:;<=>?@^|~";

/// Lexes `source`; unbalanced delimiters are an error (the file would not compile).
pub fn lex(source: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = source.chars().collect();
    let mut lexer = Lexer {
        chars: &chars,
        pos: 0,
        line: 1,
    };
    let mut stack: Vec<(char, usize, Vec<Token>)> = vec![(' ', 1, Vec::new())];
    while let Some(c) = lexer.peek(0) {
        let line = lexer.line;
        let top = |stack: &mut Vec<(char, usize, Vec<Token>)>, kind| {
            stack.last_mut().expect("root").2.push(Token { kind, line });
        };
        if c.is_whitespace() {
            lexer.bump();
        } else if c == '/' && lexer.peek(1) == Some('/') {
            while lexer.peek(0).is_some_and(|c| c != '\n') {
                lexer.bump();
            }
        } else if c == '/' && lexer.peek(1) == Some('*') {
            lexer.block_comment()?;
        } else if c == '"' {
            let text = lexer.string()?;
            top(&mut stack, Kind::Str(text));
        } else if let Some(hashes) = lexer.raw_string_start() {
            let text = lexer.raw_string(hashes)?;
            top(&mut stack, Kind::Str(text));
        } else if (c == 'b' || c == 'c') && lexer.peek(1) == Some('"') {
            lexer.bump();
            let text = lexer.string()?;
            top(&mut stack, Kind::Str(text));
        } else if c == 'b' && lexer.peek(1) == Some('\'') {
            lexer.bump();
            lexer.quote()?;
            top(&mut stack, Kind::Other);
        } else if c == '\'' {
            lexer.quote()?;
            top(&mut stack, Kind::Other);
        } else if c.is_ascii_digit() {
            lexer.number();
            top(&mut stack, Kind::Other);
        } else if c == '_' || c.is_alphabetic() {
            let name = lexer.ident();
            top(&mut stack, Kind::Ident(name));
        } else if let Some(close) = closing(c) {
            lexer.bump();
            stack.push((close, line, Vec::new()));
        } else if matches!(c, ')' | ']' | '}') {
            lexer.bump();
            let (close, open_line, tokens) = stack.pop().expect("root");
            if close != c || stack.is_empty() {
                return Err(format!("line {line}: unexpected `{c}`"));
            }
            let open = match c {
                ')' => '(',
                ']' => '[',
                _ => '{',
            };
            stack.last_mut().expect("root").2.push(Token {
                kind: Kind::Group(open, tokens),
                line: open_line,
            });
        } else if c == ':' && lexer.peek(1) == Some(':') {
            lexer.bump();
            lexer.bump();
            top(&mut stack, Kind::Punct("::"));
        } else if let Some(index) = PUNCTS.find(c) {
            lexer.bump();
            top(&mut stack, Kind::Punct(&PUNCTS[index..index + 1]));
        } else {
            return Err(format!("line {line}: unexpected character {c:?}"));
        }
    }
    if stack.len() != 1 {
        let (_, line, _) = stack.last().expect("open group");
        return Err(format!("line {line}: unclosed delimiter"));
    }
    Ok(stack.pop().expect("root").2)
}

fn closing(open: char) -> Option<char> {
    match open {
        '(' => Some(')'),
        '[' => Some(']'),
        '{' => Some('}'),
        _ => None,
    }
}

struct Lexer<'a> {
    chars: &'a [char],
    pos: usize,
    line: usize,
}

impl Lexer<'_> {
    fn peek(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.pos + ahead).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek(0)?;
        self.pos += 1;
        if c == '\n' {
            self.line += 1;
        }
        Some(c)
    }

    fn block_comment(&mut self) -> Result<(), String> {
        let start = self.line;
        let mut depth = 0usize;
        loop {
            match (self.peek(0), self.peek(1)) {
                (Some('/'), Some('*')) => {
                    self.pos += 2;
                    depth += 1;
                }
                (Some('*'), Some('/')) => {
                    self.pos += 2;
                    depth -= 1;
                    if depth == 0 {
                        return Ok(());
                    }
                }
                (Some(_), _) => {
                    self.bump();
                }
                (None, _) => return Err(format!("line {start}: unterminated block comment")),
            }
        }
    }

    /// At `"`: consumes the string (with `\` escapes) and returns its text.
    fn string(&mut self) -> Result<String, String> {
        let start = self.line;
        self.bump();
        let mut text = String::new();
        loop {
            match self.bump() {
                Some('\\') => {
                    text.push('\\');
                    if let Some(c) = self.bump() {
                        text.push(c);
                    }
                }
                Some('"') => return Ok(text),
                Some(c) => text.push(c),
                None => return Err(format!("line {start}: unterminated string")),
            }
        }
    }

    /// `r"`, `r#"`, `br"`, `cr#"`…: the number of `#`s, with the prefix consumed.
    fn raw_string_start(&mut self) -> Option<usize> {
        let prefix = match (self.peek(0), self.peek(1)) {
            (Some('r'), _) => 1,
            (Some('b' | 'c'), Some('r')) => 2,
            _ => return None,
        };
        let mut hashes = 0;
        while self.peek(prefix + hashes) == Some('#') {
            hashes += 1;
        }
        if self.peek(prefix + hashes) != Some('"') {
            return None;
        }
        self.pos += prefix + hashes + 1;
        Some(hashes)
    }

    fn raw_string(&mut self, hashes: usize) -> Result<String, String> {
        let start = self.line;
        let mut text = String::new();
        loop {
            match self.bump() {
                Some('"') if (0..hashes).all(|i| self.peek(i) == Some('#')) => {
                    self.pos += hashes;
                    return Ok(text);
                }
                Some(c) => text.push(c),
                None => return Err(format!("line {start}: unterminated raw string")),
            }
        }
    }

    /// At `'`: a char literal (`'x'`, `'\n'`, `'\u{1F600}'`) or a lifetime (`'a`).
    fn quote(&mut self) -> Result<(), String> {
        let start = self.line;
        self.bump();
        if self.peek(0) == Some('\\') {
            self.bump();
            self.bump();
            while self.peek(0).is_some_and(|c| c != '\'') {
                self.bump();
            }
            return match self.bump() {
                Some('\'') => Ok(()),
                _ => Err(format!("line {start}: unterminated char literal")),
            };
        }
        if self.peek(1) == Some('\'') {
            self.pos += 2;
            return Ok(());
        }
        // A lifetime or label: `'a`, `'static`.
        while self
            .peek(0)
            .is_some_and(|c| c == '_' || c.is_alphanumeric())
        {
            self.bump();
        }
        Ok(())
    }

    fn number(&mut self) {
        while let Some(c) = self.peek(0) {
            let fraction = c == '.' && self.peek(1).is_some_and(|d| d.is_ascii_digit());
            if c == '_' || c.is_ascii_alphanumeric() || fraction {
                self.bump();
            } else {
                break;
            }
        }
    }

    fn ident(&mut self) -> String {
        if self.peek(0) == Some('r') && self.peek(1) == Some('#') {
            self.pos += 2;
        }
        let mut name = String::new();
        while let Some(c) = self.peek(0).filter(|c| *c == '_' || c.is_alphanumeric()) {
            name.push(c);
            self.bump();
        }
        name
    }
}
