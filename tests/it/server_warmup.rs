//! SavedModel warmup (assets.extra/tf_serving_warmup_requests) with the real
//! TensorFlow runtime: records are replayed before a version is AVAILABLE,
//! a broken file or request fails that version's load only, and TF Serving's
//! 1000-record limit holds. The warmup files are written here by a TFRecord
//! writer of its own (bit-by-bit CRC32C), independent of the server's reader.

use crate::support::http::post;
use crate::support::server::{config, counting_loader, start};
use crate::support::tf;
use crate::support::{copy_dir, fixture};
use prost::Message;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tfprobe::pb::tensorflow::error::Code;
use tfprobe::pb::tensorflow::serving::model_version_status::State;
use tfprobe::pb::tensorflow::serving::prediction_log::LogType;
use tfprobe::pb::tensorflow::serving::{
    ClassificationRequest, ClassifyLog, ExampleList, Input, ModelSpec, PredictLog, PredictRequest,
    PredictionLog, RegressLog, RegressionRequest, SessionRunLog, input,
};
use tfprobe::pb::tensorflow::{
    Example, Feature, Features, FloatList, TensorProto, TensorShapeProto, feature,
    tensor_shape_proto,
};
use tfprobe::server::{ModelSource, ServerConfig, ServerHandle, VersionStatus};

/// CRC32C, bit by bit (the server's reader uses a table).
fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0x82f6_3b78 & 0u32.wrapping_sub(crc & 1));
        }
    }
    !crc
}

/// TensorFlow's crc32c::Mask, spelled as TensorFlow spells it.
#[allow(clippy::manual_rotate)]
fn masked_crc(data: &[u8]) -> [u8; 4] {
    let crc = crc32c(data);
    ((crc >> 15) | (crc << 17))
        .wrapping_add(0xa282_ead8)
        .to_le_bytes()
}

/// One TFRecord frame, as tf.io.TFRecordWriter writes it.
fn frame(data: &[u8]) -> Vec<u8> {
    let length = (data.len() as u64).to_le_bytes();
    [&length[..], &masked_crc(&length), data, &masked_crc(data)].concat()
}

fn warmup_file(version_dir: &Path) -> PathBuf {
    version_dir
        .join("assets.extra")
        .join("tf_serving_warmup_requests")
}

