//! Files that packages install beside the binary: the man page and shell completions,
//! generated from the same clap definitions the binary parses.

use clap::Args;
use clap_complete::Shell;

#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// Shell to write the completion script for.
    pub shell: Shell,
}

/// `tfprobe man`: the roff man page on stdout.
pub fn man(command: clap::Command) -> anyhow::Result<std::process::ExitCode> {
    let mut page = Vec::new();
    clap_mangen::Man::new(command).render(&mut page)?;
    super::output::print_stdout(&String::from_utf8(page)?)?;
    Ok(std::process::ExitCode::SUCCESS)
}

/// `tfprobe completions SHELL`: a completion script on stdout.
pub fn completions(
    args: &CompletionsArgs,
    mut command: clap::Command,
) -> anyhow::Result<std::process::ExitCode> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "tfprobe", &mut script);
    super::output::print_stdout(&String::from_utf8(script)?)?;
    Ok(std::process::ExitCode::SUCCESS)
}
