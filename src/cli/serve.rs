//! `tfprobe serve`: TF Serving's model server, with its flag spellings
//! (`--model_name`, `--model_base_path`, `--port`, `--rest_api_port`, ...) and
//! its Docker image's `MODEL_NAME` / `MODEL_BASE_PATH` variables.

use anyhow::{Context, bail};
use clap::Args;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use tfprobe::runtime::LoadOptions;
use tfprobe::server::{self, Loader, ModelSource, ServerConfig, TlsSettings};
use tfprobe::workflow;

/// Flags of TF Serving's `tensorflow_model_server`, plus tfprobe's own.
#[derive(Args, Debug)]
#[command(
    about = "Serve SavedModels with TF Serving's REST and gRPC APIs (like tensorflow_model_server)",
    after_help = "Examples:\n  tfprobe serve --model_name=resnet --model_base_path=/models/resnet\n  \
                  MODEL_NAME=resnet MODEL_BASE_PATH=/models tfprobe serve\n  \
                  tfprobe serve --model_config_file=models.config --rest_api_port=8501"
)]
pub struct ServeArgs {
    /// gRPC port (0 picks a free one).
    #[arg(long = "port", default_value_t = 8500)]
    pub port: u16,

    /// REST port; 0 disables the REST API.
    #[arg(long = "rest_api_port", default_value_t = 8501)]
    pub rest_api_port: u16,

    /// Name of the model (also read from MODEL_NAME, as in TF Serving's Docker image).
    #[arg(long = "model_name", env = "MODEL_NAME", default_value = "default")]
    pub model_name: String,

    /// Folder holding the model's numeric version folders (e.g. /models/resnet with
    /// 1538687457/ inside). Without it, MODEL_BASE_PATH/MODEL_NAME is used when
    /// MODEL_BASE_PATH is set, as in TF Serving's Docker image.
    #[arg(long = "model_base_path")]
    pub model_base_path: Option<PathBuf>,

    /// TF Serving model config file (text-format ModelServerConfig) listing several
    /// models, version policies and labels; replaces --model_name/--model_base_path.
    #[arg(long = "model_config_file")]
    pub model_config_file: Option<PathBuf>,

