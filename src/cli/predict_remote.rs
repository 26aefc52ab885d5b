//! `tfprobe predict --server HOST:PORT ...`: one image through a running TF
//! Serving-compatible server (REST, or gRPC with `--grpc`), optionally repeated with
//! latency percentiles, or printed as an equivalent curl / grpcurl / Python request.

use super::predict::PredictArgs;
use anyhow::{Context, bail};
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};
use tfprobe::client::stats::LatencyStats;
use tfprobe::client::{
    Client, ClientConfig, ClientIdentity, ModelClient, Protocol, TlsOptions, VersionSelector,
    snippets,
};
use tfprobe::imaging::{
    self, ChannelOrder, ImageOptions, Labels, Layout, Normalization, ResizeFilter,
};
use tfprobe::model::{SavedModelInfo, SignatureInfo};
use tfprobe::runtime::NamedTensors;
use tfprobe::tensor::TensorData;

/// Where the server is and which model to ask for (shared by `predict` and `bench`).
#[derive(Args, Debug, Clone, Default)]
pub struct TargetArgs {
    /// A running server: HOST:PORT or a URL (https:// turns TLS on). REST unless --grpc.
    #[arg(long, value_name = "HOST:PORT")]
    pub server: Option<String>,
    /// Speak gRPC (TF Serving's port 8500) instead of REST (8501).
    #[arg(long)]
    pub grpc: bool,
    /// Model name on the server.
    #[arg(long = "model_name", value_name = "NAME")]
    pub model_name: Option<String>,
    /// Ask for this version instead of the latest.
    #[arg(
        long = "model_version",
        value_name = "N",
        conflicts_with = "version_label"
    )]
    pub model_version: Option<i64>,
    /// Ask for the version with this label.
    #[arg(long = "version_label", value_name = "LABEL")]
    pub version_label: Option<String>,
    /// Seconds one call may take.
    #[arg(long, default_value_t = 30.0, value_name = "SECONDS")]
    pub timeout: f64,
    /// Use TLS (implied by an https:// or grpcs:// --server).
    #[arg(long)]
    pub tls: bool,
    /// PEM file of a CA to trust (implies --tls).
    #[arg(long = "ca-cert", value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// Accept any server certificate (implies --tls). For testing only.
    #[arg(long)]
    pub insecure: bool,
    /// Verify the certificate against this name instead of the host.
    #[arg(long = "tls-server-name", value_name = "NAME")]
    pub tls_server_name: Option<String>,
    /// PEM file of a client certificate (chain) to present to servers that require one
    /// (mutual TLS). Needs --client-key; implies --tls.
    #[arg(long = "client-cert", value_name = "FILE", requires = "client_key")]
    pub client_cert: Option<PathBuf>,
    /// PEM file of the --client-cert certificate's private key.
    #[arg(long = "client-key", value_name = "FILE", requires = "client_cert")]
    pub client_key: Option<PathBuf>,
    /// Extra HTTP header / gRPC metadata, "Name: value" (repeatable).
    #[arg(long = "header", short = 'H', value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
}

impl TargetArgs {
    pub fn config(&self, signature: Option<&str>) -> anyhow::Result<ClientConfig> {
        let server = self
            .server
            .as_deref()
            .context("--server HOST:PORT is required")?;
        let protocol = if self.grpc {
            Protocol::Grpc
        } else {
            Protocol::Rest
        };
        let mut config = ClientConfig::parse_target(server, protocol)?;
        config.model_name = self.model_name.clone().context(
            "--model_name is required with --server (TF Serving's APIs cannot list models)",
        )?;
        config.version = match (&self.model_version, &self.version_label) {
            (Some(version), _) => VersionSelector::Version(*version),
            (None, Some(label)) => VersionSelector::Label(label.clone()),
            (None, None) => VersionSelector::Latest,
        };
        config.signature = signature.map(str::to_string);
        if !(self.timeout.is_finite() && self.timeout > 0.0) {
            bail!("--timeout must be a positive number of seconds");
        }
        config.timeout = Duration::from_secs_f64(self.timeout);
        config.connect_timeout = config.timeout.min(Duration::from_secs(5));
        // clap makes the two client flags come together.
        let client_identity = match (&self.client_cert, &self.client_key) {
            (Some(cert_file), Some(key_file)) => Some(ClientIdentity {
                cert_file: cert_file.clone(),
                key_file: key_file.clone(),
            }),
            _ => None,
        };
        if self.tls
            || self.ca_cert.is_some()
            || self.insecure
            || self.tls_server_name.is_some()
            || client_identity.is_some()
        {
            let tls = config.tls.get_or_insert_with(TlsOptions::default);
            tls.ca_file = self.ca_cert.clone();
            tls.accept_invalid_certs = self.insecure;
            tls.server_name = self.tls_server_name.clone();
            tls.client_identity = client_identity;
        }
        for header in &self.headers {
            let (name, value) = header
                .split_once(':')
                .with_context(|| format!("--header '{header}' is not 'Name: value'"))?;
            config
                .headers
                .push((name.trim().to_string(), value.trim().to_string()));
        }
        Ok(config)
    }
}

