//! Command-line interface: flag definitions (spelled like the TensorFlow tools
//! users know) and dispatch to the library.

mod bench;
pub mod gui;
mod package;
mod predict;
mod predict_remote;
mod run;
mod runtime;
mod serve;
mod show;

use clap::{Parser, Subcommand};
use std::ffi::OsString;
use std::io::Write;
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
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Show a SavedModel's tag-sets, signatures, ops and functions (like `saved_model_cli show`).
    Show(show::ShowArgs),
    Serve(serve::ServeArgs),
    /// Classify one image with a model that takes encoded image bytes (top-k table or TF Serving JSON).
    Predict(predict::PredictArgs),
    /// Run a signature on given inputs (like `saved_model_cli run`).
    Run(run::RunArgs),
    /// Load-test a running server (like perf_analyzer): throughput and latency per concurrency level.
    Bench(bench::BenchArgs),
    /// Find or install libtensorflow (`runtime status`, `runtime install`).
    Runtime(runtime::RuntimeArgs),
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

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    tfprobe::runtime::discovery::set_tf_lib_override(cli.tf_lib.clone());
    match cli.command {
        Some(Command::Show(args)) => show::run(&args),
        Some(Command::Serve(args)) => serve::run(&args),
        Some(Command::Predict(args)) => predict::run(&args),
        Some(Command::Run(args)) => run::run(&args),
        Some(Command::Bench(args)) => bench::run(&args),
        Some(Command::Runtime(args)) => runtime::run(&args),
        Some(Command::Man) => package::man(),
        Some(Command::Completions(args)) => package::completions(&args),
        Some(Command::Gui(args)) => gui::run(&args),
        Some(Command::Open(args)) => gui::run_path_argument(&args),
        None => gui::run(&gui::GuiArgs::default()),
    }
}

/// Writes to stdout; a closed pipe (`tfprobe show ... | head`) ends quietly.
pub fn print_stdout(text: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}
