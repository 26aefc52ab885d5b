//! The architecture test: every file under `src/` may only reference the modules its
//! row of the layer table in `src/lib.rs` allows, and no files reference each other
//! in a circle. Run it with `cargo test --lib architecture`.
//!
//! It reads the sources with a small lexer of its own (comments and literals dropped,
//! `#[cfg(test)]` items skipped), resolves each path a file writes — `use` trees,
//! `crate::…`, `super::…`, `self::…`, `child::…`, `tfprobe::…` in the binary —
//! through `pub use` re-exports to the file that defines the item, and checks those
//! file edges. It depends on nothing of the crate it checks.

mod graph;
mod layers;
mod lexer;
mod scan;
#[cfg(test)]
mod tests;

use graph::{Edge, Files, Tree, cycles, display};
use std::path::Path;

/// What the check found.
pub struct Report {
    pub edges: Vec<Edge>,
    pub files: usize,
    pub problems: Vec<String>,
}

/// Checks `files` against the layer table found in their `src/lib.rs`.
pub fn check(files: &Files) -> Report {
    let mut problems = Vec::new();
    let lib = files.get("src/lib.rs").map(String::as_str).unwrap_or("");
    let rows = layers::parse_table(lib).unwrap_or_else(|err| {
        problems.push(format!("layer table: {err}"));
        Vec::new()
    });
    let tree = Tree::build(files);
    problems.extend(tree.errors.iter().cloned());
    let (edges, missing) = tree.edges();
    // One line per file: the first such reference, and how many more there are.
    let mut seen: Vec<(&str, usize)> = Vec::new();
    for reference in &missing {
        let file = reference.split(':').next().unwrap_or("");
        match seen.iter_mut().find(|(f, _)| *f == file) {
            Some((_, more)) => *more += 1,
            None => seen.push((file, 0)),
        }
    }
    for (file, more) in seen {
        let first = missing.iter().find(|r| r.starts_with(file)).expect("seen");
        let more = if more > 0 {
            format!(" (+{more} more)")
        } else {
            String::new()
        };
        problems.push(format!(
            "{first}{more} names no module of the tree (not declared in the crate root?)"
        ));
    }
    for (file, key) in &tree.files {
        if layers::row_for(&rows, &display(key)).is_none() {
            problems.push(format!(
                "{file}: module `{}` has no row in the layer table",
                display(key).join("::")
            ));
        }
    }
    let module_of = |file: &str| tree.files.get(file).map(display).unwrap_or_default();
    problems.extend(layers::violations(&rows, &edges, module_of));
    for (cycle, inner) in cycles(&edges) {
        let mut text = format!("file cycle: {}", cycle.join(" -> "));
        let mut shown: Vec<(&str, &str)> = Vec::new();
        for edge in &inner {
            if shown.contains(&(edge.from.as_str(), edge.to.as_str())) {
                continue;
            }
            shown.push((&edge.from, &edge.to));
            let more = inner
                .iter()
                .filter(|e| e.from == edge.from && e.to == edge.to)
                .count()
                - 1;
            let more = if more > 0 {
                format!(" (+{more} more)")
            } else {
                String::new()
            };
            text.push_str(&format!(
                "\n    {}:{} `{}` -> {}{more}",
                edge.from, edge.line, edge.path, edge.to
            ));
        }
        problems.push(text);
    }
    // Only files of the module tree are checked; say which others there are.
    for file in files.keys() {
        let test_only = tree
            .test_files
            .iter()
            .any(|t| file == t || (t.ends_with('/') && file.starts_with(t.as_str())));
        if !tree.files.contains_key(file) && !test_only {
            eprintln!("architecture: {file} is not in the module tree (not checked)");
        }
    }
    Report {
        edges,
        files: tree.files.len(),
        problems,
    }
}

/// All `.rs` files under `dir`, keyed by their path relative to `root`.
pub fn read_sources(root: &Path, dir: &Path, files: &mut Files) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|err| panic!("{}: {err}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            read_sources(root, &path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let relative = path.strip_prefix(root).expect("under root");
            let key = relative.to_string_lossy().replace('\\', "/");
            let text = std::fs::read_to_string(&path).expect("readable source");
            files.insert(key, text);
        }
    }
}

#[test]
fn layers_point_one_way_and_files_form_no_cycles() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Files::new();
    read_sources(root, &root.join("src"), &mut files);
    let report = check(&files);
    // The scan must have seen the tree, or an empty result would prove nothing.
    assert!(report.files > 50, "only {} files reached", report.files);
    assert!(
        report
            .edges
            .iter()
            .any(|e| e.from == "src/main.rs" && e.to.starts_with("src/cli/")),
        "the scan missed main.rs -> cli"
    );
    assert!(
        report.problems.is_empty(),
        "{} architecture problem(s) (layer table: src/lib.rs):\n{}",
        report.problems.len(),
        report.problems.join("\n")
    );
}
