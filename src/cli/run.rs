//! `tfprobe run`: `saved_model_cli run` without Python. Same flags (`--dir`, `--tag_set`,
//! `--signature_def`, `--inputs 'k=file.npy;k2=file.npz[name]'`, `--input_exprs
//! 'k=[[1,2]];k2=0.5'`, `--outdir`, `--overwrite`), same output (`Result for output key
//! K:` and numpy's text of the array), plus `--json`.

mod literal;
mod npy;
mod numpy_fmt;

use anyhow::{Context, bail};
use base64::Engine;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use tfprobe::runtime::{Backend, LoadOptions, NamedTensors, TfBackend, validate};
use tfprobe::tensor::{Tensor, TensorData};

#[derive(Args, Debug)]
pub struct RunArgs {
    /// SavedModel directory (or a TF-Serving base path: its highest version runs).
    #[arg(long)]
    pub dir: PathBuf,
    /// Tag-set of the MetaGraphDef to run.
    #[arg(long = "tag_set", default_value = "serve")]
    pub tag_set: String,
    /// Key of the SignatureDef to run.
    #[arg(long = "signature_def", default_value = "serving_default")]
    pub signature_def: String,
    /// `input_key=file.npy` or `input_key=file.npz[array]`, separated by ';'.
    #[arg(long)]
    pub inputs: Option<String>,
    /// `input_key=<python literal>` (nested lists, numbers, strings, True/False), separated by ';'.
    #[arg(long = "input_exprs")]
    pub input_exprs: Option<String>,
    /// Write each output to OUTDIR/<output key>.npy instead of printing it.
    #[arg(long)]
    pub outdir: Option<PathBuf>,
    /// Overwrite existing files in --outdir.
    #[arg(long)]
    pub overwrite: bool,
    /// Print outputs as JSON: {"outputs": {key: {"dtype", "shape", "values"}}}.
    #[arg(long)]
    pub json: bool,
    /// Threads one op may use (TensorFlow's intra_op_parallelism_threads).
    #[arg(long = "intra_op_threads")]
    pub intra_op_threads: Option<u32>,
    /// Ops run at once (TensorFlow's inter_op_parallelism_threads).
    #[arg(long = "inter_op_threads")]
    pub inter_op_threads: Option<u32>,
}

/// `a=x;b=y` -> [(a, x), (b, y)], split like saved_model_cli (on ';' then the first '=').
fn split_pairs(text: &str, flag: &str) -> anyhow::Result<Vec<(String, String)>> {
    text.split(';')
        .filter(|part| !part.trim().is_empty())
        .map(|part| {
            let (key, value) = part.split_once('=').with_context(|| {
                format!("--{flag} must look like <input_key>=<value>, got `{part}`")
            })?;
            Ok((key.trim().to_string(), value.trim().to_string()))
        })
        .collect()
}

