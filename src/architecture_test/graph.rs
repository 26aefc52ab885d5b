//! The crate's module tree, built by following `mod x;` from `src/lib.rs` and
//! `src/main.rs` through a set of source files, and the file graph: each path a file
//! writes is resolved, through `use` and `pub use` re-exports, to the file that
//! defines the item (or, for a module, the module's file). Also finds file cycles.

use super::lexer::lex;
use super::scan::{Import, ModuleScan, scan_file};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Source files by path relative to the package root (`src/server/grpc.rs`).
pub type Files = BTreeMap<String, String>;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Crate {
    Lib,
    Bin,
}

pub type ModKey = (Crate, Vec<String>);

struct Module {
    file: String,
    scan: ModuleScan,
    children: BTreeMap<String, ModKey>,
}

pub struct Tree {
    modules: BTreeMap<ModKey, Module>,
    /// Every file reached, with its module.
    pub files: BTreeMap<String, ModKey>,
    /// Files of `#[cfg(test)]` modules (and the folders of their submodules).
    pub test_files: Vec<String>,
    /// Files that could not be read or lexed, and `mod x;` without a file.
    pub errors: Vec<String>,
}

/// A reference from one file to an item or module defined in another.
#[derive(Clone, Debug, PartialEq)]
pub struct Edge {
    pub from: String,
    pub line: usize,
    /// The path as written (`super::config::Thing`).
    pub path: String,
    pub to: String,
    /// The module that defines it (`server::config`, `lib` for the library root).
    pub to_module: Vec<String>,
}

enum Found {
    Module(ModKey),
    Def,
    Import(Vec<String>),
}

enum Resolved {
    Local(ModKey),
    Extern,
    /// A crate path whose first segment the crate root does not have.
    Missing,
}

const MAX_DEPTH: usize = 32;

/// A module's path as the layer table names it: `lib` and `main` for the roots.
pub fn display(key: &ModKey) -> Vec<String> {
    match (key.0, key.1.is_empty()) {
        (Crate::Lib, true) => vec!["lib".to_string()],
        (Crate::Bin, true) => vec!["main".to_string()],
        _ => key.1.clone(),
    }
}

impl Tree {
    /// Builds the tree from `src/lib.rs` and `src/main.rs` (either may be absent).
    pub fn build(files: &Files) -> Tree {
        let mut tree = Tree {
            modules: BTreeMap::new(),
            files: BTreeMap::new(),
            test_files: Vec::new(),
            errors: Vec::new(),
        };
        for (krate, root) in [(Crate::Lib, "src/lib.rs"), (Crate::Bin, "src/main.rs")] {
            if files.contains_key(root) {
                tree.load(files, krate, root, Vec::new());
            }
        }
        tree
    }

    fn load(&mut self, files: &Files, krate: Crate, file: &str, path: Vec<String>) {
        let Some(source) = files.get(file) else {
            self.errors.push(format!("{file}: no such file"));
            return;
        };
        let tokens = match lex(source) {
            Ok(tokens) => tokens,
            Err(err) => {
                self.errors.push(format!("{file}: {err}"));
                return;
            }
        };
        self.files.insert(file.to_string(), (krate, path.clone()));
        let mut declared = Vec::new();
        for scan in scan_file(&tokens) {
            let mut full = path.clone();
            full.extend(scan.path.iter().cloned());
            let key = (krate, full.clone());
            if let Some(last) = scan.path.last() {
                let parent = (krate, full[..full.len() - 1].to_vec());
                if let Some(parent) = self.modules.get_mut(&parent) {
                    parent.children.insert(last.clone(), key.clone());
                }
            }
            for (name, path_attr) in &scan.test_modules {
                let test_file = child_file(files, file, &scan.path, name, path_attr.clone());
                if let Some(test_file) = test_file {
                    let folder = test_file.trim_end_matches("mod.rs").trim_end_matches(".rs");
                    self.test_files.push(test_file.clone());
                    self.test_files
                        .push(format!("{}/", folder.trim_end_matches('/')));
                }
            }
            for (name, path_attr) in &scan.declared {
                declared.push((
                    key.clone(),
                    scan.path.clone(),
                    name.clone(),
                    path_attr.clone(),
                ));
            }
            let module = Module {
                file: file.to_string(),
                scan,
                children: BTreeMap::new(),
            };
            self.modules.insert(key, module);
        }
        for (parent, inline, name, path_attr) in declared {
            let Some(child_file) = child_file(files, file, &inline, &name, path_attr) else {
                self.errors
                    .push(format!("{file}: `mod {name};` has no file"));
                continue;
            };
            let mut child = parent.1.clone();
            child.push(name.clone());
            let key = (krate, child.clone());
            self.load(files, krate, &child_file, child);
            if let Some(module) = self.modules.get_mut(&parent) {
                module.children.insert(name, key);
            }
        }
    }

