//! The layer table of `src/lib.rs` (the one place it is written) and the check of
//! file edges against it.

use super::graph::Edge;

/// One row: files whose module path starts with `path` (the most specific such row)
/// may reference their own subtree and the modules under `deps`.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub path: Vec<String>,
    pub deps: Vec<Vec<String>>,
}

fn module_path(text: &str) -> Vec<String> {
    text.split("::").map(|s| s.trim().to_string()).collect()
}

fn backticked(cell: &str) -> Vec<&str> {
    cell.split('`').skip(1).step_by(2).collect()
}

/// Reads the first markdown table after the `Layers` heading of the `//!` docs.
/// Column 1 is the module path, column 2 the modules it may depend on, each in
/// backticks (anything without backticks, such as `—`, means none).
pub fn parse_table(lib_rs: &str) -> Result<Vec<Row>, String> {
    let docs: Vec<&str> = lib_rs
        .lines()
        .filter_map(|line| line.trim_start().strip_prefix("//!"))
        .map(str::trim)
        .collect();
    let heading = docs
        .iter()
        .position(|line| line.starts_with('#') && line.contains("Layers"))
        .ok_or("no `# Layers` heading in the //! docs of src/lib.rs")?;
    let table: Vec<&str> = docs[heading + 1..]
        .iter()
        .skip_while(|line| !line.starts_with('|'))
        .take_while(|line| line.starts_with('|'))
        .copied()
        .collect();
    if table.len() < 3 {
        return Err("the Layers table has no rows".to_string());
    }
    let mut rows = Vec::new();
    for line in &table[2..] {
        let cells: Vec<&str> = line.trim_matches('|').split('|').collect();
        let (Some(module), Some(deps)) = (cells.first(), cells.get(1)) else {
            return Err(format!("layer row without two columns: {line}"));
        };
        let [name] = backticked(module)[..] else {
            return Err(format!("layer row must name one `module`: {line}"));
        };
        rows.push(Row {
            path: module_path(name),
            deps: backticked(deps).into_iter().map(module_path).collect(),
        });
    }
    check_table(&rows)?;
    Ok(rows)
}

/// Every dependency must lie under a row, and rows may only depend on rows above.
fn check_table(rows: &[Row]) -> Result<(), String> {
    for (i, row) in rows.iter().enumerate() {
        if rows[..i].iter().any(|r| r.path == row.path) {
            return Err(format!("row `{}` appears twice", row.path.join("::")));
        }
        for dep in &row.deps {
            let Some(owner) = row_for(rows, dep) else {
                return Err(format!(
                    "row `{}`: `{}` is not a module of the table",
                    row.path.join("::"),
                    dep.join("::")
                ));
            };
            let position = rows.iter().position(|r| r == owner).expect("row");
            if position >= i && !dep.starts_with(&row.path) {
                return Err(format!(
                    "row `{}` depends on `{}`, which must be listed above it",
                    row.path.join("::"),
                    dep.join("::")
                ));
            }
        }
    }
    Ok(())
}

/// The most specific row whose path is a prefix of `module`.
pub fn row_for<'a>(rows: &'a [Row], module: &[String]) -> Option<&'a Row> {
    rows.iter()
        .filter(|row| module.starts_with(&row.path))
        .max_by_key(|row| row.path.len())
}

/// Whether a file of module `from` may reference module `to`.
pub fn allowed(rows: &[Row], from: &[String], to: &[String]) -> Result<(), String> {
    let Some(row) = row_for(rows, from) else {
        return Err(format!(
            "module `{}` has no row in the layer table",
            from.join("::")
        ));
    };
    if to.starts_with(&row.path) || row.deps.iter().any(|dep| to.starts_with(dep)) {
        return Ok(());
    }
    let deps: Vec<String> = row
        .deps
        .iter()
        .map(|d| format!("`{}`", d.join("::")))
        .collect();
    let may = if deps.is_empty() {
        "nothing".to_string()
    } else {
        format!("only {}", deps.join(", "))
    };
    Err(format!(
        "row `{}` may depend on {may} (and its own modules)",
        row.path.join("::")
    ))
}

/// One line per pair of files whose edges the table does not allow (the first
/// reference, and how many more there are).
pub fn violations(
    rows: &[Row],
    edges: &[Edge],
    module_of: impl Fn(&str) -> Vec<String>,
) -> Vec<String> {
    let mut out: Vec<(&Edge, usize, String)> = Vec::new();
    for edge in edges {
        let from = module_of(&edge.from);
        if let Err(rule) = allowed(rows, &from, &edge.to_module) {
            match out
                .iter_mut()
                .find(|(first, _, _)| first.from == edge.from && first.to == edge.to)
            {
                Some((_, more, _)) => *more += 1,
                None => out.push((edge, 0, rule)),
            }
        }
    }
    out.into_iter()
        .map(|(edge, more, rule)| {
            let more = if more > 0 {
                format!(" (+{more} more)")
            } else {
                String::new()
            };
            format!(
                "{}:{}: `{}` names `{}` ({}){more}: {rule}",
                edge.from,
                edge.line,
                edge.path,
                edge.to_module.join("::"),
                edge.to
            )
        })
        .collect()
}