pub fn run(args: &RunArgs) -> anyhow::Result<ExitCode> {
    if args.inputs.is_none() && args.input_exprs.is_none() {
        bail!("at least one of --inputs and --input_exprs must be given");
    }
    let options = LoadOptions {
        intra_op_threads: args.intra_op_threads,
        inter_op_threads: args.inter_op_threads,
        tags: args
            .tag_set
            .split(',')
            .map(|tag| tag.trim().to_string())
            .collect(),
    };
    let backend = TfBackend::load(&args.dir, &options)?;
    let signature = validate::find_signature(backend.meta_graph(), &args.signature_def)?;
    let dtype_of = |key: &str| {
        signature
            .input(key)
            .map(|view| view.dtype)
            .with_context(|| {
                format!(
                    "\"{key}\" is not a valid input key of signature '{}'; it takes: {}",
                    signature.key,
                    validate::describe(&signature.inputs)
                )
            })
    };
    let mut inputs = NamedTensors::new();
    for (key, file) in split_pairs(args.inputs.as_deref().unwrap_or(""), "inputs")? {
        let (path, variable) = match file.strip_suffix(']').and_then(|rest| rest.split_once('[')) {
            Some((path, variable)) => (path.to_string(), Some(variable.to_string())),
            None => (file.clone(), None),
        };
        let tensor = npy::load(std::path::Path::new(&path), variable.as_deref())?;
        let tensor = literal::cast(tensor, dtype_of(&key)?)
            .with_context(|| format!("input '{key}' from {path}"))?;
        if inputs.insert(key.clone(), tensor).is_some() {
            bail!("input key '{key}' is given more than once");
        }
    }
    for (key, expression) in split_pairs(args.input_exprs.as_deref().unwrap_or(""), "input_exprs")?
    {
        let value = literal::parse(&expression)?;
        let tensor = literal::to_tensor(&value, dtype_of(&key)?)
            .with_context(|| format!("input '{key}'"))?;
        if inputs.insert(key.clone(), tensor).is_some() {
            bail!("input key '{key}' is given in both --inputs and --input_exprs (or twice)");
        }
    }
    let outputs = backend.run(&args.signature_def, inputs, &[])?;
    if let Some(outdir) = &args.outdir {
        std::fs::create_dir_all(outdir)
            .with_context(|| format!("creating {}", outdir.display()))?;
        for (key, tensor) in &outputs {
            let path = outdir.join(format!("{key}.npy"));
            if path.exists() && !args.overwrite {
                bail!(
                    "Output file {} already exists. Add \"--overwrite\" to overwrite the existing output files.",
                    path.display()
                );
            }
            std::fs::write(&path, npy::to_npy(tensor))
                .with_context(|| format!("writing {}", path.display()))?;
            println!("Output {key} is saved to {}", path.display());
        }
        return Ok(ExitCode::SUCCESS);
    }
    let text = if args.json {
        let object: serde_json::Map<String, serde_json::Value> = outputs
            .iter()
            .map(|(key, tensor)| (key.clone(), tensor_json(tensor)))
            .collect();
        let mut text = serde_json::to_string_pretty(&serde_json::json!({ "outputs": object }))?;
        text.push('\n');
        text
    } else {
        outputs
            .iter()
            .map(|(key, tensor)| {
                format!(
                    "Result for output key {key}:\n{}\n",
                    numpy_fmt::numpy_str(tensor)
                )
            })
            .collect()
    };
    crate::cli::output::print_stdout(&text)?;
    Ok(ExitCode::SUCCESS)
}

/// `{"dtype": "DT_FLOAT", "shape": [2], "values": [...]}`; bytes that are not UTF-8 as
/// `{"b64": ...}` (the format of tests/fixtures/outputs).
pub fn tensor_json(tensor: &Tensor) -> serde_json::Value {
    use serde_json::Value;
    let values: Vec<Value> = match &tensor.data {
        TensorData::Float(v) => v.iter().map(|&x| Value::from(f64::from(x))).collect(),
        TensorData::Double(v) => v.iter().map(|&x| Value::from(x)).collect(),
        TensorData::Half(v) => v.iter().map(|&x| Value::from(half::f16::from_bits(x).to_f64())).collect(),
        TensorData::BFloat16(v) => v.iter().map(|&x| Value::from(half::bf16::from_bits(x).to_f64())).collect(),
        TensorData::Int8(v) => v.iter().map(|&x| Value::from(x)).collect(),
        TensorData::Int16(v) => v.iter().map(|&x| Value::from(x)).collect(),
        TensorData::Int32(v) => v.iter().map(|&x| Value::from(x)).collect(),
        TensorData::Int64(v) => v.iter().map(|&x| Value::from(x)).collect(),
        TensorData::UInt8(v) => v.iter().map(|&x| Value::from(x)).collect(),
        TensorData::UInt16(v) => v.iter().map(|&x| Value::from(x)).collect(),
        TensorData::UInt32(v) => v.iter().map(|&x| Value::from(x)).collect(),
        TensorData::UInt64(v) => v.iter().map(|&x| Value::from(x)).collect(),
        TensorData::Bool(v) => v.iter().map(|&x| Value::from(x)).collect(),
        TensorData::String(v) => v
            .iter()
            .map(|bytes| match std::str::from_utf8(bytes) {
                Ok(text) => Value::from(text),
                Err(_) => serde_json::json!({ "b64": base64::engine::general_purpose::STANDARD.encode(bytes) }),
            })
            .collect(),
    };
    serde_json::json!({ "dtype": tensor.dtype().name(), "shape": tensor.shape, "values": values })
}
