//! The connection settings every client shares: protocol, target, model and
//! version, TLS. Below `grpc`, `rest`, `tls` and `snippets`, which all read it.

use super::error::ClientError;
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
