//! The checker's own tests, on small trees written inline, so that it cannot pass
//! by seeing nothing.

use super::graph::{Files, Tree};
use super::lexer::{Kind, lex};
use super::scan::{Import, scan_file, use_tree};
use super::{check, layers};

fn tree(files: &[(&str, &str)]) -> Files {
    files
        .iter()
        .map(|(path, text)| (path.to_string(), text.to_string()))
        .collect()
}

fn idents(source: &str) -> Vec<String> {
    fn walk(tokens: &[super::lexer::Token], out: &mut Vec<String>) {
        for token in tokens {
            match &token.kind {
                Kind::Ident(name) => out.push(name.clone()),
                Kind::Group(_, inner) => walk(inner, out),
                _ => {}
            }
        }
    }
    let mut out = Vec::new();
    walk(&lex(source).expect("lexes"), &mut out);
    out
}

fn imports(source: &str) -> Vec<Import> {
    let tokens = lex(source).expect("lexes");
    use_tree(&tokens[1..]).into_iter().map(|(i, _)| i).collect()
}

fn import(path: &str, binding: Option<&str>, glob: bool) -> Import {
    Import {
        path: path.split("::").map(str::to_string).collect(),
        binding: binding.map(str::to_string),
        glob,
    }
}

const TABLE: &str = "\
//! # Layers
//!
//! | Module | May depend on | What |
//! |---|---|---|
//! | `lib` | — | root |
//! | `low` | — | bottom |
//! | `mid` | `low` | middle |
//! | `top` | `mid`, `low` | top |
//! | `top::inner` | `low` | a sub-row |
//! | `main` | `top` | binary |

pub mod low;
pub mod mid;
pub mod top;
#[cfg(test)]
mod checks;
";

#[test]
fn comments_strings_and_chars_hide_nothing_and_show_nothing() {
    let source = r####"
        // crate::line::Comment
        /* crate::block /* nested crate::deeper */ still comment */
        let a = "crate::in_string \" crate::escaped";
        let b = r#"crate::raw "quoted" "#;
        let c = b"crate::bytes";
        let d = '"'; let e = '\''; fn f<'a>(x: &'a str) {}
        crate::real::Path
    "####;
    let found = idents(source);
    assert!(
        !found.iter().any(|w| [
            "line",
            "block",
            "deeper",
            "in_string",
            "escaped",
            "raw",
            "bytes"
        ]
        .contains(&w.as_str())),
        "{found:?}"
    );
    assert!(found.contains(&"real".to_string()), "{found:?}");
    assert!(lex("fn f() { (").is_err());
}

#[test]
fn use_trees_with_nested_groups_self_aliases_and_globs() {
    assert_eq!(
        imports("use crate::a::{b, c::{d as e, self}, f::*, g as _};"),
        vec![
            import("crate::a::b", Some("b"), false),
            import("crate::a::c::d", Some("e"), false),
            import("crate::a::c", Some("c"), false),
            import("crate::a::f", None, true),
            import("crate::a::g", None, false),
        ]
    );
    assert_eq!(imports("use super::*;"), vec![import("super", None, true)]);
    assert!(imports("use ::std::fmt;").is_empty());
}