    /// Every reference from a file to another file of the same tree, and the
    /// references to crate paths that do not exist (`file:line: path`).
    pub fn edges(&self) -> (Vec<Edge>, Vec<String>) {
        let mut edges = Vec::new();
        let mut missing = Vec::new();
        for (key, module) in &self.modules {
            for reference in &module.scan.refs {
                let target = match self.resolve(key, &reference.path, 0) {
                    Resolved::Local(target) => target,
                    Resolved::Extern => continue,
                    Resolved::Missing => {
                        missing.push(format!(
                            "{}:{}: `{}`",
                            module.file,
                            reference.line,
                            reference.path.join("::")
                        ));
                        continue;
                    }
                };
                let to = &self.modules[&target].file;
                let edge = Edge {
                    from: module.file.clone(),
                    line: reference.line,
                    path: reference.path.join("::"),
                    to: to.clone(),
                    to_module: display(&target),
                };
                if *to != module.file && !edges.contains(&edge) {
                    edges.push(edge);
                }
            }
        }
        (edges, missing)
    }

    fn lookup(&self, key: &ModKey, name: &str, local: bool) -> Option<Found> {
        let module = self.modules.get(key)?;
        if let Some(child) = module.children.get(name) {
            return Some(Found::Module(child.clone()));
        }
        if module.scan.defs.iter().any(|d| d == name) {
            return Some(Found::Def);
        }
        let locals = if local {
            &module.scan.local_imports[..]
        } else {
            &[]
        };
        module
            .scan
            .imports
            .iter()
            .chain(locals)
            .find(|import| import.binding.as_deref() == Some(name))
            .map(|import| Found::Import(import.path.clone()))
    }

    fn globs(&self, key: &ModKey, local: bool) -> Vec<Import> {
        let Some(module) = self.modules.get(key) else {
            return Vec::new();
        };
        let locals = if local {
            &module.scan.local_imports[..]
        } else {
            &[]
        };
        module
            .scan
            .imports
            .iter()
            .chain(locals)
            .filter(|import| import.glob)
            .cloned()
            .collect()
    }

    /// Resolves `path` as written in module `context`.
    fn resolve(&self, context: &ModKey, path: &[String], depth: usize) -> Resolved {
        if depth > MAX_DEPTH || path.is_empty() {
            return Resolved::Local(context.clone());
        }
        let root = (context.0, Vec::new());
        match path[0].as_str() {
            "crate" => self.walk(root, &path[1..], depth),
            "self" => self.walk(context.clone(), &path[1..], depth),
            "super" => {
                let supers = path.iter().take_while(|s| *s == "super").count();
                let keep = context.1.len().saturating_sub(supers);
                self.walk(
                    (context.0, context.1[..keep].to_vec()),
                    &path[supers..],
                    depth,
                )
            }
            first => match self.lookup(context, first, true) {
                Some(Found::Module(child)) => self.walk(child, &path[1..], depth),
                Some(Found::Def) => Resolved::Local(context.clone()),
                Some(Found::Import(import)) => {
                    let mut full = import;
                    full.extend(path[1..].iter().cloned());
                    self.resolve(context, &full, depth + 1)
                }
                None if first == "tfprobe" && context.0 == Crate::Bin => {
                    self.walk((Crate::Lib, Vec::new()), &path[1..], depth)
                }
                None => self
                    .through_globs(context, path, true, depth)
                    .unwrap_or(Resolved::Extern),
            },
        }
    }

    /// Follows `path` down from module `start`.
    fn walk(&self, start: ModKey, path: &[String], depth: usize) -> Resolved {
        let mut current = start;
        for (i, segment) in path.iter().enumerate() {
            match self.lookup(&current, segment, false) {
                Some(Found::Module(child)) => current = child,
                Some(Found::Def) => return Resolved::Local(current),
                Some(Found::Import(import)) => {
                    let mut full = import;
                    full.extend(path[i + 1..].iter().cloned());
                    return self.resolve(&current, &full, depth + 1);
                }
                None => {
                    // Names the scanner cannot see (generated code, macro output) stay
                    // with the deepest module that was found; the crate root has none.
                    let fallback = if current.1.is_empty() {
                        Resolved::Missing
                    } else {
                        Resolved::Local(current.clone())
                    };
                    return self
                        .through_globs(&current, &path[i..], false, depth)
                        .unwrap_or(fallback);
                }
            }
        }
        Resolved::Local(current)
    }

