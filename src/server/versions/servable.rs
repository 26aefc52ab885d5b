//! A loaded model version ([`Servable`]): its worker, its signatures, and
//! unloading off the request thread when the last reference goes.

use crate::model::SignatureInfo;
use crate::pb::tensorflow::serving::SignatureDefMap;
use crate::runtime::{Backend, ModelWorker, RuntimeError, WorkerOptions};
use std::sync::Arc;

/// A loaded model version that requests run against: the backend behind
/// its own [`ModelWorker`] (thread pool and bounded queue).
pub struct Servable {
    pub model: String,
    pub version: i64,
    /// `Some` until `Drop` takes it (to drop it on another thread).
    worker: Option<ModelWorker>,
    signature_defs: SignatureDefMap,
}

impl Servable {
    /// Starts the version's worker; fails when the system refuses its threads.
    pub(crate) fn new(
        model: &str,
        version: i64,
        backend: Arc<dyn Backend>,
        options: WorkerOptions,
    ) -> Result<Servable, RuntimeError> {
        let mut signature_defs = SignatureDefMap::default();
        if let Some(meta_graph) = backend.model().serving_meta_graph() {
            for signature in &meta_graph.signatures {
                signature_defs
                    .signature_def
                    .insert(signature.key.clone(), signature.to_proto());
            }
        }
        let worker = ModelWorker::start(backend, options)?;
        Ok(Servable {
            model: model.to_string(),
            version,
            worker: Some(worker),
            signature_defs,
        })
    }

    /// The worker that runs this version.
    #[allow(
        clippy::expect_used,
        reason = "`worker` is Some from `new` until `drop`, which is the only code that takes it"
    )]
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