    /// Seconds between scans of the base paths for new versions; 0 or less scans once.
    #[arg(
        long = "file_system_poll_wait_seconds",
        default_value_t = 1,
        allow_negative_numbers = true
    )]
    pub file_system_poll_wait_seconds: i64,

    /// Deadline of a REST predict request in milliseconds; 0 or less means none.
    #[arg(
        long = "rest_api_timeout_in_ms",
        default_value_t = 30000,
        allow_negative_numbers = true
    )]
    pub rest_api_timeout_in_ms: i64,

    /// Address to listen on. Anything but a loopback address exposes the models to
    /// other machines.
    #[arg(long = "host", default_value = "127.0.0.1")]
    pub host: IpAddr,

    /// Largest request accepted: REST body and gRPC message, in bytes.
    #[arg(long = "max_request_bytes", default_value_t = server::DEFAULT_MAX_REQUEST_BYTES)]
    pub max_request_bytes: usize,

    /// Most rows (first dimension) one request may carry for an input whose signature
    /// leaves the batch size open (-1); larger requests get INVALID_ARGUMENT.
    #[arg(long = "max_batch_size", default_value_t = server::DEFAULT_MAX_BATCH_SIZE, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_batch_size: u64,

    /// Threads that run each loaded model version (default: 4 per core, 4 to 32).
    #[arg(long = "model_threads")]
    pub model_threads: Option<usize>,

    /// Requests that may wait for a model thread; more are refused with RESOURCE_EXHAUSTED.
    #[arg(long = "model_queue_capacity")]
    pub model_queue_capacity: Option<usize>,

    /// Threads that handle REST and gRPC connections (default: the number of cores).
    #[arg(long = "rest_api_num_threads")]
    pub rest_api_num_threads: Option<usize>,

    /// Threads one TensorFlow op may use (0: TensorFlow's choice).
    #[arg(long = "tensorflow_intra_op_parallelism", default_value_t = 0)]
    pub tensorflow_intra_op_parallelism: u32,

    /// TensorFlow ops run at once (0: TensorFlow's choice).
    #[arg(long = "tensorflow_inter_op_parallelism", default_value_t = 0)]
    pub tensorflow_inter_op_parallelism: u32,

    /// TF Serving's TLS settings: a text-format SSLConfig file with server_key and
    /// server_cert (PEM text), and for mutual TLS custom_ca and client_verify: true.
    /// tfprobe applies it to the REST port (https) as well as to gRPC.
    #[arg(long = "ssl_config_file", value_name = "FILE", conflicts_with_all = ["ssl_cert_file", "ssl_key_file"])]
    pub ssl_config_file: Option<PathBuf>,

    /// PEM certificate (chain) for TLS on both ports (with --ssl_key_file).
    #[arg(long = "ssl_cert_file", value_name = "PEM", requires = "ssl_key_file")]
    pub ssl_cert_file: Option<PathBuf>,

    /// PEM private key of --ssl_cert_file.
    #[arg(long = "ssl_key_file", value_name = "PEM", requires = "ssl_cert_file")]
    pub ssl_key_file: Option<PathBuf>,

    /// Milliseconds a client may take to send a REST request's headers, finish the TLS
    /// handshake or start a gRPC connection; idle REST keep-alive connections close after it.
    #[arg(long = "header_read_timeout_in_ms", default_value_t = server::DEFAULT_HEADER_READ_TIMEOUT.as_millis() as u64)]
    pub header_read_timeout_in_ms: u64,

    /// Milliseconds a REST request body may take to arrive (408 beyond); 0 means no limit.
    #[arg(long = "body_read_timeout_in_ms", default_value_t = server::DEFAULT_BODY_READ_TIMEOUT.as_millis() as u64)]
    pub body_read_timeout_in_ms: u64,

    /// Most connections open at once on each port; more wait to be accepted.
    #[arg(long = "max_connections", default_value_t = server::DEFAULT_MAX_CONNECTIONS)]
    pub max_connections: usize,

    /// Replay each version's assets.extra/tf_serving_warmup_requests before it
    /// serves (`--enable_model_warmup=false` turns it off).
    #[arg(long = "enable_model_warmup", default_value_t = true, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub enable_model_warmup: bool,

    /// Times each warmup record is replayed; 0 means TF Serving's default, 1.
    #[arg(long = "num_request_iterations_for_warmup", default_value_t = 0)]
    pub num_request_iterations_for_warmup: u32,

    /// A version without a warmup file runs each signature once before it serves, with
    /// a request made from the signature: a small JPEG for a string (encoded image)
    /// input, zeros of the declared dtype and shape (unknown dimensions 1) otherwise.
    #[arg(long = "warmup_synthesized")]
    pub warmup_synthesized: bool,

    /// Accepted for compatibility; tfprobe does not batch requests together.
    #[arg(long = "enable_batching", default_value_t = false, num_args = 0..=1, default_missing_value = "true")]
    pub enable_batching: bool,
}

fn models(args: &ServeArgs) -> anyhow::Result<Vec<ModelSource>> {
    if let Some(file) = &args.model_config_file {
        tracing::info!("Reading model config file {}", file.display());
        return Ok(server::read_model_config_file(file)?);
    }
    let base_path = match &args.model_base_path {
        Some(path) => path.clone(),
        None => match std::env::var_os("MODEL_BASE_PATH").filter(|value| !value.is_empty()) {
            Some(parent) => PathBuf::from(parent).join(&args.model_name),
            None => bail!(
                "no model to serve: give --model_base_path=/path/to/model (the folder holding numeric \
                 version folders such as 1/), set MODEL_BASE_PATH (and MODEL_NAME), or use --model_config_file"
            ),
        },
    };
    if base_path.join("saved_model.pb").is_file() {
        let parent = base_path
            .parent()
            .map(|parent| parent.display().to_string())
            .unwrap_or_default();
        bail!(
            "{} is a SavedModel version folder; --model_base_path takes the folder above it, which holds \
             numeric version folders (here: --model_base_path={parent}, if the folder's name is a number)",
            base_path.display()
        );
    }
    tracing::info!(
        "Building single TensorFlow model file config:  model_name: {} model_base_path: {}",
        args.model_name,
        base_path.display()
    );
    Ok(vec![ModelSource::new(args.model_name.clone(), base_path)])
}