    /// Tries `path` through the glob imports (`use x::*`) of `module`.
    fn through_globs(
        &self,
        module: &ModKey,
        path: &[String],
        local: bool,
        depth: usize,
    ) -> Option<Resolved> {
        for glob in self.globs(module, local) {
            let Resolved::Local(target) = self.resolve(module, &glob.path, depth + 1) else {
                continue;
            };
            if target != *module && self.lookup(&target, &path[0], false).is_some() {
                return Some(self.walk(target, path, depth + 1));
            }
        }
        None
    }
}

/// The file of `mod name;` declared in `file` (inside inline modules `inline`).
fn child_file(
    files: &Files,
    file: &str,
    inline: &[String],
    name: &str,
    path_attr: Option<String>,
) -> Option<String> {
    let (dir, stem) = file.rsplit_once('/').unwrap_or(("", file));
    if let Some(path) = path_attr {
        let candidate = format!("{dir}/{path}");
        return files.contains_key(&candidate).then_some(candidate);
    }
    let mut base = if matches!(stem, "mod.rs" | "lib.rs" | "main.rs") {
        dir.to_string()
    } else {
        format!("{dir}/{}", stem.trim_end_matches(".rs"))
    };
    for segment in inline {
        base = format!("{base}/{segment}");
    }
    [format!("{base}/{name}.rs"), format!("{base}/{name}/mod.rs")]
        .into_iter()
        .find(|candidate| files.contains_key(candidate))
}

/// Groups of files that reach each other (strongly connected, two files or more),
/// each with one cycle through them and every edge among them.
pub fn cycles(edges: &[Edge]) -> Vec<(Vec<String>, Vec<Edge>)> {
    let mut graph: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for edge in edges {
        graph.entry(&edge.from).or_default().insert(&edge.to);
        graph.entry(&edge.to).or_default();
    }
    let mut out = Vec::new();
    for component in strongly_connected(&graph) {
        if component.len() < 2 {
            continue;
        }
        let members: BTreeSet<&str> = component.iter().copied().collect();
        let start = *members.iter().next().expect("non-empty");
        let cycle = shortest_cycle(&graph, &members, start);
        let inner = edges
            .iter()
            .filter(|e| members.contains(e.from.as_str()) && members.contains(e.to.as_str()))
            .cloned()
            .collect();
        out.push((cycle, inner));
    }
    out
}

/// Tarjan's algorithm.
fn strongly_connected<'a>(graph: &BTreeMap<&'a str, BTreeSet<&'a str>>) -> Vec<Vec<&'a str>> {
    struct State<'a> {
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        out: Vec<Vec<&'a str>>,
    }
    fn visit<'a>(node: &'a str, graph: &BTreeMap<&'a str, BTreeSet<&'a str>>, s: &mut State<'a>) {
        let n = s.index.len();
        s.index.insert(node, n);
        s.low.insert(node, n);
        s.stack.push(node);
        s.on_stack.insert(node);
        for &next in &graph[node] {
            if !s.index.contains_key(next) {
                visit(next, graph, s);
                let low = s.low[node].min(s.low[next]);
                s.low.insert(node, low);
            } else if s.on_stack.contains(next) {
                let low = s.low[node].min(s.index[next]);
                s.low.insert(node, low);
            }
        }
        if s.low[node] == s.index[node] {
            let mut component = Vec::new();
            while let Some(top) = s.stack.pop() {
                s.on_stack.remove(top);
                component.push(top);
                if top == node {
                    break;
                }
            }
            component.sort_unstable();
            s.out.push(component);
        }
    }
    let mut state = State {
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for &node in graph.keys() {
        if !state.index.contains_key(node) {
            visit(node, graph, &mut state);
        }
    }
    state.out
}

/// A shortest path `start -> … -> start` inside `members` (breadth-first).
fn shortest_cycle(
    graph: &BTreeMap<&str, BTreeSet<&str>>,
    members: &BTreeSet<&str>,
    start: &str,
) -> Vec<String> {
    let mut previous: BTreeMap<&str, &str> = BTreeMap::new();
    let mut queue = VecDeque::from([start]);
    while let Some(node) = queue.pop_front() {
        for &next in &graph[node] {
            if !members.contains(next) {
                continue;
            }
            if next == start {
                let mut back = Vec::new();
                let mut at = node;
                while at != start {
                    back.push(at.to_string());
                    at = previous[at];
                }
                let mut cycle = vec![start.to_string()];
                cycle.extend(back.into_iter().rev());
                cycle.push(start.to_string());
                return cycle;
            }
            if next != start && !previous.contains_key(next) {
                previous.insert(next, node);
                queue.push_back(next);
            }
        }
    }
    vec![start.to_string()]
}
