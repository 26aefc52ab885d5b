//! Issue 18, side by side in one run: REST JSON for big float tensors.
//!
//! - JSON parse of a 224x224x3 float32 predict body (batch 1 and 8), written
//!   the way Python clients write float32s (the double's shortest text) and the
//!   way tfprobe's client does (the float's): the document-tree reader
//!   (before) against the one-pass reader (after), as MB/s of body, with the
//!   peak memory each allocates (a counting allocator);
//! - the response writer and the client's response reader on a float output of
//!   the same size;
//! - round trips on a synthetic model of that input shape (`Mean` over the
//!   image, built here without Python), and on the seed-like and demo models
//!   with a b64 JPEG: raw `Backend::run`, REST with the one-pass reader, REST
//!   with the tree reader only (before), gRPC; p50 and ratios;
//! - the process's peak RSS.
//!
//! Run: `cargo bench --bench rest_json` (`-- --quick` for fewer rounds). Under
//! `cargo test --all-targets` (no `--bench`) it does one round of each, as a smoke test.

// Test code: a failed unwrap or expect is the benchmark failing, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/it/support/http.rs"]
#[allow(dead_code)]
mod http;
#[path = "../tests/it/support/mean_model.rs"]
mod mean_model;

use http::Http;
use std::alloc::{GlobalAlloc, Layout, System};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tfprobe::client::rest_json::{decode_predict_response, encode_predict_request};
use tfprobe::model::{DType, Shape, SignatureInfo, TensorInfoView};
use tfprobe::pb::convert::tensor_to_proto;
use tfprobe::pb::tensorflow::serving::prediction_service_client::PredictionServiceClient;
use tfprobe::pb::tensorflow::serving::{ModelSpec, PredictRequest};
use tfprobe::runtime::{Backend, LoadOptions, NamedTensors, TfBackend};
use tfprobe::server::json::{Format, PredictBody, outputs_json, stream_predict};
use tfprobe::server::{ModelSource, ServerConfig};
use tfprobe::tensor::{Tensor, TensorData};

/// The system allocator, counting the bytes live now and at the peak.
struct Counting;

static LIVE_BYTES: AtomicUsize = AtomicUsize::new(0);
static PEAK_BYTES: AtomicUsize = AtomicUsize::new(0);

fn grew(size: usize) {
    let live = LIVE_BYTES.fetch_add(size, Ordering::Relaxed) + size;
    PEAK_BYTES.fetch_max(live, Ordering::Relaxed);
}

