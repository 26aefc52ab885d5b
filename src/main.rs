//! tfprobe's entry point: parse the command line, run one command.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::gui::mark_start();
    let args = <cli::Cli as clap::Parser>::parse();
    match cli::run(args) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
