//! `tfprobe predict --image FILE (--model DIR | --server HOST:PORT)`: one image through
//! a model — loaded here, or behind a running TF Serving-compatible server over REST or
//! gRPC — as labelled top-k, TF Serving's JSON, or the request printed as curl, grpcurl
//! or Python. The workflow layer makes every decision; this file maps flags and prints.

use super::args::{ImageArgs, TargetArgs, runtime};
use super::predict_report::{self, Origin};
use anyhow::{Context, bail};
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use tfprobe::client::{ClientConfig, snippets};
use tfprobe::imaging::ImageOptions;
use tfprobe::model::{DType, SavedModelInfo, Shape, SignatureInfo, TensorInfoView};
use tfprobe::runtime::LoadOptions;
use tfprobe::workflow::classify::Ranking;
use tfprobe::workflow::image_request::{self, ImagePlan, InputMode};
use tfprobe::workflow::latency::{self, RunPlan};
use tfprobe::workflow::target::{LocalTarget, ServerTarget, Target};
use tfprobe::workflow::{WorkflowError, open, predict, signature};

#[derive(Args, Debug)]
pub struct PredictArgs {
    /// SavedModel directory, or a TF-Serving base path (its highest version is used).
    /// With --server: optional, read only for labels and preprocessing.json.
    #[arg(long, required_unless_present = "server")]
    pub model: Option<PathBuf>,
    /// The image file (JPEG, PNG, WebP, BMP, GIF): sent as-is to a DT_STRING input, or
    /// decoded into the pixel tensor a float/uint8 input takes.
    #[arg(long, required_unless_present = "images")]
    pub image: Option<PathBuf>,
    /// Many images, one row each: a folder, a pattern such as 'photos/*.jpg' (quoted),
    /// or files (repeatable). Files that are no image become error rows; the exit code
    /// is 1 when any failed.
    #[arg(long, num_args = 1.., value_name = "DIR|GLOB|FILE", conflicts_with_all = ["image", "repeat", "warmup", "top_k_json", "print_curl", "print_grpcurl", "print_python"])]
    pub images: Vec<PathBuf>,
    /// With --images: also write the rows to this CSV file.
    #[arg(long, value_name = "FILE", requires = "images")]
    pub csv: Option<PathBuf>,
    /// Signature to run (default: serving_default, or the only one).
    #[arg(long = "signature_def")]
    pub signature_def: Option<String>,
    /// How many classes to list.
    #[arg(long = "top-k", default_value_t = 5)]
    pub top_k: usize,
    /// Print TF Serving's REST response ({"predictions": [...]}) instead of a table
    /// (with --images: the rows as JSON).
    #[arg(long, conflicts_with = "top_k_json")]
    pub json: bool,
    /// Print the labelled top-k as JSON (the output ranked, softmax or not, labels
    /// source, and per row the classes with score and label) instead of a table.
    #[arg(long = "top-k-json")]
    pub top_k_json: bool,
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub image_options: ImageArgs,
    /// Also send the request N times (after --warmup requests) and report latency
    /// percentiles; the ranked answer is the first request's.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub repeat: u32,
    /// Requests sent before the measured --repeat ones and not measured.
    #[arg(long, default_value_t = 0, value_name = "W")]
    pub warmup: u32,
    /// A labels file (one class per line); default: the model's assets, else ImageNet's for 1000/1001 classes.
    #[arg(long, value_name = "FILE")]
    pub labels: Option<PathBuf>,
    /// The class-score output to rank (default: probabilities/scores/predictions/logits).
    #[arg(long = "output", value_name = "KEY")]
    pub output: Option<String>,
    /// Print the request as a runnable curl command and exit (needs --server).
    #[arg(long = "print-curl", requires = "server")]
    pub print_curl: bool,
    /// Print the request as a runnable grpcurl command and exit (needs --server).
    #[arg(long = "print-grpcurl", requires = "server")]
    pub print_grpcurl: bool,
    /// Print the request as a Python script (requests or grpcio) and exit (needs --server).
    #[arg(long = "print-python", requires = "server")]
    pub print_python: bool,
}

impl PredictArgs {
    fn printing(&self) -> bool {
        self.print_curl || self.print_grpcurl || self.print_python
    }
}

pub fn run(args: &PredictArgs) -> anyhow::Result<ExitCode> {
    // `--images` runs `predict_batch` instead (see `cli::run`).
    let image_path = args
        .image
        .as_deref()
        .context("--image FILE (or --images DIR|GLOB|FILE) is required")?;
    let image = open::read_image(image_path)?;
    let options = args.image_options.options()?;
    let text = if args.target.server.is_some() {
        runtime(1)?.block_on(on_server(args, image.bytes, options))?
    } else {
        locally(args, image.bytes, options)?
    };
    crate::cli::output::print_stdout(&text)?;
    Ok(ExitCode::SUCCESS)
}

/// `--server`: the model's signatures come from the server; labels and
/// preprocessing.json from `--model`, when a local copy is named.
async fn on_server(
    args: &PredictArgs,
    image_bytes: Vec<u8>,
    options: ImageOptions,
) -> anyhow::Result<String> {
    let config = args.target.config()?;
    let model_dir = match &args.model {
        Some(dir) => Some(open::open_model(dir)?.info.path),
        None => None,
    };
    let target = ServerTarget::connect(&config)?;
    let model = match target.model().await {
        Ok(model) => model,
        // Printing needs no server: fall back to the seed's signature.
        Err(err) if args.printing() => {
            let key = args
                .image_options
                .input_key
                .as_deref()
                .unwrap_or("image_bytes");
            eprintln!(
                "note: could not read the model's signatures ({err}); assuming input '{key}' \
                 takes encoded image bytes (DT_STRING, shape (-1))"
            );
            encoded_image_model(key)
        }
        Err(err) => {
            return Err(
                anyhow::Error::new(err).context("asking the server for the model's signatures")
            );
        }
    };
    let plan = plan(args, &model, options, model_dir.as_deref())?;
    if args.printing() {
        return printed_request(args, &config, &plan, image_bytes);
    }
    let origin = Origin::Server {
        config: &config,
        signature: &plan.signature_key,
    };
    predict_and_report(args, &target, &plan, image_bytes, model_dir, origin).await
}

