//! tfprobe's entry point: parse the command line, run one command.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::gui::mark_start();
    let args = <cli::Cli as clap::Parser>::parse();
    // SAFETY: nothing has started a thread yet (clap parses on this one); `run` sets the
    // environment TensorFlow reads before it starts any.
    match unsafe { cli::run(args) } {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
