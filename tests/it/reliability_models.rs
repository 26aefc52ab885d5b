//! The bad-input suite, part 1: broken model files, through the library,
//! `tfprobe show`, `run` and `predict`, and TensorFlow's session loader. Each
//! case asserts the exit code or error and a message naming what is wrong, and
//! that no thread panicked. Part 2 (REST) is tests/it/reliability_inputs.rs, part 3
//! (gRPC, resource limits, full queues) tests/it/reliability_server.rs;
//! docs/reliability.md lists every case.

use crate::support::broken_models::{self, broken_copy};
use crate::support::http;
use crate::support::panics::PanicWatch;
use crate::support::tf;
use crate::support::{copy_dir, fixture, free_port, repo};
use std::path::{Path, PathBuf};
use std::process::Command;
use tfprobe::model::{self, ModelError};
use tfprobe::runtime::{Backend, LoadOptions, TfBackend};
use tfprobe::tensor::{Tensor, TensorData};

/// A fixture path relative to the repository root (tests run there), as users type it.
fn relative_fixture(path: &str) -> PathBuf {
    Path::new("tests/fixtures/models").join(path)
}

/// `tfprobe ARGS` run from the repository root: (exit code, stderr).
fn tfprobe(args: &[&str]) -> (Option<i32>, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_tfprobe"))
        .args(args)
        .current_dir(repo())
        .output()
        .expect("run tfprobe");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn broken_models_give_specific_errors() {
    let panics = PanicWatch::install();
    let err = |path: &str| model::open(&relative_fixture(path)).unwrap_err();
    assert!(matches!(
        err("broken/truncated"),
        ModelError::Corrupt { .. }
    ));
    assert!(matches!(err("broken/garbage"), ModelError::Corrupt { .. }));
    assert!(matches!(
        err("broken/empty_pb"),
        ModelError::EmptyFile { .. }
    ));
    assert!(matches!(
        err("broken/not_a_model"),
        ModelError::NotASavedModel { .. }
    ));
    assert!(matches!(err("does_not_exist"), ModelError::NotFound { .. }));
    assert!(matches!(
        err("broken/not_a_model/README.txt"),
        ModelError::NotADirectory { .. }
    ));
    assert_eq!(
        err("broken/not_a_model").to_string(),
        "SavedModel file does not exist at: tests/fixtures/models/broken/not_a_model (expected a SavedModel \
         directory holding saved_model.pb and variables/, or a base path with numeric version folders such as 1/)"
    );
    // Inspection does not need variables: a model without them still opens.
    let tree = model::open(&relative_fixture("broken/no_variables")).unwrap();
    assert!(
        tree.variables
            .error
            .as_deref()
            .unwrap()
            .contains("variables is missing")
    );
    panics.assert_none();
}

#[cfg(unix)]
#[test]
fn symlink_loops_and_unreadable_files_are_errors_not_hangs() {
    let panics = PanicWatch::install();
    let dir = tempfile::tempdir().unwrap();
    let model_dir = dir.path().join("loop");
    std::fs::create_dir(&model_dir).unwrap();
    std::os::unix::fs::symlink(&model_dir, model_dir.join("1")).unwrap();
    assert!(matches!(
        model::open(&model_dir),
        Err(ModelError::NotASavedModel { .. })
    ));
    let self_link = dir.path().join("self");
    std::os::unix::fs::symlink(&self_link, &self_link).unwrap();
    let err = model::open(&self_link).unwrap_err();
    assert!(
        err.to_string()
            .contains("Too many levels of symbolic links"),
        "{err}"
    );
    panics.assert_none();
}

#[cfg(unix)]
#[test]
fn show_names_what_is_wrong_with_each_broken_model() {
    use std::os::unix::fs::PermissionsExt;
    let panics = PanicWatch::install();
    let dir = tempfile::tempdir().unwrap();
    let unreadable = broken_copy(dir.path(), "unreadable", |copy| {
        let pb = copy.join("saved_model.pb");
        std::fs::set_permissions(&pb, std::fs::Permissions::from_mode(0o000)).unwrap();
    });
    for case in broken_models::cases(dir.path()) {
        let (path, needle) = (&case.path, case.show_error);
        let (code, stderr) = tfprobe(&["show", "--dir", path, "--all"]);
        assert_eq!(code, Some(1), "{path}: {stderr}");
        assert!(
            stderr.starts_with("error: ") && stderr.lines().count() == 1,
            "{path}: not one error line: {stderr}"
        );
        assert!(
            stderr.contains(needle),
            "{path}: {stderr:?} lacks {needle:?}"
        );
    }
    // Root reads files whatever their mode, so only other users see the error.
    // SAFETY: geteuid has no preconditions and cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    let (code, stderr) = tfprobe(&["show", "--dir", &unreadable]);
    if root {
        assert_eq!(code, Some(0), "root reads a mode-000 file: {stderr}");
    } else {
        assert_eq!(code, Some(1), "{stderr}");
        assert!(stderr.contains("Permission denied"), "{stderr}");
    }
    // A good model still shows.
    let (code, stderr) = tfprobe(&["show", "--dir", "tests/fixtures/models/two_versions/1"]);
    assert_eq!(code, Some(0), "{stderr}");
    panics.assert_none();
}

#[test]
fn the_session_loader_refusing_a_model_is_an_error_and_the_process_lives_on() {
    let panics = PanicWatch::install();
    tf::ensure_runtime();
    let dir = tempfile::tempdir().unwrap();
    let bad_variables = broken_copy(dir.path(), "bad_variables", |copy| {
        std::fs::write(copy.join("variables/variables.index"), b"garbage").unwrap();
    });
    let empty = tempfile::tempdir().unwrap();
    let cases: Vec<(PathBuf, &str)> = vec![
        (fixture("broken/truncated"), "Cannot parse proto file"),
        (fixture("broken/garbage"), "Cannot parse proto file"),
        (fixture("broken/empty_pb"), "is empty (0 bytes)"),
        (
            fixture("broken/not_a_model"),
            "SavedModel file does not exist",
        ),
        (empty.path().to_path_buf(), "SavedModel file does not exist"),
        (fixture("does_not_exist"), "SavedModel file does not exist"),
        (
            PathBuf::from(&bad_variables),
            "file is too short to be an sstable",
        ),
    ];
    for (dir, needle) in &cases {
        let err = match TfBackend::load(dir, &LoadOptions::default()) {
            Ok(_) => panic!("{} loaded", dir.display()),
            Err(err) => err.to_string(),
        };
        assert!(
            err.contains(needle),
            "{}: {err:?} lacks {needle:?}",
            dir.display()
        );
    }
    // `run` and `predict` say the same and exit 1.
    let (code, stderr) = tfprobe(&["run", "--dir", &bad_variables, "--input_exprs", "x=[1.0]"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("TensorFlow could not load the SavedModel at")
            && stderr.contains("file is too short to be an sstable"),
        "{stderr}"
    );
    let (code, stderr) = tfprobe(&[
        "predict",
        "--model",
        &bad_variables,
        "--image",
        "assets/images/rocket.jpg",
    ]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("file is too short to be an sstable"),
        "{stderr}"
    );
    // Without its variables the graph loads (TensorFlow skips the restore, as TF Serving
    // does) but running it fails with TensorFlow's message.
    let one_x = || {
        tf::one_input(
            "x",
            Tensor::new(vec![1], TensorData::Float(vec![2.0])).unwrap(),
        )
    };
    let backend = TfBackend::load(&fixture("broken/no_variables"), &LoadOptions::default())
        .expect("the graph loads without variables");
    let err = backend.run("serving_default", one_x(), &[]).unwrap_err();
    assert!(err.to_string().contains("Could not find variable"), "{err}");
    // Still alive and working.
    let backend = TfBackend::load(&fixture("two_versions/1"), &LoadOptions::default()).unwrap();
    assert_eq!(
        backend.run("serving_default", one_x(), &[]).unwrap()["y"].data,
        TensorData::Float(vec![5.0])
    );
    panics.assert_none();
}

/// `tfprobe serve` stops for nobody's broken model: it keeps running with the error
/// in the model's status, and serves the good version that is copied in after.
#[test]
fn serve_reports_a_broken_model_and_serves_the_good_version_that_follows() {
    tf::ensure_runtime();
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("m");
    copy_dir(&relative_fixture("broken/garbage"), &base.join("1"));
    let log = dir.path().join("serve.log");
    let (grpc, rest) = (free_port(), free_port());
    let child = Command::new(env!("CARGO_BIN_EXE_tfprobe"))
        .arg("serve")
        .arg("--model_name=m")
        .arg(format!("--model_base_path={}", base.display()))
        .arg(format!("--port={grpc}"))
        .arg(format!("--rest_api_port={rest}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("start tfprobe serve");
    let mut served = KillOnDrop(child);
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], rest));
    let log_text = || std::fs::read_to_string(&log).unwrap_or_default();
    let mut wait_for = |what: &str, done: &dyn Fn() -> bool| {
        let started = std::time::Instant::now();
        while !done() {
            if let Some(status) = served.0.try_wait().unwrap() {
                panic!(
                    "tfprobe serve exited ({status}) waiting for {what}:\n{}",
                    log_text()
                );
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(60),
                "timed out waiting for {what}:\n{}",
                log_text()
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    };
    let status = || {
        std::net::TcpStream::connect(addr)
            .ok()
            .map(|_| http::get(addr, "/v1/models/m").json())
    };
    wait_for("the broken version's status", &|| {
        status().is_some_and(|json| json["model_version_status"][0]["state"] == "END")
    });
    let json = status().unwrap();
    let version = &json["model_version_status"][0];
    assert_eq!(version["version"], "1");
    assert_eq!(version["status"]["error_code"], "FAILED_PRECONDITION");
    assert!(
        version["status"]["error_message"]
            .as_str()
            .unwrap()
            .ends_with("(the file is truncated, corrupt or not a SavedModel)"),
        "{json}"
    );
    let refused = http::post(addr, "/v1/models/m:predict", r#"{"instances": [1.0]}"#);
    assert_eq!(refused.status, 404, "{}", refused.body);

    copy_dir(&fixture("two_versions").join("1"), &base.join("2"));
    wait_for("version 2 to serve", &|| {
        http::post(addr, "/v1/models/m:predict", r#"{"instances": [1.0, 2.0]}"#).status == 200
    });
    let predicted = http::post(addr, "/v1/models/m:predict", r#"{"instances": [1.0, 2.0]}"#);
    assert_eq!(
        predicted.json()["predictions"],
        serde_json::json!([3.0, 5.0])
    );
}

struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
