//! Command-line interface: flag definitions (spelled like the TensorFlow tools
//! users know) and dispatch to the library.

mod show;

use clap::{Parser, Subcommand};
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
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Show a SavedModel's tag-sets, signatures, ops and functions (like `saved_model_cli show`).
    Show(show::ShowArgs),
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Some(Command::Show(args)) => show::run(&args),
        None => {
            anyhow::bail!(
                "no command given; try `tfprobe show --dir <SavedModel> --all` or `tfprobe --help`"
            )
        }
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
