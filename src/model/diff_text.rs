//! `tfprobe diff`'s text: one section per kind of change, `+` added in B, `-` gone
//! from B, `~` changed; a section with nothing to say says `no change`.

use super::diff::{ModelDiff, TensorChange, TensorSide};
use std::fmt::Write;

/// The whole report, ending in a newline.
pub fn diff_text(diff: &ModelDiff) -> String {
    let mut text = String::new();
    let _ = writeln!(text, "A: {}", diff.a.display());
    let _ = writeln!(text, "B: {}", diff.b.display());
    section(&mut text, "signatures", &signature_lines(diff));
    section(
        &mut text,
        "ops",
        &plus_minus(&diff.ops_added, &diff.ops_removed),
    );
    section(&mut text, "variables", &variable_lines(diff));
    section(&mut text, "assets", &asset_lines(diff));
    let _ = writeln!(
        text,
        "parameters: {} -> {} ({:+})",
        diff.parameters_a, diff.parameters_b, diff.parameter_delta
    );
    let _ = match diff.difference_count() {
        0 => writeln!(text, "The models are the same."),
        1 => writeln!(text, "1 difference."),
        count => writeln!(text, "{count} differences."),
    };
    text
}

fn section(text: &mut String, title: &str, lines: &[String]) {
    if lines.is_empty() {
        let _ = writeln!(text, "{title}: no change");
        return;
    }
    let _ = writeln!(text, "{title}:");
    for line in lines {
        let _ = writeln!(text, "  {line}");
    }
}

fn plus_minus(added: &[String], removed: &[String]) -> Vec<String> {
    let added = added.iter().map(|name| format!("+ {name}"));
    let removed = removed.iter().map(|name| format!("- {name}"));
    added.chain(removed).collect()
}

fn signature_lines(diff: &ModelDiff) -> Vec<String> {
    let mut lines = plus_minus(&diff.signatures_added, &diff.signatures_removed);
    for change in &diff.signatures_changed {
        lines.push(format!("~ {}", change.key));
        if let Some((a, b)) = &change.method {
            lines.push(format!("    method: {a:?} -> {b:?}"));
        }
        for (kind, tensors) in [("input", &change.inputs), ("output", &change.outputs)] {
            lines.extend(tensors.iter().map(|tensor| tensor_line(kind, tensor)));
        }
    }
    lines
}

fn tensor_line(kind: &str, change: &TensorChange) -> String {
    let text = |side: &TensorSide| format!("{} {}", side.dtype, side.shape);
    match (&change.a, &change.b) {
        (None, Some(b)) => format!("    + {kind} {}: {}", change.key, text(b)),
        (Some(a), None) => format!("    - {kind} {}: {}", change.key, text(a)),
        (Some(a), Some(b)) => format!("    ~ {kind} {}: {} -> {}", change.key, text(a), text(b)),
        (None, None) => format!("    ~ {kind} {}", change.key),
    }
}

fn shape_text(shape: &[i64]) -> String {
    let sizes: Vec<String> = shape.iter().map(i64::to_string).collect();
    format!("({})", sizes.join(", "))
}

fn variable_lines(diff: &ModelDiff) -> Vec<String> {
    let mut lines = plus_minus(&diff.variables_added, &diff.variables_removed);
    for change in &diff.variables_reshaped {
        lines.push(format!(
            "~ {}: {} {} ({} bytes) -> {} {} ({} bytes)",
            change.name,
            change.dtype_a,
            shape_text(&change.shape_a),
            change.size_bytes_a,
            change.dtype_b,
            shape_text(&change.shape_b),
            change.size_bytes_b
        ));
    }
    lines.extend(
        diff.variables_values_changed
            .iter()
            .map(|name| format!("~ {name}: values changed")),
    );
    lines
}

fn asset_lines(diff: &ModelDiff) -> Vec<String> {
    let mut lines = plus_minus(&diff.assets_added, &diff.assets_removed);
    lines.extend(
        diff.assets_changed
            .iter()
            .map(|path| format!("~ {path}: content changed")),
    );
    lines
}
