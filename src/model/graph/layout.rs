//! What is drawn and where: a view of the graph with some layers collapsed into
//! one box each, laid out in layers from inputs (top) to outputs (bottom) the
//! Sugiyama way: break cycles, rank by longest path, route long edges through
//! dummy points, order each rank by barycentres, then place boxes without overlap.

use super::Graph;
use super::layers::{Summary, meta_text};
use serde::Serialize;
use std::collections::{HashMap, HashSet};

/// One box of the view.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ViewItem {
    pub label: String,
    /// The op line: a layer's main ops, or a node's op and output.
    pub detail: String,
    pub kind: ItemKind,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum ItemKind {
    /// A collapsed layer: its index in the summary, and how many nodes it holds.
    Layer { layer: usize, nodes: usize },
    /// One node of an expanded layer (its layer's index, and the node's index).
    Node { layer: usize, node: usize },
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct View {
    pub items: Vec<ViewItem>,
    /// `(from, to)` item indices, without repeats or self-loops.
    pub edges: Vec<(usize, usize)>,
    /// For each graph node, the item that shows it.
    pub item_of_node: Vec<usize>,
}

/// The view with the layers for which `expanded` says true shown node by node.
pub fn view(graph: &Graph, summary: &Summary, expanded: &dyn Fn(usize) -> bool) -> View {
    let mut items = Vec::new();
    let mut item_of_node = vec![0usize; graph.nodes.len()];
    for (layer_index, layer) in summary.layers.iter().enumerate() {
        if expanded(layer_index) && layer.nodes.len() > 1 {
            for &node in &layer.nodes {
                item_of_node[node] = items.len();
                let graph_node = &graph.nodes[node];
                let output = graph_node
                    .outputs
                    .first()
                    .map(meta_text)
                    .unwrap_or_default();
                items.push(ViewItem {
                    label: graph_node
                        .name
                        .rsplit('/')
                        .next()
                        .unwrap_or_default()
                        .to_string(),
                    detail: format!("{} {output}", graph_node.op).trim().to_string(),
                    kind: ItemKind::Node {
                        layer: layer_index,
                        node,
                    },
                });
            }
        } else {
            for &node in &layer.nodes {
                item_of_node[node] = items.len();
            }
            items.push(ViewItem {
                label: layer.name.clone(),
                detail: layer.ops.join(", "),
                kind: ItemKind::Layer {
                    layer: layer_index,
                    nodes: layer.nodes.len(),
                },
            });
        }
    }
    let mut seen = HashSet::new();
    let mut edges = Vec::new();
    for (producer, consumer) in graph.edges() {
        let edge = (item_of_node[producer.node], item_of_node[consumer]);
        if edge.0 != edge.1 && seen.insert(edge) {
            edges.push(edge);
        }
    }
    View {
        items,
        edges,
        item_of_node,
    }
}

/// A box's place: centre and size.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Placed {
    pub x: f32,
    pub y: f32,
    pub width: f32,
    pub height: f32,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Layout {
    pub boxes: Vec<Placed>,
    /// One polyline per view edge, from the producer's bottom to the consumer's top.
    pub edges: Vec<Vec<(f32, f32)>>,
    pub width: f32,
    pub height: f32,
}

pub const BOX_HEIGHT: f32 = 38.0;
const RANK_GAP: f32 = 34.0;
const BOX_GAP: f32 = 18.0;
const DUMMY_WIDTH: f32 = 8.0;
/// Past this many dummy points long edges are drawn straight (bounded work).
const MAX_DUMMIES: usize = 200_000;
const ORDER_SWEEPS: usize = 6;

/// Lays out `view`; `char_width` is the width of one character of the box text.
pub fn layout(view: &View, char_width: f32) -> Layout {
    let count = view.items.len();
    let widths: Vec<f32> = view
        .items
        .iter()
        .map(|item| {
            let chars = item.label.chars().count().max(item.detail.chars().count());
            (chars as f32 * char_width + 16.0).clamp(60.0, 420.0)
        })
        .collect();
    let edges = acyclic(count, &view.edges);
    let rank = longest_path_ranks(count, &edges);
    // Chains of vertices per edge: real endpoints with dummies between.
    let mut vertex_rank: Vec<usize> = rank.clone();
    let mut vertex_width: Vec<f32> = widths.clone();
    let mut chains: Vec<Vec<usize>> = Vec::with_capacity(edges.len());
    let mut dummies = 0usize;
    for &(from, to) in &edges {
        let mut chain = vec![from];
        let span = rank[to].saturating_sub(rank[from]);
        if span > 1 && dummies + span < MAX_DUMMIES {
            for step in 1..span {
                vertex_rank.push(rank[from] + step);
                vertex_width.push(DUMMY_WIDTH);
                chain.push(vertex_rank.len() - 1);
            }
            dummies += span - 1;
        }
        chain.push(to);
        chains.push(chain);
    }
    let vertices = vertex_rank.len();
    let mut predecessors: Vec<Vec<usize>> = vec![Vec::new(); vertices];
    let mut successors: Vec<Vec<usize>> = vec![Vec::new(); vertices];
    for chain in &chains {
        for pair in chain.windows(2) {
            successors[pair[0]].push(pair[1]);
            predecessors[pair[1]].push(pair[0]);
        }
    }
    let rank_count = vertex_rank.iter().max().map_or(0, |max| max + 1);
    let mut ranks: Vec<Vec<usize>> = vec![Vec::new(); rank_count];
    for (vertex, vertex_rank) in vertex_rank.iter().enumerate() {
        ranks[*vertex_rank].push(vertex);
    }
    order_ranks(&mut ranks, &predecessors, &successors);
    let x = place(&ranks, &vertex_width, &predecessors);
    let min_left = (0..vertices)
        .map(|vertex| x[vertex] - vertex_width[vertex] / 2.0)
        .fold(f32::INFINITY, f32::min);
    let shift = if min_left.is_finite() {
        BOX_GAP - min_left
    } else {
        0.0
    };
    let y_of = |rank: usize| BOX_GAP + rank as f32 * (BOX_HEIGHT + RANK_GAP) + BOX_HEIGHT / 2.0;
    let boxes: Vec<Placed> = (0..count)
        .map(|item| Placed {
            x: x[item] + shift,
            y: y_of(rank[item]),
            width: widths[item],
            height: BOX_HEIGHT,
        })
        .collect();
    let lines = chains
        .iter()
        .map(|chain| {
            let last = chain.len() - 1;
            chain
                .iter()
                .enumerate()
                .map(|(position, vertex)| {
                    let y = y_of(vertex_rank[*vertex]);
                    let y = match position {
                        0 => y + BOX_HEIGHT / 2.0,
                        p if p == last => y - BOX_HEIGHT / 2.0,
                        _ => y,
                    };
                    (x[*vertex] + shift, y)
                })
                .collect()
        })
        .collect();
    let width = (0..vertices)
        .map(|vertex| x[vertex] + shift + vertex_width[vertex] / 2.0)
        .fold(0.0, f32::max)
        + BOX_GAP;
    Layout {
        boxes,
        edges: lines,
        width,
        height: y_of(rank_count.max(1) - 1) + BOX_HEIGHT / 2.0 + BOX_GAP,
    }
}

/// The edges with those that close a cycle reversed (found by depth-first search).
fn acyclic(count: usize, edges: &[(usize, usize)]) -> Vec<(usize, usize)> {
    let mut successors: Vec<Vec<usize>> = vec![Vec::new(); count];
    for &(from, to) in edges {
        successors[from].push(to);
    }
    // 0 = unvisited, 1 = on the stack, 2 = done.
    let mut state = vec![0u8; count];
    let mut back_edges: HashSet<(usize, usize)> = HashSet::new();
    for root in 0..count {
        if state[root] != 0 {
            continue;
        }
        let mut stack = vec![(root, 0usize)];
        state[root] = 1;
        while let Some((vertex, next)) = stack.last_mut() {
            let vertex = *vertex;
            if let Some(&successor) = successors[vertex].get(*next) {
                *next += 1;
                match state[successor] {
                    0 => {
                        state[successor] = 1;
                        stack.push((successor, 0));
                    }
                    1 => {
                        back_edges.insert((vertex, successor));
                    }
                    _ => {}
                }
            } else {
                state[vertex] = 2;
                stack.pop();
            }
        }
    }
    edges
        .iter()
        .map(|&(from, to)| {
            if back_edges.contains(&(from, to)) {
                (to, from)
            } else {
                (from, to)
            }
        })
        .collect()
}

fn longest_path_ranks(count: usize, edges: &[(usize, usize)]) -> Vec<usize> {
    let mut incoming = vec![0usize; count];
    let mut successors: Vec<Vec<usize>> = vec![Vec::new(); count];
    for &(from, to) in edges {
        incoming[to] += 1;
        successors[from].push(to);
    }
    let mut rank = vec![0usize; count];
    let mut ready: Vec<usize> = (0..count).filter(|vertex| incoming[*vertex] == 0).collect();
    let mut order = Vec::with_capacity(count);
    while let Some(vertex) = ready.pop() {
        order.push(vertex);
        for &successor in &successors[vertex] {
            rank[successor] = rank[successor].max(rank[vertex] + 1);
            incoming[successor] -= 1;
            if incoming[successor] == 0 {
                ready.push(successor);
            }
        }
    }
    // Pull each vertex down to just above its first use (weights, constants and their
    // reads would otherwise all sit in the top rows and make them very wide). Going
    // from the bottom up keeps every edge pointing down.
    for &vertex in order.iter().rev() {
        if let Some(first_use) = successors[vertex].iter().map(|s| rank[*s]).min() {
            rank[vertex] = rank[vertex].max(first_use.saturating_sub(1));
        }
    }
    rank
}

/// Barycentre sweeps, down then up, to reduce crossings.
fn order_ranks(ranks: &mut [Vec<usize>], predecessors: &[Vec<usize>], successors: &[Vec<usize>]) {
    let mut position: HashMap<usize, f32> = HashMap::new();
    let record = |ranks: &[Vec<usize>], position: &mut HashMap<usize, f32>| {
        for rank in ranks {
            for (index, vertex) in rank.iter().enumerate() {
                position.insert(*vertex, index as f32);
            }
        }
    };
    record(ranks, &mut position);
    for sweep in 0..ORDER_SWEEPS {
        let downward = sweep % 2 == 0;
        let indices: Vec<usize> = if downward {
            (1..ranks.len()).collect()
        } else {
            (0..ranks.len().saturating_sub(1)).rev().collect()
        };
        for rank_index in indices {
            let neighbours = if downward { predecessors } else { successors };
            let mut keyed: Vec<(f32, usize)> = ranks[rank_index]
                .iter()
                .map(|vertex| {
                    let around = &neighbours[*vertex];
                    let key = if around.is_empty() {
                        position[vertex]
                    } else {
                        around.iter().map(|n| position[n]).sum::<f32>() / around.len() as f32
                    };
                    (key, *vertex)
                })
                .collect();
            keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
            ranks[rank_index] = keyed.into_iter().map(|(_, vertex)| vertex).collect();
            for (index, vertex) in ranks[rank_index].iter().enumerate() {
                position.insert(*vertex, index as f32);
            }
        }
    }
}

/// Horizontal centres: each vertex as near its predecessors' mean as the order and
/// the gaps allow.
fn place(ranks: &[Vec<usize>], widths: &[f32], predecessors: &[Vec<usize>]) -> Vec<f32> {
    let mut x = vec![0.0f32; widths.len()];
    for rank in ranks {
        let mut left = 0.0;
        for vertex in rank {
            x[*vertex] = left + widths[*vertex] / 2.0;
            left += widths[*vertex] + BOX_GAP;
        }
    }
    for rank in ranks.iter().skip(1) {
        let wanted: Vec<f32> = rank
            .iter()
            .map(|vertex| {
                let around = &predecessors[*vertex];
                if around.is_empty() {
                    x[*vertex]
                } else {
                    around.iter().map(|n| x[*n]).sum::<f32>() / around.len() as f32
                }
            })
            .collect();
        // Keep the order: push right past the left neighbour, then back left.
        let mut placed = wanted.clone();
        for index in 1..rank.len() {
            let min =
                placed[index - 1] + (widths[rank[index - 1]] + widths[rank[index]]) / 2.0 + BOX_GAP;
            placed[index] = placed[index].max(min);
        }
        let overshoot = placed
            .iter()
            .zip(&wanted)
            .map(|(placed, wanted)| placed - wanted)
            .sum::<f32>()
            / rank.len().max(1) as f32;
        for (index, vertex) in rank.iter().enumerate() {
            x[*vertex] = placed[index] - overshoot / 2.0;
        }
    }
    x
}
