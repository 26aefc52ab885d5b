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
//! is tried again when the files in its folder change.

use super::config::ModelSource;
use super::error::ServeError;
use super::metrics::Metrics;
use crate::model::SignatureInfo;
use crate::pb::tensorflow::error::Code;
use crate::pb::tensorflow::serving::model_version_status::State;
use crate::pb::tensorflow::serving::{
    GetModelStatusResponse, ModelSpec, ModelVersionStatus, SignatureDefMap, StatusProto, model_spec,
};
use crate::runtime::{Backend, ModelWorker, RuntimeError, WorkerOptions};
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock, Weak};
use std::time::Instant;

/// Builds a backend for a version directory (the real TensorFlow one, or a
/// test double); injectable so tests and the GUI choose.
pub type Loader = Arc<dyn Fn(&Path) -> Result<Arc<dyn Backend>, RuntimeError> + Send + Sync>;

/// A loaded model version that requests run against: the backend behind
/// its own [`ModelWorker`] (thread pool and bounded queue).
pub struct Servable {
    pub model: String,
    pub version: i64,
    worker: Option<ModelWorker>,
    signature_defs: SignatureDefMap,
}

impl Servable {
    fn new(
        model: &str,
        version: i64,
        backend: Arc<dyn Backend>,
        options: WorkerOptions,
    ) -> Servable {
        let mut signature_defs = SignatureDefMap::default();
        if let Some(meta_graph) = backend.model().serving_meta_graph() {
            for signature in &meta_graph.signatures {
                signature_defs
                    .signature_def
                    .insert(signature.key.clone(), signature.to_proto());
            }
        }
        let worker = ModelWorker::new(backend, options);
        Servable {
            model: model.to_string(),
            version,
            worker: Some(worker),
            signature_defs,
        }
    }

    /// The worker that runs this version.
    pub fn worker(&self) -> &ModelWorker {
        self.worker
            .as_ref()
            .expect("the worker lives as long as the servable")
    }

    pub fn backend(&self) -> &Arc<dyn Backend> {
        self.worker().backend()
    }

    /// A signature of the `serve` MetaGraph; the error lists the valid keys.
    pub fn signature(&self, key: &str) -> Result<&SignatureInfo, RuntimeError> {
        let meta_graph = self.worker().model().serving_meta_graph();
        meta_graph
            .and_then(|meta_graph| meta_graph.signature(key))
            .ok_or_else(|| RuntimeError::SignatureNotFound {
                requested: key.to_string(),
                available: self
                    .signature_defs
                    .signature_def
                    .keys()
                    .filter(|key| !key.starts_with("__"))
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// All signatures, for metadata answers.
    pub fn signature_defs(&self) -> &SignatureDefMap {
        &self.signature_defs
    }
}

impl Drop for Servable {
    /// The last request of an unloaded version may end on an async thread:
    /// joining the worker's threads (and freeing the model) happens elsewhere.
    fn drop(&mut self) {
        if let Some(worker) = self.worker.take() {
            let spawned = std::thread::Builder::new()
                .name("tfprobe-unload".into())
                .spawn(move || drop(worker));
            if let Err(err) = spawned {
                tracing::warn!("cannot start an unload thread ({err}); unloading inline");
            }
        }
    }
}

impl std::fmt::Debug for Servable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Servable {{name: {} version: {}}}",
            self.model, self.version
        )
    }
}

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

/// All models of a server and their versions.
pub struct ModelManager {
    models: BTreeMap<String, ModelEntry>,
    loader: Loader,
    metrics: Arc<Metrics>,
    worker_options: WorkerOptions,
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

