//! What the server adds to a model run: REST and gRPC round trips (batch 1,
//! loopback, keep-alive) against the raw `Backend::run` of the same loaded
//! session, in the same process and run, as p50/p90 latency (the three calls
//! interleaved, so that other load on the machine hits them alike) and as
//! throughput at concurrency 8 (the raw rate measured before and after).
//!
//! Run: `cargo bench --bench server` (add `-- --quick` for a short run). Under
//! `cargo test --all-targets` (no `--bench` argument) it does a few iterations
//! only, as a smoke test. Needs libtensorflow (`tfprobe runtime install`);
//! without it the benchmark says so and exits. `TFPROBE_BENCH_MODEL_THREADS=N`
//! overrides the server's threads per model (`--model_threads`).

// Test code: a failed unwrap or expect is the test (or benchmark) failing, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

// The integration tests' HTTP/1.1 client; the benchmark sends predicts only.
#[path = "../tests/it/support/http.rs"]
#[allow(dead_code)]
mod http;

use http::Http;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tfprobe::pb::convert::tensor_to_proto;
use tfprobe::pb::tensorflow::serving::prediction_service_client::PredictionServiceClient;
use tfprobe::pb::tensorflow::serving::{ModelSpec, PredictRequest};
use tfprobe::runtime::{Backend, LoadOptions, NamedTensors, TfBackend};
use tfprobe::server::{ModelSource, ServerConfig};
use tfprobe::tensor::{Tensor, TensorData};

struct Settings {
    iterations: usize,
    warmup: usize,
    throughput_for: Duration,
}

struct Workload {
    label: &'static str,
    base_path: PathBuf,
    inputs: NamedTensors,
    rest_body: String,
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn workloads() -> Vec<Workload> {
    let floats = Tensor::new(vec![4], TensorData::Float(vec![1.0, 2.0, 3.0, 4.0])).unwrap();
    let jpeg = |path: &str| std::fs::read(repo().join(path)).unwrap();
    let image = |bytes: Vec<u8>| Tensor::new(vec![1], TensorData::String(vec![bytes])).unwrap();
    let small_jpeg = jpeg("tests/fixtures/images/gradient_48x40.jpg");
    let rocket = jpeg("assets/images/rocket.jpg");
    let b64_body =
        |bytes: &[u8]| format!("{{\"instances\": [{{\"b64\": \"{}\"}}]}}", http::b64(bytes));
    vec![
        Workload {
            label: "tiny (4 floats -> 4 floats)",
            base_path: repo().join("tests/fixtures/models/two_versions"),
            inputs: [("x".to_string(), floats)].into(),
            rest_body: "{\"instances\": [1.0, 2.0, 3.0, 4.0]}".into(),
        },
        Workload {
            label: "seedlike (JPEG -> class + 1001 floats)",
            base_path: repo().join("tests/fixtures/models/seedlike"),
            inputs: [("image_bytes".to_string(), image(small_jpeg.clone()))].into(),
            rest_body: b64_body(&small_jpeg),
        },
        Workload {
            label: "efficientnet_lite0 (demo, rocket.jpg)",
            base_path: repo().join("assets/models/efficientnet_lite0"),
            inputs: [("image_bytes".to_string(), image(rocket.clone()))].into(),
            rest_body: b64_body(&rocket),
        },
    ]
}

fn percentile(samples: &mut [Duration], fraction: f64) -> Duration {
    samples.sort();
    samples[((samples.len() - 1) as f64 * fraction).round() as usize]
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

/// p50 and p90 of each call, measured in interleaved rounds (one call of each
/// per round) so that load changes on the machine hit all of them alike.
fn time_interleaved(
    settings: &Settings,
    calls: &mut [&mut dyn FnMut()],
) -> Vec<(Duration, Duration)> {
    for _ in 0..settings.warmup {
        calls.iter_mut().for_each(|call| call());
    }
    let mut samples = vec![Vec::with_capacity(settings.iterations); calls.len()];
    for _ in 0..settings.iterations {
        for (call, samples) in calls.iter_mut().zip(&mut samples) {
            let started = Instant::now();
            call();
            samples.push(started.elapsed());
        }
    }
    samples
        .iter_mut()
        .map(|samples| (percentile(samples, 0.5), percentile(samples, 0.9)))
        .collect()
}

/// Requests per second with `threads` callers for `duration`.
fn throughput(
    threads: usize,
    duration: Duration,
    make: impl Fn() -> Box<dyn FnMut() + Send>,
) -> f64 {
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (stop, done, mut call) = (stop.clone(), done.clone(), make());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    call();
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    std::thread::sleep(duration / 5);
    let start_count = done.load(Ordering::Relaxed);
    let started = Instant::now();
    std::thread::sleep(duration);
    let count = done.load(Ordering::Relaxed) - start_count;
    let elapsed = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        worker.join().unwrap();
    }
    count as f64 / elapsed.as_secs_f64()
}

fn grpc_request(inputs: &NamedTensors) -> PredictRequest {
    PredictRequest {
        model_spec: Some(ModelSpec {
            name: "model".into(),
            ..Default::default()
        }),
        inputs: inputs
            .iter()
            .map(|(key, tensor)| (key.clone(), tensor_to_proto(tensor)))
            .collect(),
        ..Default::default()
    }
}

fn grpc_client(
    runtime: &tokio::runtime::Runtime,
    addr: SocketAddr,
) -> PredictionServiceClient<tonic::transport::Channel> {
    runtime.block_on(async {
        let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect()
            .await
            .unwrap();
        PredictionServiceClient::new(channel).max_decoding_message_size(usize::MAX)
    })
}

fn bench_workload(
    settings: &Settings,
    server_runtime: &tokio::runtime::Runtime,
    workload: &Workload,
) {
    let versions: Vec<i64> = std::fs::read_dir(&workload.base_path)
        .unwrap()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse().ok())
        .collect();
    let latest = versions.into_iter().max().expect("a version folder");
    let backend: Arc<dyn Backend> = Arc::new(
        TfBackend::load(
            &workload.base_path.join(latest.to_string()),
            &LoadOptions::default(),
        )
        .unwrap(),
    );