/// How an image becomes the model's input (pixel models only; encoded-bytes models
/// get the file unchanged).
#[derive(Args, Debug, Clone, Default)]
pub struct ImageArgs {
    /// Pixel normalisation: unit (x/255), symmetric (-1..1), centered127 ((x-127)/128),
    /// imagenet (mean/std), raw (0..255). Default: the model's preprocessing.json, else unit.
    #[arg(long, value_name = "PRESET")]
    pub normalize: Option<Normalization>,
    /// Resize to HxW when the model leaves the size open (default 224x224).
    #[arg(long, value_name = "HxW")]
    pub size: Option<String>,
    /// Channel order of pixel inputs.
    #[arg(long = "channel-order", value_name = "rgb|bgr")]
    pub channel_order: Option<ChannelOrder>,
    /// Centre-crop fraction (0.875 = ImageNet's 224/256); default 1 (largest centred box).
    #[arg(long = "crop-fraction", value_name = "F")]
    pub crop_fraction: Option<f32>,
    /// Resize filter: nearest, bilinear, bicubic, lanczos3.
    #[arg(
        long = "resize-filter",
        default_value = "bilinear",
        value_name = "FILTER"
    )]
    pub resize_filter: ResizeFilter,
    /// Treat a pixel input as NCHW (or NHWC) whatever its shape suggests.
    #[arg(long, value_name = "nhwc|nchw", value_parser = parse_layout)]
    pub layout: Option<Layout>,
    /// Which input gets the image when the signature has several.
    #[arg(long = "input-key", value_name = "KEY")]
    pub input_key: Option<String>,
}

fn parse_layout(text: &str) -> Result<Layout, String> {
    match text.to_ascii_lowercase().as_str() {
        "nhwc" => Ok(Layout::Nhwc),
        "nchw" => Ok(Layout::Nchw),
        other => Err(format!("unknown layout '{other}' (nhwc, nchw)")),
    }
}

impl ImageArgs {
    pub fn options(&self, model_dir: Option<&Path>) -> anyhow::Result<ImageOptions> {
        let size = match &self.size {
            None => None,
            Some(text) => {
                let (h, w) = text.split_once(['x', 'X']).unwrap_or((text, text));
                Some((
                    h.trim().parse().context("--size is HxW, e.g. 224x224")?,
                    w.trim().parse().context("--size is HxW")?,
                ))
            }
        };
        let mut options = ImageOptions {
            size,
            normalization: self.normalize,
            channel_order: self.channel_order,
            layout: self.layout,
            crop_fraction: self.crop_fraction,
            filter: self.resize_filter,
            input_key: self.input_key.clone(),
        };
        if let Some(dir) = model_dir {
            options.fill_from_model_dir(dir);
        }
        Ok(options)
    }
}

/// The remote half of `tfprobe predict`.
#[derive(Args, Debug, Clone, Default)]
pub struct RemoteArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub image: ImageArgs,
    /// Send the request N times and report latency (after --warmup requests).
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub repeat: u64,
    /// Requests sent first and not measured.
    #[arg(long, default_value_t = 0, value_name = "W")]
    pub warmup: u64,
    /// A labels file (one class per line); default: the model's assets, else ImageNet's for 1000/1001 classes.
    #[arg(long, value_name = "FILE")]
    pub labels: Option<PathBuf>,
    /// The class-score output to rank (default: probabilities/scores/predictions/logits).
    #[arg(long = "output", value_name = "KEY")]
    pub output: Option<String>,
    /// Print the request as a runnable curl command and exit.
    #[arg(long = "print-curl")]
    pub print_curl: bool,
    /// Print the request as a runnable grpcurl command and exit.
    #[arg(long = "print-grpcurl")]
    pub print_grpcurl: bool,
    /// Print the request as a Python script (requests or grpcio) and exit.
    #[arg(long = "print-python")]
    pub print_python: bool,
}

