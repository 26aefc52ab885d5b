//! The top-level GraphDef and the FunctionDefLibrary → one flat graph of the ops a
//! signature runs. Calls are inlined: a call node disappears, its function's body
//! takes its place under the caller's name scope, and each function argument is bound
//! to the caller's input. `If`/`While` stay as nodes (their result depends on data)
//! and their branch bodies are drawn inside them, fed by the same inputs.

use super::layers::assign_layers;
use super::prune::{collect_variables, compact, reachable, trainable_names};
use super::{Endpoint, Graph, GraphLimits, Node, TensorMeta, TensorRef, attr_text};
use crate::model::ModelError;
use crate::model::tree::Shape;
use crate::pb::tensorflow as tfpb;
use std::collections::{BTreeSet, HashMap};

const CALL_OPS: &[&str] = &["StatefulPartitionedCall", "PartitionedCall"];
/// Attributes that name the functions a control-flow op runs.
const BRANCH_ATTRS: &[(&str, &[&str])] = &[
    ("If", &["then_branch", "else_branch"]),
    ("StatelessIf", &["then_branch", "else_branch"]),
    ("While", &["cond", "body"]),
    ("StatelessWhile", &["cond", "body"]),
];
/// Hops one tensor reference may take through calls and arguments before it is
/// declared unresolvable (only a malformed, cyclic file gets near it).
const MAX_RESOLVE_HOPS: usize = 10_000;

/// Output argument names of common ops with more than one output argument, in
/// order, so that `node:batch_mean:0` in a function body finds output 1.
fn output_arg_offset(op: &str, arg: &str, index: usize) -> usize {
    let args: &[&str] = match op {
        "FusedBatchNorm" | "FusedBatchNormV2" | "FusedBatchNormV3" => &[
            "y",
            "batch_mean",
            "batch_variance",
            "reserve_space_1",
            "reserve_space_2",
            "reserve_space_3",
        ],
        "TopKV2" => &["values", "indices"],
        "Unique" => &["y", "idx"],
        _ => &[],
    };
    args.iter().position(|name| *name == arg).unwrap_or(0) + index
}

/// What a name inside one function body (or the top-level graph) stands for.
#[derive(Clone, Copy, Debug)]
enum Local {
    Node(usize),
    /// A call that was inlined: its outputs are the child context's returns.
    Call(usize),
}

/// One function instance (or the top-level graph).
#[derive(Default)]
struct Context {
    parent: Option<usize>,
    /// Argument name → the reference it is bound to in the parent context.
    args: HashMap<String, Option<String>>,
    locals: HashMap<String, Local>,
    /// The function's output arguments in order, and what each returns.
    output_args: Vec<String>,
    rets: HashMap<String, String>,
}

/// A node before its inputs are resolved.
struct Pending {
    node: Node,
    context: usize,
    raw_inputs: Vec<String>,
    /// Extra producers: the returns of the branch bodies drawn inside it.
    branch_returns: Vec<(usize, String)>,
}

struct Builder<'a> {
    library: HashMap<&'a str, &'a tfpb::FunctionDef>,
    limits: GraphLimits,
    contexts: Vec<Context>,
    pending: Vec<Pending>,
    /// Each node's op, kept after `pending` is drained (references need it).
    node_ops: Vec<String>,
    warnings: BTreeSet<String>,
}

