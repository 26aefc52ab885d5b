//! What one file says about other modules: for the file's module and each inline
//! `mod x { … }` in it, the `mod x;` declarations, the names it defines, its `use`
//! imports and every path that may name another module (`crate::…`, `super::…`,
//! `self::…`, `tfprobe::…`, `child::…`, `Imported::…`). Items under `#[cfg(test)]`
//! (or any `cfg` that is false without `test`) are skipped. Resolving those paths to
//! files is `graph`'s job.

use super::lexer::{Kind, Token};

/// One module's findings; `path` is relative to the file's own module.
#[derive(Debug, Default)]
pub struct ModuleScan {
    pub path: Vec<String>,
    /// `mod x;` declarations (not under `cfg(test)`), with any `#[path = "…"]`.
    pub declared: Vec<(String, Option<String>)>,
    /// `#[cfg(test)] mod x;` and `#[cfg(test)] mod x { … }`: not checked.
    pub test_modules: Vec<(String, Option<String>)>,
    /// Names of items defined at this module's level (fn, struct, macro_rules, …).
    pub defs: Vec<String>,
    /// `use` declarations at this module's level.
    pub imports: Vec<Import>,
    /// `use` declarations inside function bodies and impls (visible here only).
    pub local_imports: Vec<Import>,
    /// Every path of two or more segments, and every `use` path, to resolve.
    pub refs: Vec<Reference>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Import {
    /// The full path, as written (`["super", "config", "Thing"]`).
    pub path: Vec<String>,
    /// The name it binds; `None` for a glob (`…::*`) or `as _`.
    pub binding: Option<String>,
    pub glob: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Reference {
    pub path: Vec<String>,
    pub line: usize,
}

/// Scans a lexed file into its module and inline submodules (the file's module first).
pub fn scan_file(tokens: &[Token]) -> Vec<ModuleScan> {
    let mut out = Vec::new();
    scan_module(tokens, Vec::new(), &mut out);
    out
}

fn scan_module(tokens: &[Token], path: Vec<String>, out: &mut Vec<ModuleScan>) {
    let index = out.len();
    out.push(ModuleScan {
        path: path.clone(),
        ..ModuleScan::default()
    });
    let mut i = 0;
    while i < tokens.len() {
        let (attrs, start) = attributes(tokens, i);
        if start >= tokens.len() {
            break;
        }
        let end = item_end(tokens, start);
        i = end;
        let item = &tokens[start..end];
        let body = skip_visibility(item);
        let keyword = body.first().and_then(Token::ident);
        let name = body.get(1).and_then(Token::ident).map(str::to_string);
        if attrs.test_only {
            if let (Some("mod"), Some(name)) = (keyword, name) {
                out[index].test_modules.push((name, attrs.path));
            }
            continue;
        }
        match (keyword, name) {
            (Some("mod"), Some(name)) if body.get(2).is_some_and(|t| t.is_punct(";")) => {
                out[index].declared.push((name, attrs.path));
            }
            (Some("mod"), Some(name)) => {
                if let Some(inner) = body.get(2).and_then(|t| t.group('{')) {
                    let mut child = path.clone();
                    child.push(name.clone());
                    out[index].defs.push(name);
                    scan_module(inner, child, out);
                }
            }
            (Some("use"), _) => {
                let module = &mut out[index];
                let imports = use_tree(&body[1..]);
                module
                    .refs
                    .extend(imports.iter().map(|(import, line)| Reference {
                        path: import.path.clone(),
                        line: *line,
                    }));
                module
                    .imports
                    .extend(imports.into_iter().map(|(import, _)| import));
            }
            (Some("extern"), _) if body.get(1).is_some_and(|t| t.is_ident("crate")) => {}
            _ => {
                if let Some(name) = defined_name(body) {
                    out[index].defs.push(name);
                }
                scan_code(item, &mut out[index]);
            }
        }
    }
}

#[derive(Default)]
struct Attributes {
    test_only: bool,
    path: Option<String>,
}

/// Reads the outer and inner attributes at `i`; returns them and the index after them.
fn attributes(tokens: &[Token], mut i: usize) -> (Attributes, usize) {
    let mut attrs = Attributes::default();
    loop {
        let inner = tokens.get(i + 1).is_some_and(|t| t.is_punct("!"));
        let group = tokens
            .get(i + 1 + usize::from(inner))
            .and_then(|t| t.group('['));
        match (tokens.get(i), group) {
            // An inner attribute (`#![…]`) applies to the enclosing module, not an item.
            (Some(hash), Some(_)) if hash.is_punct("#") && inner => i += 3,
            (Some(hash), Some(attr)) if hash.is_punct("#") => {
                if attr.first().is_some_and(|t| t.is_ident("cfg")) {
                    let predicate = attr.get(1).and_then(|t| t.group('('));
                    if predicate.is_some_and(|p| cfg_without_test(p) == Some(false)) {
                        attrs.test_only = true;
                    }
                }
                if let (true, Some(Kind::Str(path))) = (
                    attr.first().is_some_and(|t| t.is_ident("path")),
                    attr.get(2).map(|t| &t.kind),
                ) {
                    attrs.path = Some(path.clone());
                }
                i += 2;
            }
            _ => return (attrs, i),
        }
    }
}

/// Evaluates a `cfg` predicate in a build without `test`: `Some(false)` when the
/// item is certainly absent, `None` when it depends on something else.
pub fn cfg_without_test(predicate: &[Token]) -> Option<bool> {
    let parts: Vec<&[Token]> = predicate
        .split(|t| t.is_punct(","))
        .filter(|p| !p.is_empty())
        .collect();
    let [part] = parts.as_slice() else {
        return None;
    };
    let args = part.get(1).and_then(|t| t.group('('));
    match (part[0].ident(), args) {
        (Some("test"), None) if part.len() == 1 => Some(false),
        (Some("not"), Some(inner)) => cfg_without_test(inner).map(|b| !b),
        (Some(op @ ("all" | "any")), Some(inner)) => {
            let values: Vec<Option<bool>> = inner
                .split(|t| t.is_punct(","))
                .filter(|p| !p.is_empty())
                .map(cfg_without_test)
                .collect();
            let decisive = op == "any";
            if values.contains(&Some(decisive)) {
                Some(decisive)
            } else if values.iter().all(Option::is_some) {
                Some(!decisive)
            } else {
                None
            }
        }
        _ => None,
    }
}

/// The end (exclusive) of the item or statement starting at `start`: after its `;`,
/// after its body `{…}` (unless it is a `const`/`static`/`let`/`type`/`use`, which
/// end at `;`), or at a `,` before any item keyword (a struct field, an enum variant).
fn item_end(tokens: &[Token], start: usize) -> usize {
    let mut semicolon_only = false;
    let mut keyword_seen = false;
    for (offset, token) in tokens[start..].iter().enumerate() {
        let at = start + offset;
        if let Some(word) = token.ident() {
            if matches!(word, "const" | "static" | "let" | "type" | "use") && !keyword_seen {
                semicolon_only = true;
            }
            if matches!(
                word,
                "fn" | "impl" | "trait" | "mod" | "struct" | "enum" | "union"
            ) {
                // `const fn` and `unsafe impl` have bodies after all.
                semicolon_only &= !matches!(word, "fn" | "impl" | "trait");
                keyword_seen = true;
            }
            keyword_seen |= semicolon_only;
        }
        if token.is_punct(";") || (token.is_punct(",") && !keyword_seen) {
            return at + 1;
        }
        if token.group('{').is_some() && !semicolon_only {
            return at + 1;
        }
    }
    tokens.len()
}

fn skip_visibility(item: &[Token]) -> &[Token] {
    let mut rest = item;
    if rest.first().is_some_and(|t| t.is_ident("pub")) {
        rest = &rest[1..];
        if rest.first().is_some_and(|t| t.group('(').is_some()) {
            rest = &rest[1..];
        }
    }
    rest
}

/// The name an item defines at module level, if it defines one.
fn defined_name(item: &[Token]) -> Option<String> {
    const QUALIFIERS: [&str; 5] = ["const", "unsafe", "async", "extern", "default"];
    let words: Vec<&Token> = item
        .iter()
        .filter(|t| !matches!(t.kind, Kind::Str(_)))
        .collect();
    let mut i = 0;
    while words
        .get(i)
        .and_then(|t| t.ident())
        .is_some_and(|w| QUALIFIERS.contains(&w))
    {
        // `const NAME: …` defines NAME; `const fn name` defines name.
        if words[i].is_ident("const") && !words.get(i + 1).is_some_and(|t| is_keyword(t)) {
            return words.get(i + 1).and_then(|t| t.ident()).map(str::to_string);
        }
        i += 1;
    }
    let keyword = words.get(i)?.ident()?;
    if keyword == "macro_rules" {
        return words.get(i + 2).and_then(|t| t.ident()).map(str::to_string);
    }
    if matches!(
        keyword,
        "fn" | "struct" | "enum" | "union" | "trait" | "type" | "static" | "macro"
    ) {
        let mut next = i + 1;
        if words.get(next).is_some_and(|t| t.is_ident("mut")) {
            next += 1;
        }
        return words.get(next).and_then(|t| t.ident()).map(str::to_string);
    }
    None
}

fn is_keyword(token: &Token) -> bool {
    token.ident().is_some_and(|w| {
        matches!(
            w,
            "fn" | "unsafe" | "async" | "extern" | "impl" | "trait" | "struct" | "enum"
        )
    })
}

/// Collects paths and local `use`s from code, recursing into groups and skipping
/// `#[cfg(test)]` statements and items inside it.
fn scan_code(tokens: &[Token], module: &mut ModuleScan) {
    let mut i = 0;
    while i < tokens.len() {
        let token = &tokens[i];
        let (attrs, after) = attributes(tokens, i);
        if after > i {
            i = if attrs.test_only && after < tokens.len() {
                item_end(tokens, after)
            } else {
                after
            };
            continue;
        }
        if token.is_ident("use") {
            let end = item_end(tokens, i);
            for (import, line) in use_tree(&tokens[i + 1..end]) {
                module.refs.push(Reference {
                    path: import.path.clone(),
                    line,
                });
                module.local_imports.push(import);
            }
            i = end;
            continue;
        }
        if let Kind::Group(_, inner) = &token.kind {
            scan_code(inner, module);
            i += 1;
            continue;
        }
        let after_path_sep = i > 0 && (tokens[i - 1].is_punct("::") || tokens[i - 1].is_punct("."));
        if let (Some(first), false) = (token.ident(), after_path_sep) {
            let mut path = vec![first.to_string()];
            let mut j = i + 1;
            while tokens.get(j).is_some_and(|t| t.is_punct("::")) {
                match tokens.get(j + 1).and_then(Token::ident) {
                    Some(segment) => path.push(segment.to_string()),
                    None => break,
                }
                j += 2;
            }
            if path.len() > 1 && first != "Self" {
                module.refs.push(Reference {
                    path,
                    line: token.line,
                });
            }
            i = j.max(i + 1);
            continue;
        }
        i += 1;
    }
}

/// Parses the tokens after `use` (up to `;`) into imports with their lines.
pub fn use_tree(tokens: &[Token]) -> Vec<(Import, usize)> {
    let mut out = Vec::new();
    let tokens = match tokens.last() {
        Some(last) if last.is_punct(";") => &tokens[..tokens.len() - 1],
        _ => tokens,
    };
    // `use ::name::…` names an external crate.
    if !tokens.first().is_some_and(|t| t.is_punct("::")) {
        subtree(tokens, &[], &mut out);
    }
    out
}

fn subtree(tokens: &[Token], prefix: &[String], out: &mut Vec<(Import, usize)>) {
    let mut path = prefix.to_vec();
    let line = tokens.first().map_or(0, |t| t.line);
    let mut i = 0;
    while let Some(token) = tokens.get(i) {
        if token.is_punct("*") {
            out.push((
                Import {
                    path,
                    binding: None,
                    glob: true,
                },
                line,
            ));
            return;
        }
        if let Some(group) = token.group('{') {
            for part in group.split(|t| t.is_punct(",")).filter(|p| !p.is_empty()) {
                subtree(part, &path, out);
            }
            return;
        }
        let Some(segment) = token.ident() else {
            return;
        };
        if segment == "self" && i == 0 && !prefix.is_empty() {
            // `{self}` and `{self as alias}` import the prefix itself.
        } else {
            path.push(segment.to_string());
        }
        match tokens.get(i + 1) {
            Some(sep) if sep.is_punct("::") => i += 2,
            Some(word) if word.is_ident("as") => {
                let alias = tokens.get(i + 2).and_then(Token::ident);
                let binding = alias.filter(|a| *a != "_").map(str::to_string);
                out.push((
                    Import {
                        path,
                        binding,
                        glob: false,
                    },
                    line,
                ));
                return;
            }
            _ => {
                let binding = path.last().cloned();
                out.push((
                    Import {
                        path,
                        binding,
                        glob: false,
                    },
                    line,
                ));
                return;
            }
        }
    }
}