/// `--model`: the model runs in this process.
fn locally(
    args: &PredictArgs,
    image_bytes: Vec<u8>,
    options: ImageOptions,
) -> anyhow::Result<String> {
    let (target, model_dir, plan) = load_local(args, options)?;
    let origin = Origin::Local {
        model_dir: model_dir.clone(),
        load_ms: target.load_ms,
    };
    runtime(1)?.block_on(predict_and_report(
        args,
        &target,
        &plan,
        image_bytes,
        Some(model_dir),
        origin,
    ))
}

/// `--model`: the model loaded here, its version folder and the input plan.
pub(super) fn load_local(
    args: &PredictArgs,
    options: ImageOptions,
) -> anyhow::Result<(LocalTarget, PathBuf, ImagePlan)> {
    let dir = args
        .model
        .as_deref()
        .context("--model DIR (or --server HOST:PORT) is required")?;
    let target = LocalTarget::load(dir, &LoadOptions::default())?;
    let model_dir = target.info().path.clone();
    let plan = plan(args, target.info(), options, Some(&model_dir))?;
    Ok((target, model_dir, plan))
}

pub(super) fn plan(
    args: &PredictArgs,
    model: &SavedModelInfo,
    options: ImageOptions,
    model_dir: Option<&Path>,
) -> Result<ImagePlan, WorkflowError> {
    image_request::plan_for_model(
        model,
        args.signature_def.as_deref(),
        options,
        InputMode::Auto,
        model_dir,
    )
}

async fn predict_and_report<T: Target>(
    args: &PredictArgs,
    target: &T,
    plan: &ImagePlan,
    image_bytes: Vec<u8>,
    model_dir: Option<PathBuf>,
    origin: Origin<'_>,
) -> anyhow::Result<String> {
    let ranking = ranking(args, model_dir);
    let image_size_bytes = image_bytes.len();
    let prediction = predict::predict_image(target, plan, Arc::new(image_bytes), &ranking).await?;
    if args.json {
        return Ok(predict_report::row_format_json(&prediction.answer.outputs));
    }
    if args.top_k_json {
        let ranked = prediction.ranked.context("ranking the outputs")?;
        return Ok(serde_json::to_string_pretty(&ranked)? + "\n");
    }
    let repeated = if args.repeat > 1 || args.warmup > 0 {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let run_plan = RunPlan {
            requests: args.repeat.max(1),
            warmup: args.warmup,
            concurrency: 1,
        };
        let cancel = Arc::new(AtomicBool::new(false));
        latency::run(target, &prediction.request, run_plan, cancel, tx)
            .await
            .context("repeated requests")?;
        let mut samples = Vec::new();
        while let Some(sample) = rx.recv().await {
            samples.push(sample);
        }
        Some(latency::statistics(&samples))
    } else {
        None
    };
    let report = predict_report::Report {
        origin,
        // `run` takes this path only with --image.
        image: args.image.as_deref().unwrap_or(Path::new("")),
        image_size_bytes,
        prediction: &prediction,
        output: args.output.as_deref(),
        repeated: repeated.as_ref(),
        warmup: args.warmup,
    };
    Ok(report.text())
}

/// How `args` ask the outputs to be ranked.
pub(super) fn ranking(args: &PredictArgs, model_dir: Option<PathBuf>) -> Ranking {
    Ranking {
        top_k: args.top_k,
        output: args.output.clone(),
        labels_file: args.labels.clone(),
        model_dir,
    }
}

/// `--print-curl`, `--print-grpcurl`, `--print-python`: the request, runnable as printed.
fn printed_request(
    args: &PredictArgs,
    config: &ClientConfig,
    plan: &ImagePlan,
    image_bytes: Vec<u8>,
) -> anyhow::Result<String> {
    let request = plan.request(&image_bytes)?;
    let mut config = config.clone();
    config.signature = Some(request.signature_key.clone());
    let mut text = String::new();
    if args.print_curl {
        text += &snippets::curl(&config, &request.inputs);
    }
    if args.print_grpcurl {
        text += &snippets::grpcurl(&config, &request.inputs);
    }
    if args.print_python {
        text += &snippets::python(&config, &request.inputs);
    }
    if text.is_empty() {
        bail!("nothing to print");
    }
    Ok(text)
}

/// A model like the seed's ResNet: `serving_default` with one DT_STRING input of shape
/// (-1), assumed when printing a request for a server that cannot be reached.
fn encoded_image_model(input_key: &str) -> SavedModelInfo {
    let signature = SignatureInfo {
        key: signature::DEFAULT_SIGNATURE_KEY.into(),
        method_name: "tensorflow/serving/predict".into(),
        inputs: vec![TensorInfoView {
            key: input_key.to_string(),
            dtype: DType::STRING,
            shape: Shape::from_sizes(&[-1]),
            name: String::new(),
        }],
        outputs: Vec::new(),
    };
    SavedModelInfo {
        meta_graphs: vec![tfprobe::model::MetaGraphInfo {
            tags: vec!["serve".into()],
            signatures: vec![signature],
            ..Default::default()
        }],
        ..Default::default()
    }
}
