//! Where a request runs, behind one trait: the local TensorFlow backend (`predict
//! --model`), the embedded server, or a remote TF Serving-compatible server over REST
//! or gRPC (`predict --server`, the app's connect dialog). Callers pick a target once
//! and run every request, ranking and latency run the same way on each.

use super::WorkflowError;
use super::image_request::Request;
use crate::client::{Client, ClientConfig, ModelClient, PreparedRequest, Protocol, TlsOptions};
use crate::model::SavedModelInfo;
use crate::runtime::{Backend, LoadOptions, NamedTensors, TfBackend};
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What a target answered.
#[derive(Clone, Debug, PartialEq)]
pub struct Answer {
    pub outputs: NamedTensors,
    /// The version that answered, when the target says (local models and gRPC do).
    pub model_version: Option<i64>,
    /// From sending the request to having the outputs decoded.
    pub latency_ms: f64,
}

/// A request encoded once for a target and sent many times (latency runs).
#[derive(Clone, Debug)]
pub enum Prepared {
    Local(Request),
    Server(Box<PreparedRequest>),
}

/// A place that runs requests. Futures are `Send`: any tokio worker may drive them.
pub trait Target: Clone + Send + Sync + 'static {
    /// The model's signature tree as this target describes it.
    fn model(&self) -> impl Future<Output = Result<SavedModelInfo, WorkflowError>> + Send;

    /// Runs one request and decodes the outputs.
    fn run(&self, request: &Request) -> impl Future<Output = Result<Answer, WorkflowError>> + Send;

    /// Encodes `request` once for [`Target::send_prepared`].
    fn prepare(&self, request: &Request) -> Result<Prepared, WorkflowError>;

    /// Sends a prepared request and waits for success (outputs are not decoded).
    fn send_prepared(
        &self,
        prepared: &Prepared,
    ) -> impl Future<Output = Result<(), WorkflowError>> + Send;
}

/// A model loaded into this process with the TensorFlow backend.
#[derive(Clone)]
pub struct LocalTarget {
    backend: Arc<dyn Backend>,
    /// How long loading took (libtensorflow, if it was not loaded, included).
    pub load_ms: f64,
}

impl LocalTarget {
    /// Loads the TensorFlow runtime (once per process) and the model in `dir`
    /// (a version folder or a base path). Blocking: call it off the UI thread.
    pub fn load(dir: &Path, options: &LoadOptions) -> Result<LocalTarget, WorkflowError> {
        let started = Instant::now();
        crate::runtime::library::ensure_loaded()?;
        let backend = TfBackend::load(dir, options)?;
        Ok(LocalTarget {
            backend: Arc::new(backend),
            load_ms: started.elapsed().as_secs_f64() * 1000.0,
        })
    }

    /// A target over any backend (tests use stand-ins).
    pub fn from_backend(backend: Arc<dyn Backend>) -> LocalTarget {
        LocalTarget {
            backend,
            load_ms: 0.0,
        }
    }

    pub fn info(&self) -> &SavedModelInfo {
        self.backend.model()
    }

    async fn run_blocking(&self, request: Request) -> Result<NamedTensors, WorkflowError> {
        let backend = Arc::clone(&self.backend);
        tokio::task::spawn_blocking(move || {
            backend.run(&request.signature_key, request.inputs, &[])
        })
        .await
        .map_err(|join| WorkflowError::interrupted("the model run", join))?
        .map_err(WorkflowError::from)
    }
}

impl Target for LocalTarget {
    async fn model(&self) -> Result<SavedModelInfo, WorkflowError> {
        Ok(self.backend.model().clone())
    }

    async fn run(&self, request: &Request) -> Result<Answer, WorkflowError> {
        let started = Instant::now();
        let outputs = self.run_blocking(request.clone()).await?;
        Ok(Answer {
            outputs,
            model_version: self.backend.model().version,
            latency_ms: started.elapsed().as_secs_f64() * 1000.0,
        })
    }

