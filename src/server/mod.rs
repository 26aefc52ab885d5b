//! An embedded, TF Serving-compatible model server: TF Serving's REST API
//! (axum) and gRPC API (tonic) over [`Backend`](crate::runtime::Backend)s,
//! with versioned hot reload and Prometheus metrics.
//!
//! Layer: depends on `pb`, `tensor`, `model` and `runtime` only — never on the
//! clients, imaging, `workflow` or the front ends. Inside, the front ends (`grpc`,
//! `rest`) sit above the request path (`predict`, `classify`), which sits above the
//! version lifecycle (`versions`; warmup is handed to it as a hook).
//!
//! ```no_run
//! # async fn demo(loader: tfprobe::server::Loader) -> Result<(), tfprobe::server::ServeError> {
//! use tfprobe::server::{ModelSource, ServerConfig};
//! let mut config = ServerConfig::new(vec![ModelSource::new("resnet", "/models/resnet")], loader);
//! config.grpc_port = Some(0); // any free port
//! config.rest_port = Some(0);
//! let server = tfprobe::server::start(config).await?;
//! println!("REST at {:?}, gRPC at {:?}", server.rest_addr(), server.grpc_addr());
//! server.shutdown().await;
//! # Ok(()) }
//! ```

mod classify;
mod config;
mod error;
mod grpc;
pub mod json;
mod listen;
mod metrics;
mod predict;
pub use predict::{DEFAULT_MAX_BATCH_SIZE, DEFAULT_MAX_REQUEST_BYTES};
mod rest;
mod shared;
#[cfg(test)]
mod tests;
mod tfrecord;
mod tls;
mod versions;
mod warmup;
mod warmup_synth;
pub use tfrecord::encode_record;
pub use warmup::{
    MAX_WARMUP_RECORDS, WARMUP_DIR, WARMUP_FILE, WarmupError, replay_file, warmup_path,
};

pub use config::{ModelSource, VersionPolicy, parse_model_config, read_model_config_file};
pub use error::{ServeError, grpc_code, http_status_for};
pub use metrics::Metrics;
pub use tls::{TlsError, TlsSettings};
pub use versions::{Loader, ModelStatus, Servable, VersionRequest, VersionStatus};

use crate::pb::tensorflow::serving::model_service_server::ModelServiceServer;
use crate::pb::tensorflow::serving::prediction_service_server::PredictionServiceServer;
use crate::runtime::WorkerOptions;
use shared::Shared;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use versions::ModelManager;

/// Everything `start` needs. `ServerConfig::new` fills in TF Serving's defaults.
#[derive(Clone)]
pub struct ServerConfig {
    pub models: Vec<ModelSource>,
    /// Address to listen on; 127.0.0.1 unless exposing the server is a choice.
    pub host: IpAddr,
    /// gRPC port (TF Serving: 8500); `Some(0)` picks a free port, `None` disables gRPC.
    pub grpc_port: Option<u16>,
    /// REST port (TF Serving: 8501); `Some(0)` picks a free port, `None` disables REST.
    pub rest_port: Option<u16>,
    /// How often base paths are scanned for new versions; `None` scans once at start.
    pub poll_interval: Option<Duration>,
    /// Deadline of a REST predict call (`--rest_api_timeout_in_ms`).
    pub rest_timeout: Option<Duration>,
    /// Largest REST request body.
    pub max_request_bytes: usize,
    /// REST predict bodies go through the one-pass reader first (issue 18); `false`
    /// sends every body through the document-tree reader (benchmarks compare both).
    pub rest_one_pass_json: bool,
    /// Largest gRPC message, received or sent.
    pub grpc_max_message_bytes: usize,
    /// Threads that run each loaded version (its `ModelWorker`).
    pub model_threads: usize,
    /// Requests that may wait for a model thread before RESOURCE_EXHAUSTED.
    pub queue_capacity: usize,
    /// Load the models before `start` returns (TF Serving's order); otherwise
    /// they load in the background and report LOADING meanwhile.
    pub wait_for_models: bool,
    /// Serve both APIs over TLS (https, gRPC over TLS) with these settings.
    pub tls: Option<TlsSettings>,
    /// How long a client may take to send a REST request's headers, to finish the TLS
    /// handshake, or to start its gRPC (HTTP/2) connection; also how long an idle
    /// REST keep-alive connection stays open. Slow or silent clients are closed then.
    pub header_read_timeout: Duration,
    /// How long a REST request's body may take to arrive once its headers have
    /// (408 beyond); `None`: no limit.
    pub body_read_timeout: Option<Duration>,
    /// Most connections open at once on each port; more wait to be accepted.
    pub max_connections: usize,
    /// Largest first dimension an input may carry where its signature leaves it open (-1).
    pub max_batch_size: u64,
    /// Replay each version's `assets.extra/tf_serving_warmup_requests` before
    /// it serves (`--enable_model_warmup`, on by default as in TF Serving).
    pub enable_model_warmup: bool,
    /// Times each warmup record is replayed (`--num_request_iterations_for_warmup`; 0 counts as 1).
    pub warmup_request_iterations: u32,
    /// A version without a warmup file runs each signature once with a request made
    /// from the signature before it serves (`--warmup_synthesized`; off by default,
    /// on in the app's embedded server).
    pub warmup_synthesized: bool,
    /// Builds a backend for a version directory.
    pub loader: Loader,
}

impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConfig")
            .field("models", &self.models)
            .field("host", &self.host)
            .field("grpc_port", &self.grpc_port)
            .field("rest_port", &self.rest_port)
            .field("poll_interval", &self.poll_interval)
            .field("rest_timeout", &self.rest_timeout)
            .field("max_request_bytes", &self.max_request_bytes)
            .field("rest_one_pass_json", &self.rest_one_pass_json)
            .field("grpc_max_message_bytes", &self.grpc_max_message_bytes)
            .field("model_threads", &self.model_threads)
            .field("queue_capacity", &self.queue_capacity)
            .field("wait_for_models", &self.wait_for_models)
            .field("tls", &self.tls)
            .field("header_read_timeout", &self.header_read_timeout)
            .field("body_read_timeout", &self.body_read_timeout)
            .field("max_connections", &self.max_connections)
            .field("max_batch_size", &self.max_batch_size)
            .field("enable_model_warmup", &self.enable_model_warmup)
            .field("warmup_request_iterations", &self.warmup_request_iterations)
            .field("warmup_synthesized", &self.warmup_synthesized)
            .finish_non_exhaustive()
    }
}

/// Default [`ServerConfig::header_read_timeout`]: hyper's own default, long enough
/// for clients that keep connections in a pool between requests.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Default [`ServerConfig::body_read_timeout`]: a 256 MiB body at about 4.5 MB/s.
pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(60);

/// Default [`ServerConfig::max_connections`], per port.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

impl ServerConfig {
    pub fn new(models: Vec<ModelSource>, loader: Loader) -> ServerConfig {
        let workers = WorkerOptions::default();
        let cores = std::thread::available_parallelism()
            .map(usize::from)
            .unwrap_or(2);
        ServerConfig {
            models,
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            grpc_port: Some(8500),
            rest_port: Some(8501),
            poll_interval: Some(Duration::from_secs(1)),
            rest_timeout: Some(Duration::from_secs(30)),
            max_request_bytes: DEFAULT_MAX_REQUEST_BYTES,
            rest_one_pass_json: true,
            grpc_max_message_bytes: DEFAULT_MAX_REQUEST_BYTES,
            // Requests block in TensorFlow, which has its own thread pools:
            // more callers than cores keep them busy (see docs/server.md).
            model_threads: (cores * 4).clamp(4, 32),
            queue_capacity: workers.queue_capacity,
            wait_for_models: true,
            tls: None,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            body_read_timeout: Some(DEFAULT_BODY_READ_TIMEOUT),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_batch_size: DEFAULT_MAX_BATCH_SIZE,
            enable_model_warmup: true,
            warmup_request_iterations: 1,
            warmup_synthesized: false,
            loader,
        }
    }
}

/// How often an idle gRPC connection is pinged, and how long the answer may take.
const GRPC_KEEPALIVE_INTERVAL: Duration = Duration::from_secs(60);
const GRPC_KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(20);

