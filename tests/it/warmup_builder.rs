//! `tfprobe warmup` and synthesized warmup with the demo model: the file the builder
//! writes is read back by TF Serving's official protos (tests/compat venv) and
//! replayed by `tfprobe serve`; `serve --warmup_synthesized` (and the embedded
//! server's default) runs each signature once before the version is AVAILABLE.

use crate::support::http;
use crate::support::server::{compat_python, config, counting_loader, start};
use crate::support::tf;
use crate::support::{copy_dir, free_port, repo};
use base64::Engine as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const IMAGES: [&str; 3] = ["coffee.png", "chelsea.png", "rocket.jpg"];

/// A base path `demo/` holding version 1 of the demo model.
pub fn demo_base() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("demo");
    copy_dir(
        &repo().join("assets/models/efficientnet_lite0/1"),
        &base.join("1"),
    );
    (dir, base)
}

fn image_path(name: &str) -> PathBuf {
    repo().join("assets/images").join(name)
}

/// `tfprobe serve` of the model `demo` as a child process, killed on drop; its log
/// goes to a file.
pub struct Served {
    child: Child,
    pub rest: u16,
    log: PathBuf,
}

impl Served {
    pub fn start(base: &Path, extra: &[&str]) -> Served {
        tf::ensure_runtime();
        let log = base.with_extension("serve.log");
        let rest = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_tfprobe"))
            .arg("serve")
            .arg(format!("--port={}", free_port()))
            .arg(format!("--rest_api_port={rest}"))
            .arg("--model_name=demo")
            .arg(format!("--model_base_path={}", base.display()))
            .args(extra)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start tfprobe serve");
        let mut served = Served { child, rest, log };
        let started = Instant::now();
        loop {
            if let Some(status) = served.child.try_wait().unwrap() {
                panic!("tfprobe serve exited ({status}):\n{}", served.log_text());
            }
            if std::net::TcpStream::connect(("127.0.0.1", rest)).is_ok()
                && served.get("/v1/models/demo").status == 200
            {
                return served;
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "not serving after 2 minutes:\n{}",
                served.log_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn get(&self, path: &str) -> http::Reply {
        http::get(([127, 0, 0, 1], self.rest).into(), path)
    }

    fn metrics(&self) -> String {
        self.get("/monitoring/prometheus/metrics").body
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The number after `label: ` and before ` ms` in `text`.
fn ms_after(text: &str, label: &str) -> f64 {
    let rest = &text[text
        .find(label)
        .unwrap_or_else(|| panic!("{label}: {text}"))
        + label.len()..];
    rest.trim_start()
        .split(" ms")
        .next()
        .unwrap()
        .trim()
        .parse()
        .unwrap_or_else(|err| panic!("{label} in {text}: {err}"))
}

#[test]
fn the_builder_writes_what_tf_serving_protos_read_and_tfprobe_serve_replays() {
    tf::ensure_runtime();
    let (_dir, base) = demo_base();
    let version = base.join("1");
    let mut args = vec![
        "warmup".to_string(),
        "--model".into(),
        version.display().to_string(),
        "--images".into(),
    ];
    args.extend(IMAGES.map(|name| image_path(name).display().to_string()));
    let output = Command::new(env!("CARGO_BIN_EXE_tfprobe"))
        .args(&args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let file = version.join("assets.extra/tf_serving_warmup_requests");
    assert!(
        stdout.starts_with(&format!(
            "wrote 3 warmup records to {} (signature 'serving_default', image_bytes: encoded image bytes",
            file.display()
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("ms (3 records replayed during the load)"),
        "{stdout}"
    );
    assert!(
        ms_after(&stdout, "without the warmup file:") > 0.0,
        "{stdout}"
    );
    assert!(ms_after(&stdout, "with the warmup file:") > 0.0, "{stdout}");

    // TF Serving's own protos read every record back.
    let reader = repo().join("tests/compat/warmup_reader.py");
    let parsed = Command::new(compat_python())
        .arg(&reader)
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        parsed.status.success(),
        "{}",
        String::from_utf8_lossy(&parsed.stderr)
    );
    let records: Vec<serde_json::Value> = String::from_utf8_lossy(&parsed.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(records.len(), 3, "{records:?}");
    for (record, name) in records.iter().zip(IMAGES) {
        assert_eq!(record["log_type"], "predict_log");
        assert_eq!(record["model_name"], "demo");
        assert_eq!(record["signature_name"], "serving_default");
        let input = &record["inputs"]["image_bytes"];
        assert_eq!(input["dtype"], 7, "DT_STRING: {record}");
        assert_eq!(input["shape"], serde_json::json!([1]));
        let sent = base64::engine::general_purpose::STANDARD
            .encode(std::fs::read(image_path(name)).unwrap());
        assert_eq!(input["string_val"], serde_json::json!([sent]), "{name}");
    }

    // `tfprobe serve` replays them before the version serves.
    let served = Served::start(&base, &[]);
    let metrics = served.metrics();
    assert!(
        metrics.contains(r#"tfprobe_model_warmup_records{model="demo",version="1"} 3"#),
        "{metrics}"
    );
    assert!(
        served
            .log_text()
            .contains("Number of warmup records read: 3."),
        "{}",
        served.log_text()
    );
}

#[test]
fn serve_warmup_synthesized_runs_each_signature_when_there_is_no_file() {
    let (_dir, base) = demo_base();
    let served = Served::start(&base, &["--warmup_synthesized"]);
    let log = served.log_text();
    assert!(
        log.contains("Synthesized warmup for demo version 1: 2 of 2 signatures ran."),
        "{log}"
    );
    let metrics = served.metrics();
    assert!(
        metrics.contains(r#"tfprobe_model_warmup_records{model="demo",version="1"} 2"#),
        "{metrics}"
    );
    drop(served);
    // Without the flag nothing runs before the first request.
    let served = Served::start(&base, &[]);
    assert!(
        !served.log_text().contains("Synthesized warmup"),
        "{}",
        served.log_text()
    );
    assert!(
        !served.metrics().contains("tfprobe_model_warmup_records{"),
        "{}",
        served.metrics()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_server_warms_every_signature_before_the_first_request() {
    tf::ensure_runtime();
    let (_dir, base) = demo_base();
    let model = tfprobe::model::open(&base.join("1")).unwrap();
    let embedded = tfprobe::workflow::serve::EmbeddedServer::for_model(&model, "demo")
        .config()
        .unwrap();
    assert!(embedded.warmup_synthesized, "the app's server warms up");
    let runs = Arc::new(AtomicUsize::new(0));
    // The app's settings, on free ports, with runs counted.
    let mut config = config(embedded.models.clone());
    config.warmup_synthesized = embedded.warmup_synthesized;
    config.loader = counting_loader(Arc::clone(&runs));
    let server = start(config).await;
    // start() returns once the load, warmup included, is done: both signatures ran
    // (a synthesized JPEG each) before any request came.
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    assert!(
        server
            .metrics_text()
            .contains(r#"tfprobe_model_warmup_records{model="demo",version="1"} 2"#),
        "{}",
        server.metrics_text()
    );
    server.shutdown().await;
}

#[test]
fn no_measure_writes_where_asked_and_a_non_image_fails_naming_it() {
    let (dir, base) = demo_base();
    let out = dir.path().join("warmup.tfrecord");
    let version = base.join("1").display().to_string();
    let coffee = image_path("coffee.png").display().to_string();
    let output = tf::tfprobe(&[
        "warmup",
        "--model",
        &version,
        "--images",
        &coffee,
        "--no-measure",
        "-o",
        &out.display().to_string(),
    ]);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.starts_with(&format!("wrote 1 warmup records to {}", out.display())),
        "{stdout}"
    );
    assert!(!stdout.contains("first request"), "{stdout}");
    let bytes = std::fs::read(&out).unwrap();
    let coffee_bytes = std::fs::read(image_path("coffee.png")).unwrap();
    assert!(
        bytes.len() > coffee_bytes.len(),
        "the image is in the record"
    );
    assert!(!base.join("1/assets.extra").exists(), "-o was honoured");

    let notes = dir.path().join("notes.png");
    std::fs::write(&notes, "not an image").unwrap();
    let output = tf::tfprobe(&[
        "warmup",
        "--model",
        &version,
        "--images",
        &coffee,
        &notes.display().to_string(),
        "--no-measure",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("notes.png is neither a SavedModel nor an image."),
        "{stderr}"
    );
    assert!(!base.join("1/assets.extra").exists(), "nothing written");
}
