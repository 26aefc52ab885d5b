//! Full queues: with one model thread busy and its one queue slot taken, the
//! next request is refused at once, 429 over REST and RESOURCE_EXHAUSTED over
//! gRPC, with a message that says what is full; the busy and the queued
//! requests still succeed. Part of the reliability suite (docs/reliability.md).

use crate::support::fixture;
use crate::support::grpc::{assert_status, channel, good_predict_succeeds, good_request};
use crate::support::http::Http;
use crate::support::panics::PanicWatch;
use crate::support::server::{Hooked, config, start};
use crate::support::tf;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tfprobe::pb::tensorflow::serving::prediction_service_client::PredictionServiceClient;
use tfprobe::runtime::{Backend, LoadOptions, TfBackend};
use tfprobe::server::ModelSource;
use tonic::Code;

/// Holds runs of the real two_versions model until the test opens it.
#[derive(Default)]
struct Gate {
    open: Mutex<bool>,
    opened: Condvar,
    entered: AtomicUsize,
}

impl Gate {
    /// Called by each run: counts it, then waits for the gate to open.
    fn pass(&self) {
        self.entered.fetch_add(1, Ordering::SeqCst);
        let open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        drop(
            self.opened
                .wait_while(open, |open| !*open)
                .unwrap_or_else(PoisonError::into_inner),
        );
    }

    fn open(&self) {
        *self.open.lock().unwrap_or_else(PoisonError::into_inner) = true;
        self.opened.notify_all();
    }

    async fn wait_entered(&self, runs: usize) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.entered.load(Ordering::SeqCst) < runs {
            assert!(Instant::now() < deadline, "no run reached the model");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

const GOOD_BODY: &str = r#"{"instances": [1.0, 2.0]}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_answers_429_and_resource_exhausted_at_once() {
    let panics = PanicWatch::install();
    tf::ensure_runtime();
    let gate = Arc::new(Gate::default());
    let mut config = config(vec![ModelSource::new("half", fixture("two_versions"))]);
    config.loader = {
        let gate = Arc::clone(&gate);
        Arc::new(move |dir: &Path| {
            let inner = TfBackend::load(dir, &LoadOptions::default())?;
            let gate = Arc::clone(&gate);
            Ok(Arc::new(Hooked::new(Arc::new(inner), move || gate.pass())) as Arc<dyn Backend>)
        })
    };
    // One model thread and one queue slot: the third request at once is one too many.
    config.model_threads = 1;
    config.queue_capacity = 1;
    let server = start(config).await;
    let rest = server.rest_addr().unwrap();
    let post = move || Http::connect(rest).post("/v1/models/half:predict", GOOD_BODY);
    let running = std::thread::spawn(post);
    gate.wait_entered(1).await;
    // Two more: one waits in the queue, the other is refused without waiting.
    let (answers, answered) = std::sync::mpsc::channel();
    for _ in 0..2 {
        let answers = answers.clone();
        std::thread::spawn(move || answers.send(post()).unwrap());
    }
    let refused = tokio::task::spawn_blocking(move || {
        let first = answered.recv_timeout(Duration::from_secs(10));
        (first, answered)
    });
    let (refused, answered) = refused.await.unwrap();
    let refused = refused.expect("one of the two requests was refused at once");
    assert_eq!(refused.status, 429, "{}", refused.body);
    let needle = "the model's request queue is full (1 waiting); retry later";
    assert!(refused.error().contains(needle), "{}", refused.body);
    // gRPC gets RESOURCE_EXHAUSTED while the queue is still full.
    let channel = channel(server.grpc_addr().unwrap()).await;
    let result = PredictionServiceClient::new(channel.clone())
        .predict(good_request())
        .await;
    assert_status(
        "gRPC with a full queue",
        result,
        Code::ResourceExhausted,
        needle,
    );
    // Once the model runs again, the running and the queued request both succeed.
    gate.open();
    let (running, queued) = tokio::task::spawn_blocking(move || {
        (
            running.join().unwrap(),
            answered.recv_timeout(Duration::from_secs(30)).unwrap(),
        )
    })
    .await
    .unwrap();
    assert_eq!(
        (running.status, queued.status),
        (200, 200),
        "{} {}",
        running.body,
        queued.body
    );
    good_predict_succeeds(&channel, "the full queue").await;
    server.shutdown().await;
    panics.assert_none();
}
