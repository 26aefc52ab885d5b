//! `tfprobe summary` (a Keras-style layer table for any SavedModel) and `tfprobe
//! graph` (the signature's computation as DOT, SVG or JSON).

use anyhow::Context;
use clap::{Args, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;
use tfprobe::model::graph::layers::summary_text;
use tfprobe::workflow::inspect::{self, GraphFormat};

#[derive(Args, Debug)]
pub struct SummaryArgs {
    /// SavedModel directory, or a TF-Serving base path of numeric version folders.
    #[arg(long)]
    pub dir: PathBuf,
    /// The signature to summarise (default: the one a request without a name runs).
    #[arg(long = "signature_def")]
    pub signature_def: Option<String>,
    /// Print the layers as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum FormatArg {
    Dot,
    Svg,
    Json,
}

#[derive(Args, Debug)]
pub struct GraphArgs {
    /// SavedModel directory, or a TF-Serving base path of numeric version folders.
    #[arg(long)]
    pub dir: PathBuf,
    /// The signature to draw (default: the one a request without a name runs).
    #[arg(long = "signature_def")]
    pub signature_def: Option<String>,
    #[arg(long, value_enum, default_value = "dot")]
    pub format: FormatArg,
    /// Show every node instead of one box per layer (name scope).
    #[arg(long)]
    pub expand: bool,
    /// Write to FILE instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
}

pub fn summary(args: &SummaryArgs) -> anyhow::Result<ExitCode> {
    let inspected = inspect::inspect(&args.dir, args.signature_def.as_deref())?;
    let text = if args.json {
        let mut json =
            serde_json::to_string_pretty(&inspected.summary).context("serialising the summary")?;
        json.push('\n');
        json
    } else {
        summary_text(&inspected.summary)
    };
    super::output::print_stdout(&text)?;
    Ok(ExitCode::SUCCESS)
}

pub fn graph(args: &GraphArgs) -> anyhow::Result<ExitCode> {
    let inspected = inspect::inspect(&args.dir, args.signature_def.as_deref())?;
    let format = match args.format {
        FormatArg::Dot => GraphFormat::Dot,
        FormatArg::Svg => GraphFormat::Svg,
        FormatArg::Json => GraphFormat::Json,
    };
    let text = inspect::export(&inspected, format, args.expand);
    match &args.output {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => super::output::print_stdout(&text)?,
    }
    Ok(ExitCode::SUCCESS)
}