/// Wakes the polling thread early (shutdown).
#[derive(Default)]
struct StopFlag {
    stopped: Mutex<bool>,
    wake: Condvar,
}

impl StopFlag {
    fn stop(&self) {
        *self
            .stopped
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = true;
        self.wake.notify_all();
    }

    /// Sleeps up to `interval`; true once stopped.
    fn wait(&self, interval: Duration) -> bool {
        let guard = self
            .stopped
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (guard, _) = self
            .wake
            .wait_timeout_while(guard, interval, |stopped| !*stopped)
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *guard
    }
}

/// A running server. Dropping it stops the server without waiting;
/// [`ServerHandle::shutdown`] stops it gracefully.
pub struct ServerHandle {
    rest_addr: Option<SocketAddr>,
    grpc_addr: Option<SocketAddr>,
    shared: Arc<Shared>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    stop: Arc<StopFlag>,
    poller: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerHandle")
            .field("rest_addr", &self.rest_addr)
            .field("grpc_addr", &self.grpc_addr)
            .finish_non_exhaustive()
    }
}

impl ServerHandle {
    /// The bound REST address (the real port when 0 was asked for).
    pub fn rest_addr(&self) -> Option<SocketAddr> {
        self.rest_addr
    }

    /// The bound gRPC address.
    pub fn grpc_addr(&self) -> Option<SocketAddr> {
        self.grpc_addr
    }

    /// Every model and its versions' states.
    pub fn models(&self) -> Vec<ModelStatus> {
        self.shared.manager.snapshot()
    }

    /// Whether every model has a version serving.
    pub fn ready(&self) -> bool {
        self.shared.manager.all_available()
    }

    /// The Prometheus text the metrics endpoint serves.
    pub fn metrics_text(&self) -> String {
        self.shared.metrics.render()
    }

    /// Resolves once a shutdown has been asked for (by `shutdown`, a drop, or Ctrl-C in the CLI).
    pub fn stopping(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut receiver = self.shutdown.subscribe();
        async move {
            let _ = receiver.wait_for(|stopped| *stopped).await;
        }
    }

    /// Stops accepting connections, lets in-flight requests finish (up to
    /// `grace`), stops polling and unloads every version.
    pub async fn shutdown_with_grace(mut self, grace: Duration) {
        let _ = self.shutdown.send(true);
        self.stop.stop();
        let mut tasks = std::mem::take(&mut self.tasks);
        let drained = tokio::time::timeout(grace, async {
            for task in &mut tasks {
                let _ = task.await;
            }
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                "in-flight requests did not finish within {} ms; closing anyway",
                grace.as_millis()
            );
            // Otherwise the servers would keep running after `shutdown` returned.
            for task in &tasks {
                task.abort();
            }
        }
        let poller = self.poller.take();
        let manager = Arc::clone(&self.shared.manager);
        let _ = tokio::task::spawn_blocking(move || {
            if let Some(poller) = poller {
                let _ = poller.join();
            }
            manager.unload_all();
        })
        .await;
    }

    /// [`shutdown_with_grace`](Self::shutdown_with_grace) with 10 seconds.
    pub async fn shutdown(self) {
        self.shutdown_with_grace(Duration::from_secs(10)).await;
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        self.stop.stop();
        for task in &self.tasks {
            task.abort();
        }
    }
}

fn check_config(config: &ServerConfig) -> Result<(), ServeError> {
    if config.models.is_empty() {
        return Err(ServeError::config(
            "no model to serve: give --model_name and --model_base_path, or --model_config_file",
        ));
    }
    for (index, model) in config.models.iter().enumerate() {
        if model.name.is_empty() || model.name.contains(['/', ':']) {
            return Err(ServeError::config(format!(
                "model name {:?} is not usable in REST paths (empty, or contains '/' or ':')",
                model.name
            )));
        }
        if config.models[..index]
            .iter()
            .any(|other| other.name == model.name)
        {
            return Err(ServeError::config(format!(
                "Illegal to list model {} multiple times in config list",
                model.name
            )));
        }
    }
    if config.grpc_port.is_none() && config.rest_port.is_none() {
        return Err(ServeError::config(
            "both the gRPC and the REST port are disabled",
        ));
    }
    Ok(())
}

