//! The Graph tab: the chosen signature's computation, laid out in layers, with name
//! scopes collapsed into layer boxes that expand on click; pan (drag), zoom (Ctrl +
//! scroll or pinch), fit, search (Ctrl+F), a properties panel, and exports.
//! Building and layout run in the background; this only draws what they produced.

use crate::model::graph::layers::meta_text;
use crate::model::graph::layout::{ItemKind, Placed};
use crate::model::graph::thousands;
use crate::ui::command::{Command, Commands};
use crate::ui::state::{AppState, GraphDrawing, GraphState, GraphStatus};
use crate::workflow::inspect::Inspected;
use egui::{Align2, FontId, Pos2, Rect, Sense, Stroke, Ui, Vec2};

/// Below this many screen pixels of box height, boxes are drawn without text.
const TEXT_MIN_BOX_HEIGHT: f32 = 14.0;

pub fn show(ui: &mut Ui, state: &mut AppState, commands: &mut Commands) {
    if state.local.is_none() {
        ui.label(
            "Open a SavedModel (Ctrl+O) to see its graph. A server's model has no graph \
             to show: TF Serving's APIs send signatures only.",
        );
        return;
    }
    let wanted = state
        .local
        .as_ref()
        .map(|local| local.info.path.clone())
        .zip(
            state
                .chosen_signature()
                .and_then(Result::ok)
                .map(|s| s.key.clone()),
        );
    if wanted != state.graph.built_for || matches!(state.graph.status, GraphStatus::Idle) {
        commands.push(Command::BuildGraph);
    }
    let graph = &mut state.graph;
    toolbar(ui, graph, commands);
    ui.separator();
    let inspected = match &graph.status {
        GraphStatus::Idle | GraphStatus::Building => {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("Building the graph…");
            });
            return;
        }
        GraphStatus::Failed(message) => {
            ui.colored_label(
                ui.visuals().error_fg_color,
                format!("The graph could not be built: {message}"),
            );
            return;
        }
        GraphStatus::Ready(inspected) => inspected.clone(),
    };
    if let Some(items) = graph.guarded_items {
        ui.label(format!(
            "{items} nodes — drawing them all may be slow. Collapse layers, or draw them anyway."
        ));
        ui.horizontal(|ui| {
            if ui.button(format!("{items} nodes — show anyway")).clicked() {
                commands.push(Command::ShowGraphAnyway);
            }
            if ui.button("Collapse all").clicked() {
                commands.push(Command::CollapseAllGraphLayers);
            }
        });
    }
    egui::Panel::right("graph_properties")
        .resizable(true)
        .default_size(300.0)
        .show(ui, |ui| {
            egui::ScrollArea::vertical()
                .id_salt("graph_properties_scroll")
                .show(ui, |ui| properties(ui, graph, &inspected, commands));
        });
    match graph.drawing.clone() {
        Some(drawing) => canvas(ui, graph, &drawing, commands),
        None if graph.laying_out => {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("Laying out…");
            });
        }
        None => {}
    }
}

fn toolbar(ui: &mut Ui, graph: &mut GraphState, commands: &mut Commands) {
    ui.horizontal_wrapped(|ui| {
        let search = egui::TextEdit::singleline(&mut graph.search)
            .hint_text("Search nodes by name or op (Ctrl+F)")
            .desired_width(260.0);
        let response = ui.add(search).labelled_by(ui.label("Search").id);
        if std::mem::take(&mut graph.focus_search) {
            response.request_focus();
        }
        if response.changed() {
            commands.push(Command::SearchGraph);
        }
        if response.lost_focus() && ui.input(|input| input.key_pressed(egui::Key::Enter)) {
            commands.push(Command::NextGraphHit);
        }
        if !graph.search.trim().is_empty() {
            let text = match graph.hits.len() {
                0 => "no matches".to_string(),
                count => format!("match {} of {count}", graph.hit_cursor + 1),
            };
            ui.label(text);
            if ui
                .add_enabled(graph.hits.len() > 1, egui::Button::new("Next"))
                .clicked()
            {
                commands.push(Command::NextGraphHit);
            }
        }
        ui.separator();
        if ui
            .button("Fit")
            .on_hover_text("Fit the graph to the window")
            .clicked()
        {
            graph.fit_pending = true;
        }
        if ui.button("Expand all").clicked() {
            commands.push(Command::ExpandAllGraphLayers);
        }
        if ui.button("Collapse all").clicked() {
            commands.push(Command::CollapseAllGraphLayers);
        }
        let ready = graph.drawing.is_some();
        if ui
            .add_enabled(ready, egui::Button::new("Export SVG…"))
            .clicked()
        {
            commands.push(Command::ExportGraphSvg);
        }
        if ui
            .add_enabled(ready, egui::Button::new("Export PNG…"))
            .clicked()
        {
            commands.push(Command::ExportGraphPng);
        }
        if let Some(inspected) = graph.inspected() {
            let summary = &inspected.summary;
            ui.label(
                egui::RichText::new(format!(
                    "{} layers · {} nodes · {} params · built in {:.0} ms, laid out in {:.0} ms",
                    summary.layers.len(),
                    summary.nodes,
                    thousands(summary.total_params),
                    inspected.build_ms,
                    graph.layout_ms
                ))
                .small()
                .weak(),
            );
        }
        if graph.laying_out {
            ui.spinner();
        }
    });
}