    fn prepare(&self, request: &Request) -> Result<Prepared, WorkflowError> {
        Ok(Prepared::Local(request.clone()))
    }

    async fn send_prepared(&self, prepared: &Prepared) -> Result<(), WorkflowError> {
        match prepared {
            Prepared::Local(request) => self.run_blocking(request.clone()).await.map(drop),
            Prepared::Server(_) => Err(WorkflowError::Setting(
                "a request prepared for a server was sent to a local model".into(),
            )),
        }
    }
}

/// A TF Serving-compatible server (remote, or the embedded one) over REST or gRPC.
#[derive(Clone, Debug)]
pub struct ServerTarget {
    client: Client,
}

impl ServerTarget {
    /// A client for `config`; nothing is sent until the first call.
    pub fn connect(config: &ClientConfig) -> Result<ServerTarget, WorkflowError> {
        Ok(ServerTarget {
            client: Client::connect(config)?,
        })
    }

    pub fn config(&self) -> &ClientConfig {
        self.client.config()
    }

    /// The client for one signature (the request names it on the wire).
    fn for_signature(&self, signature_key: &str) -> Client {
        self.client.with_signature(Some(signature_key.to_string()))
    }
}

impl Target for ServerTarget {
    async fn model(&self) -> Result<SavedModelInfo, WorkflowError> {
        Ok(self.client.metadata().await?)
    }

    async fn run(&self, request: &Request) -> Result<Answer, WorkflowError> {
        let client = self.for_signature(&request.signature_key);
        let started = Instant::now();
        let answer = client.predict(request.inputs.clone(), &[]).await?;
        Ok(Answer {
            outputs: answer.outputs,
            model_version: answer.model_version,
            latency_ms: started.elapsed().as_secs_f64() * 1000.0,
        })
    }

    fn prepare(&self, request: &Request) -> Result<Prepared, WorkflowError> {
        let client = self.for_signature(&request.signature_key);
        Ok(Prepared::Server(Box::new(client.prepare(&request.inputs)?)))
    }

    async fn send_prepared(&self, prepared: &Prepared) -> Result<(), WorkflowError> {
        match prepared {
            Prepared::Server(request) => Ok(self.client.send_prepared(request).await.map(drop)?),
            Prepared::Local(_) => Err(WorkflowError::Setting(
                "a request prepared for a local model was sent to a server".into(),
            )),
        }
    }
}

/// Either kind of target, for front ends that switch between them at run time.
#[derive(Clone)]
pub enum AnyTarget {
    Local(LocalTarget),
    // Boxed: a ServerTarget (clients, settings) is far larger than a LocalTarget.
    Server(Box<ServerTarget>),
}

impl Target for AnyTarget {
    async fn model(&self) -> Result<SavedModelInfo, WorkflowError> {
        match self {
            AnyTarget::Local(target) => target.model().await,
            AnyTarget::Server(target) => target.model().await,
        }
    }

    async fn run(&self, request: &Request) -> Result<Answer, WorkflowError> {
        match self {
            AnyTarget::Local(target) => target.run(request).await,
            AnyTarget::Server(target) => target.run(request).await,
        }
    }

    fn prepare(&self, request: &Request) -> Result<Prepared, WorkflowError> {
        match self {
            AnyTarget::Local(target) => target.prepare(request),
            AnyTarget::Server(target) => target.prepare(request),
        }
    }

    async fn send_prepared(&self, prepared: &Prepared) -> Result<(), WorkflowError> {
        match self {
            AnyTarget::Local(target) => target.send_prepared(prepared).await,
            AnyTarget::Server(target) => target.send_prepared(prepared).await,
        }
    }
}

/// Where the embedded server listens, once it does.
#[derive(Clone, Debug, PartialEq)]
pub struct EmbeddedEndpoints {
    pub rest: Option<SocketAddr>,
    pub grpc: Option<SocketAddr>,
    pub model_name: String,
    /// The certificate clients trust when the server speaks TLS; `None`: plain.
    pub tls_cert: Option<PathBuf>,
}