    /// The version a request runs on.
    pub fn resolve(
        &self,
        name: &str,
        request: &VersionRequest,
    ) -> Result<Arc<Servable>, ServeError> {
        let entry = self.entry(name, request)?;
        let version = match request {
            VersionRequest::Latest => None,
            VersionRequest::Specific(version) => Some(*version),
            VersionRequest::Label(label) => Some(Self::label_version(entry, label)?),
        };
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
        let version = match request {
            VersionRequest::Latest => None,
            VersionRequest::Specific(version) => Some(*version),
            VersionRequest::Label(label) => Some(Self::label_version(entry, label)?),
        };
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

    /// One pass over all base paths: load, swap, unload.
    pub fn poll(&self) {
        for entry in self.models.values() {
            self.poll_model(entry);
        }
    }

    fn poll_model(&self, entry: &ModelEntry) {
        let source = &entry.source;
        let on_disk = match numeric_versions(&source.base_path) {
            Ok(versions) => versions,
            Err(err) => {
                tracing::warn!(
                    "File system storage path source: cannot list {}: {err}",
                    source.base_path.display()
                );
                return;
            }
        };
        if on_disk.is_empty() {
            if read(&entry.records).is_empty() {
                tracing::warn!(
                    "No versions of servable {} found under base path {}. Did you forget to name your leaf directory as a number (eg. '/1/')?",
                    source.name,
                    source.base_path.display()
                );
            }
            self.finish_unloading(entry);
            return;
        }
        let wanted = source.policy.select(&on_disk);
        for &version in &wanted {
            let dir = source.base_path.join(version.to_string());
            let needs_load = match read(&entry.records).get(&version) {
                None => true,
                Some(record) => match record.state {
                    State::Available | State::Loading | State::Start => false,
                    _ => match record.failed_fingerprint {
                        Some(fingerprint) => fingerprint != folder_fingerprint(&dir),
                        None => record.state == State::End,
                    },
                },
            };
            if needs_load {
                self.load(entry, version, &dir);
            }
        }
        let mut unloaded = Vec::new();
        {
            let mut records = write(&entry.records);
            let wanted_available = wanted.iter().any(|version| {
                records
                    .get(version)
                    .is_some_and(|record| record.servable.is_some())
            });
            if wanted_available {
                for (version, record) in records.iter_mut() {
                    if record.servable.is_some() && !wanted.contains(version) {
                        tracing::info!(
                            "Unloading servable version {{name: {} version: {version}}}",
                            source.name
                        );
                        record.state = State::Unloading;
                        let servable = record.servable.take();
                        record.unloading = servable.as_ref().map(Arc::downgrade);
                        unloaded.extend(servable);
                    }
                }
            }
        }
        // Dropped outside the lock: freeing a model can take a while.
        drop(unloaded);
        self.finish_unloading(entry);
    }

    /// Versions whose last request has finished move from UNLOADING to END.
    fn finish_unloading(&self, entry: &ModelEntry) {
        let mut records = write(&entry.records);
        for (version, record) in records.iter_mut() {
            if record.state == State::Unloading
                && record
                    .unloading
                    .as_ref()
                    .is_none_or(|weak| weak.strong_count() == 0)
            {
                record.state = State::End;
                record.unloading = None;
                tracing::info!(
                    "Done unloading servable version {{name: {} version: {version}}}",
                    entry.source.name
                );
            }
        }
    }

    fn load(&self, entry: &ModelEntry, version: i64, dir: &Path) {
        let name = &entry.source.name;
        {
            let mut records = write(&entry.records);
            let record = records.entry(version).or_insert(Record {
                state: State::Start,
                error: None,
                servable: None,
                unloading: None,
                failed_fingerprint: None,
            });
            record.state = State::Loading;
            record.error = None;
        }
        tracing::info!("Approving load for servable version {{name: {name} version: {version}}}");
        tracing::info!("Loading servable version {{name: {name} version: {version}}}");
        tracing::info!("Reading SavedModel from: {}", dir.display());
        let fingerprint = folder_fingerprint(dir);
        let started = Instant::now();
        let loader = Arc::clone(&self.loader);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| loader(dir)))
            .unwrap_or_else(|panic| {
                let message = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|text| text.to_string()))
                    .unwrap_or_else(|| "the loader panicked".to_string());
                Err(RuntimeError::ModelLoad {
                    path: dir.to_path_buf(),
                    message,
                })
            });
        let elapsed = started.elapsed();
        self.metrics
            .record_load(name, version, result.is_ok(), elapsed);
        let mut records = write(&entry.records);
        let Some(record) = records.get_mut(&version) else {
            return;
        };
        match result {
            Ok(backend) => {
                record.servable = Some(Arc::new(Servable::new(
                    name,
                    version,
                    backend,
                    self.worker_options,
                )));
                record.state = State::Available;
                record.failed_fingerprint = None;
                tracing::info!(
                    "Successfully loaded servable version {{name: {name} version: {version}}} (took {} ms)",
                    elapsed.as_millis()
                );
            }
            Err(err) => {
                tracing::error!(
                    "Loading servable: {{name: {name} version: {version}}} failed: {err}"
                );
                record.state = State::End;
                record.error = Some((err.code(), err.to_string()));
                record.failed_fingerprint = Some(fingerprint);
            }
        }
    }

    /// Unloads every version (server shutdown).
    pub fn unload_all(&self) {
        for entry in self.models.values() {
            let mut unloaded = Vec::new();
            {
                let mut records = write(&entry.records);
                for (version, record) in records.iter_mut() {
                    if let Some(servable) = record.servable.take() {
                        tracing::info!(
                            "Unloading servable version {{name: {} version: {version}}}",
                            entry.source.name
                        );
                        record.state = State::Unloading;
                        record.unloading = Some(Arc::downgrade(&servable));
                        unloaded.push(servable);
                    }
                }
            }
            drop(unloaded);
            self.finish_unloading(entry);
        }
    }
}

/// The numeric version folders under `base_path` that hold a SavedModel, ascending.
fn numeric_versions(base_path: &Path) -> std::io::Result<Vec<i64>> {
    let mut versions: Vec<i64> = std::fs::read_dir(base_path)?
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name();
            let name = name.to_str()?;
            if name.is_empty() || !name.bytes().all(|byte| byte.is_ascii_digit()) {
                return None;
            }
            let version: i64 = name.parse().ok()?;
            let dir = entry.path();
            (dir.join("saved_model.pb").is_file() || dir.join("saved_model.pbtxt").is_file())
                .then_some(version)
        })
        .collect();
    versions.sort_unstable();
    Ok(versions)
}

/// A hash of the file names, sizes and modification times under `dir`.
fn folder_fingerprint(dir: &Path) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    let mut pending = vec![dir.to_path_buf()];
    let mut seen = 0usize;
    while let Some(current) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&current) else {
            continue;
        };
        let mut entries: Vec<_> = entries.flatten().collect();
        entries.sort_by_key(|entry| entry.file_name());
        for entry in entries {
            seen += 1;
            if seen > 10_000 {
                return hasher.finish();
            }
            let Ok(metadata) = entry.metadata() else {
                continue;
            };
            entry.path().hash(&mut hasher);
            metadata.len().hash(&mut hasher);
            metadata.modified().ok().hash(&mut hasher);
            if metadata.is_dir() {
                pending.push(entry.path());
            }
        }
    }
    hasher.finish()
}
