//! What is saved between runs ([`Persisted`], through eframe's storage, every field
//! defaulted so old or partial saves still load), and the settings types it holds: the
//! Connect dialog's endpoints, the embedded server's, Try it's and the latency run's.

use crate::client::{ClientConfig, ClientIdentity, Protocol, TlsOptions, VersionSelector};
use crate::imaging::ImageOptions;
use crate::model::SignatureInfo;
use crate::workflow::WorkflowError;
use crate::workflow::classify::Ranking;
use crate::workflow::image_request::{self, ImagePlan, InputMode};
use crate::workflow::serve::TlsFiles;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Most entries kept in the Recent lists.
pub const MAX_RECENT: usize = 10;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ThemeChoice {
    #[default]
    System,
    Light,
    Dark,
}

impl ThemeChoice {
    pub fn preference(self) -> egui::ThemePreference {
        match self {
            ThemeChoice::System => egui::ThemePreference::System,
            ThemeChoice::Light => egui::ThemePreference::Light,
            ThemeChoice::Dark => egui::ThemePreference::Dark,
        }
    }
}

/// One remote TF Serving endpoint, as the Connect dialog edits it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConnectionSettings {
    pub host: String,
    pub port: u16,
    pub protocol: Protocol,
    pub model_name: String,
    /// A version number; empty for the latest.
    pub version: String,
    /// A version label (`stable`); used when `version` is empty.
    pub label: String,
    pub timeout_ms: u64,
    pub tls: bool,
    /// PEM file with extra CA certificates; empty for the system's roots only.
    pub ca_file: String,
    pub accept_invalid_certs: bool,
    /// PEM client certificate for servers that require one (mutual TLS); empty for none.
    pub client_cert_file: String,
    /// PEM private key of `client_cert_file`.
    pub client_key_file: String,
}

/// A PEM file field that the file picker fills in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PemFile {
    Connect(ConnectFile),
    Server(ServerFile),
}

/// The embedded server's TLS file fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerFile {
    Cert,
    Key,
}

impl PemFile {
    pub fn picker_title(self) -> &'static str {
        match self {
            PemFile::Connect(ConnectFile::CaFile) => "Choose the CA certificate (PEM)",
            PemFile::Connect(ConnectFile::ClientCert) => "Choose the client certificate (PEM)",
            PemFile::Connect(ConnectFile::ClientKey) => "Choose the client private key (PEM)",
            PemFile::Server(ServerFile::Cert) => "Choose the server certificate (PEM)",
            PemFile::Server(ServerFile::Key) => "Choose the server private key (PEM)",
        }
    }
}

/// The file fields of the Connect dialog, for the file picker to fill in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectFile {
    CaFile,
    ClientCert,
    ClientKey,
}

impl Default for ConnectionSettings {
    fn default() -> Self {
        ConnectionSettings {
            host: "localhost".into(),
            port: Protocol::Rest.default_port(),
            protocol: Protocol::Rest,
            model_name: String::new(),
            version: String::new(),
            label: String::new(),
            timeout_ms: 10_000,
            tls: false,
            ca_file: String::new(),
            accept_invalid_certs: false,
            client_cert_file: String::new(),
            client_key_file: String::new(),
        }
    }
}

impl ConnectionSettings {
    pub fn file_mut(&mut self, which: ConnectFile) -> &mut String {
        match which {
            ConnectFile::CaFile => &mut self.ca_file,
            ConnectFile::ClientCert => &mut self.client_cert_file,
            ConnectFile::ClientKey => &mut self.client_key_file,
        }
    }

    /// Checks the dialog's fields; the message names the field to fix.
    pub fn validate(&self) -> Result<(), String> {
        let settings = self;
        let host = settings.host.trim();
        if host.is_empty() {
            return Err("Host is empty: enter a host name or address, such as localhost".into());
        }
        if host.contains(char::is_whitespace) || host.contains('/') {
            return Err(format!(
                "Host '{host}' is not a host name or address (no spaces, no scheme or path)"
            ));
        }
        if settings.port == 0 {
            return Err("Port must be between 1 and 65535".into());
        }
        if settings.model_name.trim().is_empty() {
            return Err(
                "Model name is empty: TF Serving's APIs need the model's name (for example resnet)"
                    .into(),
            );
        }
        if !settings.version.trim().is_empty() && settings.version.trim().parse::<i64>().is_err() {
            return Err(format!(
                "Version '{}' is not a number (leave it empty for the latest)",
                settings.version.trim()
            ));
        }
        if settings.timeout_ms == 0 {
            return Err("Timeout must be at least 1 ms".into());
        }
        if settings.tls {
            let (cert, key) = (
                settings.client_cert_file.trim(),
                settings.client_key_file.trim(),
            );
            if cert.is_empty() != key.is_empty() {
                return Err(
                    "Client certificate and Client key go together: fill in both, or neither"
                        .into(),
                );
            }
            for (label, file) in [
                ("CA file", settings.ca_file.trim()),
                ("Client certificate", cert),
                ("Client key", key),
            ] {
                if !file.is_empty() && !std::path::Path::new(file).is_file() {
                    return Err(format!("{label} {file} does not exist"));
                }
            }
        }
        Ok(())
    }