/// Deadline of one call to the embedded server: it runs on this machine, but a first
/// run of a big model includes TensorFlow's graph optimisation.
const EMBEDDED_TIMEOUT: Duration = Duration::from_secs(60);

impl EmbeddedEndpoints {
    /// The client settings that reach the embedded server with `protocol` (the other
    /// protocol when that one is off).
    pub fn client_config(&self, protocol: Protocol) -> Option<ClientConfig> {
        let (addr, protocol) = match (protocol, self.rest, self.grpc) {
            (Protocol::Grpc, _, Some(grpc)) => (grpc, Protocol::Grpc),
            (_, Some(rest), _) => (rest, Protocol::Rest),
            (_, None, Some(grpc)) => (grpc, Protocol::Grpc),
            (_, None, None) => return None,
        };
        let mut config = ClientConfig::parse_target(&reachable(addr), protocol)
            .ok()?
            .with_model(self.model_name.clone());
        config.timeout = EMBEDDED_TIMEOUT;
        config.tls = self.tls_cert.as_deref().map(trust_certificate);
        Some(config)
    }
}

impl EmbeddedEndpoints {
    /// The server's address for status lines: its REST URL, else its gRPC one.
    pub fn url(&self) -> String {
        let tls = self.tls_cert.is_some();
        match (self.rest, self.grpc) {
            (Some(rest), _) => rest_base_url(rest, tls),
            (None, Some(grpc)) => {
                let scheme = if tls { "grpcs" } else { "grpc" };
                format!("{scheme}://{}", reachable(grpc))
            }
            (None, None) => String::new(),
        }
    }
}

/// `https://127.0.0.1:8501` (or http) for a REST listener.
pub fn rest_base_url(addr: SocketAddr, tls: bool) -> String {
    let scheme = if tls { "https" } else { "http" };
    format!("{scheme}://{}", reachable(addr))
}

/// An address clients can dial: a wildcard listener (0.0.0.0, ::) is reached over
/// loopback.
pub fn reachable(addr: SocketAddr) -> String {
    if addr.ip().is_unspecified() {
        let loopback = if addr.is_ipv4() { "127.0.0.1" } else { "[::1]" };
        format!("{loopback}:{}", addr.port())
    } else {
        addr.to_string()
    }
}

/// Clients of a server started with `cert_file` trust that file as their CA: right for
/// a self-signed certificate (the usual local test server) and for a chain file that
/// ends with its CA, with no second file to keep in step.
pub fn trust_certificate(cert_file: &Path) -> TlsOptions {
    TlsOptions {
        ca_file: Some(cert_file.to_path_buf()),
        accept_invalid_certs: false,
        server_name: None,
        client_identity: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_clients_dial_loopback_with_the_protocol_asked_or_the_one_on() {
        let endpoints = EmbeddedEndpoints {
            rest: Some("0.0.0.0:8501".parse().unwrap()),
            grpc: None,
            model_name: "demo".into(),
            tls_cert: Some(PathBuf::from("cert.pem")),
        };
        let config = endpoints.client_config(Protocol::Grpc).unwrap();
        assert_eq!(
            (
                config.protocol,
                config.authority(),
                config.model_name.as_str()
            ),
            (Protocol::Rest, "127.0.0.1:8501".to_string(), "demo")
        );
        assert_eq!(
            config.tls.and_then(|tls| tls.ca_file),
            Some(PathBuf::from("cert.pem"))
        );
        assert_eq!(reachable("[::]:9".parse().unwrap()), "[::1]:9");
        assert_eq!(endpoints.url(), "https://127.0.0.1:8501");
        let grpc_only = EmbeddedEndpoints {
            rest: None,
            grpc: endpoints.rest,
            ..endpoints
        };
        assert_eq!(grpc_only.url(), "grpcs://127.0.0.1:8501");
    }
}
