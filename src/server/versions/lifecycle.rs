//! The version state machine run by each poll: load the versions the policy
//! wants (START -> LOADING -> AVAILABLE, or END with the error), then unload
//! those no longer wanted (UNLOADING -> END once their last request ends).

use super::disk::{folder_fingerprint, numeric_versions};
use super::{ModelEntry, ModelManager, Record, Servable, read, write};
use crate::pb::tensorflow::error::Code;
use crate::pb::tensorflow::serving::model_version_status::State;
use crate::runtime::RuntimeError;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

impl ModelManager {
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
                    if !wanted.contains(version) {
                        unloaded.extend(start_unloading(&source.name, *version, record));
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
        let result = self.load_and_warm_up(name, version, dir);
        let elapsed = started.elapsed();
        self.metrics
            .record_load(name, version, result.is_ok(), elapsed);
        let mut records = write(&entry.records);
        let Some(record) = records.get_mut(&version) else {
            return;
        };
        match result {
            Ok(servable) => {
                record.servable = Some(servable);
                record.state = State::Available;
                record.failed_fingerprint = None;
                tracing::info!(
                    "Successfully loaded servable version {{name: {name} version: {version}}} (took {} ms)",
                    elapsed.as_millis()
                );
            }
            Err((code, message)) => {
                tracing::error!(
                    "Loading servable: {{name: {name} version: {version}}} failed: {message}"
                );
                record.state = State::End;
                record.error = Some((code, message));
                record.failed_fingerprint = Some(fingerprint);
            }
        }
    }

    /// Loads a version and replays its warmup records: TF Serving counts
    /// warmup as part of the load, so a version is AVAILABLE only once warm,
    /// and a failing warmup fails the load.
    fn load_and_warm_up(
        &self,
        name: &str,
        version: i64,
        dir: &Path,
    ) -> Result<Arc<Servable>, (Code, String)> {
        let loader = Arc::clone(&self.loader);
        let backend = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| loader(dir)))
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
            })
            .map_err(|err| (err.code(), err.to_string()))?;
        let servable = Servable::new(name, version, backend, self.worker_options)
            .map_err(|err| (err.code(), err.to_string()))?;
        let servable = Arc::new(servable);
        let records = (self.warm_up)(dir, &servable)?;
        if let Some(records) = records {
            self.metrics.record_warmup(name, version, records);
        }
        Ok(servable)
    }

    /// Unloads every version (server shutdown).
    pub fn unload_all(&self) {
        for entry in self.models.values() {
            let mut unloaded = Vec::new();
            {
                let mut records = write(&entry.records);
                for (version, record) in records.iter_mut() {
                    unloaded.extend(start_unloading(&entry.source.name, *version, record));
                }
            }
            drop(unloaded);
            self.finish_unloading(entry);
        }
    }
}

/// Moves a loaded version to UNLOADING and hands back its servable, to drop
/// outside the lock; `None` when the version is not loaded.
fn start_unloading(model: &str, version: i64, record: &mut Record) -> Option<Arc<Servable>> {
    let servable = record.servable.take()?;
    tracing::info!("Unloading servable version {{name: {model} version: {version}}}");
    record.state = State::Unloading;
    record.unloading = Some(Arc::downgrade(&servable));
    Some(servable)
}
