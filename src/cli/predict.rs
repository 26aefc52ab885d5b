//! `tfprobe predict --model DIR --image FILE`: one image through a classifier whose
//! signature takes encoded image bytes (DT_STRING, like TF Serving's ResNet example), as
//! a top-k table with labels from the model's assets, or as TF Serving's REST response.

use anyhow::{Context, bail};
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;
use tfprobe::model::{DType, SavedModelInfo, TensorInfoView};
use tfprobe::runtime::{Backend, LoadOptions, NamedTensors, TfBackend, validate};
use tfprobe::tensor::{Tensor, TensorData};

#[derive(Args, Debug)]
pub struct PredictArgs {
    /// SavedModel directory, or a TF-Serving base path (its highest version is used).
    /// With --server: optional, read only for labels and preprocessing.json.
    #[arg(long, required_unless_present = "server")]
    pub model: Option<PathBuf>,
    /// The image file (JPEG, PNG, ...) sent as-is to the model's DT_STRING input.
    #[arg(long)]
    pub image: PathBuf,
    /// Signature to run (default: serving_default, or the only one).
    #[arg(long = "signature_def")]
    pub signature_def: Option<String>,
    /// How many classes to list.
    #[arg(long = "top-k", default_value_t = 5)]
    pub top_k: usize,
    /// Print TF Serving's REST response ({"predictions": [...]}) instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Remote prediction through a running server (--server, --grpc, --repeat, --print-curl, ...).
    #[command(flatten)]
    pub remote: super::predict_remote::RemoteArgs,
}

pub fn run(args: &PredictArgs) -> anyhow::Result<ExitCode> {
    if args.remote.target.server.is_some() {
        return super::predict_remote::run(args);
    }
    let model = args
        .model
        .as_deref()
        .context("--model DIR (or --server HOST:PORT) is required")?;
    let image =
        std::fs::read(&args.image).with_context(|| format!("reading {}", args.image.display()))?;
    let started = Instant::now();
    let backend = TfBackend::load(model, &LoadOptions::default())?;
    let load_ms = started.elapsed().as_secs_f64() * 1e3;
    let meta_graph = backend.meta_graph();
    let key = match &args.signature_def {
        Some(key) => key.clone(),
        None => match validate::runnable_keys(meta_graph).as_slice() {
            keys if keys.contains(&"serving_default") => "serving_default".into(),
            [only] => only.to_string(),
            keys => bail!(
                "the model has several signatures ({}); choose one with --signature_def",
                keys.join(", ")
            ),
        },
    };
    let signature = validate::find_signature(meta_graph, &key)?;
    let input = match signature.inputs.as_slice() {
        [input] if input.dtype == DType::STRING => input,
        _ => bail!(
            "`predict --image` needs a signature with one DT_STRING input (encoded image bytes); '{key}' takes {}. \
             Use `tfprobe run` to feed tensors instead",
            validate::describe(&signature.inputs)
        ),
    };
    let shape = if input.shape.rank() == Some(0) {
        vec![]
    } else {
        vec![1]
    };
    let inputs: NamedTensors = [(
        input.key.clone(),
        Tensor::new(shape, TensorData::String(vec![image.clone()]))?,
    )]
    .into();
    // The first run includes TensorFlow's one-time graph optimisation; time a second one too.
    let started = Instant::now();
    let outputs = backend.run(&key, inputs.clone(), &[])?;
    let first_ms = started.elapsed().as_secs_f64() * 1e3;
    let started = Instant::now();
    let outputs = backend.run(&key, inputs, &[]).unwrap_or(outputs);
    let run_ms = started.elapsed().as_secs_f64() * 1e3;
    let text = if args.json {
        row_format_json(&outputs)
    } else {
        table(
            args,
            backend.model(),
            input,
            &key,
            image.len(),
            &outputs,
            [load_ms, first_ms, run_ms],
        )
    };
    crate::cli::print_stdout(&text)?;
    Ok(ExitCode::SUCCESS)
}