/// TLS from --ssl_config_file or --ssl_cert_file/--ssl_key_file (clap makes them exclusive).
fn tls(args: &ServeArgs) -> anyhow::Result<Option<TlsSettings>> {
    let settings = match (
        &args.ssl_config_file,
        &args.ssl_cert_file,
        &args.ssl_key_file,
    ) {
        (Some(file), _, _) => TlsSettings::from_ssl_config_file(file)?,
        (None, Some(cert), Some(key)) => TlsSettings::from_pem_files(cert, key)?,
        _ => return Ok(None),
    };
    Ok(Some(settings))
}

fn tensorflow_loader(args: &ServeArgs) -> Loader {
    let nonzero = |value: u32| (value > 0).then_some(value);
    let options = LoadOptions {
        intra_op_threads: nonzero(args.tensorflow_intra_op_parallelism),
        inter_op_threads: nonzero(args.tensorflow_inter_op_parallelism),
        ..LoadOptions::default()
    };
    workflow::serve::tensorflow_loader(options)
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("TFPROBE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
}

pub fn run(args: &ServeArgs) -> anyhow::Result<ExitCode> {
    init_logging();
    let models = models(args)?;
    // Before the runtime: a bad certificate file is reported at once, TensorFlow or not.
    let tls = tls(args)?;
    if args.enable_batching {
        tracing::warn!(
            "--enable_batching is accepted but ignored: tfprobe runs each request on its own"
        );
    }
    let mut config = ServerConfig::new(models, tensorflow_loader(args));
    config.host = args.host;
    config.grpc_port = Some(args.port);
    config.rest_port = (args.rest_api_port != 0).then_some(args.rest_api_port);
    config.poll_interval = u64::try_from(args.file_system_poll_wait_seconds)
        .ok()
        .filter(|seconds| *seconds > 0)
        .map(Duration::from_secs);
    config.rest_timeout = u64::try_from(args.rest_api_timeout_in_ms)
        .ok()
        .filter(|ms| *ms > 0)
        .map(Duration::from_millis);
    config.max_request_bytes = args.max_request_bytes;
    config.max_batch_size = args.max_batch_size;
    config.enable_model_warmup = args.enable_model_warmup;
    config.warmup_request_iterations = args.num_request_iterations_for_warmup.max(1);
    config.warmup_synthesized = args.warmup_synthesized;
    config.tls = tls;
    config.header_read_timeout = Duration::from_millis(args.header_read_timeout_in_ms.max(1));
    config.body_read_timeout = (args.body_read_timeout_in_ms > 0)
        .then(|| Duration::from_millis(args.body_read_timeout_in_ms));
    config.max_connections = args.max_connections.max(1);
    config.grpc_max_message_bytes = args.max_request_bytes;
    if let Some(threads) = args.model_threads {
        config.model_threads = threads.max(1);
    }
    if let Some(capacity) = args.model_queue_capacity {
        config.queue_capacity = capacity.max(1);
    }

    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all().thread_name("tfprobe-server");
    if let Some(threads) = args.rest_api_num_threads.filter(|threads| *threads > 0) {
        builder.worker_threads(threads);
    }
    let tokio = builder.build().context("cannot start the async runtime")?;
    tokio.block_on(async move {
        // Loads TensorFlow first: a missing runtime fails at once, with the way to fix it.
        let server = workflow::serve::start(config)
            .await
            .map_err(|err| {
                let runtime = matches!(err, workflow::WorkflowError::Runtime(_));
                let err = anyhow::Error::new(err);
                if runtime {
                    err.context("cannot serve without the TensorFlow runtime")
                } else {
                    err
                }
            })?
            .handle;
        if !server.ready() {
            for model in server.models() {
                for version in model
                    .versions
                    .iter()
                    .filter(|version| version.error.is_some())
                {
                    let (code, message) = version
                        .error
                        .clone()
                        .unwrap_or((tfprobe::pb::tensorflow::error::Code::Unknown, String::new()));
                    tracing::error!(
                        "model {} version {} failed to load ({}): {message}",
                        model.name,
                        version.version,
                        code.as_str_name()
                    );
                }
            }
            tracing::warn!(
                "not every model has a version serving yet; requests for it answer NOT_FOUND"
            );
        }
        let stopping = server.stopping();
        tokio::select! {
            () = shutdown_signal() => tracing::info!("Shutting down (signal received)"),
            () = stopping => {}
        }
        server.shutdown().await;
        tracing::info!("Server stopped");
        anyhow::Ok(ExitCode::SUCCESS)
    })
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
