//! Clients of TF Serving-compatible servers: one [`ModelClient`] trait with a REST
//! (reqwest) and a gRPC (tonic) implementation, the connection settings they share,
//! latency statistics, a load generator (`tfprobe bench`) and "copy as code" snippets.
//!
//! ```no_run
//! # async fn demo() -> Result<(), tfprobe::client::ClientError> {
//! use tfprobe::client::{Client, ClientConfig, ModelClient, Protocol};
//! let config = ClientConfig::parse_target("localhost:8501", Protocol::Rest)?.with_model("resnet");
//! let client = Client::connect(&config)?;
//! let info = client.metadata().await?;
//! println!("{:?}", info.serving_meta_graph().map(|graph| graph.signature_keys()));
//! # Ok(()) }
//! ```

pub mod bench;
mod error;
mod grpc;
mod metadata;
mod rest;
mod rest_json;
pub mod snippets;
pub mod stats;
mod tls;

pub use error::{ClientError, code_for_http_status};
pub use grpc::GrpcClient;
pub use metadata::{VersionState, model_info_from_signature_defs};
pub use rest::RestClient;
pub use rest_json::{decode_predict_response, encode_predict_request};

use crate::model::SavedModelInfo;
use crate::runtime::NamedTensors;
use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

/// Which API to speak.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// TF Serving's REST API (port 8501 by convention).
    #[default]
    Rest,
    /// TF Serving's gRPC API (port 8500 by convention).
    Grpc,
}

impl Protocol {
    pub fn default_port(self) -> u16 {
        match self {
            Protocol::Rest => 8501,
            Protocol::Grpc => 8500,
        }
    }
}

/// Which version of the model to ask for.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VersionSelector {
    /// The server's choice (the latest available version).
    #[default]
    Latest,
    Version(i64),
    /// A version label (`stable`, `canary`, ...).
    Label(String),
}

/// TLS settings. Without a CA file, the system's trusted roots are used.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct TlsOptions {
    /// A PEM file with the CA certificate(s) to trust (in addition to the system's).
    pub ca_file: Option<PathBuf>,
    /// Skip certificate verification entirely. Only for testing.
    pub accept_invalid_certs: bool,
    /// The name to verify the certificate against (default: the host).
    pub server_name: Option<String>,
    /// A certificate to present, for servers that require one (mutual TLS).
    pub client_identity: Option<ClientIdentity>,
}

/// A client certificate and its key, as PEM files; one type so that a certificate
/// without its key (or the reverse) cannot be configured.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ClientIdentity {
    /// The client certificate, followed by any intermediate certificates.
    pub cert_file: PathBuf,
    /// The certificate's private key (PKCS#8, PKCS#1 RSA or SEC1 EC).
    pub key_file: PathBuf,
}

/// Everything needed to reach one model on one server.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ClientConfig {
    pub host: String,
    pub port: u16,
    pub protocol: Protocol,
    pub model_name: String,
    pub version: VersionSelector,
    /// The signature to run; `None` means the server's default (`serving_default`).
    pub signature: Option<String>,
    /// Deadline of one call (connecting included).
    pub timeout: Duration,
    /// Deadline of connecting alone.
    pub connect_timeout: Duration,
    /// `Some` to use TLS (https / gRPC over TLS).
    pub tls: Option<TlsOptions>,
    /// Extra HTTP headers (REST) or gRPC metadata, sent with every call.
    pub headers: Vec<(String, String)>,
}

impl ClientConfig {
    pub fn new(host: impl Into<String>, port: u16, protocol: Protocol) -> ClientConfig {
        ClientConfig {
            host: host.into(),
            port,
            protocol,
            model_name: String::new(),
            version: VersionSelector::Latest,
            signature: None,
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            tls: None,
            headers: Vec::new(),
        }
    }