fn properties(ui: &mut Ui, graph: &GraphState, inspected: &Inspected, commands: &mut Commands) {
    let summary = &inspected.summary;
    if let Some(node_index) = graph.selected_node {
        let Some(node) = inspected.graph.nodes.get(node_index) else {
            return;
        };
        ui.heading(node.name.rsplit('/').next().unwrap_or_default());
        egui::Grid::new("graph_node_props")
            .num_columns(2)
            .striped(true)
            .show(ui, |ui| {
                let row = |ui: &mut Ui, key: &str, value: String| {
                    ui.label(key);
                    ui.add(egui::Label::new(value).wrap());
                    ui.end_row();
                };
                row(ui, "Name", node.name.clone());
                row(ui, "Op", node.op.clone());
                row(ui, "Layer", node.layer.clone());
                if let Some(function) = &node.function {
                    row(ui, "Function", function.clone());
                }
                if let Some(variable) = node
                    .variable
                    .and_then(|index| inspected.graph.variables.get(index))
                {
                    let shape = variable
                        .shape
                        .as_ref()
                        .map(|dims| format!("{dims:?}"))
                        .unwrap_or_else(|| "unknown".into());
                    row(ui, "Variable", format!("{} {shape}", variable.dtype.name()));
                    row(ui, "Parameters", thousands(variable.params));
                    row(ui, "Trainable", variable.trainable.to_string());
                }
                for (key, value) in &node.attrs {
                    row(ui, key, value.clone());
                }
            });
        ui.separator();
        ui.strong("Inputs");
        for input in &node.inputs {
            let producer = &inspected.graph.nodes[input.node];
            let meta = producer
                .outputs
                .get(input.output)
                .map(meta_text)
                .unwrap_or_default();
            if ui
                .link(format!("{}:{}  {meta}", producer.name, input.output))
                .clicked()
            {
                commands.push(Command::SelectGraphNode(input.node));
            }
        }
        ui.strong("Outputs");
        for (position, meta) in node.outputs.iter().enumerate() {
            ui.label(format!("{position}: {}", meta_text(meta)));
        }
        return;
    }
    let Some(layer) = graph
        .selected_layer
        .and_then(|index| summary.layers.get(index))
    else {
        ui.label(
            "Click a layer to expand it, or a node to see its op, attributes, inputs and outputs.",
        );
        ui.separator();
        ui.label(format!(
            "Total params: {}\nTrainable params: {}\nNon-trainable params: {}",
            thousands(summary.total_params),
            thousands(summary.trainable_params),
            thousands(summary.non_trainable_params)
        ));
        for warning in &summary.warnings {
            ui.colored_label(ui.visuals().warn_fg_color, warning);
        }
        return;
    };
    ui.heading(&layer.name);
    egui::Grid::new("graph_layer_props")
        .num_columns(2)
        .striped(true)
        .show(ui, |ui| {
            ui.label("Ops");
            ui.label(layer.ops.join(", "));
            ui.end_row();
            ui.label("Output");
            ui.label(meta_text(&layer.output));
            ui.end_row();
            ui.label("Parameters");
            ui.label(thousands(layer.params));
            ui.end_row();
            ui.label("Nodes");
            ui.label(layer.nodes.len().to_string());
            ui.end_row();
        });
}

/// Layout coordinates → screen.
struct Transform {
    origin: Pos2,
    zoom: f32,
}

impl Transform {
    fn point(&self, (x, y): (f32, f32)) -> Pos2 {
        self.origin + Vec2::new(x, y) * self.zoom
    }

    fn rect(&self, placed: &Placed) -> Rect {
        Rect::from_center_size(
            self.point((placed.x, placed.y)),
            Vec2::new(placed.width, placed.height) * self.zoom,
        )
    }
}

