//! Starting a server: the TensorFlow runtime is loaded first (a missing runtime fails
//! at once, with the way to fix it), then the REST and gRPC listeners. `tfprobe
//! serve` builds its configuration from TF Serving's flags; the app's embedded server
//! builds it from the model the user opened ([`EmbeddedServer`]).

use super::WorkflowError;
use super::target::EmbeddedEndpoints;
use crate::model::SavedModelInfo;
use crate::runtime::library::LoadedRuntime;
use crate::runtime::{Backend, LoadOptions, TfBackend};
use crate::server::{
    self, Loader, ModelSource, ServerConfig, ServerHandle, TlsSettings, VersionPolicy,
};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Loads every version with the TensorFlow backend.
pub fn tensorflow_loader(options: LoadOptions) -> Loader {
    Arc::new(move |dir: &Path| {
        TfBackend::load(dir, &options).map(|backend| Arc::new(backend) as Arc<dyn Backend>)
    })
}

/// A started server and the runtime it runs on.
pub struct Started {
    pub handle: ServerHandle,
    pub runtime: Arc<LoadedRuntime>,
}

/// Loads libtensorflow (on a blocking thread), then starts `config`'s listeners.
pub async fn start(config: ServerConfig) -> Result<Started, WorkflowError> {
    let runtime = tokio::task::spawn_blocking(crate::runtime::library::ensure_loaded)
        .await
        .map_err(|join| WorkflowError::interrupted("loading TensorFlow", join))??;
    tracing::info!(
        "TensorFlow runtime {} from {}",
        runtime.version,
        runtime.location.dir.display()
    );
    let handle = server::start(config).await?;
    Ok(Started { handle, runtime })
}

/// A certificate and its key, the files a TLS server starts with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

impl TlsFiles {
    /// Reads and checks both files: a key that does not match its certificate fails
    /// here, naming both files, instead of at the first handshake.
    pub fn settings(&self) -> Result<TlsSettings, WorkflowError> {
        Ok(TlsSettings::from_pem_files(
            &self.cert_file,
            &self.key_file,
        )?)
    }
}

/// The embedded server for a model the user opened.
#[derive(Clone, Debug)]
pub struct EmbeddedServer {
    pub model_name: String,
    /// An IP address, as typed (checked by [`EmbeddedServer::config`]).
    pub host: String,
    pub grpc_port: u16,
    pub rest_port: u16,
    /// The model's version folder.
    pub version_dir: PathBuf,
    pub base_path: Option<PathBuf>,
    pub version: Option<i64>,
    /// `None`: plain HTTP and gRPC.
    pub tls: Option<TlsFiles>,
}

impl EmbeddedServer {
    /// Serves `model` under `model_name` (empty: the model's folder name).
    pub fn for_model(model: &SavedModelInfo, model_name: &str) -> EmbeddedServer {
        let model_name = match model_name.trim() {
            "" => super::open::default_model_name(model),
            name => name.to_string(),
        };
        EmbeddedServer {
            model_name,
            host: "127.0.0.1".into(),
            grpc_port: 0,
            rest_port: 0,
            version_dir: model.path.clone(),
            base_path: model.base_path.clone(),
            version: model.version,
            tls: None,
        }
    }

    /// The server configuration; bad settings (host, TLS files) fail here, before
    /// TensorFlow loads and even where it is missing.
    pub fn config(&self) -> Result<ServerConfig, WorkflowError> {
        let host: IpAddr = self.host.trim().parse().map_err(|_| {
            WorkflowError::Setting(format!(
                "'{}' is not an IP address (use 127.0.0.1 to stay local, 0.0.0.0 to listen on all)",
                self.host
            ))
        })?;
        let source = self.model_source()?;
        let mut config = ServerConfig::new(vec![source], tensorflow_loader(LoadOptions::default()));
        config.host = host;
        config.grpc_port = Some(self.grpc_port);
        config.rest_port = Some(self.rest_port);
        config.tls = self.tls.as_ref().map(TlsFiles::settings).transpose()?;
        // Report LOADING while the model loads instead of blocking the start.
        config.wait_for_models = false;
        // The first photo dropped must not pay for TensorFlow's graph optimisation.
        config.warmup_synthesized = true;
        Ok(config)
    }

    /// Checks the settings, loads TensorFlow and starts listening.
    pub async fn start(&self) -> Result<(Started, EmbeddedEndpoints), WorkflowError> {
        let config = self.config()?;
        let started = start(config).await?;
        let endpoints = EmbeddedEndpoints {
            rest: started.handle.rest_addr(),
            grpc: started.handle.grpc_addr(),
            model_name: self.model_name.clone(),
            tls_cert: self.tls.as_ref().map(|tls| tls.cert_file.clone()),
        };
        Ok((started, endpoints))
    }

    /// A TF Serving base path for the model: its own, the parent of a numeric version
    /// folder (serving exactly that version), or a folder of links made for it.
    fn model_source(&self) -> Result<ModelSource, WorkflowError> {
        if let Some(base) = &self.base_path {
            let mut source = ModelSource::new(&self.model_name, base);
            if let Some(version) = self.version {
                source.policy = VersionPolicy::Specific {
                    versions: vec![version],
                };
            }
            return Ok(source);
        }
        if let (Some(version), Some(parent)) = (self.version, self.version_dir.parent()) {
            let mut source = ModelSource::new(&self.model_name, parent);
            source.policy = VersionPolicy::Specific {
                versions: vec![version],
            };
            return Ok(source);
        }
        linked_base_path(&self.version_dir, &self.model_name)
            .map(|base| ModelSource::new(&self.model_name, base))
    }
}

#[cfg(unix)]
fn linked_base_path(version_dir: &Path, name: &str) -> Result<PathBuf, WorkflowError> {
    let absolute = std::fs::canonicalize(version_dir).map_err(|source| WorkflowError::Read {
        path: version_dir.to_path_buf(),
        source,
    })?;
    let base = std::env::temp_dir()
        .join(format!("tfprobe-serve-{}", std::process::id()))
        .join(name);
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&base).map_err(|err| {
        WorkflowError::Setting(format!("cannot create {}: {err}", base.display()))
    })?;
    std::os::unix::fs::symlink(&absolute, base.join("1")).map_err(|err| {
        WorkflowError::Setting(format!("cannot link the model as version 1: {err}"))
    })?;
    Ok(base)
}

#[cfg(not(unix))]
fn linked_base_path(version_dir: &Path, _name: &str) -> Result<PathBuf, WorkflowError> {
    Err(WorkflowError::Setting(format!(
        "{} is not inside a numeric version folder; the server needs MODEL/1/saved_model.pb (move it into a folder named 1)",
        version_dir.display()
    )))
}