/// The client's async runtime: one thread (no cross-thread wake-ups: the lowest
/// latency, and it leaves the other cores to a server on the same machine), or a
/// pool of `threads`.
pub fn runtime(threads: usize) -> anyhow::Result<tokio::runtime::Runtime> {
    let mut builder = if threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.worker_threads(threads.min(64));
        builder
    };
    builder
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// The signature a call runs: the asked one, `serving_default`, or the only one.
pub fn pick_signature(info: &SavedModelInfo, asked: Option<&str>) -> anyhow::Result<SignatureInfo> {
    let graph = info
        .serving_meta_graph()
        .context("the server reported no signatures")?;
    let runnable: Vec<&SignatureInfo> = graph
        .signatures
        .iter()
        .filter(|s| !s.key.starts_with("__"))
        .collect();
    let found = match asked {
        Some(key) => graph.signature(key),
        None => graph
            .signature("serving_default")
            .or(match runnable.as_slice() {
                [only] => Some(*only),
                _ => None,
            }),
    };
    found.cloned().with_context(|| {
        let keys: Vec<&str> = runnable.iter().map(|s| s.key.as_str()).collect();
        match asked {
            Some(key) => format!(
                "the model has no signature '{key}' (it has: {})",
                keys.join(", ")
            ),
            None => format!(
                "the model has several signatures ({}); choose one with --signature_def",
                keys.join(", ")
            ),
        }
    })
}

/// Reads the image and builds the named input tensors for `signature`.
pub fn image_inputs(
    path: &Path,
    signature: &SignatureInfo,
    options: &ImageOptions,
) -> anyhow::Result<NamedTensors> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let (key, tensor) = imaging::image_input(&bytes, signature, options)
        .with_context(|| format!("preparing {}", path.display()))?;
    Ok([(key, tensor)].into())
}

pub fn run(args: &PredictArgs) -> anyhow::Result<ExitCode> {
    let remote = &args.remote;
    let config = remote.target.config(args.signature_def.as_deref())?;
    let options = remote.image.options(args.model.as_deref())?;
    runtime(1)?.block_on(async {
        let client = Client::connect(&config)?;
        let printing = remote.print_curl || remote.print_grpcurl || remote.print_python;
        let signature = match client.metadata().await {
            Ok(info) => pick_signature(&info, args.signature_def.as_deref())?,
            // Printing needs no server: fall back to the seed's signature.
            Err(err) if printing => {
                let key = remote.image.input_key.clone().unwrap_or_else(|| "image_bytes".into());
                eprintln!("note: could not read the model's signatures ({err}); assuming input '{key}' takes encoded image bytes (DT_STRING, shape (-1))");
                seed_signature(&key)
            }
            Err(err) => return Err(anyhow::Error::new(err).context("asking the server for the model's signatures")),
        };
        let inputs = image_inputs(&args.image, &signature, &options)?;
        if printing {
            let mut text = String::new();
            if remote.print_curl {
                text += &snippets::curl(&config, &inputs);
            }
            if remote.print_grpcurl {
                text += &snippets::grpcurl(&config, &inputs);
            }
            if remote.print_python {
                text += &snippets::python(&config, &inputs);
            }
            crate::cli::print_stdout(&text)?;
            return Ok(ExitCode::SUCCESS);
        }
        for _ in 0..remote.warmup {
            client.predict(inputs.clone(), &[]).await.context("warm-up request")?;
        }
        let mut stats = LatencyStats::new();
        let mut last = None;
        for _ in 0..remote.repeat.max(1) {
            let started = Instant::now();
            let result = client.predict(inputs.clone(), &[]).await?;
            stats.record(started.elapsed());
            last = Some(result);
        }
        let Some(result) = last else { bail!("no request was sent") };
        let text = if args.json {
            super::predict::row_format_json(&result.outputs)
        } else {
            let labels = labels(remote, args.model.as_deref(), &result.outputs)?;
            report(args, &config, &signature, &result, labels.as_ref(), &stats)
        };
        crate::cli::print_stdout(&text)?;
        Ok(ExitCode::SUCCESS)
    })
}