// SAFETY: every call goes to `System` with the caller's own arguments; the
// counters only observe sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's layout, passed on unchanged.
        let pointer = unsafe { System.alloc(layout) };
        if !pointer.is_null() {
            grew(layout.size());
        }
        pointer
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        // SAFETY: the pointer came from `alloc` with this layout.
        unsafe { System.dealloc(pointer, layout) };
        LIVE_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's block and sizes, passed on unchanged.
        let moved = unsafe { System.realloc(pointer, layout, new_size) };
        if !moved.is_null() {
            LIVE_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
            grew(new_size);
        }
        moved
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `work`, answering its result and the most bytes it had allocated at once.
fn peak_during<T>(work: impl FnOnce() -> T) -> (T, usize) {
    let base = LIVE_BYTES.load(Ordering::Relaxed);
    PEAK_BYTES.store(base, Ordering::Relaxed);
    let out = work();
    (out, PEAK_BYTES.load(Ordering::Relaxed) - base)
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

fn mb_per_s(bytes: usize, duration: Duration) -> f64 {
    bytes as f64 / duration.as_secs_f64() / 1e6
}

/// A float image batch with deterministic values in [0, 1).
fn image_batch(batch: u64) -> Tensor {
    let count = batch as usize * 224 * 224 * 3;
    let values = (0..count)
        .map(|index| ((index * 7919) % 10007) as f32 / 10007.0)
        .collect();
    Tensor::new(vec![batch, 224, 224, 3], TensorData::Float(values)).unwrap()
}

/// `{"instances": ...}` the way Python's json writes float32 values.
fn python_body(tensor: &Tensor) -> String {
    let TensorData::Float(values) = &tensor.data else {
        unreachable!()
    };
    let mut out = String::with_capacity(values.len() * 22);
    out.push_str("{\"instances\": ");
    write_nested(&mut out, values, &tensor.shape);
    out.push('}');
    out
}

fn write_nested(out: &mut String, values: &[f32], shape: &[u64]) {
    let Some((&size, inner)) = shape.split_first() else {
        out.push_str(ryu::Buffer::new().format(f64::from(values[0])));
        return;
    };
    let stride = values.len() / size as usize;
    out.push('[');
    for (index, chunk) in values.chunks(stride).enumerate() {
        if index > 0 {
            out.push_str(", ");
        }
        write_nested(out, chunk, inner);
    }
    out.push(']');
}

fn float_signature(input_shape: &[i64], output: &str) -> SignatureInfo {
    let view = |key: &str, sizes: &[i64]| TensorInfoView {
        key: key.into(),
        dtype: DType::FLOAT,
        shape: Shape::from_sizes(sizes),
        name: format!("{key}:0"),
    };
    SignatureInfo {
        key: "serving_default".into(),
        method_name: "tensorflow/serving/predict".into(),
        inputs: vec![view("x", input_shape)],
        outputs: vec![view(output, &[-1])],
    }
}

fn time_runs<T>(rounds: usize, mut work: impl FnMut() -> T) -> Duration {
    median(
        (0..rounds)
            .map(|_| {
                let started = Instant::now();
                std::hint::black_box(work());
                started.elapsed()
            })
            .collect(),
    )
}

fn bench_parse(rounds: usize) {
    let signature = float_signature(&[-1, 224, 224, 3], "y");
    println!("\nJSON parse of a predict body (224x224x3 float32), median of {rounds}");
    println!(
        "  {:<30} {:>9} {:>11} {:>11} {:>9} {:>12} {:>12}",
        "body", "MB", "tree MB/s", "1-pass MB/s", "speed-up", "tree peak MB", "1-pass peak"
    );
    for batch in [1u64, 8] {
        let tensor = image_batch(batch);
        let tensor_mb = tensor.data.size_bytes() as f64 / 1e6;
        let inputs: NamedTensors = [("x".to_string(), tensor.clone())].into();
        for (label, body) in [
            (format!("batch {batch}, Python-style"), python_body(&tensor)),
            (
                format!("batch {batch}, tfprobe client"),
                encode_predict_request(&inputs, None),
            ),
        ] {
            let tree = || {
                let parsed = PredictBody::parse(body.as_bytes()).unwrap();
                parsed.inputs(&signature).unwrap().1
            };
            let one_pass = || {
                stream_predict(body.as_bytes(), |_| Some(&signature))
                    .unwrap()
                    .inputs
            };
            let (tree_inputs, tree_peak) = peak_during(tree);
            let (fast_inputs, fast_peak) = peak_during(one_pass);
            assert_eq!(tree_inputs, fast_inputs);
            assert_eq!(fast_inputs["x"].shape, vec![batch, 224, 224, 3]);
            drop((tree_inputs, fast_inputs));
            let tree_time = time_runs(rounds.div_ceil(4), tree);
            let fast_time = time_runs(rounds, one_pass);
            println!(
                "  {:<30} {:>9.1} {:>11.0} {:>11.0} {:>8.1}x {:>12.1} {:>12.1}",
                label,
                body.len() as f64 / 1e6,
                mb_per_s(body.len(), tree_time),
                mb_per_s(body.len(), fast_time),
                tree_time.as_secs_f64() / fast_time.as_secs_f64(),
                tree_peak as f64 / 1e6,
                fast_peak as f64 / 1e6,
            );
        }
        println!("  (tensor: {tensor_mb:.1} MB; peaks count the tensor, not the body)");
    }
}

fn bench_response(rounds: usize) {
    println!("\nResponse JSON of a float output (224x224x3 per item), median of {rounds}");
    println!(
        "  {:<12} {:>9} {:>12} {:>14} {:>16}",
        "output", "MB", "write ms", "write MB/s", "client read MB/s"
    );
    for batch in [1u64, 8] {
        let outputs: NamedTensors = [("y".to_string(), image_batch(batch))].into();
        let signature = float_signature(&[-1], "y");
        let write = || outputs_json(&outputs, Format::Row).unwrap();
        let text = write();
        let read = || decode_predict_response(text.as_bytes(), Some(&signature)).unwrap();
        assert_eq!(read()["y"].shape, vec![batch, 224, 224, 3]);
        let write_time = time_runs(rounds, write);
        let read_time = time_runs(rounds.div_ceil(2), read);
        println!(
            "  {:<12} {:>9.1} {:>12.2} {:>14.0} {:>16.0}",
            format!("batch {batch}"),
            text.len() as f64 / 1e6,
            ms(write_time),
            mb_per_s(text.len(), write_time),
            mb_per_s(text.len(), read_time),
        );
    }
}

struct Served {
    backend: Arc<dyn Backend>,
    fast: tfprobe::server::ServerHandle,
    tree: tfprobe::server::ServerHandle,
}

fn serve(runtime: &tokio::runtime::Runtime, base: &Path) -> Served {
    let latest = std::fs::read_dir(base)
        .unwrap()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u64>().ok())
        .max()
        .unwrap();
    let backend: Arc<dyn Backend> =
        Arc::new(TfBackend::load(&base.join(latest.to_string()), &LoadOptions::default()).unwrap());
    let start = |one_pass: bool| {
        let shared = backend.clone();
        let mut config = ServerConfig::new(
            vec![ModelSource::new("model", base.to_path_buf())],
            Arc::new(move |_: &Path| Ok(shared.clone())),
        );
        config.grpc_port = Some(0);
        config.rest_port = Some(0);
        config.poll_interval = None;
        config.rest_one_pass_json = one_pass;
        runtime.block_on(tfprobe::server::start(config)).unwrap()
    };
    Served {
        backend: backend.clone(),
        fast: start(true),
        tree: start(false),
    }
}