    /// The client configuration of a remote connection.
    pub fn client_config(&self) -> ClientConfig {
        let settings = self;
        let mut config = ClientConfig::new(settings.host.trim(), settings.port, settings.protocol)
            .with_model(settings.model_name.trim());
        config.version = match (
            settings.version.trim().parse::<i64>(),
            settings.label.trim(),
        ) {
            (Ok(version), _) => VersionSelector::Version(version),
            (Err(_), "") => VersionSelector::Latest,
            (Err(_), label) => VersionSelector::Label(label.to_string()),
        };
        let timeout = Duration::from_millis(settings.timeout_ms.max(1));
        config.timeout = timeout;
        config.connect_timeout = timeout.min(Duration::from_secs(5));
        if settings.tls {
            let client_identity = match (
                non_empty_path(&settings.client_cert_file),
                non_empty_path(&settings.client_key_file),
            ) {
                (Some(cert_file), Some(key_file)) => Some(ClientIdentity {
                    cert_file,
                    key_file,
                }),
                // `validate` refuses one without the other.
                _ => None,
            };
            config.tls = Some(TlsOptions {
                ca_file: non_empty_path(&settings.ca_file),
                accept_invalid_certs: settings.accept_invalid_certs,
                server_name: None,
                client_identity,
            });
        }
        config
    }

    /// `rest://host:port/model` style text for lists and the status bar.
    pub fn title(&self) -> String {
        let scheme = match (self.protocol, self.tls) {
            (Protocol::Rest, false) => "http",
            (Protocol::Rest, true) => "https",
            (Protocol::Grpc, false) => "grpc",
            (Protocol::Grpc, true) => "grpcs",
        };
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!("{scheme}://{host}:{}/{}", self.port, self.model_name)
    }
}

fn non_empty_path(text: &str) -> Option<PathBuf> {
    Some(text.trim())
        .filter(|text| !text.is_empty())
        .map(PathBuf::from)
}

/// The embedded server's last settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServerSettings {
    /// Empty: the model folder's name.
    pub model_name: String,
    pub host: String,
    pub grpc_port: u16,
    pub rest_port: u16,
    /// Serve both ports over TLS (see `server_tls.rs`).
    pub tls: bool,
    /// PEM certificate (chain); Try it and the curl commands trust it as the CA.
    pub tls_cert_file: String,
    /// PEM private key of `tls_cert_file`.
    pub tls_key_file: String,
}

impl ServerSettings {
    pub fn file_mut(&mut self, which: ServerFile) -> &mut String {
        match which {
            ServerFile::Cert => &mut self.tls_cert_file,
            ServerFile::Key => &mut self.tls_key_file,
        }
    }

    /// The TLS files to start with (`None`: plain), or which field to fix first.
    pub fn tls_files(&self) -> Result<Option<TlsFiles>, String> {
        if !self.tls {
            return Ok(None);
        }
        Ok(Some(TlsFiles {
            cert_file: existing_file(&self.tls_cert_file, "certificate")?,
            key_file: existing_file(&self.tls_key_file, "private key")?,
        }))
    }
}

