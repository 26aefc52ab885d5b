//! TensorFlow's start-up noise stays off the terminal: the real binary's stdout and stderr,
//! merged as a shell's `2>&1` merges them, hold the command's output and our own errors but
//! none of TensorFlow's log lines, unless `--verbose` asks for them.

use crate::support::{repo, tf};
use std::io::Read;
use std::process::Command;

/// Runs tfprobe with stdout and stderr on one pipe (`2>&1`); returns the exit code and the
/// merged text.
fn merged(args: &[&str]) -> (Option<i32>, String) {
    tf::ensure_runtime();
    let (mut reader, writer) = std::io::pipe().expect("pipe");
    let mut child = Command::new(env!("CARGO_BIN_EXE_tfprobe"))
        .args(args)
        .current_dir(repo())
        // The defaults are under test: no level or log filter from the caller's shell.
        .env_remove("TF_CPP_MIN_LOG_LEVEL")
        .env_remove("TFPROBE_LOG")
        .stdin(std::process::Stdio::null())
        .stdout(writer.try_clone().expect("clone pipe"))
        .stderr(writer)
        .spawn()
        .expect("start tfprobe");
    let mut text = String::new();
    reader.read_to_string(&mut text).expect("read output");
    let status = child.wait().expect("wait for tfprobe");
    (status.code(), text)
}

/// Lines TensorFlow writes itself: absl's `I0000 00:00:...] ` records and its banner.
fn tensorflow_lines(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|line| {
            let absl_record = line.len() > 6
                && matches!(line.as_bytes()[0], b'I' | b'W')
                && line.as_bytes()[1..5].iter().all(u8::is_ascii_digit)
                && line.as_bytes()[5] == b' '
                && line.contains("] ");
            absl_record
                || line.contains("absl::InitializeLog()")
                || line.contains("oneDNN custom operations")
                || line.contains("cpu_feature_guard")
                || line.starts_with("To enable the following instructions")
        })
        .collect()
}

fn assert_quiet(what: &str, text: &str) {
    let noise = tensorflow_lines(text);
    assert!(
        noise.is_empty(),
        "`{what}` let TensorFlow's lines through: {noise:#?}\nwhole output:\n{text}"
    );
}

const RUN: &[&str] = &[
    "run",
    "--dir",
    "tests/fixtures/models/dtypes/1",
    "--signature_def",
    "float32",
    "--input_exprs",
    "x=[1.5, -2.25]",
];

#[test]
fn run_prints_its_result_and_no_tensorflow_lines() {
    let (code, text) = merged(RUN);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("Result for output key y:"), "{text}");
    assert!(text.contains("-4.5"), "{text}");
    assert_quiet("tfprobe run", &text);
}

#[test]
fn predict_prints_its_table_and_no_tensorflow_lines() {
    let (code, text) = merged(&[
        "predict",
        "--model",
        "assets/models/efficientnet_lite0/1",
        "--image",
        "assets/images/chelsea.png",
    ]);
    assert_eq!(code, Some(0), "{text}");
    // chelsea.png is a cat: the top classes are cats.
    assert!(text.to_ascii_lowercase().contains("cat"), "{text}");
    assert_quiet("tfprobe predict --model", &text);
}

#[test]
fn runtime_status_loads_and_prints_no_tensorflow_lines() {
    let (code, text) = merged(&["runtime", "status"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("TF_Version() = 2."), "{text}");
    assert_quiet("tfprobe runtime status", &text);
}

#[test]
fn verbose_shows_tensorflow_lines() {
    let mut args = vec!["--verbose"];
    args.extend_from_slice(RUN);
    let (code, text) = merged(&args);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("Result for output key y:"), "{text}");
    // Printed at load on every machine, before TF_CPP_MIN_LOG_LEVEL applies.
    assert!(
        text.contains(
            "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
        ),
        "--verbose hid TensorFlow's banner:\n{text}"
    );
    assert!(!tensorflow_lines(&text).is_empty(), "{text}");
}

#[test]
fn our_errors_still_reach_stderr_after_tensorflow_loaded() {
    // The input key is checked against the signature after TensorFlow loaded the model, so
    // the error passes through the filtered stderr.
    let (code, text) = merged(&[
        "run",
        "--dir",
        "tests/fixtures/models/dtypes/1",
        "--signature_def",
        "float32",
        "--input_exprs",
        "nope=[1.0]",
    ]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("error: ") && text.contains("\"nope\" is not a valid input key"),
        "our error did not reach stderr:\n{text}"
    );
    assert_quiet("tfprobe run (bad input key)", &text);
}