/// A signature like the seed's ResNet: one DT_STRING input of shape (-1).
fn seed_signature(key: &str) -> SignatureInfo {
    SignatureInfo {
        key: "serving_default".into(),
        method_name: "tensorflow/serving/predict".into(),
        inputs: vec![tfprobe::model::TensorInfoView {
            key: key.to_string(),
            dtype: tfprobe::model::DType::STRING,
            shape: tfprobe::model::Shape::from_sizes(&[-1]),
            name: String::new(),
        }],
        outputs: Vec::new(),
    }
}

fn labels(
    remote: &RemoteArgs,
    model_dir: Option<&Path>,
    outputs: &NamedTensors,
) -> anyhow::Result<Option<Labels>> {
    if let Some(path) = &remote.labels {
        return Ok(Some(Labels::from_file(path)?));
    }
    let Ok((_, _, _, classes)) = imaging::find_scores(outputs, remote.output.as_deref()) else {
        return Ok(None);
    };
    if let Some(labels) = model_dir.and_then(|dir| imaging::find_model_labels(dir, classes)) {
        return Ok(Some(labels));
    }
    Ok(matches!(classes, 1000 | 1001).then(imaging::builtin_imagenet_labels))
}

/// The first value of an int64 `classes` output, else the top-1 of the scores.
fn predicted_class(outputs: &NamedTensors, output: Option<&str>) -> Option<String> {
    if let Some(TensorData::Int64(values)) = outputs.get("classes").map(|tensor| &tensor.data) {
        return values.first().map(i64::to_string);
    }
    let (_, values, _, classes) = imaging::find_scores(outputs, output).ok()?;
    imaging::top_k(&values[..classes.min(values.len())], 1)
        .first()
        .map(|(class, _)| class.to_string())
}

fn report(
    args: &PredictArgs,
    config: &ClientConfig,
    signature: &SignatureInfo,
    result: &tfprobe::client::PredictResult,
    labels: Option<&Labels>,
    stats: &LatencyStats,
) -> String {
    let remote = &args.remote;
    let protocol = match config.protocol {
        Protocol::Rest => "REST",
        Protocol::Grpc => "gRPC",
    };
    let version = result
        .model_version
        .map(|v| format!(", version {v}"))
        .unwrap_or_default();
    let mut text = format!(
        "server:    {} ({protocol}), model '{}'{version}, signature '{}'\n",
        config.authority(),
        config.model_name,
        signature.key
    );
    text += &format!("image:     {}\n", args.image.display());
    match imaging::classify(
        &result.outputs,
        remote.output.as_deref(),
        args.top_k,
        labels,
    ) {
        Ok(classification) => {
            if let Some(source) = &classification.labels_source {
                text += &format!("labels:    {source}\n");
            }
            let heading = if classification.softmax_applied {
                format!("softmax({})", classification.output)
            } else {
                classification.output.clone()
            };
            text += &format!(
                "\n{:>4}  {:>6}  {:<32}  {}\n",
                "rank", "class", "label", heading
            );
            for (rank, prediction) in classification
                .rows
                .first()
                .into_iter()
                .flatten()
                .enumerate()
            {
                let label = prediction.label.as_deref().unwrap_or("");
                text += &format!(
                    "{:>4}  {:>6}  {:<32}  {:.6}\n",
                    rank + 1,
                    prediction.class,
                    label,
                    prediction.score
                );
            }
            text.push('\n');
        }
        Err(err) => text += &format!("({err})\n\n"),
    }
    text += &super::predict::class_lines(&result.outputs);
    let snapshot = stats.snapshot();
    if remote.repeat > 1 {
        let class = predicted_class(&result.outputs, remote.output.as_deref())
            .unwrap_or_else(|| "?".into());
        text += &format!(
            "Prediction class: {class}, avg latency: {:.1} ms\n",
            snapshot.mean_ms
        );
        text += &format!(
            "latency over {} requests (after {} warm-up): p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, min {:.2} ms, max {:.2} ms\n",
            snapshot.count,
            remote.warmup,
            snapshot.p50_ms,
            snapshot.p90_ms,
            snapshot.p99_ms,
            snapshot.min_ms,
            snapshot.max_ms
        );
    } else {
        text += &format!("latency:   {:.2} ms (round trip)\n", snapshot.mean_ms);
    }
    text
}