fn existing_file(text: &str, what: &str) -> Result<PathBuf, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err(format!("TLS needs a {what} file (PEM)"));
    }
    let path = PathBuf::from(text);
    if !path.is_file() {
        return Err(format!("the {what} file {} does not exist", path.display()));
    }
    Ok(path)
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            model_name: String::new(),
            host: "127.0.0.1".into(),
            grpc_port: 8500,
            rest_port: 8501,
            tls: false,
            tls_cert_file: String::new(),
            tls_key_file: String::new(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PredictSettings {
    /// Signature key; empty for `serving_default` (or the only one).
    pub signature: String,
    pub input_mode: InputMode,
    /// Pixel size (height = width) when the signature leaves it open.
    pub size: u32,
    /// Normalisation preset name (see `imaging::Normalization`); empty: the model's choice.
    pub preset: String,
    pub top_k: usize,
    /// Labels file; empty: the model's assets, else the built-in ImageNet labels.
    pub labels_file: String,
    pub protocol: Protocol,
}

impl Default for PredictSettings {
    fn default() -> Self {
        PredictSettings {
            signature: String::new(),
            input_mode: InputMode::Auto,
            size: 224,
            preset: String::new(),
            top_k: 5,
            labels_file: String::new(),
            protocol: Protocol::Rest,
        }
    }
}

impl PredictSettings {
    /// The image options these settings ask for (the model's preprocessing.json fills
    /// the rest when a request is planned).
    pub fn image_options(&self) -> Result<ImageOptions, WorkflowError> {
        let normalization = match self.preset.trim() {
            "" => None,
            preset => Some(preset.parse().map_err(WorkflowError::Setting)?),
        };
        Ok(ImageOptions {
            size: Some((self.size.max(1), self.size.max(1))),
            normalization,
            ..ImageOptions::default()
        })
    }

    /// How answers are ranked: these settings' top-k and labels file, the model's labels.
    pub fn ranking(&self, model_dir: Option<PathBuf>) -> Ranking {
        Ranking {
            top_k: self.top_k.max(1),
            output: None,
            labels_file: Some(self.labels_file.trim())
                .filter(|file| !file.is_empty())
                .map(PathBuf::from),
            model_dir,
        }
    }

    /// The plan for `signature`, reading `model_dir`'s preprocessing.json when given
    /// (file I/O: the UI thread passes `None`).
    pub fn plan(
        &self,
        signature: &SignatureInfo,
        model_dir: Option<&Path>,
    ) -> Result<ImagePlan, WorkflowError> {
        image_request::plan(signature, self.image_options()?, self.input_mode, model_dir)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LatencySettings {
    pub requests: u32,
    pub warmup: u32,
    pub concurrency: u32,
    pub protocol: Protocol,
    /// Show the histogram instead of the per-request series.
    pub histogram: bool,
}

impl Default for LatencySettings {
    fn default() -> Self {
        LatencySettings {
            requests: 200,
            warmup: 10,
            concurrency: 1,
            protocol: Protocol::Rest,
            histogram: false,
        }
    }
}

/// Everything saved between runs (window size is saved by eframe itself).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Persisted {
    pub theme: ThemeChoice,
    pub recent_models: Vec<PathBuf>,
    pub saved_connections: Vec<ConnectionSettings>,
    pub recent_hosts: Vec<String>,
    pub last_connection: ConnectionSettings,
    pub server: ServerSettings,
    pub predict: PredictSettings,
    pub latency: LatencySettings,
    pub tab: Tab,
}

impl Persisted {
    pub fn add_recent_model(&mut self, path: PathBuf) {
        push_front_unique(&mut self.recent_models, path);
    }

    pub fn add_recent_host(&mut self, host: String) {
        push_front_unique(&mut self.recent_hosts, host);
    }

    /// Saves (or replaces the entry with the same endpoint and model).
    pub fn save_connection(&mut self, settings: ConnectionSettings) {
        self.saved_connections
            .retain(|saved| saved.title() != settings.title());
        self.saved_connections.insert(0, settings);
        self.saved_connections.truncate(MAX_RECENT * 2);
    }
}

fn push_front_unique<T: PartialEq>(list: &mut Vec<T>, item: T) {
    list.retain(|existing| *existing != item);
    list.insert(0, item);
    list.truncate(MAX_RECENT);
}

/// The central panel's tabs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Tab {
    #[default]
    TryIt,
    Latency,
    Server,
    Compare,
    Graph,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_files_are_checked_before_a_start() {
        let mut settings = ServerSettings::default();
        assert_eq!(settings.tls_files(), Ok(None));
        settings.tls = true;
        assert_eq!(
            settings.tls_files(),
            Err("TLS needs a certificate file (PEM)".into())
        );
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("server.pem");
        std::fs::write(&cert, "x").unwrap();
        settings.tls_cert_file = cert.display().to_string();
        settings.tls_key_file = dir.path().join("missing.key").display().to_string();
        let err = settings.tls_files().unwrap_err();
        assert!(err.contains("missing.key does not exist"), "{err}");
    }

    #[test]
    fn old_saved_settings_load_without_tls() {
        let old: ServerSettings = serde_json::from_str(
            r#"{"model_name":"m","host":"127.0.0.1","grpc_port":1,"rest_port":2}"#,
        )
        .unwrap();
        assert!(!old.tls);
        assert!(old.tls_cert_file.is_empty());
    }
}
