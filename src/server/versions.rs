//! Model versions: which are on disk, which are loaded, which requests get.
//!
//! Each poll (`--file_system_poll_wait_seconds`) lists the numeric version
//! folders of every base path, picks the versions the model's policy wants,
//! loads those not loaded yet (START -> LOADING -> AVAILABLE), and only once a
//! wanted version is AVAILABLE unloads the versions no longer wanted
//! (UNLOADING -> END). A request holds an `Arc` of the version it runs on, so
//! an unloaded version is freed when its last in-flight request finishes: no
//! request fails across a swap. A version that fails to load ends in END with
//! its error in the status, and the versions already serving keep serving; it
//! is tried again when the files in its folder change. Loading includes the
//! version's warmup: a version is AVAILABLE once warm. The warmup itself replays
//! requests, so it is handed in as a [`WarmUp`] hook (`super::warmup::hook`): the
//! version lifecycle must not depend on the request path (predict, classify).

mod disk;
mod lifecycle;
mod servable;

pub use servable::Servable;

use super::config::ModelSource;
use super::error::ServeError;
use super::metrics::Metrics;
use crate::pb::tensorflow::error::Code;
use crate::pb::tensorflow::serving::model_version_status::State;
use crate::pb::tensorflow::serving::{
    GetModelStatusResponse, ModelSpec, ModelVersionStatus, StatusProto, model_spec,
};
use crate::runtime::{Backend, RuntimeError, WorkerOptions};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock, Weak};

/// Builds a backend for a version directory (the real TensorFlow one, or a
/// test double); injectable so tests and the GUI choose.
pub type Loader = Arc<dyn Fn(&Path) -> Result<Arc<dyn Backend>, RuntimeError> + Send + Sync>;

/// Which version a request asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VersionRequest {
    Latest,
    Specific(i64),
    Label(String),
}

impl VersionRequest {
    pub fn from_spec(spec: &ModelSpec) -> VersionRequest {
        match &spec.version_choice {
            None => VersionRequest::Latest,
            Some(model_spec::VersionChoice::Version(version)) => VersionRequest::Specific(*version),
            Some(model_spec::VersionChoice::VersionLabel(label)) => {
                VersionRequest::Label(label.clone())
            }
        }
    }
}

/// One version's state, as status answers and the GUI show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionStatus {
    pub version: i64,
    pub state: State,
    /// The error of the last state change (a failed load), if any.
    pub error: Option<(Code, String)>,
}

/// A model and its versions (highest first).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelStatus {
    pub name: String,
    pub base_path: PathBuf,
    pub versions: Vec<VersionStatus>,
}

struct Record {
    state: State,
    error: Option<(Code, String)>,
    servable: Option<Arc<Servable>>,
    unloading: Option<Weak<Servable>>,
    /// Folder contents when a load failed: retried once they change.
    failed_fingerprint: Option<u64>,
}

struct ModelEntry {
    source: ModelSource,
    records: RwLock<BTreeMap<i64, Record>>,
}

/// Warms a freshly loaded version up before it serves: given its folder, replays its
/// warmup records and says how many it read (`None`: no warmup file, or warmup off);
/// an error fails the load with that code and message.
pub type WarmUp =
    Arc<dyn Fn(&Path, &Servable) -> Result<Option<usize>, (Code, String)> + Send + Sync>;

/// All models of a server and their versions.
pub struct ModelManager {
    models: BTreeMap<String, ModelEntry>,
    loader: Loader,
    metrics: Arc<Metrics>,
    worker_options: WorkerOptions,
    warm_up: WarmUp,
}