    // The server runs the very same session.
    let shared = backend.clone();
    let mut config = ServerConfig::new(
        vec![ModelSource::new("model", workload.base_path.clone())],
        Arc::new(move |_: &Path| Ok(shared.clone())),
    );
    config.grpc_port = Some(0);
    config.rest_port = Some(0);
    config.poll_interval = None;
    if let Some(threads) = std::env::var("TFPROBE_BENCH_MODEL_THREADS")
        .ok()
        .and_then(|value| value.parse().ok())
    {
        config.model_threads = threads;
    }
    let server = server_runtime
        .block_on(tfprobe::server::start(config))
        .unwrap();
    let (rest, grpc) = (server.rest_addr().unwrap(), server.grpc_addr().unwrap());
    let client_runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    let mut http = Http::connect(rest);
    let mut client = grpc_client(&client_runtime, grpc);
    let request = grpc_request(&workload.inputs);
    let mut raw_call = || {
        backend
            .run("serving_default", workload.inputs.clone(), &[])
            .unwrap();
    };
    let mut rest_call = || {
        let reply = http.post("/v1/models/model:predict", &workload.rest_body);
        assert_eq!(reply.status, 200, "{}", reply.body);
    };
    let mut grpc_call = || {
        client_runtime
            .block_on(client.predict(request.clone()))
            .unwrap();
    };
    let latencies = time_interleaved(
        settings,
        &mut [&mut raw_call, &mut rest_call, &mut grpc_call],
    );
    let (raw, rest_latency, grpc_latency) = (latencies[0], latencies[1], latencies[2]);

    let threads = 8;
    let duration = settings.throughput_for;
    let raw_throughput = || {
        throughput(threads, duration, || {
            let (backend, inputs) = (backend.clone(), workload.inputs.clone());
            Box::new(move || {
                backend.run("serving_default", inputs.clone(), &[]).unwrap();
            })
        })
    };
    let raw_before = raw_throughput();
    let rest_rate = throughput(threads, duration, || {
        let mut http = Http::connect(rest);
        let body = workload.rest_body.clone();
        Box::new(move || {
            let reply = http.post("/v1/models/model:predict", &body);
            assert_eq!(reply.status, 200);
        })
    });
    let grpc_rate = throughput(threads, duration, || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let mut client = grpc_client(&runtime, grpc);
        let request = request.clone();
        Box::new(move || {
            runtime.block_on(client.predict(request.clone())).unwrap();
        })
    });
    // The raw rate is the mean of a run before and one after the server's runs.
    let raw_rate = (raw_before + raw_throughput()) / 2.0;
    server_runtime.block_on(server.shutdown());

    println!("\n{}", workload.label);
    println!(
        "  {:<22} {:>9} {:>9} {:>13} {:>12}",
        "", "p50 ms", "p90 ms", "overhead p50", "req/s @8"
    );
    println!(
        "  {:<22} {:>9.3} {:>9.3} {:>13} {:>12.0}",
        "raw Backend::run",
        ms(raw.0),
        ms(raw.1),
        "-",
        raw_rate
    );
    for (name, latency, rate) in [
        ("REST (keep-alive)", rest_latency, rest_rate),
        ("gRPC", grpc_latency, grpc_rate),
    ] {
        println!(
            "  {:<22} {:>9.3} {:>9.3} {:>10.3} ms {:>12.0}  ({:.2}x raw)",
            name,
            ms(latency.0),
            ms(latency.1),
            ms(latency.0) - ms(raw.0),
            rate,
            rate / raw_rate
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let full = args.iter().any(|arg| arg == "--bench") && !args.iter().any(|arg| arg == "--quick");
    let quick = args.iter().any(|arg| arg == "--quick");
    let settings = if full {
        Settings {
            iterations: 2000,
            warmup: 200,
            throughput_for: Duration::from_secs(3),
        }
    } else if quick {
        Settings {
            iterations: 300,
            warmup: 50,
            throughput_for: Duration::from_secs(1),
        }
    } else {
        Settings {
            iterations: 5,
            warmup: 2,
            throughput_for: Duration::from_millis(100),
        }
    };
    match tfprobe::runtime::library::ensure_loaded() {
        Ok(runtime) => println!(
            "TensorFlow {} from {}",
            runtime.version,
            runtime.location.dir.display()
        ),
        Err(err) => {
            println!("server benchmark skipped: {err}");
            return;
        }
    }
    let cores = std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(1);
    println!(
        "{} iterations per latency, {:?} per throughput run, {cores} cores (clients and server share them)",
        settings.iterations, settings.throughput_for
    );
    let server_runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    for workload in workloads() {
        bench_workload(&settings, &server_runtime, &workload);
    }
}
