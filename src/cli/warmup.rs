//! `tfprobe warmup --model DIR --images … [--signature_def KEY] [-o PATH]`: writes the
//! TF Serving warmup file (a TFRecord of PredictionLogs) for a model version, then
//! reports the first-request latency of the version loaded with and without it.

use super::args::ImageArgs;
use anyhow::Context;
use clap::Args;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use tfprobe::workflow::image_request::{self, InputMode};
use tfprobe::workflow::{batch, open, warmup};

#[derive(Args, Debug)]
#[command(
    about = "Write a version's TF Serving warmup file (assets.extra/tf_serving_warmup_requests) from images, and show what it buys",
    after_help = "Example:\n  tfprobe warmup --model models/resnet/1 --images photos/ \
                  # writes models/resnet/1/assets.extra/tf_serving_warmup_requests"
)]
pub struct WarmupArgs {
    /// SavedModel version folder, or a TF Serving base path (its highest version).
    #[arg(long)]
    pub model: PathBuf,
    /// The images, one request each: a folder, a pattern such as 'photos/*.jpg'
    /// (quoted), or files (repeatable). At most 1000 (TF Serving's limit).
    #[arg(long, num_args = 1.., required = true, value_name = "DIR|GLOB|FILE")]
    pub images: Vec<PathBuf>,
    /// Signature the requests run (default: serving_default, or the only one).
    #[arg(long = "signature_def")]
    pub signature_def: Option<String>,
    /// Where to write the file (default: the version's assets.extra/tf_serving_warmup_requests).
    #[arg(short = 'o', long = "output", value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// Write the file only; do not load the model twice to time the first request.
    #[arg(long = "no-measure")]
    pub no_measure: bool,
    #[command(flatten)]
    pub image_options: ImageArgs,
}

pub fn run(args: &WarmupArgs) -> anyhow::Result<ExitCode> {
    let model = open::open_model(&args.model)?.info;
    let version_dir = model.path.clone();
    let model_name = open::default_model_name(&model);
    let plan = image_request::plan_for_model(
        &model,
        args.signature_def.as_deref(),
        args.image_options.options()?,
        InputMode::Auto,
        Some(&version_dir),
    )?;
    let images = batch::list_files(&args.images)?;
    let logs = warmup::build(&plan, &model_name, &images)?;
    let path = args
        .output
        .clone()
        .unwrap_or_else(|| warmup::default_path(&version_dir));
    warmup::write(&path, &logs)?;
    let mut text = format!(
        "wrote {} warmup records to {} (signature '{}', {})\n",
        logs.len(),
        path.display(),
        plan.signature_key,
        plan.summary()
    );
    if !args.no_measure {
        let image = open::read_image(&images[0])?;
        let request = plan.request(&image.bytes)?;
        let gain = warmup::measure(&version_dir, &model_name, &path, &request)
            .context("timing the first request with and without the warmup file")?;
        let _ = writeln!(
            text,
            "first request after loading {} ({}):\n  without the warmup file: {:>9.2} ms\n  with the warmup file:    {:>9.2} ms ({} records replayed during the load)",
            version_dir.display(),
            images[0].display(),
            gain.without_file_first_ms,
            gain.with_file_first_ms,
            gain.records_replayed
        );
    }
    crate::cli::output::print_stdout(&text)?;
    Ok(ExitCode::SUCCESS)
}