    /// Reads `HOST:PORT`, `HOST` (the protocol's usual port), `[::1]:PORT`, or a URL
    /// (`http://`, `https://` — which turns TLS on — or `grpc://`, `grpcs://`).
    pub fn parse_target(target: &str, protocol: Protocol) -> Result<ClientConfig, ClientError> {
        let target = target.trim();
        let (rest, tls, protocol) = match target.split_once("://") {
            Some((scheme, rest)) => match scheme.to_ascii_lowercase().as_str() {
                "http" => (rest, false, protocol),
                "https" => (rest, true, protocol),
                "grpc" => (rest, false, Protocol::Grpc),
                "grpcs" => (rest, true, Protocol::Grpc),
                other => {
                    return Err(ClientError::Config(format!(
                        "unknown scheme '{other}://' in '{target}'"
                    )));
                }
            },
            None => (target, false, protocol),
        };
        let authority = rest.split('/').next().unwrap_or_default();
        if authority.is_empty() {
            return Err(ClientError::Config(format!(
                "no host in '{target}' (expected HOST:PORT)"
            )));
        }
        let (host, port) = if let Some(stripped) = authority.strip_prefix('[') {
            let (host, after) = stripped
                .split_once(']')
                .ok_or_else(|| ClientError::Config(format!("unclosed '[' in '{target}'")))?;
            match after.strip_prefix(':') {
                Some(port) => (host.to_string(), Some(port)),
                None if after.is_empty() => (host.to_string(), None),
                None => {
                    return Err(ClientError::Config(format!(
                        "unexpected '{after}' after ']' in '{target}'"
                    )));
                }
            }
        } else {
            match authority.rsplit_once(':') {
                Some((host, port)) if !host.contains(':') => (host.to_string(), Some(port)),
                _ => (authority.to_string(), None),
            }
        };
        let port = match port {
            Some(text) => text
                .parse::<u16>()
                .map_err(|_| ClientError::Config(format!("bad port '{text}' in '{target}'")))?,
            None => protocol.default_port(),
        };
        let mut config = ClientConfig::new(host, port, protocol);
        if tls {
            config.tls = Some(TlsOptions::default());
        }
        Ok(config)
    }

    pub fn with_model(mut self, name: impl Into<String>) -> ClientConfig {
        self.model_name = name.into();
        self
    }

    /// `host:port` with IPv6 addresses bracketed.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// `http://host:port` or `https://host:port`.
    pub fn base_url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.authority())
    }

    /// Whether a client certificate is configured (mutual TLS).
    pub fn presents_client_cert(&self) -> bool {
        self.tls
            .as_ref()
            .is_some_and(|tls| tls.client_identity.is_some())
    }

    /// The signature key sent on the wire (empty = the server's default).
    pub fn signature_or_empty(&self) -> &str {
        self.signature.as_deref().unwrap_or("")
    }

    pub(crate) fn check(&self) -> Result<(), ClientError> {
        if self.model_name.is_empty() {
            return Err(ClientError::Config(
                "no model name given (TF Serving's APIs cannot list models; pass --model_name)"
                    .into(),
            ));
        }
        if self.host.is_empty() {
            return Err(ClientError::Config("no host given".into()));
        }
        Ok(())
    }
}

/// The outputs of one predict call and what the server said it ran.
#[derive(Clone, Debug, PartialEq)]
pub struct PredictResult {
    pub outputs: NamedTensors,
    /// The version that answered (gRPC says; REST does not).
    pub model_version: Option<i64>,
    /// The signature that ran, when the server says.
    pub signature_name: Option<String>,
}

/// A request encoded once and sent many times (benchmarks, repeated runs).
#[derive(Clone, Debug)]
pub enum PreparedRequest {
    /// The JSON body of `POST .../models/NAME:predict`.
    Rest { url: String, body: bytes::Bytes },
    /// A gRPC `PredictRequest`.
    Grpc(Box<crate::pb::tensorflow::serving::PredictRequest>),
}

/// The three calls every TF Serving client makes. Futures are `Send`, so calls can
/// run on any tokio runtime thread.
pub trait ModelClient: Send + Sync {
    /// `GetModelStatus` / `GET /v1/models/NAME`: the versions and their states.
    fn status(&self) -> impl Future<Output = Result<Vec<VersionState>, ClientError>> + Send;

    /// `GetModelMetadata` / `GET .../metadata`, as tfprobe's signature tree: one
    /// MetaGraph tagged `serve` holding the signatures, and the version served.
    fn metadata(&self) -> impl Future<Output = Result<SavedModelInfo, ClientError>> + Send;

