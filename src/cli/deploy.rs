//! `tfprobe deploy --model D --target docker|compose|kserve|triton [-o DIR]`: what a
//! serving engine needs for the model, printed, or written to a folder.

use clap::{Args, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;
use tfprobe::workflow::deploy::{self, DeployOptions, DeployTarget, KserveProtocol};
use tfprobe::workflow::open;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum TargetArg {
    /// TF Serving's `docker run` (the ports and mount of its documentation).
    Docker,
    /// A docker-compose.yaml running TF Serving.
    Compose,
    /// A KServe InferenceService (serving.kserve.io/v1beta1).
    Kserve,
    /// A Triton model repository: config.pbtxt and model.savedmodel.
    Triton,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ProtocolArg {
    V1,
    V2,
}

#[derive(Args, Debug)]
pub struct DeployArgs {
    /// SavedModel version folder, or a TF-Serving base path of numeric version folders.
    #[arg(long)]
    pub model: PathBuf,
    #[arg(long, value_enum)]
    pub target: TargetArg,
    /// Write the files into this folder instead of printing them.
    #[arg(short = 'o', long = "output", value_name = "DIR")]
    pub output: Option<PathBuf>,
    /// The served model's name (default: the base path's folder name).
    #[arg(long = "model_name")]
    pub model_name: Option<String>,
    /// KServe's inference protocol.
    #[arg(long, value_enum, default_value = "v1")]
    pub protocol: ProtocolArg,
    /// KServe's storageUri (gs://, s3://, pvc://); default: a PersistentVolumeClaim path.
    #[arg(long = "storage_uri")]
    pub storage_uri: Option<String>,
    /// Triton: link model.savedmodel to the version folder instead of copying it.
    #[arg(long)]
    pub symlink: bool,
}

pub fn run(args: &DeployArgs) -> anyhow::Result<ExitCode> {
    let opened = open::open_model(&args.model)?;
    let target = match args.target {
        TargetArg::Docker => DeployTarget::Docker,
        TargetArg::Compose => DeployTarget::Compose,
        TargetArg::Kserve => DeployTarget::Kserve,
        TargetArg::Triton => DeployTarget::Triton,
    };
    if args.symlink && target != DeployTarget::Triton {
        anyhow::bail!("--symlink is for --target triton (it links model.savedmodel)");
    }
    if (args.storage_uri.is_some() || matches!(args.protocol, ProtocolArg::V2))
        && target != DeployTarget::Kserve
    {
        anyhow::bail!("--storage_uri and --protocol are for --target kserve");
    }
    if args.symlink && args.output.is_none() {
        anyhow::bail!("--symlink needs -o DIR (the repository it links into)");
    }
    let options = DeployOptions {
        model_name: args.model_name.clone(),
        protocol: match args.protocol {
            ProtocolArg::V1 => KserveProtocol::V1,
            ProtocolArg::V2 => KserveProtocol::V2,
        },
        storage_uri: args.storage_uri.clone(),
        symlink: args.symlink,
    };
    let plan = deploy::plan(&opened.info, target, &options)?;
    for note in &plan.notes {
        eprintln!("note: {note}");
    }
    match &args.output {
        None => crate::cli::output::print_stdout(&plan.text())?,
        Some(dir) => {
            let written = deploy::write_plan(&plan, dir)?;
            let lines: String = written
                .iter()
                .map(|path| format!("wrote {}\n", path.display()))
                .collect();
            crate::cli::output::print_stdout(&lines)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