fn canvas(ui: &mut Ui, graph: &mut GraphState, drawing: &GraphDrawing, commands: &mut Commands) {
    let (rect, response) = ui.allocate_exact_size(ui.available_size(), Sense::click_and_drag());
    graph.canvas_rect = Some(rect);
    let layout = &drawing.layout;
    if std::mem::take(&mut graph.fit_pending) && layout.width > 0.0 {
        graph.zoom = (rect.width() / layout.width)
            .min(rect.height() / layout.height)
            .clamp(0.02, 1.5);
        graph.pan = Vec2::new(
            (rect.width() - layout.width * graph.zoom) / 2.0,
            (rect.height() - layout.height * graph.zoom).max(0.0) / 2.0,
        );
    }
    if let Some(node) = graph.focus_node.take()
        && let Some(item) = drawing.view.item_of_node.get(node)
    {
        let placed = &layout.boxes[*item];
        graph.zoom = graph.zoom.max(0.8);
        graph.pan = rect.size() / 2.0 - Vec2::new(placed.x, placed.y) * graph.zoom;
    }
    if response.dragged() {
        graph.pan += response.drag_delta();
    }
    if response.hovered() {
        let (zoom_delta, scroll) =
            ui.input(|input| (input.zoom_delta(), input.smooth_scroll_delta()));
        if zoom_delta != 1.0 {
            let pointer = response.hover_pos().unwrap_or(rect.center()) - rect.min;
            let new_zoom = (graph.zoom * zoom_delta).clamp(0.02, 4.0);
            graph.pan = pointer - (pointer - graph.pan) * (new_zoom / graph.zoom);
            graph.zoom = new_zoom;
        } else if scroll != Vec2::ZERO {
            graph.pan += scroll;
        }
    }
    let transform = Transform {
        origin: rect.min + graph.pan,
        zoom: graph.zoom,
    };
    let painter = ui.painter_at(rect);
    let visuals = ui.visuals().clone();
    painter.rect_filled(rect, 0.0, visuals.extreme_bg_color);
    let edge_stroke = Stroke::new(1.0, visuals.weak_text_color());
    for line in &layout.edges {
        let points: Vec<Pos2> = line.iter().map(|point| transform.point(*point)).collect();
        let bounds = Rect::from_points(&points);
        if !bounds.intersects(rect) {
            continue;
        }
        if let [.., before, last] = points.as_slice() {
            let direction = (*last - *before).normalized() * (6.0 * graph.zoom.min(1.0)).max(2.0);
            painter.add(egui::Shape::convex_polygon(
                vec![
                    *last,
                    *last - direction + direction.rot90() * 0.5,
                    *last - direction - direction.rot90() * 0.5,
                ],
                edge_stroke.color,
                Stroke::NONE,
            ));
        }
        painter.line(points, edge_stroke);
    }
    let font = FontId::proportional((12.0 * graph.zoom).clamp(6.0, 20.0));
    let hits: std::collections::HashSet<usize> = graph
        .hits
        .iter()
        .filter_map(|node| drawing.view.item_of_node.get(*node).copied())
        .collect();
    for (index, (item, placed)) in drawing.view.items.iter().zip(&layout.boxes).enumerate() {
        let box_rect = transform.rect(placed);
        if !box_rect.intersects(rect) {
            continue;
        }
        let (selected, fill) = match &item.kind {
            ItemKind::Layer { layer, .. } => (
                graph.selected_layer == Some(*layer) && graph.selected_node.is_none(),
                visuals.faint_bg_color,
            ),
            ItemKind::Node { node, .. } => (
                graph.selected_node == Some(*node),
                visuals.widgets.inactive.bg_fill,
            ),
        };
        let stroke = if selected {
            Stroke::new(2.0, visuals.selection.stroke.color)
        } else if hits.contains(&index) {
            Stroke::new(2.0, visuals.warn_fg_color)
        } else {
            visuals.widgets.noninteractive.bg_stroke
        };
        let radius = 4.0 * graph.zoom.min(1.0);
        painter.rect_filled(box_rect, radius, fill);
        painter.rect_stroke(box_rect, radius, stroke, egui::StrokeKind::Inside);
        if box_rect.height() >= TEXT_MIN_BOX_HEIGHT {
            let text_color = visuals.text_color();
            let label_chars = ((box_rect.width() / (font.size * 0.55)) as usize).max(3);
            painter.text(
                box_rect.center() - Vec2::new(0.0, box_rect.height() * 0.18),
                Align2::CENTER_CENTER,
                shorten(&item.label, label_chars),
                font.clone(),
                text_color,
            );
            painter.text(
                box_rect.center() + Vec2::new(0.0, box_rect.height() * 0.22),
                Align2::CENTER_CENTER,
                shorten(&item.detail, label_chars),
                FontId::proportional(font.size * 0.85),
                visuals.weak_text_color(),
            );
        }
        let clicked = interact_box(ui, index, box_rect.intersect(rect), &item.label);
        if clicked {
            match &item.kind {
                ItemKind::Layer { layer, .. } => commands.push(Command::ToggleGraphLayer(*layer)),
                ItemKind::Node { node, .. } => commands.push(Command::SelectGraphNode(*node)),
            }
        }
    }
}

/// A box as a widget: clickable, and findable by its label (accessibility, tests).
fn interact_box(ui: &mut Ui, index: usize, rect: Rect, label: &str) -> bool {
    let response = ui.interact(
        rect,
        ui.scope_id().with(("graph_box", index)),
        Sense::click(),
    );
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, label));
    if response.double_clicked() {
        return false;
    }
    response.clicked()
}

fn shorten(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_string();
    }
    let kept: String = text.chars().take(max_chars.saturating_sub(1)).collect();
    format!("{kept}…")
}