fn write_warmup(version_dir: &Path, bytes: &[u8]) {
    let path = warmup_file(version_dir);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

fn framed(records: &[Vec<u8>]) -> Vec<u8> {
    records.iter().flat_map(|record| frame(record)).collect()
}

/// A PredictionLog whose request feeds `input` (float, shape [n]) to the
/// two_versions signature; `spec` as a client would send it.
fn predict_record(input: &str, values: &[f32], spec: ModelSpec, filter: &[&str]) -> Vec<u8> {
    let tensor = TensorProto {
        dtype: 1, // DT_FLOAT
        tensor_shape: Some(TensorShapeProto {
            dim: vec![tensor_shape_proto::Dim {
                size: values.len() as i64,
                name: String::new(),
            }],
            unknown_rank: false,
        }),
        float_val: values.to_vec(),
        ..Default::default()
    };
    PredictionLog {
        log_metadata: None,
        log_type: Some(LogType::PredictLog(PredictLog {
            request: Some(PredictRequest {
                model_spec: Some(spec),
                inputs: [(input.to_string(), tensor)].into_iter().collect(),
                output_filter: filter.iter().map(|key| key.to_string()).collect(),
                ..Default::default()
            }),
            response: None,
        })),
    }
    .encode_to_vec()
}

fn good_record(index: usize) -> Vec<u8> {
    predict_record("x", &[index as f32, 2.0], ModelSpec::default(), &[])
}

/// Three records in the forms clients write: no spec, an explicit signature
/// and output filter, another model's name and version (ignored: the file
/// belongs to the version it is in).
fn three_records() -> Vec<Vec<u8>> {
    let named = ModelSpec {
        signature_name: "serving_default".into(),
        ..Default::default()
    };
    let elsewhere = ModelSpec {
        name: "some_other_model".into(),
        version_choice: Some(
            tfprobe::pb::tensorflow::serving::model_spec::VersionChoice::Version(42),
        ),
        ..Default::default()
    };
    vec![
        good_record(1),
        predict_record("x", &[1.0, 2.0, 3.0], named, &["y"]),
        predict_record("x", &[4.0], elsewhere, &[]),
    ]
}

/// A model folder `base` with version `version` of the two_versions fixture.
fn install(base: &Path, version: i64) -> PathBuf {
    let dir = base.join(version.to_string());
    copy_dir(&fixture("two_versions").join("1"), &dir);
    dir
}

fn counted_config(models: Vec<ModelSource>, runs: &Arc<AtomicUsize>) -> ServerConfig {
    let mut config = config(models);
    config.loader = counting_loader(Arc::clone(runs));
    config
}

fn versions(server: &ServerHandle, model: &str) -> Vec<VersionStatus> {
    server
        .models()
        .into_iter()
        .find(|status| status.name == model)
        .unwrap_or_else(|| panic!("no model {model}"))
        .versions
}

/// The load error of `model`'s only version, which must have failed.
fn load_error(server: &ServerHandle, model: &str) -> (Code, String) {
    let versions = versions(server, model);
    assert_eq!(versions.len(), 1, "{versions:?}");
    assert_eq!(versions[0].state, State::End, "{versions:?}");
    versions[0]
        .error
        .clone()
        .expect("a failed load has an error")
}

/// Log lines of the whole process (each test's paths are its own). The capture is the
/// process's one global tracing subscriber, set by the first test that calls this; no
/// other test or helper sets one (`tfprobe::ui::run` and `tfprobe serve` do, in their
/// own processes).
fn logs() -> &'static Mutex<Vec<u8>> {
    static LOGS: OnceLock<&'static Mutex<Vec<u8>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs: &'static Mutex<Vec<u8>> = Box::leak(Box::new(Mutex::new(Vec::new())));
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || LogWriter(logs))
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("one global subscriber");
        logs
    })
}

