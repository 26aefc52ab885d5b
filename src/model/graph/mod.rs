//! The computation graph of one signature, read from `saved_model.pb` without
//! TensorFlow: call ops (`StatefulPartitionedCall`, `PartitionedCall`, and the
//! functions `If`/`While` run) are resolved into the function bodies they run, each
//! captured resource is traced to its variable, and nodes are grouped into layers by
//! name scope. The CLI (`summary`, `graph`) and the app's Graph tab read this one model.
//!
//! - [`expand`]: the top-level GraphDef plus the FunctionDefLibrary → one flat graph.
//! - [`layers`]: name scopes → layers, parameter counts, the layer summary.
//! - [`layout`]: a layered (Sugiyama-style) drawing of nodes or layers.
//! - [`export`]: DOT, JSON and SVG.

pub mod expand;
pub mod export;
pub mod layers;
pub mod layout;
mod prune;

use super::DType;
use super::tree::Shape;
use crate::pb::tensorflow as tfpb;
use serde::Serialize;

/// Limits that keep a hostile or huge file from hanging a caller.
#[derive(Clone, Copy, Debug)]
pub struct GraphLimits {
    /// Nodes after every call is expanded; past it the build stops with an error.
    pub max_nodes: usize,
    /// How deep calls may nest (a deeper chain is reported, not followed).
    pub max_call_depth: usize,
}

impl Default for GraphLimits {
    fn default() -> Self {
        GraphLimits {
            max_nodes: 2_000_000,
            max_call_depth: 64,
        }
    }
}

/// One op of the expanded graph.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Node {
    /// The node's own name under its callers' name scopes. A function called twice
    /// gives two nodes of one name: nodes are told apart by their index.
    pub name: String,
    pub op: String,
    /// Its name scope (empty at the top level).
    pub scope: String,
    /// The layer it is drawn and counted in: its scope, a top-level node's own name,
    /// or for constants, variables and their reads the layer that uses them.
    pub layer: String,
    /// Attributes rendered as text, sorted by name (internal `_`-attributes left out).
    pub attrs: Vec<(String, String)>,
    /// Data inputs, each resolved through calls to the node that produces it.
    pub inputs: Vec<TensorRef>,
    /// Output dtypes and shapes, where the file records them.
    pub outputs: Vec<TensorMeta>,
    /// The library function whose body held this node (None at the top level).
    pub function: Option<String>,
    /// The index into [`Graph::variables`] when this node is a variable.
    pub variable: Option<usize>,
}

/// One output of one node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct TensorRef {
    pub node: usize,
    pub output: usize,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct TensorMeta {
    pub dtype: Option<DType>,
    pub shape: Option<Shape>,
}

/// A variable the signature reads, counted once however often it is read.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Variable {
    pub name: String,
    pub dtype: DType,
    /// None when the file does not say (the parameter count is then 0).
    pub shape: Option<Vec<i64>>,
    pub params: u64,
    /// From the object graph (TF2) or the `trainable_variables` collection (TF1).
    pub trainable: bool,
    /// The variable's node.
    pub node: usize,
}

/// A signature input or output and the tensor it is.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Endpoint {
    pub key: String,
    pub tensor_name: String,
    pub tensor: TensorRef,
}

/// The expanded graph of one signature: only what its outputs depend on.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Graph {
    pub signature: String,
    pub nodes: Vec<Node>,
    pub inputs: Vec<Endpoint>,
    pub outputs: Vec<Endpoint>,
    pub variables: Vec<Variable>,
    /// What could not be followed (a missing or recursive function, a too-deep call).
    pub warnings: Vec<String>,
}

impl Graph {
    /// Every data edge `(producer, consumer)`, in node order.
    pub fn edges(&self) -> impl Iterator<Item = (TensorRef, usize)> + '_ {
        self.nodes
            .iter()
            .enumerate()
            .flat_map(|(consumer, node)| node.inputs.iter().map(move |input| (*input, consumer)))
    }

    /// Total parameters of the variables the signature reads.
    pub fn total_params(&self) -> u64 {
        self.variables.iter().map(|variable| variable.params).sum()
    }

    pub fn trainable_params(&self) -> u64 {
        self.variables
            .iter()
            .filter(|variable| variable.trainable)
            .map(|variable| variable.params)
            .sum()
    }

    /// Indices of nodes whose name or op contains `query` (case-insensitive).
    pub fn search(&self, query: &str) -> Vec<usize> {
        let query = query.to_lowercase();
        if query.is_empty() {
            return Vec::new();
        }
        self.nodes
            .iter()
            .enumerate()
            .filter(|(_, node)| {
                node.name.to_lowercase().contains(&query) || node.op.to_lowercase().contains(&query)
            })
            .map(|(index, _)| index)
            .collect()
    }
}

/// An attribute value as one short line (tensors and long lists abbreviated).
pub fn attr_text(value: &tfpb::AttrValue) -> String {
    use tfpb::attr_value::Value;
    const MAX_LIST: usize = 8;
    let list_text = |items: Vec<String>| {
        let more = items.len().saturating_sub(MAX_LIST);
        let mut shown: Vec<String> = items.into_iter().take(MAX_LIST).collect();
        if more > 0 {
            shown.push(format!("… {more} more"));
        }
        format!("[{}]", shown.join(", "))
    };
    match &value.value {
        None => String::new(),
        Some(Value::S(bytes)) => format!("{:?}", String::from_utf8_lossy(bytes)),
        Some(Value::I(number)) => number.to_string(),
        Some(Value::F(number)) => number.to_string(),
        Some(Value::B(flag)) => flag.to_string(),
        Some(Value::Type(dtype)) => DType(*dtype).name(),
        Some(Value::Shape(shape)) => Shape::from_proto(Some(shape)).cli_text(),
        Some(Value::Tensor(tensor)) => {
            let shape = Shape::from_proto(tensor.tensor_shape.as_ref()).cli_text();
            format!("tensor<{} {shape}>", DType(tensor.dtype).name())
        }
        Some(Value::Func(func)) => func.name.clone(),
        Some(Value::Placeholder(name)) => format!("${name}"),
        Some(Value::List(list)) => {
            let items: Vec<String> = list
                .s
                .iter()
                .map(|bytes| format!("{:?}", String::from_utf8_lossy(bytes)))
                .chain(list.i.iter().map(i64::to_string))
                .chain(list.f.iter().map(f32::to_string))
                .chain(list.b.iter().map(bool::to_string))
                .chain(list.r#type.iter().map(|dtype| DType(*dtype).name()))
                .chain(
                    list.shape
                        .iter()
                        .map(|shape| Shape::from_proto(Some(shape)).cli_text()),
                )
                .chain(list.func.iter().map(|func| func.name.clone()))
                .collect();
            list_text(items)
        }
    }
}

/// `1,234,567`, as Keras prints parameter counts.
pub fn thousands(number: u64) -> String {
    let digits = number.to_string();
    let mut text = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            text.push(',');
        }
        text.push(digit);
    }
    text
}

#[cfg(test)]
mod tests;
