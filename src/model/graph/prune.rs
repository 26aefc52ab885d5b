//! After expansion: the graph cut to what the signature's outputs depend on, and the
//! variables it reads (each once, with its shape, parameters and trainability).

use super::{Node, TensorRef, Variable};
use crate::pb::tensorflow as tfpb;
use std::collections::HashSet;

const VARIABLE_OPS: &[&str] = &["VarHandleOp", "VariableV2", "Variable"];

/// Nodes the `roots` depend on, through data edges.
pub(super) fn reachable(nodes: &[Node], roots: impl Iterator<Item = usize>) -> Vec<bool> {
    let mut keep = vec![false; nodes.len()];
    let mut stack: Vec<usize> = roots.collect();
    while let Some(node) = stack.pop() {
        if std::mem::replace(&mut keep[node], true) {
            continue;
        }
        stack.extend(
            nodes[node]
                .inputs
                .iter()
                .map(|input| input.node)
                .filter(|n| !keep[*n]),
        );
    }
    keep
}

/// Drops the nodes not kept and renumbers references; returns old → new indices.
pub(super) fn compact(nodes: &mut Vec<Node>, keep: &[bool]) -> Vec<Option<usize>> {
    let mut remap = vec![None; nodes.len()];
    let mut next = 0;
    for (old, kept) in keep.iter().enumerate() {
        if *kept {
            remap[old] = Some(next);
            next += 1;
        }
    }
    let old_nodes = std::mem::take(nodes);
    *nodes = old_nodes
        .into_iter()
        .zip(keep)
        .filter(|(_, kept)| **kept)
        .map(|(mut node, _)| {
            node.inputs = node
                .inputs
                .iter()
                .filter_map(|input| {
                    Some(TensorRef {
                        node: remap[input.node]?,
                        output: input.output,
                    })
                })
                .collect();
            node
        })
        .collect();
    remap
}

/// Names of trainable variables: TF2's object graph, else TF1's collection.
pub(super) fn trainable_names(meta_graph: &tfpb::MetaGraphDef) -> Option<HashSet<String>> {
    use prost::Message;
    if let Some(object_graph) = &meta_graph.object_graph_def {
        let names: HashSet<String> = object_graph
            .nodes
            .iter()
            .filter_map(|node| match &node.kind {
                Some(tfpb::saved_object::Kind::Variable(variable)) if variable.trainable => {
                    Some(variable.name.trim_end_matches(":0").to_string())
                }
                _ => None,
            })
            .collect();
        let any_variable = object_graph
            .nodes
            .iter()
            .any(|node| matches!(node.kind, Some(tfpb::saved_object::Kind::Variable(_))));
        if any_variable {
            return Some(names);
        }
    }
    let collection = meta_graph.collection_def.get("trainable_variables")?;
    let Some(tfpb::collection_def::Kind::BytesList(list)) = &collection.kind else {
        return None;
    };
    Some(
        list.value
            .iter()
            .filter_map(|bytes| tfpb::VariableDef::decode(bytes.as_slice()).ok())
            .map(|variable| variable.variable_name.trim_end_matches(":0").to_string())
            .collect(),
    )
}

pub(super) fn collect_variables(
    nodes: &mut [Node],
    trainable: &Option<HashSet<String>>,
) -> Vec<Variable> {
    let mut variables = Vec::new();
    for (index, node) in nodes.iter_mut().enumerate() {
        if !VARIABLE_OPS.contains(&node.op.as_str()) {
            continue;
        }
        let attr = |key: &str| {
            node.attrs
                .iter()
                .find(|(name, _)| name == key)
                .map(|(_, value)| value.clone())
        };
        let shared_name = attr("shared_name")
            .map(|text| text.trim_matches('"').to_string())
            .filter(|text| !text.is_empty());
        let leaf = node.name.rsplit('/').next().unwrap_or_default().to_string();
        let name = shared_name.unwrap_or_else(|| node.name.clone());
        let shape = attr("shape").and_then(|text| parse_shape_text(&text));
        let params = shape
            .as_ref()
            .filter(|dims| dims.iter().all(|dim| *dim >= 0))
            .map_or(0, |dims| dims.iter().map(|dim| *dim as u64).product());
        let is_trainable = match trainable {
            // Keras stores each variable twice; the copy a function captures is
            // named like the saved one plus TensorFlow's `_N` uniquifier.
            Some(names) => [name.as_str(), node.name.as_str(), leaf.as_str()]
                .iter()
                .any(|candidate| {
                    names.contains(*candidate) || names.contains(strip_uniquifier(candidate))
                }),
            None => true,
        };
        node.variable = Some(variables.len());
        variables.push(Variable {
            name,
            dtype: node
                .outputs
                .first()
                .and_then(|meta| meta.dtype)
                .unwrap_or_default(),
            shape,
            params,
            trainable: is_trainable,
            node: index,
        });
    }
    variables
}

/// `(3, 3, 64)` → `[3, 3, 64]`; `()` → `[]`; `unknown_rank` → None.
fn parse_shape_text(text: &str) -> Option<Vec<i64>> {
    let inner = text.strip_prefix('(')?.strip_suffix(')')?;
    inner
        .split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(|part| part.parse().ok())
        .collect()
}

/// `conv1/kernel_1` → `conv1/kernel`.
fn strip_uniquifier(name: &str) -> &str {
    match name.rsplit_once('_') {
        Some((stem, digits))
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) =>
        {
            stem
        }
        _ => name,
    }
}