struct LogWriter(&'static Mutex<Vec<u8>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn log_lines_mentioning(text: &str) -> Vec<String> {
    String::from_utf8_lossy(&logs().lock().unwrap())
        .lines()
        .filter(|line| line.contains(text))
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_are_replayed_before_the_version_is_available() {
    tf::ensure_runtime();
    logs();
    let base = tempfile::tempdir().unwrap();
    let dir = install(base.path(), 1);
    write_warmup(&dir, &framed(&three_records()));
    let runs = Arc::new(AtomicUsize::new(0));
    let mut config = counted_config(vec![ModelSource::new("warm", base.path())], &runs);
    config.warmup_request_iterations = 2;
    // start() returns once the first load (warmup included) has finished.
    let server = start(config).await;
    assert_eq!(versions(&server, "warm")[0].state, State::Available);
    assert_eq!(
        runs.load(Ordering::SeqCst),
        3 * 2,
        "3 records, 2 iterations"
    );
    assert!(
        server
            .metrics_text()
            .contains(r#"tfprobe_model_warmup_records{model="warm",version="1"} 3"#),
        "{}",
        server.metrics_text()
    );
    let path = warmup_file(&dir).display().to_string();
    let finished =
        log_lines_mentioning(&format!("Finished reading warmup data for model at {path}"));
    assert_eq!(finished.len(), 1, "{finished:?}");
    assert!(
        finished[0].contains(". Number of warmup records read: 3. Elapsed time (microseconds): "),
        "{}",
        finished[0]
    );
    assert_eq!(
        log_lines_mentioning(&format!("Starting to read warmup data for model at {path}")).len(),
        1
    );
    // Serving runs count on top of the warmup's.
    let reply = post(
        server.rest_addr().unwrap(),
        "/v1/models/warm:predict",
        r#"{"instances": [1.0]}"#,
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(runs.load(Ordering::SeqCst), 7);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn classify_and_regress_records_are_replayed() {
    tf::ensure_runtime();
    let base = tempfile::tempdir().unwrap();
    let dir = base.path().join("1");
    copy_dir(&fixture("classify_regress").join("1"), &dir);
    let x = Feature {
        kind: Some(feature::Kind::FloatList(FloatList { value: vec![1.0] })),
    };
    let input = Input {
        kind: Some(input::Kind::ExampleList(ExampleList {
            examples: vec![Example {
                features: Some(Features {
                    feature: [("x".to_string(), x)].into_iter().collect(),
                }),
            }],
        })),
    };
    let classify = PredictionLog {
        log_metadata: None,
        log_type: Some(LogType::ClassifyLog(ClassifyLog {
            request: Some(ClassificationRequest {
                model_spec: None,
                input: Some(input.clone()),
            }),
            response: None,
        })),
    };
    let regress = PredictionLog {
        log_metadata: None,
        log_type: Some(LogType::RegressLog(RegressLog {
            request: Some(RegressionRequest {
                model_spec: Some(ModelSpec {
                    signature_name: "regress".into(),
                    ..Default::default()
                }),
                input: Some(input),
            }),
            response: None,
        })),
    };
    write_warmup(
        &dir,
        &framed(&[classify.encode_to_vec(), regress.encode_to_vec()]),
    );
    let runs = Arc::new(AtomicUsize::new(0));
    let server = start(counted_config(
        vec![ModelSource::new("cr", base.path())],
        &runs,
    ))
    .await;
    assert_eq!(versions(&server, "cr")[0].state, State::Available);
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_warmup_files_fail_their_version_only() {
    tf::ensure_runtime();
    let base = tempfile::tempdir().unwrap();
    let model_dir = |name: &str| install(&base.path().join(name), 1);
    let records = framed(&three_records());
    let second = frame(&three_records()[0]).len();

    let crc = model_dir("crc");
    let mut corrupt = records.clone();
    corrupt[second + 14] ^= 0x01; // a data byte of record 2
    write_warmup(&crc, &corrupt);

    let truncated = model_dir("truncated");
    write_warmup(&truncated, &records[..records.len() - 2]);

    let bad_request = model_dir("bad_request");
    let unknown_input = predict_record("z", &[1.0], ModelSpec::default(), &[]);
    write_warmup(
        &bad_request,
        &framed(&[good_record(1), unknown_input, good_record(3)]),
    );

    let unparsable = model_dir("unparsable");
    write_warmup(&unparsable, &frame(b"malformed_record"));

    let unsupported = model_dir("unsupported");
    let session_run = PredictionLog {
        log_metadata: None,
        log_type: Some(LogType::SessionRunLog(SessionRunLog {})),
    };
    write_warmup(&unsupported, &frame(&session_run.encode_to_vec()));

    // A record that logged nothing is skipped, as TF Serving skips it.
    let good = model_dir("good");
    write_warmup(&good, &framed(&[good_record(1), Vec::new()]));

    let names = [
        "crc",
        "truncated",
        "bad_request",
        "unparsable",
        "unsupported",
        "good",
    ];
    let sources = names
        .iter()
        .map(|name| ModelSource::new(*name, base.path().join(name)))
        .collect();
    let server = start(config(sources)).await;
    let file = |dir: &Path| warmup_file(dir).display().to_string();

    let (code, message) = load_error(&server, "crc");
    assert_eq!(code, Code::DataLoss);
    assert_eq!(
        message,
        format!(
            "corrupted record at {second} (the checksum of its data does not match) in warmup record 2 of {}. Please verify your warmup data is in TFRecord format.",
            file(&crc)
        )
    );
    let (code, message) = load_error(&server, "truncated");
    assert_eq!(code, Code::DataLoss);
    assert!(
        message.starts_with("truncated record at ")
            && message.contains(&format!("in warmup record 3 of {}.", file(&truncated))),
        "{message}"
    );
    let (code, message) = load_error(&server, "bad_request");
    assert_eq!(code, Code::InvalidArgument);
    assert_eq!(
        message,
        format!(
            "warmup record 2 of {} failed: input size does not match signature: 1!=1 len({{z}}) != len({{x}}). Sent extra: {{z}}. Missing but required: {{x}}.",
            file(&bad_request)
        )
    );
    let (code, message) = load_error(&server, "unparsable");
    assert_eq!(code, Code::InvalidArgument);
    assert!(
        message.starts_with(&format!(
            "Failed to parse warmup record 1 from {}",
            file(&unparsable)
        )),
        "{message}"
    );
    let (code, message) = load_error(&server, "unsupported");
    assert_eq!(code, Code::Unimplemented);
    assert!(
        message.starts_with("Unsupported log_type for warmup: session_run_log (warmup record 1"),
        "{message}"
    );

    // The other model loaded and serves.
    assert_eq!(versions(&server, "good")[0].state, State::Available);
    let reply = post(
        server.rest_addr().unwrap(),
        "/v1/models/good:predict",
        r#"{"instances": [1.0]}"#,
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let reply = post(
        server.rest_addr().unwrap(),
        "/v1/models/crc:predict",
        r#"{"instances": [1.0]}"#,
    );
    assert_eq!(reply.status, 404, "{}", reply.body);
    assert!(
        reply.error().contains("corrupted record at"),
        "{}",
        reply.body
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_version_with_broken_warmup_leaves_the_old_one_serving() {
    tf::ensure_runtime();
    let base = tempfile::tempdir().unwrap();
    install(base.path(), 1);
    let server = start(config(vec![ModelSource::new("m", base.path())])).await;
    // Version 2 is written aside and renamed in, as deployments do.
    let staging = install(&base.path().join(".staging"), 2);
    write_warmup(&staging, &framed(&three_records())[..20]);
    std::fs::rename(&staging, base.path().join("2")).unwrap();
    let started = Instant::now();
    loop {
        let versions = versions(&server, "m");
        if versions[0].version == 2 && versions[0].state == State::End {
            let (code, message) = versions[0].error.clone().unwrap();
            assert_eq!(code, Code::DataLoss);
            assert!(message.contains("truncated record at 0"), "{message}");
            assert_eq!(versions[1].state, State::Available, "{versions:?}");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "version 2 never failed: {versions:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let reply = post(
        server.rest_addr().unwrap(),
        "/v1/models/m:predict",
        r#"{"instances": [1.0]}"#,
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_than_1000_records_fail_the_load_as_in_tf_serving() {
    tf::ensure_runtime();
    let base = tempfile::tempdir().unwrap();
    let at_limit = install(&base.path().join("at_limit"), 1);
    let records: Vec<Vec<u8>> = (0..1000).map(good_record).collect();
    write_warmup(&at_limit, &framed(&records));
    let over = install(&base.path().join("over"), 1);
    let records: Vec<Vec<u8>> = (0..1001).map(good_record).collect();
    write_warmup(&over, &framed(&records));

    let runs = Arc::new(AtomicUsize::new(0));
    let mut sources = Vec::new();
    for name in ["at_limit", "over"] {
        sources.push(ModelSource::new(name, base.path().join(name)));
    }
    let server = start(counted_config(sources, &runs)).await;
    assert_eq!(versions(&server, "at_limit")[0].state, State::Available);
    let (code, message) = load_error(&server, "over");
    assert_eq!(code, Code::InvalidArgument);
    assert_eq!(
        message,
        format!(
            "Number of warmup records exceeds the maximum (1000) at {}",
            warmup_file(&over).display()
        )
    );
    // TF Serving replays a record before counting it against the limit: the
    // 1001st record runs, then the load fails.
    assert_eq!(runs.load(Ordering::SeqCst), 1000 + 1001);
    assert!(
        server
            .metrics_text()
            .contains(r#"tfprobe_model_warmup_records{model="at_limit",version="1"} 1000"#)
    );
    server.shutdown().await;
}