/// Builds the graph of `signature_key` in the MetaGraph tagged `tags` (the serving
/// one, `serve`, when `tags` is empty).
pub fn build(
    saved_model: &tfpb::SavedModel,
    tags: &[&str],
    signature_key: &str,
    limits: GraphLimits,
) -> Result<Graph, ModelError> {
    let meta_graph = pick_meta_graph(saved_model, tags)?;
    let signature = meta_graph.signature_def.get(signature_key).ok_or_else(|| {
        let keys: Vec<&String> = meta_graph.signature_def.keys().collect();
        ModelError::Graph(format!(
            "no signature '{signature_key}' in this MetaGraph; valid signatures: {}",
            keys.iter()
                .map(|key| format!("'{key}'"))
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })?;
    let empty = tfpb::GraphDef::default();
    let graph_def = meta_graph.graph_def.as_ref().unwrap_or(&empty);
    let mut builder = Builder {
        library: graph_def
            .library
            .iter()
            .flat_map(|library| &library.function)
            .filter_map(|function| Some((function.signature.as_ref()?.name.as_str(), function)))
            .collect(),
        limits,
        contexts: vec![Context::default()],
        pending: Vec::new(),
        node_ops: Vec::new(),
        warnings: BTreeSet::new(),
    };
    builder.add_body(0, &graph_def.node, "", None, "", &mut Vec::new())?;
    let mut nodes = builder.resolve_inputs();
    let endpoint = |key: &String, info: &tfpb::TensorInfo| {
        let name = tensor_name(info);
        let tensor = builder.resolve(0, &name)?;
        Some(Endpoint {
            key: key.clone(),
            tensor_name: name,
            tensor,
        })
    };
    let mut outputs = Vec::new();
    for (key, info) in &signature.outputs {
        match endpoint(key, info) {
            Some(found) => outputs.push(found),
            None => {
                return Err(ModelError::Graph(format!(
                    "signature '{signature_key}' output '{key}' names tensor '{}', which is not in the graph",
                    tensor_name(info)
                )));
            }
        }
    }
    let inputs: Vec<Endpoint> = signature
        .inputs
        .iter()
        .filter_map(|(key, info)| endpoint(key, info))
        .collect();
    let mut warnings: Vec<String> = builder.warnings.into_iter().collect();
    let keep = reachable(&nodes, outputs.iter().map(|output| output.tensor.node));
    let remap = compact(&mut nodes, &keep);
    let remap_ref = |tensor: TensorRef| TensorRef {
        node: remap[tensor.node].unwrap_or(0),
        output: tensor.output,
    };
    let outputs = outputs
        .into_iter()
        .map(|endpoint| Endpoint {
            tensor: remap_ref(endpoint.tensor),
            ..endpoint
        })
        .collect();
    let inputs = inputs
        .into_iter()
        .filter_map(|endpoint| {
            let node = remap[endpoint.tensor.node]?;
            Some(Endpoint {
                tensor: TensorRef {
                    node,
                    output: endpoint.tensor.output,
                },
                ..endpoint
            })
        })
        .collect::<Vec<_>>();
    if inputs.len() < signature.inputs.len() {
        warnings.push(format!(
            "{} of the signature's inputs are not used by its outputs",
            signature.inputs.len() - inputs.len()
        ));
    }
    let variables = collect_variables(&mut nodes, &trainable_names(meta_graph));
    assign_layers(&mut nodes);
    Ok(Graph {
        signature: signature_key.to_string(),
        nodes,
        inputs,
        outputs,
        variables,
        warnings,
    })
}

fn pick_meta_graph<'a>(
    saved_model: &'a tfpb::SavedModel,
    tags: &[&str],
) -> Result<&'a tfpb::MetaGraphDef, ModelError> {
    let tags_of = |meta_graph: &tfpb::MetaGraphDef| -> BTreeSet<String> {
        meta_graph
            .meta_info_def
            .as_ref()
            .map(|info| info.tags.iter().cloned().collect())
            .unwrap_or_default()
    };
    let wanted: BTreeSet<String> = if tags.is_empty() {
        ["serve".to_string()].into()
    } else {
        tags.iter().map(|tag| tag.to_string()).collect()
    };
    saved_model
        .meta_graphs
        .iter()
        .find(|meta_graph| tags_of(meta_graph) == wanted)
        .or_else(|| {
            tags.is_empty()
                .then(|| saved_model.meta_graphs.first())
                .flatten()
        })
        .ok_or_else(|| {
            let sets: Vec<String> = saved_model
                .meta_graphs
                .iter()
                .map(|meta_graph| {
                    tags_of(meta_graph)
                        .into_iter()
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .collect();
            ModelError::Graph(format!(
                "no MetaGraph with tag-set '{}'; the file has: {}",
                tags.join(","),
                sets.join("; ")
            ))
        })
}

/// The graph tensor a signature entry names (composite tensors have none).
fn tensor_name(info: &tfpb::TensorInfo) -> String {
    match &info.encoding {
        Some(tfpb::tensor_info::Encoding::Name(name)) => name.clone(),
        _ => String::new(),
    }
}

impl<'a> Builder<'a> {
    /// Adds the nodes of one body to `context`, inlining calls. `scope` is the
    /// caller's name scope; `strip` a prefix dropped from the body's node names;
    /// `stack` the functions being expanded (recursion guard).
    fn add_body(
        &mut self,
        context: usize,
        body: &'a [tfpb::NodeDef],
        scope: &str,
        function: Option<&str>,
        strip: &str,
        stack: &mut Vec<&'a str>,
    ) -> Result<(), ModelError> {
        for node_def in body {
            let own_name = node_def.name.strip_prefix(strip).unwrap_or(&node_def.name);
            if self.pending.len() >= self.limits.max_nodes {
                return Err(ModelError::Graph(format!(
                    "the graph has more than {} nodes once its functions are expanded; \
                     tfprobe stops there to stay responsive",
                    self.limits.max_nodes
                )));
            }
            if let Some(callee) = self.call_target(node_def) {
                match self.enter(callee, stack) {
                    Ok(function_def) => {
                        let child = self.add_context(context, function_def, &node_def.input);
                        self.contexts[context]
                            .locals
                            .insert(node_def.name.clone(), Local::Call(child));
                        let child_scope = join(scope, parent_path(own_name));
                        stack.push(callee);
                        let result = self.add_body(
                            child,
                            &function_def.node_def,
                            &child_scope,
                            Some(callee),
                            "",
                            stack,
                        );
                        stack.pop();
                        result?;
                        continue;
                    }
                    Err(warning) => {
                        self.warnings
                            .insert(format!("{}: {warning}", node_def.name));
                    }
                }
            }
            let index = self.add_node(context, node_def, &join(scope, own_name), function);
            self.add_branches(context, index, node_def, scope, stack)?;
        }
        Ok(())
    }

    /// The function a node calls when it is a call to be inlined.
    fn call_target(&self, node_def: &'a tfpb::NodeDef) -> Option<&'a str> {
        if CALL_OPS.contains(&node_def.op.as_str()) {
            return node_def.attr.get("f").map(|value| match &value.value {
                Some(tfpb::attr_value::Value::Func(func)) => func.name.as_str(),
                _ => "",
            });
        }
        self.library
            .contains_key(node_def.op.as_str())
            .then_some(node_def.op.as_str())
    }

    /// Checks that `callee` may be expanded here.
    fn enter(&self, callee: &str, stack: &[&str]) -> Result<&'a tfpb::FunctionDef, String> {
        let function_def = *self.library.get(callee).ok_or_else(|| {
            format!(
                "calls function '{callee}', which is not in the function library; shown as one node"
            )
        })?;
        if stack.contains(&callee) {
            return Err(format!(
                "calls function '{callee}' recursively ({} → {callee}); the cycle is shown as one node",
                stack.join(" → ")
            ));
        }
        if stack.len() >= self.limits.max_call_depth {
            return Err(format!(
                "calls nest deeper than {} functions; '{callee}' is shown as one node",
                self.limits.max_call_depth
            ));
        }
        Ok(function_def)
    }

    /// A context for one call of `function_def`, its arguments bound to `inputs`.
    fn add_context(
        &mut self,
        parent: usize,
        function_def: &tfpb::FunctionDef,
        inputs: &[String],
    ) -> usize {
        let signature = function_def.signature.clone().unwrap_or_default();
        let data_inputs: Vec<&String> = inputs
            .iter()
            .filter(|input| !input.starts_with('^'))
            .collect();
        let args = signature
            .input_arg
            .iter()
            .enumerate()
            .map(|(position, arg)| {
                (
                    arg.name.clone(),
                    data_inputs.get(position).map(|input| input.to_string()),
                )
            })
            .collect();
        self.contexts.push(Context {
            parent: Some(parent),
            args,
            locals: HashMap::new(),
            output_args: signature
                .output_arg
                .iter()
                .map(|arg| arg.name.clone())
                .collect(),
            rets: function_def.ret.clone().into_iter().collect(),
        });
        self.contexts.len() - 1
    }

    /// Draws the functions an `If`/`While` runs inside it, fed by its inputs.
    fn add_branches(
        &mut self,
        context: usize,
        index: usize,
        node_def: &'a tfpb::NodeDef,
        scope: &str,
        stack: &mut Vec<&'a str>,
    ) -> Result<(), ModelError> {
        let Some((_, attrs)) = BRANCH_ATTRS.iter().find(|(op, _)| *op == node_def.op) else {
            return Ok(());
        };
        // `If` feeds its branches every input but the condition.
        let skip = usize::from(node_def.op.ends_with("If"));
        let inputs: Vec<String> = node_def
            .input
            .iter()
            .filter(|input| !input.starts_with('^'))
            .skip(skip)
            .cloned()
            .collect();
        for attr in *attrs {
            let Some(tfpb::attr_value::Value::Func(func)) = node_def
                .attr
                .get(*attr)
                .and_then(|value| value.value.as_ref())
            else {
                continue;
            };
            let function_def = match self.enter(&func.name, stack) {
                Ok(function_def) => function_def,
                Err(warning) => {
                    self.warnings
                        .insert(format!("{}: {warning}", node_def.name));
                    continue;
                }
            };
            let child = self.add_context(context, function_def, &inputs);
            let child_scope = join(&join(scope, &node_def.name), attr);
            stack.push(
                function_def
                    .signature
                    .as_ref()
                    .map_or("", |signature| signature.name.as_str()),
            );
            // Branch bodies repeat the control-flow node's name as a prefix
            // (`map/while/resize` inside `map/while`); under `map/while/body` it is dropped.
            let prefix = format!("{}/", node_def.name);
            let result = self.add_body(
                child,
                &function_def.node_def,
                &child_scope,
                Some(&func.name),
                &prefix,
                stack,
            );
            stack.pop();
            result?;
            let returns: Vec<(usize, String)> = self.contexts[child]
                .output_args
                .iter()
                .filter_map(|arg| Some((child, self.contexts[child].rets.get(arg)?.clone())))
                .collect();
            self.pending[index].branch_returns.extend(returns);
        }
        Ok(())
    }

    fn add_node(
        &mut self,
        context: usize,
        node_def: &tfpb::NodeDef,
        name: &str,
        function: Option<&str>,
    ) -> usize {
        let mut attrs: Vec<(String, String)> = node_def
            .attr
            .iter()
            .filter(|(key, _)| !key.starts_with('_'))
            .map(|(key, value)| (key.clone(), attr_text(value)))
            .collect();
        attrs.sort();
        let index = self.pending.len();
        self.node_ops.push(node_def.op.clone());
        self.contexts[context]
            .locals
            .insert(node_def.name.clone(), Local::Node(index));
        self.pending.push(Pending {
            node: Node {
                name: name.to_string(),
                op: node_def.op.clone(),
                scope: String::new(),
                layer: String::new(),
                attrs,
                inputs: Vec::new(),
                outputs: output_meta(node_def),
                function: function.map(str::to_string),
                variable: None,
            },
            context,
            raw_inputs: node_def.input.clone(),
            branch_returns: Vec::new(),
        });
        index
    }

    fn resolve_inputs(&mut self) -> Vec<Node> {
        let mut resolved = Vec::with_capacity(self.pending.len());
        for index in 0..self.pending.len() {
            let pending = &self.pending[index];
            let context = pending.context;
            let raw: Vec<(usize, String)> = pending
                .raw_inputs
                .iter()
                .filter(|input| !input.starts_with('^'))
                .map(|input| (context, input.clone()))
                .chain(pending.branch_returns.iter().cloned())
                .collect();
            let inputs: Vec<TensorRef> = raw
                .iter()
                .filter_map(|(from, input)| {
                    let found = self.resolve(*from, input);
                    if found.is_none() {
                        self.warnings.insert(format!(
                            "{}: input '{input}' could not be traced to a node",
                            self.pending[index].node.name
                        ));
                    }
                    found
                })
                .collect();
            resolved.push(inputs);
        }
        self.pending
            .drain(..)
            .zip(resolved)
            .map(|(pending, inputs)| Node {
                inputs,
                ..pending.node
            })
            .collect()
    }

    /// The node output a reference in `context` stands for, through calls and arguments.
    fn resolve(&self, mut context: usize, reference: &str) -> Option<TensorRef> {
        let mut reference = reference.trim_start_matches('^').to_string();
        for _ in 0..MAX_RESOLVE_HOPS {
            let current = &self.contexts[context];
            let mut parts = reference.split(':');
            let name = parts.next()?.to_string();
            let rest: Vec<&str> = parts.collect();
            if let Some(binding) = current.args.get(&name).filter(|_| rest.is_empty()) {
                reference = binding.clone()?;
                context = current.parent?;
                continue;
            }
            let (arg, position) = match rest.as_slice() {
                [] => ("", 0),
                [index] => ("", index.parse().ok()?),
                [arg, index] => (*arg, index.parse().ok()?),
                _ => return None,
            };
            match current.locals.get(&name)? {
                Local::Node(node) => {
                    let op = &self.node_ops[*node];
                    return Some(TensorRef {
                        node: *node,
                        output: output_arg_offset(op, arg, position),
                    });
                }
                Local::Call(child) => {
                    let child_context = &self.contexts[*child];
                    let output_arg = child_context.output_args.get(position)?;
                    reference = child_context.rets.get(output_arg)?.clone();
                    context = *child;
                }
            }
        }
        None
    }
}

fn output_meta(node_def: &tfpb::NodeDef) -> Vec<TensorMeta> {
    use tfpb::attr_value::Value;
    let dtype = ["output_type", "out_type", "DstT", "dtype", "T"]
        .iter()
        .find_map(|key| match node_def.attr.get(*key)?.value.as_ref()? {
            Value::Type(dtype) => Some(crate::model::DType(*dtype)),
            _ => None,
        });
    let shapes: Vec<Shape> = match node_def
        .attr
        .get("_output_shapes")
        .and_then(|value| value.value.as_ref())
    {
        Some(Value::List(list)) => list
            .shape
            .iter()
            .map(|shape| Shape::from_proto(Some(shape)))
            .collect(),
        _ => Vec::new(),
    };
    if shapes.is_empty() {
        return vec![TensorMeta { dtype, shape: None }];
    }
    shapes
        .into_iter()
        .map(|shape| TensorMeta {
            dtype,
            shape: Some(shape),
        })
        .collect()
}

fn parent_path(name: &str) -> &str {
    name.rsplit_once('/').map_or("", |(parent, _)| parent)
}

fn join(scope: &str, name: &str) -> String {
    match (scope.is_empty(), name.is_empty()) {
        (true, _) => name.to_string(),
        (_, true) => scope.to_string(),
        _ => format!("{scope}/{name}"),
    }
}
