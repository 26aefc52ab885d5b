//! `tfprobe diff A B`: what changed between two SavedModels (exit 0 same, 1 differs,
//! 2 error, like `diff`).

use anyhow::Context;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use tfprobe::model;
use tfprobe::workflow::diff;

#[derive(Args, Debug)]
pub struct DiffArgs {
    /// Model A: a SavedModel version folder, or a base path (its highest version; with
    /// --versions, the base path that holds both versions).
    pub a: PathBuf,
    /// Model B, a folder like A (not with --versions).
    #[arg(required_unless_present = "versions", conflicts_with = "versions")]
    pub b: Option<PathBuf>,
    /// Compare two numeric versions under the base path A, e.g. `--versions 1 2`.
    #[arg(long, num_args = 2, value_names = ["VERSION_A", "VERSION_B"])]
    pub versions: Option<Vec<i64>>,
    /// Print the differences as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &DiffArgs) -> anyhow::Result<ExitCode> {
    match compare(args) {
        Ok(same) => Ok(ExitCode::from(if same { 0 } else { 1 })),
        Err(err) => {
            eprintln!("error: {err:#}");
            Ok(ExitCode::from(2))
        }
    }
}

/// Prints the report; `Ok(true)` when the models are the same.
fn compare(args: &DiffArgs) -> anyhow::Result<bool> {
    let result = match (&args.b, args.versions.as_deref()) {
        (Some(b), None) => diff::diff_paths(&args.a, b),
        (None, Some(&[version_a, version_b])) => diff::diff_versions(&args.a, version_a, version_b),
        _ => anyhow::bail!("give two models (A B), or one base path and --versions A B"),
    };
    let report = result?;
    let text = if args.json {
        let mut json = serde_json::to_string_pretty(&report).context("serialising the diff")?;
        json.push('\n');
        json
    } else {
        model::diff_text(&report)
    };
    crate::cli::output::print_stdout(&text)?;
    Ok(report.is_same())
}
