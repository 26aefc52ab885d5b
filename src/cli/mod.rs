//! Command-line interface: flag definitions (spelled like the TensorFlow tools
//! users know) and dispatch to the library.

mod args;
mod bench;
mod compare;
mod deploy;
mod diff;
mod graph;
pub mod gui;
mod output;
mod package;
mod predict;
mod predict_batch;
mod predict_report;
mod run;
mod runtime;
mod serve;
mod show;
mod warmup;

use clap::{CommandFactory, Parser, Subcommand};
use std::ffi::OsString;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "tfprobe",
    version,
    about = "Open, inspect, serve and test TensorFlow SavedModels"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Directory holding libtensorflow (wins over TENSORFLOW_DIR, the cache and python3's tensorflow).
    #[arg(long = "tf-lib", global = true, value_name = "DIR")]
    pub tf_lib: Option<std::path::PathBuf>,
    /// Show TensorFlow's own log lines (hidden otherwise; TFPROBE_LOG=debug shows them too).
    #[arg(long, global = true)]
    pub verbose: bool,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Show a SavedModel's tag-sets, signatures, ops and functions (like `saved_model_cli show`).
    Show(show::ShowArgs),
    Serve(serve::ServeArgs),
    /// Classify one image with a local model or a server (labelled top-k, TF Serving JSON, or the request as code).
    Predict(predict::PredictArgs),
    /// Run a signature on given inputs (like `saved_model_cli run`).
    Run(run::RunArgs),
    /// Load-test a running server (like perf_analyzer): throughput and latency per concurrency level.
    Bench(bench::BenchArgs),
    /// The same images through two targets side by side: agreement, output difference, latency B/A.
    Compare(compare::CompareArgs),
    /// What changed between two SavedModels or two versions (exit 0 same, 1 differs, 2 error).
    Diff(diff::DiffArgs),
    /// Hand the model to TF Serving in Docker, KServe or Triton: the command or files each needs.
    Deploy(deploy::DeployArgs),
    Warmup(warmup::WarmupArgs),
    /// Find or install libtensorflow (`runtime status`, `runtime install`).
    Runtime(runtime::RuntimeArgs),
    /// A layer table of a signature, like Keras's `model.summary()`, for any SavedModel.
    Summary(graph::SummaryArgs),
    /// A signature's computation graph as DOT, SVG (drawn by tfprobe) or JSON.
    Graph(graph::GraphArgs),
    /// Print the man page (roff) for packaging.
    #[command(hide = true)]
    Man,
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(package::CompletionsArgs),
    /// Open the desktop app (also: `tfprobe` alone, or `tfprobe PATH`).
    Gui(gui::GuiArgs),
    /// `tfprobe PATH`: a SavedModel folder or an image opens in the desktop app.
    #[command(external_subcommand)]
    Open(Vec<OsString>),
}

/// Runs the command line's command.
///
/// # Safety
///
/// It first sets the environment TensorFlow reads, so call it from `main` before any
/// thread starts (see `tfprobe::runtime::library::prepare_process`).
pub unsafe fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    // Only commands that load TensorFlow anyway may spend a Python start-up on finding it.
    let loads_runtime = matches!(
        cli.command,
        None | Some(
            Command::Run(_)
                | Command::Predict(_)
                | Command::Compare(_)
                | Command::Serve(_)
                | Command::Runtime(_)
                | Command::Gui(_)
                | Command::Warmup(_)
                | Command::Open(_)
        )
    );
    let setup = tfprobe::runtime::library::ProcessSetup {
        verbose: cli.verbose,
        tf_lib: cli.tf_lib.clone(),
        ask_python: loads_runtime,
    };
    // SAFETY: the caller (main) runs this before any thread exists.
    unsafe { tfprobe::runtime::library::prepare_process(&setup) };
    tfprobe::runtime::discovery::set_tf_lib_override(cli.tf_lib.clone());
    match cli.command {
        Some(Command::Show(args)) => show::run(&args),
        Some(Command::Serve(args)) => serve::run(&args),
        Some(Command::Predict(args)) if !args.images.is_empty() => predict_batch::run(&args),
        Some(Command::Predict(args)) => predict::run(&args),
        Some(Command::Run(args)) => run::run(&args),
        Some(Command::Bench(args)) => bench::run(&args),
        Some(Command::Compare(args)) => compare::run(&args),
        Some(Command::Runtime(args)) => runtime::run(&args),
        Some(Command::Diff(args)) => diff::run(&args),
        Some(Command::Deploy(args)) => deploy::run(&args),
        Some(Command::Warmup(args)) => warmup::run(&args),
        Some(Command::Summary(args)) => graph::summary(&args),
        Some(Command::Graph(args)) => graph::graph(&args),
        Some(Command::Man) => package::man(Cli::command()),
        Some(Command::Completions(args)) => package::completions(&args, Cli::command()),
        Some(Command::Gui(args)) => gui::run(&args),
        Some(Command::Open(args)) => gui::run_path_argument(&args, &Cli::command()),
        None => gui::run(&gui::GuiArgs::default()),
    }
}
