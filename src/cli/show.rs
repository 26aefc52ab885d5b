//! `tfprobe show`: saved_model_cli's views, byte-identical, plus `--json`.

use anyhow::Context;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use tfprobe::model::{self, show};

#[derive(Args, Debug)]
pub struct ShowArgs {
    /// SavedModel directory, or a TF-Serving base path of numeric version folders.
    #[arg(long)]
    pub dir: PathBuf,
    /// Comma-separated tags of the MetaGraphDef to show, e.g. `serve`.
    #[arg(long = "tag_set")]
    pub tag_set: Option<String>,
    /// The SignatureDef key to show inputs and outputs of.
    #[arg(long = "signature_def", requires = "tag_set")]
    pub signature_def: Option<String>,
    /// Show every MetaGraph, signature, op and concrete function.
    #[arg(long)]
    pub all: bool,
    /// List the ops used by the MetaGraph of `--tag_set` (or of each, with `--all`).
    #[arg(long = "list_ops")]
    pub list_ops: bool,
    /// Print the whole signature tree as JSON instead.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &ShowArgs) -> anyhow::Result<ExitCode> {
    let location = model::locate(&args.dir)?;
    if location.base_path.is_some() {
        eprintln!(
            "note: showing version {} of base path {}",
            location.version.unwrap_or_default(),
            args.dir.display()
        );
    }
    // The tag-set and signature views need no graph: decode only what they print.
    let needs_graph = args.json || args.all || args.list_ops;
    let tree = if needs_graph {
        model::open(&args.dir)?
    } else {
        model::open_signatures(&args.dir)?
    };
    let text = if args.json {
        let mut json =
            serde_json::to_string_pretty(&tree).context("serialising the signature tree")?;
        json.push('\n');
        json
    } else if args.all {
        show::all_text(&tree)
    } else {
        match (&args.tag_set, &args.signature_def) {
            (None, _) => {
                let mut text = String::new();
                if args.list_ops {
                    text.push_str("--list_ops must be paired with a tag-set or with --all.\n");
                }
                text + &show::tag_sets_text(&tree)
            }
            (Some(tag_set), signature_def) => {
                let mut text = if args.list_ops {
                    show::ops_text(&tree, tag_set)?
                } else {
                    String::new()
                };
                text += &match signature_def {
                    None => show::signature_keys_text(&tree, tag_set)?,
                    Some(key) => show::signature_text(&tree, tag_set, key)?,
                };
                text
            }
        }
    };
    crate::cli::output::print_stdout(&text)?;
    Ok(ExitCode::SUCCESS)
}
