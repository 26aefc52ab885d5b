//! `saved_model_cli show` text, byte for byte (TF 2.21), from our signature tree.
//! The one intended difference: the op set prints sorted where Python prints a set
//! in hash order.

use super::error::ModelError;
use super::functions::PyValue;
use super::ops::python_str_repr;
use super::tree::{MetaGraphInfo, SavedModelInfo, SignatureInfo, TensorInfoView};
// Every `write!` here goes to a String, whose `fmt::Write` cannot fail (and the
// values written have infallible Display impls), so the `fmt::Result`s are dropped.
use std::fmt::Write;

/// `show --dir D`: the tag-sets, each sorted and joined, in sorted order.
pub fn tag_sets_text(model: &SavedModelInfo) -> String {
    let mut tag_sets: Vec<String> = model
        .meta_graphs
        .iter()
        .map(|meta_graph| {
            let mut tags = meta_graph.tags.clone();
            tags.sort();
            tags.join(", ")
        })
        .collect();
    tag_sets.sort();
    tag_sets.dedup();
    let mut out = String::from("The given SavedModel contains the following tag-sets:\n");
    for tag_set in tag_sets {
        let _ = writeln!(out, "{}", python_str_repr(&tag_set));
    }
    out
}

/// Finds the MetaGraph for a comma-separated tag-set, as saved_model_cli matches it
/// (as a set; empty tags ignored).
pub fn find_meta_graph<'a>(
    model: &'a SavedModelInfo,
    tag_set: &str,
) -> Result<&'a MetaGraphInfo, ModelError> {
    let wanted: Vec<&str> = tag_set.split(',').filter(|tag| !tag.is_empty()).collect();
    model.meta_graph(&wanted).ok_or_else(|| {
        let valid: Vec<String> = model
            .meta_graphs
            .iter()
            .map(|meta_graph| python_str_repr(&meta_graph.tags.join(",")))
            .collect();
        ModelError::TagSetNotFound {
            requested: tag_set.to_string(),
            available: format!("[{}]", valid.join(", ")),
        }
    })
}

/// Finds a signature by key; the error lists the valid keys.
pub fn find_signature<'a>(
    meta_graph: &'a MetaGraphInfo,
    key: &str,
) -> Result<&'a SignatureInfo, ModelError> {
    meta_graph
        .signature(key)
        .ok_or_else(|| ModelError::SignatureNotFound {
            requested: key.to_string(),
            available: meta_graph.signature_keys().join(", "),
        })
}

/// `show --dir D --tag_set T`: the signature keys.
pub fn signature_keys_text(model: &SavedModelInfo, tag_set: &str) -> Result<String, ModelError> {
    let meta_graph = find_meta_graph(model, tag_set)?;
    let mut out = String::from(
        "The given SavedModel MetaGraphDef contains SignatureDefs with the following keys:\n",
    );
    for signature in &meta_graph.signatures {
        let _ = writeln!(out, "SignatureDef key: \"{}\"", signature.key);
    }
    Ok(out)
}

/// `show --dir D --tag_set T --signature_def K`: one signature's inputs and outputs.
pub fn signature_text(
    model: &SavedModelInfo,
    tag_set: &str,
    key: &str,
) -> Result<String, ModelError> {
    let signature = find_signature(find_meta_graph(model, tag_set)?, key)?;
    let mut out = String::new();
    write_signature(&mut out, signature, 0);
    Ok(out)
}

/// `show --dir D --tag_set T --list_ops`: the op set line.
pub fn ops_text(model: &SavedModelInfo, tag_set: &str) -> Result<String, ModelError> {
    let mut out = String::new();
    write_ops(&mut out, find_meta_graph(model, tag_set)?);
    Ok(out)
}

/// `show --dir D --all`.
pub fn all_text(model: &SavedModelInfo) -> String {
    let mut out = String::new();
    let mut meta_graphs: Vec<&MetaGraphInfo> = model.meta_graphs.iter().collect();
    meta_graphs.sort_by(|a, b| a.tags.cmp(&b.tags));
    for meta_graph in meta_graphs {
        let _ = write!(
            out,
            "\nMetaGraphDef with tag-set: '{}' contains the following SignatureDefs:\n",
            meta_graph.tags.join(", ")
        );
        for signature in &meta_graph.signatures {
            let _ = write!(out, "\nsignature_def['{}']:\n", signature.key);
            write_signature(&mut out, signature, 1);
        }
        write_ops(&mut out, meta_graph);
    }
    if model.has_object_graph {
        write_functions(&mut out, model);
    }
    out
}

