//! `tfprobe`, `tfprobe gui [PATH]` and `tfprobe PATH`: the desktop app.

use anyhow::{Context, bail};
use clap::Args;
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::OnceLock;
use std::time::Instant;

static START: OnceLock<Instant> = OnceLock::new();

/// Remembers when the process started (the first-frame time is measured from here).
pub fn mark_start() {
    let _ = START.set(Instant::now());
}

#[derive(Args, Debug, Default)]
#[command(
    after_help = "Examples:\n  tfprobe\n  tfprobe gui models/resnet\n  tfprobe models/resnet/1\n  tfprobe gui --serve models/resnet cat.jpg"
)]
pub struct GuiArgs {
    /// SavedModel folders, base paths with numeric version folders, or images to open.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Start the embedded server as soon as the model is open.
    #[arg(long)]
    pub serve: bool,
    /// Start with default settings (ignore the saved recent models, connections and settings).
    #[arg(long)]
    pub reset: bool,
}

pub fn run(args: &GuiArgs) -> anyhow::Result<ExitCode> {
    let options = tfprobe::ui::LaunchOptions {
        paths: args.paths.clone(),
        serve: args.serve,
        started: Some(START.get().copied().unwrap_or_else(Instant::now)),
        fresh_state: args.reset,
    };
    if std::env::var_os("DISPLAY").is_none()
        && std::env::var_os("WAYLAND_DISPLAY").is_none()
        && cfg!(target_os = "linux")
    {
        bail!(
            "no display to open the window on (neither DISPLAY nor WAYLAND_DISPLAY is set); \
             use a subcommand such as `tfprobe show --dir PATH` (see `tfprobe --help`)"
        );
    }
    tfprobe::ui::run(options)
        .map_err(|err| anyhow::anyhow!("{err}"))
        .context("the desktop app could not start")?;
    Ok(ExitCode::SUCCESS)
}

/// `tfprobe PATH`: clap hands over anything that is not a subcommand. An existing
/// path (or one that looks like a path) opens the app; a mistyped subcommand is an error.
pub fn run_path_argument(args: &[OsString], cli: &clap::Command) -> anyhow::Result<ExitCode> {
    let mut paths = Vec::new();
    for (index, arg) in args.iter().enumerate() {
        let path = PathBuf::from(arg);
        let text = arg.to_string_lossy();
        let looks_like_path =
            path.exists() || text.contains(['/', '\\', '.']) || text.starts_with('~');
        if !looks_like_path {
            if index == 0 {
                let hint = closest_subcommand(cli, &text)
                    .map(|name| format!("; did you mean '{name}'?"))
                    .unwrap_or_default();
                bail!(
                    "unrecognized subcommand '{text}' (and no file or folder of that name exists){hint} See `tfprobe --help`"
                );
            }
            bail!(
                "'{text}' is neither a file nor a folder; `tfprobe PATH...` opens SavedModels and images"
            );
        }
        paths.push(path);
    }
    run(&GuiArgs {
        paths,
        ..GuiArgs::default()
    })
}

/// The subcommand closest to a mistyped one (at most two edits away).
fn closest_subcommand(cli: &clap::Command, typed: &str) -> Option<String> {
    cli.get_subcommands()
        .filter(|sub| !sub.is_hide_set())
        .map(|sub| {
            (
                edit_distance(typed, sub.get_name()),
                sub.get_name().to_string(),
            )
        })
        .filter(|(distance, _)| *distance <= 2)
        .min()
        .map(|(_, name)| name)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}