#[test]
fn cfg_test_items_are_skipped_and_cfg_not_test_kept() {
    let source = "
        #[cfg(test)] use crate::hidden::A;
        #[cfg(all(test, unix))] fn helper<A, B>() { crate::hidden::b(); }
        #[cfg(test)] mod tests { use crate::hidden::C; }
        #[cfg(test)] mod more;
        #[cfg(not(test))] use crate::kept::D;
        #[cfg(any(test, unix))] use crate::kept::E;
        struct S { #[cfg(test)] f: crate::hidden::F, g: crate::kept::G }
        fn body() { #[cfg(test)] let _x = crate::hidden::H; crate::kept::I(); }
    ";
    let scans = scan_file(&lex(source).expect("lexes"));
    assert_eq!(scans.len(), 1, "the test module must not be scanned");
    let paths: Vec<String> = scans[0].refs.iter().map(|r| r.path.join("::")).collect();
    assert_eq!(
        paths,
        [
            "crate::kept::D",
            "crate::kept::E",
            "crate::kept::G",
            "crate::kept::I"
        ]
    );
    assert!(scans[0].declared.is_empty());
    assert_eq!(scans[0].test_modules.len(), 2);
}

#[test]
fn references_resolve_through_facades_to_the_defining_file() {
    let files = tree(&[
        ("src/lib.rs", "pub mod server; pub mod pb;"),
        (
            "src/server/mod.rs",
            "mod config; mod grpc; mod versions;\npub use config::Thing;\nuse versions::*;",
        ),
        ("src/server/config.rs", "pub struct Thing;"),
        ("src/server/versions.rs", "mod disk; pub use disk::Disk;"),
        ("src/server/versions/disk.rs", "pub struct Disk;"),
        (
            "src/server/grpc.rs",
            "use super::Thing;\nfn f() { let _ = super::Disk; crate::pb::inner::Generated::new(); }",
        ),
        ("src/pb/mod.rs", "pub mod inner { include!(\"gen.rs\"); }"),
    ]);
    let tree = Tree::build(&files);
    assert!(tree.errors.is_empty(), "{:?}", tree.errors);
    let (edges, missing) = tree.edges();
    assert!(missing.is_empty(), "{missing:?}");
    let edges: Vec<(String, String, String)> = edges
        .into_iter()
        .filter(|e| e.from == "src/server/grpc.rs")
        .map(|e| (e.path, e.to, e.to_module.join("::")))
        .collect();
    let expected = [
        ("super::Thing", "src/server/config.rs", "server::config"),
        (
            "super::Disk",
            "src/server/versions/disk.rs",
            "server::versions::disk",
        ),
        (
            "crate::pb::inner::Generated::new",
            "src/pb/mod.rs",
            "pb::inner",
        ),
    ];
    let expected: Vec<(String, String, String)> = expected
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect();
    assert_eq!(edges, expected);
}

#[test]
fn the_table_is_read_from_the_docs() {
    let rows = layers::parse_table(TABLE).expect("parses");
    assert_eq!(rows.len(), 6);
    assert_eq!(rows[3].path, ["top"]);
    assert_eq!(
        rows[3].deps,
        [vec!["mid".to_string()], vec!["low".to_string()]]
    );
    let path = |s: &str| s.split("::").map(str::to_string).collect::<Vec<_>>();
    assert!(layers::allowed(&rows, &path("top::x"), &path("top::y")).is_ok());
    assert!(layers::allowed(&rows, &path("top::inner::x"), &path("top::y")).is_err());
    assert!(layers::allowed(&rows, &path("mid"), &path("top")).is_err());
    let upward = TABLE.replace("| `mid` | `low` |", "| `mid` | `top` |");
    assert!(
        layers::parse_table(&upward).is_err(),
        "a row may only use rows above"
    );
    let typo = TABLE.replace("| `mid` | `low` |", "| `mid` | `lwo` |");
    assert!(layers::parse_table(&typo).is_err());
    assert!(layers::parse_table("//! no table").is_err());
}

#[test]
fn a_forbidden_edge_and_a_cycle_are_reported() {
    let files = tree(&[
        ("src/lib.rs", TABLE),
        ("src/low.rs", "pub struct L;"),
        // mid -> top is upward; mid/a.rs and mid/b.rs reference each other.
        ("src/mid/mod.rs", "mod a; mod b; pub use a::A;"),
        ("src/mid/a.rs", "use super::b::B; pub struct A;"),
        (
            "src/mid/b.rs",
            "pub struct B; fn f() { let _ = super::A; crate::top::T; }",
        ),
        (
            "src/top/mod.rs",
            "pub mod inner; pub struct T; use crate::mid::A;",
        ),
        ("src/top/inner.rs", "use crate::low::L; use super::T;"),
        (
            "src/main.rs",
            "mod helper; fn main() { tfprobe::top::T; helper::x(); }",
        ),
        (
            "src/helper.rs",
            "pub fn x() { tfprobe::low::L; tfprobe::gone::X; }",
        ),
        ("src/checks.rs", "use crate::top::T; use crate::low::L;"),
    ]);
    let report = check(&files);
    let problems = report.problems.join("\n");
    assert!(
        problems.contains("src/mid/b.rs:1: `crate::top::T` names `top` (src/top/mod.rs): row `mid` may depend on only `low`"),
        "{problems}"
    );
    assert!(
        problems.contains(
            "src/top/inner.rs:1: `super::T` names `top` (src/top/mod.rs): row `top::inner`"
        ),
        "{problems}"
    );
    assert!(
        problems.contains("file cycle: src/mid/a.rs -> src/mid/b.rs -> src/mid/a.rs"),
        "{problems}"
    );
    assert!(
        problems.contains("src/mid/b.rs:1 `super::A` -> src/mid/a.rs"),
        "{problems}"
    );
    // The binary's module `helper` has no row; `main` may use `top` but not `low`.
    assert!(
        problems.contains("src/helper.rs: module `helper` has no row"),
        "{problems}"
    );
    assert!(
        !problems.contains("src/main.rs:1: `tfprobe::top::T`"),
        "{problems}"
    );
    assert!(
        problems.contains("src/main.rs:1: `helper::x` names `helper` (src/helper.rs): row `main`"),
        "{problems}"
    );
    assert!(
        !problems.contains("checks.rs"),
        "test-only files are not checked"
    );
    assert!(
        problems.contains("src/helper.rs:1: `tfprobe::gone::X` names no module"),
        "{problems}"
    );
    assert_eq!(report.problems.len(), 7, "{problems}");
}
