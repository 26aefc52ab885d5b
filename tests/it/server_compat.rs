//! Real clients against `tfprobe serve` started as a process, as the seed
//! article does it: `curl`, the seed's REST client flow (`requests.post` with a
//! string body, no Content-Type) and its gRPC client flow with TF Serving's
//! official Python API (`tensorflow-serving-api`, installed by
//! tests/compat/setup.sh into .venv-compat/ without TensorFlow). The bundled
//! demo classifier is served under the seed's name, `resnet`.

use crate::support::http;
use crate::support::server::compat_python;
use crate::support::tf;
use crate::support::{free_port, repo};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// `tfprobe serve` as a child process, killed on drop; its log goes to a file.
struct Served {
    child: Child,
    rest: u16,
    grpc: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Served {
    fn start(args: &[&str], envs: &[(&str, &Path)]) -> Served {
        tf::ensure_runtime();
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("serve.log");
        let (rest, grpc) = (free_port(), free_port());
        let mut command = Command::new(env!("CARGO_BIN_EXE_tfprobe"));
        command
            .arg("serve")
            .arg(format!("--port={grpc}"))
            .arg(format!("--rest_api_port={rest}"))
            .args(args)
            .env_remove("MODEL_NAME")
            .env_remove("MODEL_BASE_PATH")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        for (key, value) in envs {
            command.env(key, value);
        }
        let child = command.spawn().expect("start tfprobe serve");
        let mut served = Served {
            child,
            rest,
            grpc,
            log,
            _dir: dir,
        };
        served.wait_until_serving();
        served
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn wait_until_serving(&mut self) {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("tfprobe serve exited ({status}):\n{}", self.log_text());
            }
            if let Ok(stream) = std::net::TcpStream::connect(("127.0.0.1", self.rest)) {
                drop(stream);
                if http::get(([127, 0, 0, 1], self.rest).into(), "/v1/models/resnet").status == 200
                {
                    return;
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "not serving after 2 minutes:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a command with a deadline; panics with its output unless it succeeds.
fn run(program: &Path, args: &[&str]) -> String {
    let output: Output = Command::new("timeout")
        .arg("120")
        .arg(program)
        .args(args)
        .output()
        .unwrap_or_else(|err| panic!("run {}: {err}", program.display()));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{} {args:?} failed ({}):\n{stdout}\n{}",
        program.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

fn demo_model() -> PathBuf {
    repo().join("assets/models/efficientnet_lite0")
}

fn image() -> String {
    repo()
        .join("assets/images/rocket.jpg")
        .display()
        .to_string()
}

/// rocket.jpg's class with the demo model (658, "missile").
const ROCKET_CLASS: i64 = 658;

#[test]
fn seed_clients_and_curl_work_unchanged() {
    let python = compat_python();
    let base = demo_model();
    let served = Served::start(
        &[
            "--model_name=resnet",
            &format!("--model_base_path={}", base.display()),
        ],
        &[],
    );
    let log = served.log_text();
    for line in [
        "Building single TensorFlow model file config:  model_name: resnet model_base_path: ",
        "Loading servable version {name: resnet version: 1}",
        "Successfully loaded servable version {name: resnet version: 1}",
        &format!("Running gRPC ModelServer at localhost:{} ...", served.grpc),
        &format!("Exporting HTTP/REST API at:localhost:{} ...", served.rest),
    ] {
        assert!(log.contains(line), "log lacks {line:?}:\n{log}");
    }

    // curl, as in the seed.
    let curl = Path::new("curl");
    let status = run(
        curl,
        &[
            "-s",
            &format!("http://localhost:{}/v1/models/resnet", served.rest),
        ],
    );
    let expected = "{\n \"model_version_status\": [\n  {\n   \"version\": \"1\",\n   \"state\": \"AVAILABLE\",\n   \"status\": {\n    \"error_code\": \"OK\",\n    \"error_message\": \"\"\n   }\n  }\n ]\n}\n";
    assert_eq!(status, expected);
    let metadata = run(
        curl,
        &[
            "-s",
            &format!("http://localhost:{}/v1/models/resnet/metadata", served.rest),
        ],
    );
    let metadata: serde_json::Value = serde_json::from_str(&metadata).expect("metadata JSON");
    assert_eq!(metadata["model_spec"]["version"], "1");
    let body_file = served._dir.path().join("request.json");
    let jpeg = std::fs::read(image()).unwrap();
    std::fs::write(
        &body_file,
        format!("{{\"instances\": [{{\"b64\": \"{}\"}}]}}", http::b64(&jpeg)),
    )
    .unwrap();
    let predicted = run(
        curl,
        &[
            "-s",
            "-d",
            &format!("@{}", body_file.display()),
            &format!("http://localhost:{}/v1/models/resnet:predict", served.rest),
        ],
    );
    let predicted: serde_json::Value = serde_json::from_str(&predicted).expect("predict JSON");
    assert_eq!(predicted["predictions"][0]["classes"], ROCKET_CLASS);

    // The seed's REST client.
    let script = repo().join("tests/compat/rest_client.py");
    let url = format!("http://localhost:{}/v1/models/resnet:predict", served.rest);
    let out = run(&python, &[&script.display().to_string(), &url, &image()]);
    eprintln!("rest_client.py: {out}");
    assert!(
        out.starts_with(&format!("Prediction class: {ROCKET_CLASS}, avg latency: ")),
        "{out}"
    );

    // The seed's gRPC client with the official tensorflow-serving-api stubs.
    let script = repo().join("tests/compat/grpc_client.py");
    let out = run(
        &python,
        &[
            &script.display().to_string(),
            &format!("localhost:{}", served.grpc),
            &image(),
        ],
    );
    eprintln!(
        "grpc_client.py (first lines): {}",
        out.lines().take(12).collect::<Vec<_>>().join("\n")
    );
    assert!(out.contains("key: \"classes\""), "{out}");
    assert!(out.contains(&format!("int64_val: {ROCKET_CLASS}")), "{out}");
    assert!(out.contains("dtype: DT_FLOAT"), "{out}");
    assert_eq!(
        out.matches("float_val: ").count(),
        1001,
        "all probabilities come back"
    );
    assert!(
        out.contains("model_spec {\n  name: \"resnet\"\n  version {\n    value: 1\n  }\n  signature_name: \"serving_default\"\n}"),
        "{out}"
    );

    let script = repo().join("tests/compat/model_info_client.py");
    let out = run(
        &python,
        &[
            &script.display().to_string(),
            &format!("localhost:{}", served.grpc),
            "resnet",
        ],
    );
    assert!(out.contains("version 1 AVAILABLE 0"), "{out}");
    assert!(
        out.contains(
            "signature serving_default inputs image_bytes:7 method tensorflow/serving/predict"
        ),
        "{out}"
    );

    // Server reflection and health, with gRPC's stock Python clients (what grpcurl relies on).
    let script = repo().join("tests/compat/reflection_client.py");
    let out = run(
        &python,
        &[
            &script.display().to_string(),
            &format!("localhost:{}", served.grpc),
            "resnet",
        ],
    );
    for line in [
        "service grpc.health.v1.Health",
        "service tensorflow.serving.ModelService",
        "service tensorflow.serving.PredictionService",
        "methods Classify Regress Predict MultiInference GetModelMetadata",
        "metadata resnet 1 type.googleapis.com/tensorflow.serving.SignatureDefMap",
        "health SERVING",
    ] {
        assert!(out.contains(line), "{line:?} missing from:\n{out}");
    }
}

#[test]
fn docker_style_environment_variables_name_the_model() {
    let models = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(demo_model(), models.path().join("resnet")).unwrap();
    let name = PathBuf::from("resnet");
    let served = Served::start(
        &[],
        &[("MODEL_NAME", &name), ("MODEL_BASE_PATH", models.path())],
    );
    let reply = http::get(([127, 0, 0, 1], served.rest).into(), "/v1/models/resnet");
    assert_eq!(
        reply.json()["model_version_status"][0]["state"],
        "AVAILABLE"
    );
    assert!(
        served
            .log_text()
            .contains("model_name: resnet model_base_path: "),
        "{}",
        served.log_text()
    );
}