    /// `Predict` / `POST ...:predict` with named inputs; `output_filter` selects
    /// outputs (empty: all).
    fn predict(
        &self,
        inputs: NamedTensors,
        output_filter: &[String],
    ) -> impl Future<Output = Result<PredictResult, ClientError>> + Send;

    /// Encodes a predict request once, for [`ModelClient::send_prepared`].
    fn prepare(&self, inputs: &NamedTensors) -> Result<PreparedRequest, ClientError>;

    /// Sends a prepared request and checks that the server answered with success;
    /// returns the response size in bytes (the body is not decoded).
    fn send_prepared(
        &self,
        request: &PreparedRequest,
    ) -> impl Future<Output = Result<usize, ClientError>> + Send;
}

/// A REST or gRPC client, chosen by [`ClientConfig::protocol`].
#[derive(Clone, Debug)]
pub enum Client {
    Rest(RestClient),
    Grpc(GrpcClient),
}

impl Client {
    /// Builds the client; nothing is sent until the first call (gRPC connects lazily).
    pub fn connect(config: &ClientConfig) -> Result<Client, ClientError> {
        config.check()?;
        Ok(match config.protocol {
            Protocol::Rest => Client::Rest(RestClient::new(config)?),
            Protocol::Grpc => Client::Grpc(GrpcClient::new(config)?),
        })
    }

    pub fn config(&self) -> &ClientConfig {
        match self {
            Client::Rest(client) => client.config(),
            Client::Grpc(client) => client.config(),
        }
    }
}

impl ModelClient for Client {
    async fn status(&self) -> Result<Vec<VersionState>, ClientError> {
        match self {
            Client::Rest(client) => client.status().await,
            Client::Grpc(client) => client.status().await,
        }
    }

    async fn metadata(&self) -> Result<SavedModelInfo, ClientError> {
        match self {
            Client::Rest(client) => client.metadata().await,
            Client::Grpc(client) => client.metadata().await,
        }
    }

    async fn predict(
        &self,
        inputs: NamedTensors,
        output_filter: &[String],
    ) -> Result<PredictResult, ClientError> {
        match self {
            Client::Rest(client) => client.predict(inputs, output_filter).await,
            Client::Grpc(client) => client.predict(inputs, output_filter).await,
        }
    }

    fn prepare(&self, inputs: &NamedTensors) -> Result<PreparedRequest, ClientError> {
        match self {
            Client::Rest(client) => client.prepare(inputs),
            Client::Grpc(client) => client.prepare(inputs),
        }
    }

    async fn send_prepared(&self, request: &PreparedRequest) -> Result<usize, ClientError> {
        match self {
            Client::Rest(client) => client.send_prepared(request).await,
            Client::Grpc(client) => client.send_prepared(request).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_like_people_write_them() {
        let config = ClientConfig::parse_target("localhost:8501", Protocol::Rest).unwrap();
        assert_eq!(
            (config.host.as_str(), config.port, config.tls.is_none()),
            ("localhost", 8501, true)
        );
        let config = ClientConfig::parse_target("127.0.0.1", Protocol::Grpc).unwrap();
        assert_eq!(config.port, 8500);
        let config =
            ClientConfig::parse_target("https://models.example:443/v1", Protocol::Rest).unwrap();
        assert_eq!((config.port, config.tls.is_some()), (443, true));
        assert_eq!(config.base_url(), "https://models.example:443");
        let config = ClientConfig::parse_target("[::1]:9000", Protocol::Rest).unwrap();
        assert_eq!((config.host.as_str(), config.port), ("::1", 9000));
        assert_eq!(config.authority(), "[::1]:9000");
        let config = ClientConfig::parse_target("grpcs://h", Protocol::Rest).unwrap();
        assert_eq!(
            (config.protocol, config.port, config.tls.is_some()),
            (Protocol::Grpc, 8500, true)
        );
        for bad in ["", "h:notaport", "ftp://h:1", "[::1"] {
            assert!(
                ClientConfig::parse_target(bad, Protocol::Rest).is_err(),
                "{bad}"
            );
        }
        let err = Client::connect(&ClientConfig::new("h", 1, Protocol::Rest)).unwrap_err();
        assert!(err.to_string().contains("--model_name"), "{err}");
    }
}
