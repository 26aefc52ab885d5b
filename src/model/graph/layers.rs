//! Name scopes → layers, like Keras's `model.summary()` but for any SavedModel: one
//! row per layer with its main ops, output and parameters, each variable counted once.

use super::{Graph, Node, TensorMeta, thousands};
use serde::Serialize;
use std::collections::{HashMap, HashSet};

/// Ops that say what a layer does, most telling first.
const MAIN_OPS: &[&str] = &[
    "Conv2D",
    "Conv3D",
    "DepthwiseConv2dNative",
    "Conv2DBackpropInput",
    "MatMul",
    "BatchMatMulV2",
    "FusedBatchNormV3",
    "FusedBatchNorm",
    "MaxPool",
    "AvgPool",
    "Softmax",
    "ArgMax",
    "DecodeJpeg",
    "DecodeImage",
    "ResizeBilinear",
    "Pad",
    "Mean",
    "Relu",
    "Relu6",
    "BiasAdd",
    "AddV2",
    "Add",
    "Mul",
    "ConcatV2",
    "Reshape",
    "If",
    "StatelessIf",
    "While",
    "StatelessWhile",
];
/// Ops that move data around without being what a layer is about.
const PLUMBING_OPS: &[&str] = &[
    "ReadVariableOp",
    "Identity",
    "IdentityN",
    "Const",
    "NoOp",
    "Shape",
    "StridedSlice",
    "Pack",
    "Cast",
    "Placeholder",
    "VarHandleOp",
    "VariableV2",
];
pub const CONVOLUTION_OPS: &[&str] = &["Conv2D", "Conv3D", "DepthwiseConv2dNative"];

/// Sets each node's name scope (its name's parent, climbing past scopes that are
/// themselves node names: `conv/Conv2D/ReadVariableOp` belongs with `conv/Conv2D`)
/// and its layer: the scope, or for plumbing (constants, variables and their reads)
/// the layer of the first op that uses it, so that a layer's weights are inside it.
pub(super) fn assign_layers(nodes: &mut [Node]) {
    let names: HashSet<&str> = nodes.iter().map(|node| node.name.as_str()).collect();
    let scopes: Vec<String> = nodes
        .iter()
        .map(|node| {
            let mut scope = parent(&node.name);
            while !scope.is_empty() && names.contains(scope) {
                scope = parent(scope);
            }
            scope.to_string()
        })
        .collect();
    for (node, scope) in nodes.iter_mut().zip(scopes) {
        node.scope = scope;
    }
    let order = topological_order_of(nodes);
    let mut rank = vec![0usize; nodes.len()];
    for (position, node) in order.iter().enumerate() {
        rank[*node] = position;
    }
    let mut first_consumer: Vec<Option<usize>> = vec![None; nodes.len()];
    for (consumer, node) in nodes.iter().enumerate() {
        for input in &node.inputs {
            let slot = &mut first_consumer[input.node];
            if slot.is_none_or(|current| rank[consumer] < rank[current]) {
                *slot = Some(consumer);
            }
        }
    }
    let owners = scope_owners(nodes);
    for &index in order.iter().rev() {
        let folded = FOLDED_OPS.contains(&nodes[index].op.as_str());
        nodes[index].layer = match first_consumer[index] {
            Some(consumer) if folded && consumer != index => nodes[consumer].layer.clone(),
            _ if nodes[index].scope.is_empty() => nodes[index].name.clone(),
            _ => owners[&nodes[index].scope].clone(),
        };
    }
}

/// A layer's own sub-scopes (Keras's `conv1_bn/batchnorm`) count as the layer: a
/// scope joins its parent when the parent holds ops itself and has only a few
/// sub-scopes (a model's scope, with one sub-scope per layer, keeps them apart).
const MAX_LAYER_SUBSCOPES: usize = 4;

fn scope_owners(nodes: &[Node]) -> HashMap<String, String> {
    // Scopes holding only weight reads (`conv/Cast/ReadVariableOp`) don't count.
    let direct: HashSet<&str> = nodes
        .iter()
        .filter(|node| !FOLDED_OPS.contains(&node.op.as_str()))
        .map(|node| node.scope.as_str())
        .collect();
    let mut children: HashMap<&str, HashSet<&str>> = HashMap::new();
    for scope in &direct {
        let mut child = *scope;
        while !child.is_empty() {
            let up = parent(child);
            children.entry(up).or_default().insert(child);
            child = up;
        }
    }
    let owner = |scope: &str| -> String {
        let mut current = scope;
        loop {
            let up = parent(current);
            let joins = !up.is_empty()
                && direct.contains(up)
                && children.get(up).map_or(0, HashSet::len) <= MAX_LAYER_SUBSCOPES;
            if !joins {
                return current.to_string();
            }
            current = up;
        }
    };
    nodes
        .iter()
        .map(|node| (node.scope.clone(), owner(&node.scope)))
        .collect()
}