/// p50 of raw, REST (one-pass), REST (tree), gRPC, interleaved round by round.
fn round_trips(label: &str, served: &Served, inputs: &NamedTensors, body: &str, rounds: usize) {
    let client_runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut fast = Http::connect(served.fast.rest_addr().unwrap());
    let mut tree = Http::connect(served.tree.rest_addr().unwrap());
    let grpc_addr = served.fast.grpc_addr().unwrap();
    let mut grpc = client_runtime.block_on(async {
        let channel = tonic::transport::Channel::from_shared(format!("http://{grpc_addr}"))
            .unwrap()
            .connect()
            .await
            .unwrap();
        PredictionServiceClient::new(channel)
            .max_decoding_message_size(usize::MAX)
            .max_encoding_message_size(usize::MAX)
    });
    let request = PredictRequest {
        model_spec: Some(ModelSpec {
            name: "model".into(),
            ..Default::default()
        }),
        inputs: inputs
            .iter()
            .map(|(key, tensor)| (key.clone(), tensor_to_proto(tensor)))
            .collect(),
        ..Default::default()
    };
    let mut samples: [Vec<Duration>; 4] = Default::default();
    // Two warm-up rounds, none in the smoke run.
    let warmup = if rounds > 1 { 2 } else { 0 };
    for round in 0..rounds + warmup {
        let mut timed = |index: usize, call: &mut dyn FnMut()| {
            let started = Instant::now();
            call();
            if round >= warmup {
                samples[index].push(started.elapsed());
            }
        };
        timed(0, &mut || {
            served
                .backend
                .run("serving_default", inputs.clone(), &[])
                .unwrap();
        });
        timed(1, &mut || {
            let reply = fast.post("/v1/models/model:predict", body);
            assert_eq!(reply.status, 200, "{}", reply.body);
        });
        timed(2, &mut || {
            let reply = tree.post("/v1/models/model:predict", body);
            assert_eq!(reply.status, 200, "{}", reply.body);
        });
        timed(3, &mut || {
            client_runtime
                .block_on(grpc.predict(request.clone()))
                .unwrap();
        });
    }
    let [raw, fast, tree, grpc] = samples.map(median);
    println!(
        "  {:<38} {:>8.2} {:>9.2} {:>9.2} {:>8.2} {:>10.2}x {:>10.2}x {:>11.2}",
        label,
        ms(raw),
        ms(fast),
        ms(tree),
        ms(grpc),
        fast.as_secs_f64() / grpc.as_secs_f64(),
        tree.as_secs_f64() / grpc.as_secs_f64(),
        ms(fast) - ms(grpc),
    );
}