/// The probabilities-like output: float, `[batch, classes]`, preferring the usual names.
fn scores(outputs: &NamedTensors) -> Option<(&str, &[f32], usize)> {
    let candidates =
        outputs.iter().filter_map(
            |(key, tensor)| match (&tensor.data, tensor.shape.as_slice()) {
                (TensorData::Float(values), [_, classes]) if *classes > 0 && !values.is_empty() => {
                    Some((key.as_str(), values.as_slice(), *classes as usize))
                }
                _ => None,
            },
        );
    let all: Vec<_> = candidates.collect();
    ["probabilities", "scores", "predictions", "logits"]
        .iter()
        .find_map(|name| all.iter().find(|(key, _, _)| key == name).copied())
        .or_else(|| all.first().copied())
}

/// Labels from the model's assets: a `.txt` file with one line per class.
fn labels(model: &SavedModelInfo, classes: usize) -> Option<(String, Vec<String>)> {
    let mut assets: Vec<_> = model
        .assets
        .iter()
        .filter(|asset| asset.relative_path.ends_with(".txt"))
        .collect();
    assets.sort_by_key(|asset| {
        !asset.relative_path.contains("label") && !asset.relative_path.contains("imagenet")
    });
    assets.into_iter().find_map(|asset| {
        let text =
            std::fs::read_to_string(model.path.join("assets").join(&asset.relative_path)).ok()?;
        let lines: Vec<String> = text
            .lines()
            .map(|line| line.trim_end().to_string())
            .collect();
        (lines.len() == classes).then(|| (asset.relative_path.clone(), lines))
    })
}

#[allow(clippy::too_many_arguments)]
fn table(
    args: &PredictArgs,
    model: &SavedModelInfo,
    input: &TensorInfoView,
    key: &str,
    image_bytes: usize,
    outputs: &NamedTensors,
    [load_ms, first_ms, run_ms]: [f64; 3],
) -> String {
    let mut text = format!(
        "model:     {} (signature '{key}', input '{}')\n",
        display(&model.path),
        input.key
    );
    text += &format!(
        "image:     {} ({image_bytes} bytes)\n",
        display(&args.image)
    );
    match scores(outputs) {
        Some((name, values, classes)) => {
            let row = &values[..classes];
            let labels = labels(model, classes);
            if let Some((file, _)) = &labels {
                text += &format!("labels:    assets/{file}\n");
            }
            let mut order: Vec<usize> = (0..classes).collect();
            order.sort_by(|&a, &b| row[b].total_cmp(&row[a]).then(a.cmp(&b)));
            text += &format!(
                "\n{:>4}  {:>6}  {:<32}  {}\n",
                "rank", "class", "label", name
            );
            for (rank, &class) in order.iter().take(args.top_k).enumerate() {
                let label = labels
                    .as_ref()
                    .map(|(_, lines)| lines[class].as_str())
                    .unwrap_or("");
                text += &format!(
                    "{:>4}  {:>6}  {:<32}  {:.6}\n",
                    rank + 1,
                    class,
                    label,
                    row[class]
                );
            }
            text.push('\n');
        }
        None => text.push('\n'),
    }
    text += &class_lines(outputs);
    text += &format!(
        "latency:   {run_ms:.2} ms (model run; the first run took {first_ms:.1} ms, loading {load_ms:.0} ms)\n"
    );
    text
}

/// One `name: 968, 283` line per 0-D or 1-D int64 output (the predicted classes).
pub fn class_lines(outputs: &NamedTensors) -> String {
    let mut text = String::new();
    for (name, tensor) in outputs {
        if let TensorData::Int64(values) = &tensor.data
            && !values.is_empty()
            && tensor.shape.len() <= 1
        {
            let classes: Vec<String> = values.iter().map(i64::to_string).collect();
            text += &format!("{name}: {}\n", classes.join(", "));
        }
    }
    text
}

fn display(path: &Path) -> String {
    path.display().to_string()
}

/// TF Serving's row-format REST response (`{"predictions": [...]}`), written by the
/// server's own JSON code so `predict --json` diffs cleanly against a server's answer.
/// Falls back to the columnar `{"outputs": ...}` when the outputs share no batch dimension.
pub fn row_format_json(outputs: &NamedTensors) -> String {
    use tfprobe::server::json::{Format, outputs_json};
    outputs_json(outputs, Format::Row)
        .or_else(|_| outputs_json(outputs, Format::Columnar))
        .unwrap_or_else(|err| {
            format!(
                "{{\n    \"error\": {}\n}}\n",
                serde_json::Value::from(err.to_string())
            )
        })
}