/// Ops drawn inside the layer that uses them rather than as layers of their own.
const FOLDED_OPS: &[&str] = &[
    "Const",
    "ReadVariableOp",
    "VarHandleOp",
    "VariableV2",
    "Variable",
    "Identity",
];

fn parent(name: &str) -> &str {
    name.rsplit_once('/').map_or("", |(parent, _)| parent)
}

/// One row of the summary.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Layer {
    /// The layer's name: its name scope, or a top-level node's own name.
    pub name: String,
    /// The name scope of its first node.
    pub scope: String,
    /// Distinct ops that say what it does (most telling first, at most three).
    pub ops: Vec<String>,
    /// The output that leaves the layer, where the file records it.
    pub output: TensorMeta,
    pub params: u64,
    pub trainable_params: u64,
    /// Its nodes, in graph order.
    pub nodes: Vec<usize>,
}

impl Layer {
    pub fn main_op(&self) -> &str {
        self.ops.first().map_or("", String::as_str)
    }

    pub fn is_convolution(&self) -> bool {
        CONVOLUTION_OPS.contains(&self.main_op())
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    pub signature: String,
    pub layers: Vec<Layer>,
    pub total_params: u64,
    pub trainable_params: u64,
    pub non_trainable_params: u64,
    pub convolution_layers: usize,
    pub nodes: usize,
    pub warnings: Vec<String>,
}

/// Node order with every producer before its consumers (cycles broken at the
/// lowest-numbered node left).
pub fn topological_order(graph: &Graph) -> Vec<usize> {
    topological_order_of(&graph.nodes)
}

fn topological_order_of(nodes: &[Node]) -> Vec<usize> {
    let count = nodes.len();
    let mut pending_inputs = vec![0usize; count];
    let mut consumers: Vec<Vec<usize>> = vec![Vec::new(); count];
    for (consumer, node) in nodes.iter().enumerate() {
        for input in &node.inputs {
            pending_inputs[consumer] += 1;
            consumers[input.node].push(consumer);
        }
    }
    let mut order = Vec::with_capacity(count);
    let mut placed = vec![false; count];
    let mut ready: std::collections::VecDeque<usize> = (0..count)
        .filter(|node| pending_inputs[*node] == 0)
        .collect();
    let mut next_unplaced = 0;
    while order.len() < count {
        let node = match ready.pop_front() {
            Some(node) => node,
            None => {
                while placed[next_unplaced] {
                    next_unplaced += 1;
                }
                next_unplaced
            }
        };
        if std::mem::replace(&mut placed[node], true) {
            continue;
        }
        order.push(node);
        for consumer in &consumers[node] {
            pending_inputs[*consumer] = pending_inputs[*consumer].saturating_sub(1);
            if pending_inputs[*consumer] == 0 && !placed[*consumer] {
                ready.push_back(*consumer);
            }
        }
    }
    order
}

pub fn summarize(graph: &Graph) -> Summary {
    let order = topological_order(graph);
    let mut rank = vec![0usize; graph.nodes.len()];
    for (position, node) in order.iter().enumerate() {
        rank[*node] = position;
    }
    let mut consumers: Vec<Vec<usize>> = vec![Vec::new(); graph.nodes.len()];
    for (producer, consumer) in graph.edges() {
        consumers[producer.node].push(consumer);
    }
    // Rows in the order data reaches them from the signature's inputs; layers whose
    // ops only prepare weights come after, then plumbing joins its layer.
    let mut live = vec![false; graph.nodes.len()];
    for input in &graph.inputs {
        live[input.tensor.node] = true;
    }
    for &index in &order {
        if graph.nodes[index]
            .inputs
            .iter()
            .any(|input| live[input.node])
        {
            live[index] = true;
        }
    }
    let is_folded = |index: &usize| FOLDED_OPS.contains(&graph.nodes[*index].op.as_str());
    let first: Vec<usize> = order
        .iter()
        .copied()
        .filter(|i| live[*i] && !is_folded(i))
        .collect();
    let second: Vec<usize> = order
        .iter()
        .copied()
        .filter(|i| !live[*i] && !is_folded(i))
        .collect();
    let third: Vec<usize> = order.iter().copied().filter(is_folded).collect();
    let mut rows: Vec<Layer> = Vec::new();
    let mut row_of: HashMap<&str, usize> = HashMap::new();
    for index in first.into_iter().chain(second).chain(third) {
        let node = &graph.nodes[index];
        let row = *row_of.entry(node.layer.as_str()).or_insert_with(|| {
            rows.push(Layer {
                name: node.layer.clone(),
                scope: node.scope.clone(),
                ops: Vec::new(),
                output: TensorMeta::default(),
                params: 0,
                trainable_params: 0,
                nodes: Vec::new(),
            });
            rows.len() - 1
        });
        rows[row].nodes.push(index);
    }
    for variable in &graph.variables {
        let row = row_of[graph.nodes[variable.node].layer.as_str()];
        rows[row].params += variable.params;
        if variable.trainable {
            rows[row].trainable_params += variable.params;
        }
    }
    for row in &mut rows {
        row.nodes.sort_by_key(|node| rank[*node]);
        row.ops = main_ops(graph, &row.nodes);
        row.output = layer_output(graph, &row.nodes, &consumers);
    }
    let total_params = graph.total_params();
    let trainable_params = graph.trainable_params();
    Summary {
        signature: graph.signature.clone(),
        convolution_layers: rows.iter().filter(|row| row.is_convolution()).count(),
        layers: rows,
        total_params,
        trainable_params,
        non_trainable_params: total_params - trainable_params,
        nodes: graph.nodes.len(),
        warnings: graph.warnings.clone(),
    }
}

fn main_ops(graph: &Graph, nodes: &[usize]) -> Vec<String> {
    let mut ops: Vec<&str> = Vec::new();
    for node in nodes {
        let op = graph.nodes[*node].op.as_str();
        if !ops.contains(&op) {
            ops.push(op);
        }
    }
    let telling = |op: &&str| MAIN_OPS.iter().position(|main| main == op);
    let mut ranked: Vec<&str> = ops
        .iter()
        .copied()
        .filter(|op| telling(op).is_some())
        .collect();
    ranked.sort_by_key(|op| telling(op));
    if ranked.is_empty() {
        ranked = ops
            .iter()
            .copied()
            .filter(|op| !PLUMBING_OPS.contains(op))
            .collect();
    }
    if ranked.is_empty() {
        ranked = ops;
    }
    ranked.into_iter().take(3).map(str::to_string).collect()
}

/// The last node (graph order) whose output leaves the layer, else its last node.
fn layer_output(graph: &Graph, nodes: &[usize], consumers: &[Vec<usize>]) -> TensorMeta {
    let members: HashSet<usize> = nodes.iter().copied().collect();
    let leaves = nodes.iter().rev().find(|node| {
        consumers[**node].is_empty()
            || consumers[**node]
                .iter()
                .any(|consumer| !members.contains(consumer))
    });
    leaves
        .or(nodes.last())
        .and_then(|node| graph.nodes[*node].outputs.first().cloned())
        .unwrap_or_default()
}

/// The summary as a table, like Keras's `model.summary()`.
pub fn summary_text(summary: &Summary) -> String {
    let header = ["Layer (name scope)", "Op", "Output", "Param #"];
    let rows: Vec<[String; 4]> = summary
        .layers
        .iter()
        .map(|layer| {
            [
                layer.name.clone(),
                layer.ops.join(", "),
                meta_text(&layer.output),
                thousands(layer.params),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 4]| {
        format!(
            "{:<w0$}  {:<w1$}  {:<w2$}  {:>w3$}\n",
            cells[0],
            cells[1],
            cells[2],
            cells[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3]
        )
    };
    let rule = "─".repeat(widths.iter().sum::<usize>() + 6) + "\n";
    let mut text = format!("Signature: {}\n", summary.signature);
    text += &rule;
    text += &line(header);
    text += &rule;
    for row in &rows {
        text += &line([&row[0], &row[1], &row[2], &row[3]]);
    }
    text += &rule;
    text += &format!(
        "Total params: {}\nTrainable params: {}\nNon-trainable params: {}\n",
        thousands(summary.total_params),
        thousands(summary.trainable_params),
        thousands(summary.non_trainable_params)
    );
    text += &format!(
        "Layers: {} ({} convolution), nodes: {}\n",
        summary.layers.len(),
        summary.convolution_layers,
        summary.nodes
    );
    for warning in &summary.warnings {
        text += &format!("warning: {warning}\n");
    }
    text
}

/// `DT_FLOAT (-1, 1000)`, or what part of it is known.
pub fn meta_text(meta: &TensorMeta) -> String {
    match (&meta.dtype, &meta.shape) {
        (Some(dtype), Some(shape)) => format!("{} {}", dtype.name(), shape.cli_text()),
        (Some(dtype), None) => dtype.name(),
        (None, Some(shape)) => shape.cli_text(),
        (None, None) => String::new(),
    }
}
