//! The model worker: a fixed pool of threads runs one [`Backend`] for many callers.
//!
//! Requests go through a bounded queue; a full queue answers `QueueFull` at once instead
//! of piling up. Each request carries its own reply channel: a std channel for blocking
//! callers ([`ModelWorker::run`]) or a tokio oneshot for async ones
//! ([`ModelWorker::run_async`]). Shutdown stops taking requests, lets the threads drain
//! what is queued, and joins them.

use super::{Backend, NamedTensors, RuntimeError};
use crate::model::SavedModelInfo;
use crate::pb::tensorflow::error::Code;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;

/// Pool size and queue capacity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WorkerOptions {
    /// Threads that call `Backend::run` (at least 1).
    pub threads: usize,
    /// Requests that may wait for a thread (at least 1); more get `QueueFull`.
    pub queue_capacity: usize,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        let cores = std::thread::available_parallelism()
            .map(|count| count.get())
            .unwrap_or(2);
        WorkerOptions {
            threads: cores.clamp(1, 8),
            queue_capacity: 256,
        }
    }
}

type Reply = Result<NamedTensors, RuntimeError>;

enum ReplyTo {
    Blocking(mpsc::SyncSender<Reply>),
    Async(tokio::sync::oneshot::Sender<Reply>),
}

impl ReplyTo {
    fn send(self, reply: Reply) {
        // A caller that stopped waiting is not an error.
        match self {
            ReplyTo::Blocking(sender) => {
                let _ = sender.send(reply);
            }
            ReplyTo::Async(sender) => {
                let _ = sender.send(reply);
            }
        }
    }
}

struct Job {
    signature_key: String,
    inputs: NamedTensors,
    output_keys: Vec<String>,
    reply: ReplyTo,
}

struct Shared {
    backend: Arc<dyn Backend>,
    /// Requests queued or running.
    in_flight: AtomicUsize,
}

/// Runs a backend on a thread pool behind a bounded queue.
pub struct ModelWorker {
    shared: Arc<Shared>,
    sender: RwLock<Option<SyncSender<Job>>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    options: WorkerOptions,
    /// Why no thread runs, when the system refused the first one ([`ModelWorker::new`]).
    no_threads: Option<String>,
}

impl std::fmt::Debug for ModelWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelWorker")
            .field("options", &self.options)
            .field("in_flight", &self.in_flight())
            .finish()
    }
}

impl ModelWorker {
    /// Starts `options.threads` threads serving `backend`; fails when the system refuses
    /// to start one (the threads already started are joined).
    pub fn start(
        backend: Arc<dyn Backend>,
        options: WorkerOptions,
    ) -> Result<ModelWorker, RuntimeError> {
        match ModelWorker::spawn(backend, options) {
            (worker, None) => Ok(worker),
            (_, Some(err)) => Err(err),
        }
    }

    /// Starts `options.threads` threads serving `backend`, like [`ModelWorker::start`],
    /// but cannot fail: a thread the system refuses is logged and left out of the pool,
    /// and when none starts every request fails with [`RuntimeError::WorkerThreads`].
    pub fn new(backend: Arc<dyn Backend>, options: WorkerOptions) -> ModelWorker {
        let (worker, failure) = ModelWorker::spawn(backend, options);
        if let Some(err) = failure {
            tracing::error!("{err}");
        }
        worker
    }