fn write_signature(out: &mut String, signature: &SignatureInfo, indent: usize) {
    let pad = "  ".repeat(indent);
    let write_tensor = |out: &mut String, kind: &str, tensor: &TensorInfoView| {
        let inner = "  ".repeat(indent + 1);
        let _ = write!(
            out,
            "{pad}  {kind}['{}'] tensor_info:\n{inner}    dtype: {}\n{inner}    shape: {}\n{inner}    name: {}\n",
            tensor.key,
            tensor.dtype.name(),
            tensor.shape.cli_text(),
            tensor.name
        );
    };
    let _ = writeln!(
        out,
        "{pad}The given SavedModel SignatureDef contains the following input(s):"
    );
    for tensor in &signature.inputs {
        write_tensor(out, "inputs", tensor);
    }
    let _ = writeln!(
        out,
        "{pad}The given SavedModel SignatureDef contains the following output(s):"
    );
    for tensor in &signature.outputs {
        write_tensor(out, "outputs", tensor);
    }
    let _ = writeln!(out, "{pad}Method name is: {}", signature.method_name);
}

fn write_ops(out: &mut String, meta_graph: &MetaGraphInfo) {
    let tags: Vec<String> = meta_graph
        .tags
        .iter()
        .map(|tag| python_str_repr(tag))
        .collect();
    let ops = if meta_graph.ops.is_empty() {
        "set()".to_string()
    } else {
        let reprs: Vec<String> = meta_graph
            .ops
            .iter()
            .map(|op| python_str_repr(op))
            .collect();
        format!("{{{}}}", reprs.join(", "))
    };
    let _ = writeln!(
        out,
        "The MetaGraph with tag set [{}] contains the following ops: {ops}",
        tags.join(", ")
    );
}

fn write_functions(out: &mut String, model: &SavedModelInfo) {
    out.push_str("\nConcrete Functions:");
    for function in &model.functions {
        let _ = write!(out, "\n  Function Name: '{}'\n", function.name);
        for (index, concrete) in function.concrete_functions.iter().enumerate() {
            if !concrete.args.is_empty() {
                let _ = write!(out, "    Option #{}\n      Callable with:\n", index + 1);
                write_args(out, concrete.args.iter(), "Argument");
            }
            if !concrete.kwargs.is_empty() {
                // Iterating a dict yields its keys, so saved_model_cli prints just those.
                let keys: Vec<PyValue> = concrete
                    .kwargs
                    .iter()
                    .map(|(key, _)| PyValue::Str(key.clone()))
                    .collect();
                write_args(out, keys.iter(), "Named Argument");
            }
        }
    }
}

/// saved_model_cli's `_print_args` at indent 4, including its `\b\b` quirk that
/// erases the last ", " on a terminal.
fn write_args<'a>(
    out: &mut String,
    arguments: impl Iterator<Item = &'a PyValue>,
    argument_type: &str,
) {
    const PAD: &str = "        ";
    let quoted = |value: &PyValue| match value {
        PyValue::Str(text) => format!("'{text}'"),
        other => other.str(),
    };
    for (index, element) in arguments.enumerate() {
        let _ = writeln!(out, "{PAD}{argument_type} #{}", index + 1);
        let _ = match element {
            PyValue::Str(text) => writeln!(out, "{PAD}  {text}"),
            PyValue::TensorSpec { name, .. } => {
                writeln!(
                    out,
                    "{PAD}  {}: {}",
                    name.as_deref().unwrap_or("None"),
                    element.repr()
                )
            }
            PyValue::List(items) | PyValue::Tuple(items) => {
                let _ = write!(
                    out,
                    "{PAD}  DType: {}\n{PAD}  Value: [",
                    element.type_name()
                );
                for item in items {
                    let _ = write!(out, "{}, ", quoted(item));
                }
                writeln!(out, "\u{8}\u{8}]")
            }
            PyValue::NamedTuple { fields, .. } => {
                let _ = write!(
                    out,
                    "{PAD}  DType: {}\n{PAD}  Value: [",
                    element.type_name()
                );
                for (_, item) in fields {
                    let _ = write!(out, "{}, ", quoted(item));
                }
                writeln!(out, "\u{8}\u{8}]")
            }
            PyValue::Dict(fields) => {
                let _ = write!(out, "{PAD}  DType: dict\n{PAD}  Value: {{");
                for (key, item) in fields {
                    let _ = write!(out, "'{key}': {}, ", quoted(item));
                }
                writeln!(out, "\u{8}\u{8}}}")
            }
            other => writeln!(
                out,
                "{PAD}  DType: {}\n{PAD}  Value: {}",
                other.type_name(),
                other.str()
            ),
        };
    }
}
