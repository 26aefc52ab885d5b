//! A load generator for the reload and soak tests: REST clients on their own
//! threads (keep-alive connections, like the seed's client) and gRPC clients as
//! tokio tasks, all sending the same float input `x` to a model that answers a
//! float `y`, until stopped or until a request budget is spent. Every answer
//! goes through `check`; an error status or a rejected answer is a failure.

use crate::support::http::Http;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tfprobe::pb::convert::{tensor_from_proto, tensor_to_proto};
use tfprobe::pb::tensorflow::serving::prediction_service_client::PredictionServiceClient;
use tfprobe::pb::tensorflow::serving::{ModelSpec, PredictRequest};
use tfprobe::tensor::{Tensor, TensorData};

/// Accepts (true) or rejects (false) the `y` values of one answer.
pub type Check = Arc<dyn Fn(&[f32]) -> bool + Send + Sync>;

/// What to send and where.
#[derive(Clone)]
pub struct LoadSpec {
    pub rest: SocketAddr,
    pub grpc: SocketAddr,
    pub model: String,
    pub x: Tensor,
    pub rest_clients: usize,
    pub grpc_clients: usize,
    /// Stop after this many requests in all (`None`: until `stop`).
    pub max_requests: Option<usize>,
    /// No client runs longer than this, whatever happens.
    pub deadline: Duration,
    pub check: Check,
}

/// Clients running; `finish` stops them and returns the counts.
pub struct Load {
    stop: Arc<AtomicBool>,
    tickets: Arc<AtomicUsize>,
    served: Arc<AtomicUsize>,
    failures: Arc<AtomicUsize>,
    threads: Vec<std::thread::JoinHandle<()>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// Requests answered (successfully or not) and failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadCounts {
    pub served: usize,
    pub failures: usize,
}

impl Load {
    /// Starts the clients (call inside a multi-thread tokio runtime).
    pub fn start(spec: LoadSpec) -> Load {
        let mut load = Load {
            stop: Arc::new(AtomicBool::new(false)),
            tickets: Arc::new(AtomicUsize::new(0)),
            served: Arc::new(AtomicUsize::new(0)),
            failures: Arc::new(AtomicUsize::new(0)),
            threads: Vec::new(),
            tasks: Vec::new(),
        };
        let TensorData::Float(x_values) = &spec.x.data else {
            panic!("the load sends a float x")
        };
        let body = serde_json::json!({ "instances": x_values }).to_string();
        let path = format!("/v1/models/{}:predict", spec.model);
        for _ in 0..spec.rest_clients {
            let (body, path, spec) = (body.clone(), path.clone(), spec.clone());
            let gate = load.gate();
            load.threads.push(std::thread::spawn(move || {
                let mut http = Http::connect(spec.rest);
                let deadline = Instant::now() + spec.deadline;
                while gate.next(&spec, deadline) {
                    let reply = http.post(&path, &body);
                    let values: Option<Vec<f32>> = (reply.status == 200)
                        .then(|| serde_json::from_str::<serde_json::Value>(&reply.body).ok())
                        .flatten()
                        .and_then(|json| serde_json::from_value(json["predictions"].clone()).ok());
                    let ok = values.is_some_and(|values| (spec.check)(&values));
                    if !ok {
                        eprintln!("failed REST request: {} {}", reply.status, reply.body);
                    }
                    gate.done(ok);
                }
            }));
        }
        for _ in 0..spec.grpc_clients {
            let spec = spec.clone();
            let gate = load.gate();
            load.tasks.push(tokio::spawn(async move {
                let channel =
                    tonic::transport::Channel::from_shared(format!("http://{}", spec.grpc))
                        .unwrap()
                        .connect()
                        .await
                        .expect("gRPC connect");
                let mut client = PredictionServiceClient::new(channel);
                let deadline = Instant::now() + spec.deadline;
                while gate.next(&spec, deadline) {
                    let request = PredictRequest {
                        model_spec: Some(ModelSpec {
                            name: spec.model.clone(),
                            ..Default::default()
                        }),
                        inputs: [("x".to_string(), tensor_to_proto(&spec.x))].into(),
                        ..Default::default()
                    };
                    let ok = match client.predict(request).await {
                        Ok(response) => {
                            let y = response
                                .into_inner()
                                .outputs
                                .get("y")
                                .and_then(|y| tensor_from_proto(y).ok());
                            match y.map(|y| y.data) {
                                Some(TensorData::Float(values)) => (spec.check)(&values),
                                other => {
                                    eprintln!("gRPC answer without a float y: {other:?}");
                                    false
                                }
                            }
                        }
                        Err(status) => {
                            eprintln!("failed gRPC request: {status}");
                            false
                        }
                    };
                    gate.done(ok);
                }
            }));
        }
        load
    }

    fn gate(&self) -> Gate {
        Gate {
            stop: Arc::clone(&self.stop),
            tickets: Arc::clone(&self.tickets),
            served: Arc::clone(&self.served),
            failures: Arc::clone(&self.failures),
        }
    }

    /// Requests answered so far.
    pub fn served(&self) -> usize {
        self.served.load(Ordering::Relaxed)
    }

    /// Waits for the request budget to be spent (or the deadline), then joins.
    pub async fn finish(self) -> LoadCounts {
        self.join(false).await
    }

    /// Stops the clients after their current request and joins them.
    pub async fn stop(self) -> LoadCounts {
        self.join(true).await
    }

    async fn join(self, stop: bool) -> LoadCounts {
        if stop {
            self.stop.store(true, Ordering::Relaxed);
        }
        for task in self.tasks {
            task.await.expect("gRPC client task");
        }
        let threads = self.threads;
        tokio::task::spawn_blocking(move || {
            for thread in threads {
                thread.join().expect("REST client thread");
            }
        })
        .await
        .unwrap();
        LoadCounts {
            served: self.served.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
        }
    }
}

/// One client's view of the shared counters.
struct Gate {
    stop: Arc<AtomicBool>,
    tickets: Arc<AtomicUsize>,
    served: Arc<AtomicUsize>,
    failures: Arc<AtomicUsize>,
}

impl Gate {
    /// Whether to send another request (takes a ticket from the budget).
    fn next(&self, spec: &LoadSpec, deadline: Instant) -> bool {
        if self.stop.load(Ordering::Relaxed) || Instant::now() >= deadline {
            return false;
        }
        match spec.max_requests {
            Some(max) => self.tickets.fetch_add(1, Ordering::Relaxed) < max,
            None => true,
        }
    }

    fn done(&self, ok: bool) {
        if !ok {
            self.failures.fetch_add(1, Ordering::Relaxed);
        }
        self.served.fetch_add(1, Ordering::Relaxed);
    }
}
