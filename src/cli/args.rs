//! Flags that several commands share: where a server is (`predict`, `bench`) and how
//! an image becomes a model's input. Each group turns into the workflow layer's
//! settings; no product rule is decided here.

use anyhow::{Context, bail};
use clap::Args;
use std::path::PathBuf;
use std::time::Duration;
use tfprobe::client::{ClientConfig, ClientIdentity, Protocol, TlsOptions, VersionSelector};
use tfprobe::imaging::{ChannelOrder, ImageOptions, Layout, Normalization, ResizeFilter};

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
    pub fn config(&self) -> anyhow::Result<ClientConfig> {
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
    /// The options as given; the model's `preprocessing.json` fills the rest when the
    /// request is planned.
    pub fn options(&self) -> anyhow::Result<ImageOptions> {
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
        Ok(ImageOptions {
            size,
            normalization: self.normalize,
            channel_order: self.channel_order,
            layout: self.layout,
            crop_fraction: self.crop_fraction,
            filter: self.resize_filter,
            input_key: self.input_key.clone(),
        })
    }
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