fn describe(name: &str, version: Option<i64>) -> String {
    match version {
        Some(version) => format!("Specific({name}, {version})"),
        None => format!("Latest({name})"),
    }
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl ModelManager {
    pub fn new(
        sources: Vec<ModelSource>,
        loader: Loader,
        metrics: Arc<Metrics>,
        worker_options: WorkerOptions,
        warm_up: WarmUp,
    ) -> ModelManager {
        let models = sources
            .into_iter()
            .map(|source| {
                (
                    source.name.clone(),
                    ModelEntry {
                        source,
                        records: RwLock::new(BTreeMap::new()),
                    },
                )
            })
            .collect();
        ModelManager {
            models,
            loader,
            metrics,
            worker_options,
            warm_up,
        }
    }

    /// Whether `name` is one of the configured models.
    pub fn knows(&self, name: &str) -> bool {
        self.models.contains_key(name)
    }

    pub fn model_names(&self) -> Vec<String> {
        self.models.keys().cloned().collect()
    }

    fn entry(&self, name: &str, request: &VersionRequest) -> Result<&ModelEntry, ServeError> {
        self.models
            .get(name)
            .ok_or_else(|| ServeError::ServableNotFound {
                request: describe(
                    name,
                    match request {
                        VersionRequest::Specific(version) => Some(*version),
                        _ => None,
                    },
                ),
                hint: format!(" (this server serves: {})", self.model_names().join(", ")),
            })
    }

    fn label_version(entry: &ModelEntry, label: &str) -> Result<i64, ServeError> {
        entry.source.labels.get(label).copied().ok_or_else(|| {
            let labels = &entry.source.labels;
            ServeError::UnknownLabel {
                label: label.to_string(),
                hint: if labels.is_empty() {
                    format!(" (model {} has no version labels)", entry.source.name)
                } else {
                    let known: Vec<String> = labels
                        .iter()
                        .map(|(label, version)| format!("{label}={version}"))
                        .collect();
                    format!(
                        " (labels of model {}: {})",
                        entry.source.name,
                        known.join(", ")
                    )
                },
            }
        })
    }

    /// The version number a request names; `None` for the latest.
    fn requested_version(
        entry: &ModelEntry,
        request: &VersionRequest,
    ) -> Result<Option<i64>, ServeError> {
        Ok(match request {
            VersionRequest::Latest => None,
            VersionRequest::Specific(version) => Some(*version),
            VersionRequest::Label(label) => Some(Self::label_version(entry, label)?),
        })
    }

    /// The version a request runs on.
    pub fn resolve(
        &self,
        name: &str,
        request: &VersionRequest,
    ) -> Result<Arc<Servable>, ServeError> {
        let entry = self.entry(name, request)?;
        let version = Self::requested_version(entry, request)?;
        let records = read(&entry.records);
        let found = match version {
            None => records
                .values()
                .rev()
                .find_map(|record| record.servable.clone()),
            Some(version) => records
                .get(&version)
                .and_then(|record| record.servable.clone()),
        };
        found.ok_or_else(|| {
            let available: Vec<String> = records
                .iter()
                .filter(|(_, record)| record.servable.is_some())
                .map(|(version, _)| version.to_string())
                .collect();
            let hint = if available.is_empty() {
                let states: Vec<String> = records
                    .iter()
                    .rev()
                    .map(|(version, record)| match &record.error {
                        Some((_, message)) => {
                            format!("{version}: {} ({message})", record.state.as_str_name())
                        }
                        None => format!("{version}: {}", record.state.as_str_name()),
                    })
                    .collect();
                if states.is_empty() {
                    format!(
                        " (no version of {name} is loaded; no version folder was found under {})",
                        entry.source.base_path.display()
                    )
                } else {
                    format!(" (no version of {name} is loaded; {})", states.join("; "))
                }
            } else {
                format!(" (available versions of {name}: {})", available.join(", "))
            };
            ServeError::ServableNotFound {
                request: describe(name, version),
                hint,
            }
        })
    }

    /// `GetModelStatus`: versions highest first, like TF Serving.
    pub fn status(
        &self,
        name: &str,
        request: &VersionRequest,
    ) -> Result<GetModelStatusResponse, ServeError> {
        let Some(entry) = self.models.get(name) else {
            return Err(ServeError::NotFound {
                message: format!("Could not find any versions of model {name}"),
            });
        };
        let version = Self::requested_version(entry, request)?;
        let records = read(&entry.records);
        let to_proto = |version: i64, record: &Record| ModelVersionStatus {
            version,
            state: record.state as i32,
            status: Some(match &record.error {
                Some((code, message)) => StatusProto {
                    error_code: *code as i32,
                    error_message: message.clone(),
                },
                None => StatusProto {
                    error_code: Code::Ok as i32,
                    error_message: String::new(),
                },
            }),
        };
        let model_version_status = match version {
            Some(version) => {
                let record = records.get(&version).ok_or_else(|| ServeError::NotFound {
                    message: format!("Could not find version {version} of model {name}"),
                })?;
                vec![to_proto(version, record)]
            }
            None if records.is_empty() => {
                return Err(ServeError::NotFound {
                    message: format!("Could not find any versions of model {name}"),
                });
            }
            None => records
                .iter()
                .rev()
                .map(|(version, record)| to_proto(*version, record))
                .collect(),
        };
        Ok(GetModelStatusResponse {
            model_version_status,
        })
    }

    /// Every model and its versions, for the GUI and the CLI.
    pub fn snapshot(&self) -> Vec<ModelStatus> {
        self.models
            .values()
            .map(|entry| ModelStatus {
                name: entry.source.name.clone(),
                base_path: entry.source.base_path.clone(),
                versions: read(&entry.records)
                    .iter()
                    .rev()
                    .map(|(version, record)| VersionStatus {
                        version: *version,
                        state: record.state,
                        error: record.error.clone(),
                    })
                    .collect(),
            })
            .collect()
    }

    /// Whether every model has a version to serve.
    pub fn all_available(&self) -> bool {
        self.models.values().all(|entry| {
            read(&entry.records)
                .values()
                .any(|record| record.servable.is_some())
        })
    }
}
