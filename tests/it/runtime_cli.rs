//! `tfprobe run`, `tfprobe predict` and `tfprobe runtime` as a user runs them.

use crate::support::tf::tfprobe;
use std::process::Command;

fn stdout_ok(args: &[&str]) -> String {
    let output = tfprobe(args);
    assert!(
        output.status.success(),
        "tfprobe {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8 stdout")
}

#[test]
fn run_prints_like_saved_model_cli() {
    let text = stdout_ok(&[
        "run",
        "--dir",
        "tests/fixtures/models/dtypes/1",
        "--tag_set",
        "serve",
        "--signature_def",
        "string",
        "--input_exprs",
        r"x=[b'\xff\xfe', 'abc']",
    ]);
    assert_eq!(
        text,
        "Result for output key length:\n[2 3]\nResult for output key y:\n[b'\\xff\\xfe!' b'abc!']\n"
    );
    let text = stdout_ok(&[
        "run",
        "--dir",
        "tests/fixtures/models/shapes/1",
        "--signature_def",
        "fixed",
        "--input_exprs",
        "m=[[1,2],[3,4]];v=[1,2,3]",
    ]);
    assert_eq!(
        text,
        "Result for output key trace:\n5.0\nResult for output key transposed:\n[[1. 3.]\n [2. 4.]]\nResult for output key v_sum:\n6\n"
    );
}

#[test]
fn run_reads_npy_inputs_and_prints_json() {
    let dir = tempfile::tempdir().unwrap();
    // np.save of np.array([0, 1, 2.5, -4], dtype='<f4').
    let mut header = "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }".to_string();
    while !(10 + header.len() + 1).is_multiple_of(64) {
        header.push(' ');
    }
    header.push('\n');
    let mut npy = b"\x93NUMPY\x01\x00".to_vec();
    npy.extend((header.len() as u16).to_le_bytes());
    npy.extend(header.as_bytes());
    for value in [0.0f32, 1.0, 2.5, -4.0] {
        npy.extend(value.to_le_bytes());
    }
    let path = dir.path().join("x.npy");
    std::fs::write(&path, npy).unwrap();
    let inputs = format!("x={}", path.display());
    let text = stdout_ok(&[
        "run",
        "--dir",
        "tests/fixtures/models/two_versions",
        "--inputs",
        &inputs,
        "--json",
    ]);
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    // Version 2 (the highest) computes y = 3x - 1.
    assert_eq!(
        json["outputs"]["y"]["values"],
        serde_json::json!([-1.0, 2.0, 6.5, -13.0])
    );
    assert_eq!(json["outputs"]["y"]["dtype"], "DT_FLOAT");
    // --outdir writes .npy files and refuses to overwrite them.
    let outdir = dir.path().join("out");
    let outdir_text = outdir.display().to_string();
    let run_to_outdir: [&str; 7] = [
        "run",
        "--dir",
        "tests/fixtures/models/two_versions/1",
        "--inputs",
        &inputs,
        "--outdir",
        &outdir_text,
    ];
    stdout_ok(&run_to_outdir);
    assert!(outdir.join("y.npy").is_file());
    let again = tfprobe(&run_to_outdir);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("--overwrite"));
}

#[test]
fn run_errors_name_the_problem() {
    let output = tfprobe(&[
        "run",
        "--dir",
        "tests/fixtures/models/two_versions/1",
        "--input_exprs",
        "z=[1.0]",
    ]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("\"z\" is not a valid input key") && stderr.contains("x: DT_FLOAT (-1)"),
        "{stderr}"
    );
    let output = tfprobe(&[
        "run",
        "--dir",
        "tests/fixtures/models/two_versions/1",
        "--input_exprs",
        "x=[[1.0]]",
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("input 'x' expects shape (-1) but got [1, 1]"),
        "{stderr}"
    );
}

#[test]
fn predict_prints_top_k_with_labels_and_tf_serving_json() {
    let text = stdout_ok(&[
        "predict",
        "--model",
        "assets/models/efficientnet_lite0",
        "--image",
        "assets/images/chelsea.png",
    ]);
    assert!(
        text.contains("tiger cat") && text.contains("Egyptian cat"),
        "{text}"
    );
    assert!(text.contains("latency:"), "{text}");
    let text = stdout_ok(&[
        "predict",
        "--model",
        "assets/models/efficientnet_lite0",
        "--image",
        "assets/images/coffee.png",
        "--json",
    ]);
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let prediction = &json["predictions"][0];
    assert_eq!(prediction["classes"], 968);
    assert_eq!(
        prediction["probabilities"].as_array().map(Vec::len),
        Some(1001)
    );
    assert_eq!(json["predictions"].as_array().map(Vec::len), Some(1));
}

#[test]
fn runtime_status_reports_found_and_not_found() {
    let text = stdout_ok(&["runtime", "status"]);
    assert!(text.starts_with("TensorFlow runtime: found"), "{text}");
    assert!(text.contains("TF_Version() = 2."), "{text}");
    let output = tfprobe(&["--tf-lib", "/nonexistent/tf", "runtime", "status"]);
    assert!(!output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("--tf-lib is /nonexistent/tf"), "{text}");
    // No cache, no TENSORFLOW_DIR, no python3: says how to get it.
    let home = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_tfprobe"))
        .args(["runtime", "status"])
        .env("HOME", home.path())
        .env_remove("XDG_CACHE_HOME")
        .env_remove("TENSORFLOW_DIR")
        .env("PATH", home.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.starts_with("TensorFlow runtime: not found")
            && text.contains("tfprobe runtime install"),
        "{text}"
    );
}
