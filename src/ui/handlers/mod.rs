//! Turning commands into state changes and background tasks, and task events back
//! into state. The only place that changes [`AppState`] outside of widget edits.
//! This file routes each command and event; the work is done per area in
//! `handlers/`: models, connections, the embedded server and its runtime,
//! predictions, and latency runs.

mod batch;
mod compare;
mod connection;
mod graph;
mod handoff;
mod latency;
mod model;
mod predict;
mod server;

use crate::ui::app::TfprobeApp;
use crate::ui::command::Command;
use crate::ui::effects::{Event, SaveKind};
use crate::ui::state::NoticeLevel;

impl TfprobeApp {
    pub(crate) fn apply_commands(&mut self) {
        while !self.commands.is_empty() {
            for command in self.commands.take() {
                self.apply_command(command);
            }
        }
    }

    fn apply_command(&mut self, command: Command) {
        match command {
            Command::OpenDialog => self.open_dialog(),
            Command::OpenPath(path) => self.open_path(path),
            Command::CloseModel => self.close_model(),
            Command::ForgetRecent(path) => self
                .state
                .persisted
                .recent_models
                .retain(|recent| *recent != path),
            Command::ShowConnect => self.show_connect(),
            Command::TestConnection(settings) => self.start_connection(settings, false),
            Command::Connect(settings) => self.start_connection(settings, true),
            Command::SaveConnection(settings) => self.save_connection(settings),
            Command::ForgetConnection(index) => self.forget_connection(index),
            Command::Disconnect => self.disconnect(),
            Command::StartServer => self.start_server(),
            Command::StopServer => self.stop_server(),
            Command::InstallRuntime => self.install_runtime(),
            Command::SetTarget(target) => self.state.target = target,
            Command::PickImages => self.tasks.pick_images(),
            Command::PickPemFile(which) => self.tasks.pick_pem_file(which),
            Command::AddImage { name, bytes } => self.add_image(name, bytes),
            Command::PredictAll => self.predict_all(),
            Command::ClearImages => self.clear_images(),
            Command::RunLatency => self.run_latency(),
            Command::CancelLatency => self.cancel_latency(),
            Command::ExportCsv => self
                .tasks
                .pick_save_path(SaveKind::Csv, "latency.csv".into()),
            Command::ExportPng => self
                .tasks
                .pick_save_path(SaveKind::Png, "latency.png".into()),
            Command::RunCompare => self.run_compare(),
            Command::CancelCompare => self.cancel_compare(),
            Command::PickCompareFolder => self.tasks.pick_compare_folder(),
            Command::ExportCompareCsv => self
                .tasks
                .pick_save_path(SaveKind::CompareCsv, "compare.csv".into()),
            Command::SaveCompareCsv(path) => self.save_compare_csv(path),
            Command::CopyText(text) => self.ctx.copy_text(text),
            Command::ExportBatchCsv => self
                .tasks
                .pick_save_path(SaveKind::BatchCsv, "predictions.csv".into()),
            Command::SaveBatchCsv(path) => self.save_batch_csv(path),
            Command::SaveWarmup => self.pick_warmup_path(),
            Command::SaveWarmupTo(path) => self.save_warmup_to(path),
            Command::DismissModelError => self.state.model_error = None,
            Command::ShowCompare => self.show_compare(),
            Command::CompareWith(with) => self.compare_with(with),
            Command::PickDiffFolder => self.tasks.pick_diff_folder(),
            Command::ShowDeploy => self.show_deploy(),
            Command::PickDeployFolder => self.tasks.pick_deploy_folder(),
            Command::WriteDeploy(dir) => self.write_deploy(dir),
            Command::BuildGraph => self.build_graph(),
            Command::ToggleGraphLayer(layer) => self.toggle_graph_layer(layer),
            Command::ExpandAllGraphLayers => self.set_all_graph_layers(true),
            Command::CollapseAllGraphLayers => self.set_all_graph_layers(false),
            Command::ShowGraphAnyway => self.show_graph_anyway(),
            Command::SearchGraph => self.search_graph(),
            Command::NextGraphHit => self.next_graph_hit(),
            Command::SelectGraphNode(node) => self.select_graph_node(node),
            Command::SelectGraphLayer(layer) => self.select_graph_layer(layer),
            Command::ShowTensorInGraph(tensor) => self.show_tensor_in_graph(tensor),
            Command::ExportGraphSvg => self
                .tasks
                .pick_save_path(SaveKind::GraphSvg, "graph.svg".into()),
            Command::ExportGraphPng => self
                .tasks
                .pick_save_path(SaveKind::GraphPng, "graph.png".into()),
        }
    }

    pub(crate) fn apply_event(&mut self, event: Event) {
        match event {
            Event::ModelOpened {
                seq,
                opened,
                result,
            } => self.model_opened(seq, opened, result),
            Event::OpenDone { seq } => self.state.finish_open(seq),
            Event::ImageLoaded { name, bytes } => self.add_image(name, bytes),
            Event::ImageFolder(folder) => self.image_folder(folder),
            Event::BatchProgress { run, done, total } => self.batch_progress(run, done, total),
            Event::BatchDone { run, result } => self.batch_done(run, result),
            Event::OpenFailed(err) => self.state.notify(NoticeLevel::Error, err.to_string()),
            Event::FolderPicked(path) => self.commands.push(Command::OpenPath(path)),
            Event::PemFilePicked { which, path } => self.pem_file_picked(which, path),
            Event::ConnectionTested { seq, result } => self.connection_tested(seq, result),
            Event::Connected {
                seq,
                settings,
                result,
            } => self.connected(seq, settings, result),
            Event::Runtime(runtime) => self.runtime_changed(runtime),
            Event::ServerStarted(started) => self.server_started(started),
            Event::ServerFailed(error) => self.server_failed(error),
            Event::ServerModels(models) => self.server_models(models),
            Event::ServerStopped => self.server_stopped(),
            Event::Thumbnail { id, result } => self.thumbnail_ready(id, result),
            Event::Predicted { id, result, curl } => self.predicted(id, result, curl),
            Event::LatencySamples { run, samples } => self.latency_samples(run, samples),
            Event::LatencyDone {
                run,
                first_error,
                elapsed_s,
            } => self.latency_done(run, first_error, elapsed_s),
            Event::CompareProgress { run, events } => self.compare_progress(run, events),
            Event::CompareDone { run, result } => self.compare_done(run, result),
            Event::CompareFolderPicked(folder) => self.compare_folder_picked(folder),
            Event::SaveTargetPicked { kind, path } => self.export(kind, path),
            Event::GraphBuilt { seq, result } => self.graph_built(seq, result),
            Event::GraphLaidOut {
                seq,
                drawing,
                layout_ms,
            } => self.graph_laid_out(seq, drawing, layout_ms),
            Event::Saved(Ok(text)) => self.state.notify(NoticeLevel::Info, text),
            Event::Saved(Err(err)) => self.state.notify(NoticeLevel::Error, err.to_string()),
            Event::Diffed { seq, result } => self.diffed(seq, result),
            Event::DiffFolderPicked(path) => self.diff_folder_picked(path),
            Event::DeployFolderPicked(dir) => self.commands.push(Command::WriteDeploy(dir)),
            Event::DeployWritten(result) => self.deploy_written(result),
        }
    }
}
