//! The model worker: many callers at once, a bounded queue that answers QueueFull, async
//! callers, panics contained, and a clean shutdown that drains the queue.

use crate::support::fixture;
use crate::support::panics;
use crate::support::tf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Condvar, Mutex};
use std::time::Duration;
use tfprobe::model::SavedModelInfo;
use tfprobe::runtime::{
    Backend, LoadOptions, ModelWorker, NamedTensors, RuntimeError, TfBackend, WorkerOptions,
};
use tfprobe::tensor::{Tensor, TensorData};

/// A backend that blocks every run until released, echoing its inputs.
#[derive(Default)]
struct GateBackend {
    model: SavedModelInfo,
    open: Mutex<bool>,
    opened: Condvar,
    started: AtomicUsize,
    finished: AtomicUsize,
}

impl GateBackend {
    fn release(&self) {
        *self.open.lock().unwrap() = true;
        self.opened.notify_all();
    }

    fn wait_started(&self, count: usize) {
        for _ in 0..500 {
            if self.started.load(Ordering::SeqCst) >= count {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("only {} runs started", self.started.load(Ordering::SeqCst));
    }
}

impl Backend for GateBackend {
    fn model(&self) -> &SavedModelInfo {
        &self.model
    }

    fn run(
        &self,
        signature_key: &str,
        inputs: NamedTensors,
        _output_keys: &[String],
    ) -> Result<NamedTensors, RuntimeError> {
        self.started.fetch_add(1, Ordering::SeqCst);
        if signature_key == "panic" {
            panic!("backend exploded");
        }
        let mut open = self.open.lock().unwrap();
        while !*open {
            open = self.opened.wait(open).unwrap();
        }
        drop(open);
        self.finished.fetch_add(1, Ordering::SeqCst);
        Ok(inputs)
    }
}

fn scalar(value: f32) -> NamedTensors {
    [(
        "x".to_string(),
        Tensor::scalar(TensorData::Float(vec![value])).unwrap(),
    )]
    .into()
}

#[test]
fn full_queue_answers_queue_full_and_shutdown_drains() {
    let backend = Arc::new(GateBackend::default());
    let worker = Arc::new(ModelWorker::new(
        backend.clone(),
        WorkerOptions {
            threads: 2,
            queue_capacity: 3,
        },
    ));
    // Two runs occupy both threads, three wait in the queue.
    let callers: Vec<_> = (0..5)
        .map(|index| {
            let worker = worker.clone();
            let handle = std::thread::spawn(move || worker.run("s", scalar(index as f32), &[]));
            if index == 1 {
                backend.wait_started(2);
            }
            handle
        })
        .collect();
    // Wait until all five are in flight.
    for _ in 0..500 {
        if worker.in_flight() == 5 {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(worker.in_flight(), 5);
    let err = worker.run("s", scalar(9.0), &[]).unwrap_err();
    assert!(
        matches!(err, RuntimeError::QueueFull { capacity: 3 }),
        "{err}"
    );
    assert_eq!(
        err.code(),
        tfprobe::pb::tensorflow::error::Code::ResourceExhausted
    );
    backend.release();
    let mut values: Vec<f32> = callers
        .into_iter()
        .map(|caller| match &caller.join().unwrap().unwrap()["x"].data {
            TensorData::Float(values) => values[0],
            other => panic!("{other:?}"),
        })
        .collect();
    values.sort_by(f32::total_cmp);
    assert_eq!(values, [0.0, 1.0, 2.0, 3.0, 4.0]);
    worker.shutdown();
    assert!(matches!(
        worker.run("s", scalar(1.0), &[]),
        Err(RuntimeError::ShuttingDown)
    ));
}

#[test]
fn shutdown_runs_what_is_queued() {
    let backend = Arc::new(GateBackend::default());
    let worker = Arc::new(ModelWorker::new(
        backend.clone(),
        WorkerOptions {
            threads: 1,
            queue_capacity: 8,
        },
    ));
    let receivers: Vec<_> = (0..4)
        .map(|index| worker.submit_async("s", scalar(index as f32), &[]).unwrap())
        .collect();
    backend.wait_started(1);
    let stopper = {
        let worker = worker.clone();
        std::thread::spawn(move || worker.shutdown())
    };
    std::thread::sleep(Duration::from_millis(50));
    backend.release();
    stopper.join().unwrap();
    assert_eq!(backend.finished.load(Ordering::SeqCst), 4);
    for receiver in receivers {
        assert!(receiver.blocking_recv().unwrap().is_ok());
    }
}

#[test]
fn a_panicking_run_is_an_error_and_the_worker_goes_on() {
    // The model thread panics on purpose: not while a reliability test counts panics.
    let _expected = panics::expect_panics();
    let backend = Arc::new(GateBackend::default());
    backend.release();
    let worker = ModelWorker::new(
        backend,
        WorkerOptions {
            threads: 1,
            queue_capacity: 1,
        },
    );
    let err = worker.run("panic", scalar(1.0), &[]).unwrap_err();
    assert!(err.to_string().contains("backend exploded"), "{err}");
    assert!(worker.run("s", scalar(2.0), &[]).is_ok());
}

#[test]
fn many_callers_on_real_tensorflow_blocking_and_async() {
    tf::ensure_runtime();
    let backend = TfBackend::load(&fixture("two_versions/2"), &LoadOptions::default()).unwrap();
    let worker = Arc::new(ModelWorker::new(
        Arc::new(backend),
        WorkerOptions {
            threads: 2,
            queue_capacity: 64,
        },
    ));
    let start = Arc::new(Barrier::new(8));
    let threads: Vec<_> = (0..8)
        .map(|caller| {
            let worker = worker.clone();
            let start = start.clone();
            std::thread::spawn(move || {
                start.wait();
                for round in 0..10 {
                    let x = (caller * 10 + round) as f32;
                    let input = Tensor::new(vec![1], TensorData::Float(vec![x])).unwrap();
                    let outputs = worker
                        .run("serving_default", [("x".to_string(), input)].into(), &[])
                        .unwrap();
                    // two_versions/2 computes y = 3 x - 1 (see its recorded outputs).
                    assert_eq!(outputs["y"].data, TensorData::Float(vec![3.0 * x - 1.0]));
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    runtime.block_on(async {
        let tasks: Vec<_> = (0..16)
            .map(|index| {
                let worker = worker.clone();
                tokio::spawn(async move {
                    let input =
                        Tensor::new(vec![1], TensorData::Float(vec![index as f32])).unwrap();
                    worker
                        .run_async("serving_default", [("x".to_string(), input)].into(), &[])
                        .await
                })
            })
            .collect();
        for (index, task) in tasks.into_iter().enumerate() {
            let outputs = task.await.unwrap().unwrap();
            assert_eq!(
                outputs["y"].data,
                TensorData::Float(vec![3.0 * index as f32 - 1.0])
            );
        }
    });
    worker.shutdown();
}