async fn bind(
    host: IpAddr,
    port: Option<u16>,
) -> Result<Option<tokio::net::TcpListener>, ServeError> {
    let Some(port) = port else { return Ok(None) };
    let addr = SocketAddr::new(host, port);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })?;
    Ok(Some(listener))
}

fn shown_host(addr: SocketAddr) -> String {
    if addr.ip().is_loopback() && addr.ip().is_ipv4() {
        format!("localhost:{}", addr.port())
    } else {
        addr.to_string()
    }
}

/// The warning a server listening on `host` logs, if it is reachable from other machines.
pub fn exposure_warning(host: IpAddr, tls: bool) -> Option<String> {
    if host.is_loopback() {
        return None;
    }
    let plain_text = if tls {
        ""
    } else {
        ", in plain text (add --ssl_config_file, or --ssl_cert_file and --ssl_key_file, for TLS)"
    };
    Some(format!(
        "listening on {host} makes the models reachable from other machines{plain_text}; use --host 127.0.0.1 to keep them local"
    ))
}

/// Starts a server on the current tokio runtime: binds the ports, loads the
/// models (see [`ServerConfig::wait_for_models`]), then serves until shut down.
pub async fn start(config: ServerConfig) -> Result<ServerHandle, ServeError> {
    check_config(&config)?;
    if let Some(warning) = exposure_warning(config.host, config.tls.is_some()) {
        tracing::warn!("{warning}");
    }
    let grpc_listener = bind(config.host, config.grpc_port).await?;
    let rest_listener = bind(config.host, config.rest_port).await?;
    let local =
        |listener: &Option<tokio::net::TcpListener>| -> Result<Option<SocketAddr>, ServeError> {
            listener
                .as_ref()
                .map(|listener| {
                    listener
                        .local_addr()
                        .map_err(|err| ServeError::internal(format!("local address: {err}")))
                })
                .transpose()
        };
    let grpc_addr = local(&grpc_listener)?;
    let rest_addr = local(&rest_listener)?;

    let metrics = Arc::new(Metrics::new());
    tracing::info!("Adding/updating models.");
    for model in &config.models {
        tracing::info!("(Re-)adding model: {}", model.name);
    }
    let worker_options = WorkerOptions {
        threads: config.model_threads,
        queue_capacity: config.queue_capacity,
    };
    let manager = Arc::new(ModelManager::new(
        config.models.clone(),
        Arc::clone(&config.loader),
        Arc::clone(&metrics),
        worker_options,
        warmup::hook(warmup::WarmupOptions {
            enabled: config.enable_model_warmup,
            request_iterations: config.warmup_request_iterations,
            synthesized: config.warmup_synthesized,
            limits: predict::RequestLimits {
                max_decoded_bytes: config.grpc_max_message_bytes as u64,
                max_batch_size: config.max_batch_size,
            },
        }),
    ));
    let shared = Arc::new(Shared {
        manager: Arc::clone(&manager),
        metrics,
        rest_timeout: config.rest_timeout,
        max_batch_size: config.max_batch_size,
        max_request_bytes: config.max_request_bytes,
        rest_one_pass_json: config.rest_one_pass_json,
    });

    let stop = Arc::new(StopFlag::default());
    let first_poll = {
        let manager = Arc::clone(&manager);
        tokio::task::spawn_blocking(move || manager.poll())
    };
    let poll_interval = config.poll_interval;
    let poller_start = if config.wait_for_models {
        let _ = first_poll.await;
        None
    } else {
        Some(first_poll)
    };
    let poller = {
        let manager = Arc::clone(&manager);
        let stop = Arc::clone(&stop);
        let runtime = tokio::runtime::Handle::current();
        std::thread::Builder::new()
            .name("tfprobe-versions".into())
            .spawn(move || {
                if let Some(first) = poller_start {
                    let _ = runtime.block_on(first);
                }
                let Some(interval) = poll_interval else {
                    return;
                };
                while !stop.wait(interval) {
                    manager.poll();
                }
            })
            .map_err(|err| {
                ServeError::internal(format!("cannot start the version poller: {err}"))
            })?
    };

    let (shutdown, _) = watch::channel(false);
    let mut tasks = Vec::new();
    let limits = listen::ConnLimits {
        header_read_timeout: config.header_read_timeout,
        body_read_timeout: config.body_read_timeout,
        max_connections: config.max_connections,
    };
    if let Some(tls) = &config.tls {
        tracing::info!(
            "TLS on both ports, certificate from {}{}",
            tls.source(),
            if tls.client_verify() {
                "; clients must present a certificate signed by the custom CA"
            } else {
                ""
            }
        );
    }
    if let Some(listener) = grpc_listener {
        let (reporter, health) = tonic_health::server::health_reporter();
        reporter
            .set_serving::<PredictionServiceServer<grpc::TfServing>>()
            .await;
        reporter
            .set_serving::<ModelServiceServer<grpc::TfServing>>()
            .await;
        let reflection = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(crate::pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1()
            .map_err(|err| ServeError::internal(format!("gRPC reflection: {err}")))?;
        let reflection_alpha = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(crate::pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1alpha()
            .map_err(|err| ServeError::internal(format!("gRPC reflection: {err}")))?;
        let routes = grpc::services(&shared, config.grpc_max_message_bytes)
            .add_service(health)
            .add_service(reflection)
            .add_service(reflection_alpha);
        let tls = config
            .tls
            .as_ref()
            .map(|tls| tokio_rustls::TlsAcceptor::from(tls.rustls_config(&[b"h2"])));
        let secure = if tls.is_some() { " (TLS)" } else { "" };
        let (conns, acceptor) = listen::spawn_acceptor(
            listener,
            tls,
            listen::Api::Grpc,
            &limits,
            shutdown.subscribe(),
        );
        tasks.push(acceptor);
        // Logged before the task starts: the listener is bound, so a client that reads this
        // line may connect at once, and no answer can come before the line is written.
        tracing::info!(
            "Running gRPC ModelServer at {}{secure} ...",
            shown_addr(grpc_addr)
        );
        let mut signal = shutdown.subscribe();
        tasks.push(tokio::spawn(async move {
            let stopped = async move {
                let _ = signal.wait_for(|stopped| *stopped).await;
            };
            let incoming = tokio_stream::StreamExt::map(
                tokio_stream::wrappers::ReceiverStream::new(conns),
                Ok::<_, std::io::Error>,
            );
            let served = tonic::transport::Server::builder()
                // Pings find peers that vanished without closing (and clients that
                // stopped reading); without them such connections stay open for good.
                .http2_keepalive_interval(Some(GRPC_KEEPALIVE_INTERVAL))
                .http2_keepalive_timeout(Some(GRPC_KEEPALIVE_TIMEOUT))
                .add_routes(routes)
                .serve_with_incoming_shutdown(incoming, stopped)
                .await;
            if let Err(err) = served {
                tracing::error!("gRPC server stopped: {err}");
            }
        }));
    }
    if let Some(listener) = rest_listener {
        let app = rest::router(Arc::clone(&shared));
        let tls = config
            .tls
            .as_ref()
            .map(|tls| tokio_rustls::TlsAcceptor::from(tls.rustls_config(&[b"http/1.1"])));
        let secure = if tls.is_some() { " (https, TLS)" } else { "" };
        let (conns, acceptor) = listen::spawn_acceptor(
            listener,
            tls,
            listen::Api::Rest,
            &limits,
            shutdown.subscribe(),
        );
        tasks.push(acceptor);
        tracing::info!(
            "Exporting HTTP/REST API at:{}{secure} ...",
            shown_addr(rest_addr)
        );
        tasks.push(tokio::spawn(listen::serve_rest(
            conns,
            app,
            limits.clone(),
            shutdown.subscribe(),
        )));
    }
    Ok(ServerHandle {
        rest_addr,
        grpc_addr,
        shared,
        shutdown,
        tasks,
        stop,
        poller: Some(poller),
    })
}

fn shown_addr(addr: Option<SocketAddr>) -> String {
    addr.map(shown_host).unwrap_or_default()
}
