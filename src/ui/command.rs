//! What the user asked for. Panels push commands while rendering; the app applies
//! them after the frame's UI is built, starting background tasks where needed.

use super::state::{CompareWith, ConnectionSettings, PemFile, TargetChoice};
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Clone, Debug)]
pub enum Command {
    /// Show the folder picker (Ctrl+O).
    OpenDialog,
    /// Open a SavedModel folder, a base path or an image (CLI, recent list, drop).
    OpenPath(PathBuf),
    CloseModel,
    ForgetRecent(PathBuf),
    /// Show the connect dialog (Ctrl+K).
    ShowConnect,
    TestConnection(ConnectionSettings),
    /// Connect and show the remote model's metadata in the tree.
    Connect(ConnectionSettings),
    SaveConnection(ConnectionSettings),
    ForgetConnection(usize),
    /// Choose a PEM file (Connect dialog, server TLS) with a file dialog.
    PickPemFile(PemFile),
    Disconnect,
    StartServer,
    StopServer,
    InstallRuntime,
    SetTarget(TargetChoice),
    /// Pick images with a file dialog.
    PickImages,
    /// Add an image from bytes (dropped data without a path, tests).
    AddImage {
        name: String,
        bytes: Arc<Vec<u8>>,
    },
    /// Send every image again (settings changed).
    PredictAll,
    ClearImages,
    /// Start a latency run (Ctrl+R).
    RunLatency,
    CancelLatency,
    ExportCsv,
    ExportPng,
    /// Compare the current target (A) with the Compare tab's target B.
    RunCompare,
    CancelCompare,
    /// Pick target B's SavedModel folder with a dialog.
    PickCompareFolder,
    /// Ask where to save the comparison's per-image rows (CSV).
    ExportCompareCsv,
    /// Write the comparison's per-image rows to this file.
    SaveCompareCsv(PathBuf),
    CopyText(String),
    /// Choose where to save the batch rows as CSV ("Export CSV…").
    ExportBatchCsv,
    /// Write the batch rows as CSV to this file.
    SaveBatchCsv(PathBuf),
    /// Choose where to save the Try-it images as a TF Serving warmup file.
    SaveWarmup,
    /// Write the Try-it images as a warmup file (TFRecord of PredictionLogs) here.
    SaveWarmupTo(PathBuf),
    DismissModelError,
    /// Show the compare window (model panel, "Compare with…").
    ShowCompare,
    /// Compare the open model with another folder or version (in the background).
    CompareWith(CompareWith),
    /// Pick the folder to compare with.
    PickDiffFolder,
    /// Show the deploy window (Server tab, "Deploy…").
    ShowDeploy,
    /// Pick a folder for the selected deploy target's files.
    PickDeployFolder,
    /// Write the selected deploy target's files into this folder (in the background).
    WriteDeploy(PathBuf),
    /// Build the Graph tab's graph for the open model's chosen signature (if needed).
    BuildGraph,
    /// Expand or collapse one layer (its summary index) of the graph.
    ToggleGraphLayer(usize),
    ExpandAllGraphLayers,
    CollapseAllGraphLayers,
    /// Draw a view bigger than the guard anyway.
    ShowGraphAnyway,
    /// The search text changed: find matching nodes and show the first.
    SearchGraph,
    /// Show the next search match.
    NextGraphHit,
    SelectGraphNode(usize),
    SelectGraphLayer(usize),
    /// Open the Graph tab at the node that produces this tensor (`name:0`).
    ShowTensorInGraph(String),
    ExportGraphSvg,
    ExportGraphPng,
}

/// Commands gathered during one frame.
#[derive(Default, Debug)]
pub struct Commands(Vec<Command>);

impl Commands {
    pub fn push(&mut self, command: Command) {
        self.0.push(command);
    }

    pub fn take(&mut self) -> Vec<Command> {
        std::mem::take(&mut self.0)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
