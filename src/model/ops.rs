//! The op set of a MetaGraph, computed the way TensorFlow's
//! `meta_graph.ops_used_by_graph_def` does, so `show --all` lists the same members.

use super::light;
use std::collections::{BTreeSet, HashMap};

/// Op types used by the graph's nodes and, transitively, by library functions that
/// are called directly or through `PartitionedCall`/`StatefulPartitionedCall`'s `f`.
/// Function names themselves are not ops and are left out. Sorted.
pub fn ops_used_by_graph(graph: &light::GraphDef) -> Vec<String> {
    let functions: HashMap<&str, &light::FunctionDef> = graph
        .library
        .iter()
        .flat_map(|library| &library.function)
        .filter_map(|function| Some((function.signature.as_ref()?.name.as_str(), function)))
        .collect();
    let mut used: BTreeSet<&str> = BTreeSet::new();
    let mut pending: Vec<&light::FunctionDef> = Vec::new();

    fn mark_used<'a>(
        op: &'a str,
        functions: &HashMap<&'a str, &'a light::FunctionDef>,
        used: &mut BTreeSet<&'a str>,
        pending: &mut Vec<&'a light::FunctionDef>,
    ) {
        if !used.contains(op)
            && let Some(function) = functions.get(op)
        {
            pending.push(function);
        }
        used.insert(op);
    }

    fn visit<'a>(
        node: &'a light::NodeDef,
        functions: &HashMap<&'a str, &'a light::FunctionDef>,
        used: &mut BTreeSet<&'a str>,
        pending: &mut Vec<&'a light::FunctionDef>,
    ) {
        mark_used(&node.op, functions, used, pending);
        if node.op == "PartitionedCall" || node.op == "StatefulPartitionedCall" {
            let callee = node
                .attr
                .get("f")
                .and_then(|attr| attr.func.as_ref())
                .map(|func| func.name.as_str());
            // TensorFlow reads `attr["f"].func.name` even when absent, which yields "".
            mark_used(callee.unwrap_or(""), functions, used, pending);
        }
    }

    for node in &graph.node {
        visit(node, &functions, &mut used, &mut pending);
    }
    while let Some(function) = pending.pop() {
        for node in &function.node_def {
            visit(node, &functions, &mut used, &mut pending);
        }
    }
    used.into_iter()
        .filter(|op| !functions.contains_key(op))
        .map(str::to_string)
        .collect()
}

/// Python's `repr` of a str, which saved_model_cli uses for tags and op names:
/// single quotes unless the text holds a single quote and no double quote.
pub fn python_str_repr(text: &str) -> String {
    let quote = if text.contains('\'') && !text.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(text.len() + 2);
    out.push(quote);
    for ch in text.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pb::tensorflow as tfpb;
    use prost::Message;

    /// The op set of a full GraphDef, read the way `open` reads it (light messages).
    fn ops_of(graph: &tfpb::GraphDef) -> Vec<String> {
        let light = light::GraphDef::decode(graph.encode_to_vec().as_slice()).expect("decodes");
        ops_used_by_graph(&light)
    }

    fn node(op: &str) -> tfpb::NodeDef {
        tfpb::NodeDef {
            op: op.into(),
            ..Default::default()
        }
    }

    #[test]
    fn follows_partitioned_calls_and_drops_function_names() {
        let call = tfpb::NodeDef {
            op: "StatefulPartitionedCall".into(),
            attr: [(
                "f".to_string(),
                tfpb::AttrValue {
                    value: Some(tfpb::attr_value::Value::Func(tfpb::NameAttrList {
                        name: "inner".into(),
                        ..Default::default()
                    })),
                },
            )]
            .into_iter()
            .collect(),
            ..Default::default()
        };
        let inner = tfpb::FunctionDef {
            signature: Some(tfpb::OpDef {
                name: "inner".into(),
                ..Default::default()
            }),
            node_def: vec![node("MatMul"), node("Relu")],
            ..Default::default()
        };
        let unused = tfpb::FunctionDef {
            signature: Some(tfpb::OpDef {
                name: "unused".into(),
                ..Default::default()
            }),
            node_def: vec![node("Sigmoid")],
            ..Default::default()
        };
        let graph = tfpb::GraphDef {
            node: vec![node("Placeholder"), call],
            library: Some(tfpb::FunctionDefLibrary {
                function: vec![inner, unused],
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(
            ops_of(&graph),
            vec!["MatMul", "Placeholder", "Relu", "StatefulPartitionedCall"]
        );
    }

    #[test]
    fn python_repr_quotes_like_python() {
        assert_eq!(python_str_repr("serve"), "'serve'");
        assert_eq!(python_str_repr("it's"), "\"it's\"");
        assert_eq!(python_str_repr("a'b\"c"), "'a\\'b\"c'");
    }
}
