//! The graph as files: DOT for Graphviz, SVG drawn from tfprobe's own layout (no
//! Graphviz needed), and JSON of nodes, edges, layers and attributes.

use super::Graph;
use super::layers::Summary;
use super::layout::{self, ItemKind, Layout, View};
use serde::Serialize;
use std::fmt::Write;

/// Width of one character of the box text in the SVG (Helvetica/Arial at 12 px).
pub const SVG_CHAR_WIDTH: f32 = 7.0;

fn dot_quote(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for character in text.chars() {
        match character {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\n' => quoted.push_str("\\n"),
            other => quoted.push(other),
        }
    }
    quoted.push('"');
    quoted
}

/// DOT of `view`: one box per collapsed layer; the nodes of expanded layers inside
/// a cluster named after the layer.
pub fn dot(graph: &Graph, summary: &Summary, view: &View) -> String {
    let mut text = String::new();
    let _ = writeln!(text, "digraph {} {{", dot_quote(&graph.signature));
    text.push_str("  rankdir=TB;\n  node [shape=box, style=\"rounded,filled\", fillcolor=\"#f4f4f4\", fontname=\"Helvetica\", fontsize=11];\n  edge [color=\"#777777\"];\n");
    let mut cluster_of: Vec<Option<usize>> = vec![None; view.items.len()];
    let mut clusters: Vec<(usize, Vec<usize>)> = Vec::new();
    for (index, item) in view.items.iter().enumerate() {
        if let ItemKind::Node { layer, .. } = item.kind {
            match clusters
                .iter_mut()
                .find(|(cluster_layer, _)| *cluster_layer == layer)
            {
                Some((_, members)) => members.push(index),
                None => clusters.push((layer, vec![index])),
            }
            cluster_of[index] = Some(layer);
        }
    }
    let item_line = |index: usize| {
        let item = &view.items[index];
        let label = if item.detail.is_empty() {
            item.label.clone()
        } else {
            format!("{}\n{}", item.label, item.detail)
        };
        format!("n{index} [label={}];", dot_quote(&label))
    };
    for (index, cluster) in cluster_of.iter().enumerate() {
        if cluster.is_none() {
            let _ = writeln!(text, "  {}", item_line(index));
        }
    }
    for (layer, members) in &clusters {
        let _ = writeln!(text, "  subgraph \"cluster_{layer}\" {{");
        let _ = writeln!(
            text,
            "    label={};",
            dot_quote(&summary.layers[*layer].name)
        );
        for member in members {
            let _ = writeln!(text, "    {}", item_line(*member));
        }
        text.push_str("  }\n");
    }
    for (from, to) in &view.edges {
        let _ = writeln!(text, "  n{from} -> n{to};");
    }
    text.push_str("}\n");
    text
}

fn xml_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            // Characters XML 1.0 forbids never reach the file.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => escaped.push('?'),
            other => escaped.push(other),
        }
    }
    escaped
}

/// Cuts `text` to what fits in `width` pixels.
fn fit(text: &str, width: f32) -> String {
    let max_chars = ((width - 12.0) / SVG_CHAR_WIDTH).max(3.0) as usize;
    if text.chars().count() <= max_chars {
        return text.to_string();
    }
    let kept: String = text.chars().take(max_chars.saturating_sub(1)).collect();
    format!("{kept}…")
}

/// SVG of `view` laid out by [`layout::layout`].
pub fn svg(view: &View, laid_out: &Layout) -> String {
    let mut text = String::new();
    let _ = writeln!(
        text,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w:.0}\" height=\"{h:.0}\" viewBox=\"0 0 {w:.0} {h:.0}\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">",
        w = laid_out.width,
        h = laid_out.height
    );
    text.push_str("<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"6\" markerHeight=\"6\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#777\"/></marker></defs>\n");
    text.push_str("<g fill=\"none\" stroke=\"#777\" stroke-width=\"1\">\n");
    for line in &laid_out.edges {
        let points: Vec<String> = line.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
        let _ = writeln!(
            text,
            "<polyline points=\"{}\" marker-end=\"url(#arrow)\"/>",
            points.join(" ")
        );
    }
    text.push_str("</g>\n");
    for (item, placed) in view.items.iter().zip(&laid_out.boxes) {
        let (fill, title) = match &item.kind {
            ItemKind::Layer { nodes, .. } => ("#e8eef8", format!("{} ({nodes} nodes)", item.label)),
            ItemKind::Node { .. } => ("#f6f6f6", item.label.clone()),
        };
        let left = placed.x - placed.width / 2.0;
        let top = placed.y - placed.height / 2.0;
        let _ = writeln!(
            text,
            "<g><title>{}</title><rect x=\"{left:.1}\" y=\"{top:.1}\" width=\"{:.1}\" height=\"{:.1}\" rx=\"5\" fill=\"{fill}\" stroke=\"#556\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-weight=\"bold\">{}</text><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#444\">{}</text></g>",
            xml_escape(&title),
            placed.width,
            placed.height,
            placed.x,
            top + 15.0,
            xml_escape(&fit(&item.label, placed.width)),
            placed.x,
            top + 30.0,
            xml_escape(&fit(&item.detail, placed.width)),
        );
    }
    text.push_str("</svg>\n");
    text
}

#[derive(Serialize)]
struct JsonEdge {
    from: usize,
    from_output: usize,
    to: usize,
}

#[derive(Serialize)]
struct JsonGraph<'a> {
    signature: &'a str,
    nodes: &'a [super::Node],
    edges: Vec<JsonEdge>,
    inputs: &'a [super::Endpoint],
    outputs: &'a [super::Endpoint],
    variables: &'a [super::Variable],
    layers: &'a [super::layers::Layer],
    total_params: u64,
    trainable_params: u64,
    warnings: &'a [String],
}

/// JSON of every node (with attributes), edge, layer and variable.
pub fn json(graph: &Graph, summary: &Summary) -> String {
    let document = JsonGraph {
        signature: &graph.signature,
        nodes: &graph.nodes,
        edges: graph
            .edges()
            .map(|(producer, consumer)| JsonEdge {
                from: producer.node,
                from_output: producer.output,
                to: consumer,
            })
            .collect(),
        inputs: &graph.inputs,
        outputs: &graph.outputs,
        variables: &graph.variables,
        layers: &summary.layers,
        total_params: summary.total_params,
        trainable_params: summary.trainable_params,
        warnings: &graph.warnings,
    };
    let mut text = serde_json::to_string_pretty(&document).unwrap_or_default();
    text.push('\n');
    text
}

/// Collapsed (`expand` false) or fully expanded view, laid out for SVG.
pub fn svg_of(graph: &Graph, summary: &Summary, expand: bool) -> String {
    let view = layout::view(graph, summary, &|_| expand);
    let laid_out = layout::layout(&view, SVG_CHAR_WIDTH);
    svg(&view, &laid_out)
}