fn bench_round_trips(rounds: usize) {
    println!("\nRound trips, p50 ms over {rounds} interleaved rounds (loopback, keep-alive)");
    println!(
        "  {:<38} {:>8} {:>9} {:>9} {:>8} {:>11} {:>11} {:>11}",
        "workload", "raw", "REST now", "REST old", "gRPC", "now/gRPC", "old/gRPC", "now-gRPC ms"
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("mean");
    mean_model::write_mean_model(&base, &[224, 224, 3]);
    let served = serve(&runtime, &base);
    // The smoke run (one round) skips batch 8.
    let batches: &[u64] = if rounds > 1 { &[1, 8] } else { &[1] };
    for &batch in batches {
        let tensor = image_batch(batch);
        let body = python_body(&tensor);
        let inputs: NamedTensors = [("x".to_string(), tensor)].into();
        let label = format!("Mean(224x224x3 float), batch {batch}");
        round_trips(&label, &served, &inputs, &body, rounds);
    }
    shut_down(&runtime, served);
    for (label, model, image) in [
        (
            "seedlike, b64 JPEG 48x40",
            "tests/fixtures/models/seedlike",
            "tests/fixtures/images/gradient_48x40.jpg",
        ),
        (
            "efficientnet_lite0, b64 rocket.jpg",
            "assets/models/efficientnet_lite0",
            "assets/images/rocket.jpg",
        ),
    ] {
        let jpeg = std::fs::read(repo().join(image)).unwrap();
        let body = format!("{{\"instances\": [{{\"b64\": \"{}\"}}]}}", http::b64(&jpeg));
        let tensor = Tensor::new(vec![1], TensorData::String(vec![jpeg])).unwrap();
        let inputs: NamedTensors = [("image_bytes".to_string(), tensor)].into();
        let served = serve(&runtime, &repo().join(model));
        round_trips(label, &served, &inputs, &body, rounds * 4);
        shut_down(&runtime, served);
    }
}

fn shut_down(runtime: &tokio::runtime::Runtime, served: Served) {
    runtime.block_on(served.fast.shutdown());
    runtime.block_on(served.tree.shutdown());
}

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<f64>()
                .ok()
        })
        .map_or(f64::NAN, |kib| kib * 1024.0 / 1e6)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let bench = args.iter().any(|arg| arg == "--bench");
    let quick = args.iter().any(|arg| arg == "--quick");
    let rounds = match (bench, quick) {
        (true, false) => 20,
        (true, true) => 6,
        _ => 1,
    };
    bench_parse(rounds);
    bench_response(rounds);
    match tfprobe::runtime::library::ensure_loaded() {
        Ok(_) => bench_round_trips(rounds),
        Err(err) => println!("\nround trips skipped: {err}"),
    }
    println!("\npeak RSS of this process: {:.0} MB", peak_rss_mb());
}