    /// Starts threads until `options.threads` run or the system refuses one (returned).
    fn spawn(
        backend: Arc<dyn Backend>,
        options: WorkerOptions,
    ) -> (ModelWorker, Option<RuntimeError>) {
        let mut options = WorkerOptions {
            threads: options.threads.max(1),
            queue_capacity: options.queue_capacity.max(1),
        };
        let (sender, receiver) = mpsc::sync_channel::<Job>(options.queue_capacity);
        let receiver = Arc::new(Mutex::new(receiver));
        let shared = Arc::new(Shared {
            backend,
            in_flight: AtomicUsize::new(0),
        });
        let wanted = options.threads;
        let mut threads = Vec::with_capacity(wanted);
        let mut refused = None;
        for index in 0..wanted {
            let receiver = receiver.clone();
            let shared = shared.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("tfprobe-model-{index}"))
                .spawn(move || serve(&receiver, &shared));
            match spawned {
                Ok(thread) => threads.push(thread),
                Err(err) => {
                    refused = Some(err.to_string());
                    break;
                }
            }
        }
        let failure = refused.as_ref().map(|message| RuntimeError::WorkerThreads {
            started: threads.len(),
            wanted,
            message: message.clone(),
        });
        let no_threads = if threads.is_empty() { refused } else { None };
        // The pool that runs (fewer threads than asked only after a refusal).
        options.threads = threads.len().max(1);
        let worker = ModelWorker {
            shared,
            sender: RwLock::new(Some(sender)),
            threads: Mutex::new(threads),
            options,
            no_threads,
        };
        (worker, failure)
    }

    pub fn options(&self) -> WorkerOptions {
        self.options
    }

    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.shared.backend
    }

    pub fn model(&self) -> &SavedModelInfo {
        self.shared.backend.model()
    }

    /// Requests waiting or running right now.
    pub fn in_flight(&self) -> usize {
        self.shared.in_flight.load(Ordering::Relaxed)
    }

    fn submit(
        &self,
        signature_key: &str,
        inputs: NamedTensors,
        output_keys: &[String],
        reply: ReplyTo,
    ) -> Result<(), RuntimeError> {
        if let Some(message) = &self.no_threads {
            return Err(RuntimeError::WorkerThreads {
                started: 0,
                wanted: self.options.threads,
                message: message.clone(),
            });
        }
        let guard = self
            .sender
            .read()
            .unwrap_or_else(|poison| poison.into_inner());
        let sender = guard.as_ref().ok_or(RuntimeError::ShuttingDown)?;
        let job = Job {
            signature_key: signature_key.to_string(),
            inputs,
            output_keys: output_keys.to_vec(),
            reply,
        };
        self.shared.in_flight.fetch_add(1, Ordering::Relaxed);
        sender.try_send(job).map_err(|err| {
            self.shared.in_flight.fetch_sub(1, Ordering::Relaxed);
            match err {
                TrySendError::Full(_) => RuntimeError::QueueFull {
                    capacity: self.options.queue_capacity,
                },
                TrySendError::Disconnected(_) => RuntimeError::ShuttingDown,
            }
        })
    }

    /// Queues a run and blocks until it is done (do not call from an async task; use
    /// [`ModelWorker::run_async`] there).
    pub fn run(&self, signature_key: &str, inputs: NamedTensors, output_keys: &[String]) -> Reply {
        let (sender, receiver) = mpsc::sync_channel(1);
        self.submit(
            signature_key,
            inputs,
            output_keys,
            ReplyTo::Blocking(sender),
        )?;
        receiver.recv().unwrap_or(Err(RuntimeError::ShuttingDown))
    }

    /// Queues a run and awaits it without blocking the async runtime.
    pub async fn run_async(
        &self,
        signature_key: &str,
        inputs: NamedTensors,
        output_keys: &[String],
    ) -> Reply {
        let receiver = self.submit_async(signature_key, inputs, output_keys)?;
        receiver.await.unwrap_or(Err(RuntimeError::ShuttingDown))
    }

    /// Queues a run and returns the oneshot its result arrives on (for callers that
    /// race it against a timeout).
    pub fn submit_async(
        &self,
        signature_key: &str,
        inputs: NamedTensors,
        output_keys: &[String],
    ) -> Result<tokio::sync::oneshot::Receiver<Reply>, RuntimeError> {
        let (sender, receiver) = tokio::sync::oneshot::channel();
        self.submit(signature_key, inputs, output_keys, ReplyTo::Async(sender))?;
        Ok(receiver)
    }

    /// Stops taking requests, runs what is queued, joins the threads. Idempotent.
    pub fn shutdown(&self) {
        self.sender
            .write()
            .unwrap_or_else(|poison| poison.into_inner())
            .take();
        let threads = std::mem::take(
            &mut *self
                .threads
                .lock()
                .unwrap_or_else(|poison| poison.into_inner()),
        );
        for thread in threads {
            let _ = thread.join();
        }
    }
}

impl Drop for ModelWorker {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn serve(receiver: &Mutex<Receiver<Job>>, shared: &Shared) {
    loop {
        // Hold the lock only while taking a job, not while running it.
        let job = match receiver
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .recv()
        {
            Ok(job) => job,
            Err(_) => return, // sender dropped and queue drained
        };
        let Job {
            signature_key,
            inputs,
            output_keys,
            reply,
        } = job;
        let backend = &shared.backend;
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
            backend.run(&signature_key, inputs, &output_keys)
        }))
        .unwrap_or_else(|panic| {
            let what = panic
                .downcast_ref::<&str>()
                .map(|text| text.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(RuntimeError::Run {
                code: Code::Internal,
                message: format!("the model run panicked: {what}"),
            })
        });
        shared.in_flight.fetch_sub(1, Ordering::Relaxed);
        reply.send(result);
    }
}
