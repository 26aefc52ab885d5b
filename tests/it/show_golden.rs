//! `tfprobe show` against the outputs of `saved_model_cli show` (TF 2.21) that
//! `tools/make_fixtures.py` recorded for every fixture and every view. The text must
//! be byte-identical except the order inside the printed op set (a Python set).

use std::path::{Path, PathBuf};
use std::process::Command;

const FIXTURES: &str = "tests/fixtures/cli";

struct Recording {
    json_path: PathBuf,
    argv: Vec<String>,
    exit_code: i64,
    error_line: String,
    stdout: String,
}

fn recordings() -> Vec<Recording> {
    // git cannot hold an empty folder; the `broken/empty_dir` fixture is made here.
    std::fs::create_dir_all("tests/fixtures/models/broken/empty_dir")
        .expect("create empty_dir fixture");
    let mut found = Vec::new();
    let mut pending = vec![PathBuf::from(FIXTURES)];
    while let Some(dir) = pending.pop() {
        for entry in
            std::fs::read_dir(&dir).unwrap_or_else(|err| panic!("read {}: {err}", dir.display()))
        {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|ext| ext == "json") {
                let meta: serde_json::Value =
                    serde_json::from_str(&std::fs::read_to_string(&path).expect("read json"))
                        .expect("parse json");
                let stdout_path =
                    path.with_file_name(meta["stdout_file"].as_str().expect("stdout_file"));
                found.push(Recording {
                    argv: meta["argv"]
                        .as_array()
                        .expect("argv")
                        .iter()
                        .map(|a| a.as_str().unwrap().to_string())
                        .collect(),
                    exit_code: meta["exit_code"].as_i64().expect("exit_code"),
                    error_line: meta["error_line"].as_str().unwrap_or("").to_string(),
                    stdout: std::fs::read_to_string(&stdout_path).expect("read recorded stdout"),
                    json_path: path,
                });
            }
        }
    }
    found.sort_by(|a, b| a.json_path.cmp(&b.json_path));
    assert!(
        found.len() >= 40,
        "expected the recorded saved_model_cli outputs under {FIXTURES}, found {}",
        found.len()
    );
    found
}

/// Sorts the members of `contains the following ops: {...}` so set order does not matter.
fn normalise_op_sets(text: &str) -> String {
    text.lines()
        .map(
            |line| match line.split_once("contains the following ops: {") {
                Some((head, rest)) => {
                    let members = rest.strip_suffix('}').expect("op set ends with }");
                    let mut ops: Vec<&str> = members.split(", ").collect();
                    ops.sort_unstable();
                    format!("{head}contains the following ops: {{{}}}", ops.join(", "))
                }
                None => line.to_string(),
            },
        )
        .collect::<Vec<_>>()
        .join("\n")
}

fn run_tfprobe(args: &[String]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tfprobe"))
        .args(args)
        .output()
        .expect("run tfprobe")
}

#[test]
fn every_recorded_view_is_byte_identical() {
    let mut compared = 0;
    for recording in recordings() {
        if recording.exit_code != 0 || is_broken(&recording) {
            continue;
        }
        let output = run_tfprobe(&recording.argv[1..]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "{}: tfprobe failed: {stderr}",
            recording.json_path.display()
        );
        let ours = String::from_utf8(output.stdout).expect("utf-8 stdout");
        let (ours, theirs) = (
            normalise_op_sets(&ours),
            normalise_op_sets(&recording.stdout),
        );
        assert!(
            ours == theirs,
            "{}: output differs from saved_model_cli\n--- saved_model_cli\n{theirs}\n--- tfprobe\n{ours}",
            recording.json_path.display()
        );
        // Trailing newlines matter for byte identity; `lines()` above drops the last one.
        assert_eq!(
            String::from_utf8(run_tfprobe(&recording.argv[1..]).stdout)
                .unwrap()
                .ends_with('\n'),
            recording.stdout.ends_with('\n')
        );
        compared += 1;
    }
    assert!(compared >= 30, "only {compared} views compared");
}

#[test]
fn recorded_errors_fail_with_the_same_message_on_one_line() {
    let mut checked = 0;
    for recording in recordings()
        .into_iter()
        .filter(|r| r.exit_code != 0 && !is_broken(r))
    {
        let output = run_tfprobe(&recording.argv[1..]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            output.status.code(),
            Some(1),
            "{}: {stderr}",
            recording.json_path.display()
        );
        assert!(
            output.stdout.is_empty(),
            "{}: printed to stdout on error",
            recording.json_path.display()
        );
        assert_eq!(
            stderr.lines().count(),
            1,
            "{}: not one line: {stderr}",
            recording.json_path.display()
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
        // saved_model_cli's message without its exception type, e.g. `Cannot parse proto file`.
        let message = recording
            .error_line
            .split_once(": ")
            .map_or("", |(_, message)| message);
        let lead: Vec<&str> = message.split_whitespace().take(4).collect();
        assert!(
            stderr.contains(&lead.join(" ")),
            "{}: expected {:?} in {stderr}",
            recording.json_path.display(),
            lead.join(" ")
        );
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} error recordings checked");
}

/// Broken fixtures where saved_model_cli "succeeds" on an unusable model (an empty
/// saved_model.pb parses as an empty message); tfprobe reports them instead.
fn is_broken(recording: &Recording) -> bool {
    recording
        .argv
        .iter()
        .any(|arg| arg.contains("broken/empty_pb"))
}

#[test]
fn empty_saved_model_pb_is_an_error_not_an_empty_listing() {
    let output = run_tfprobe(&[
        "show".into(),
        "--dir".into(),
        "tests/fixtures/models/broken/empty_pb".into(),
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "error: tests/fixtures/models/broken/empty_pb/saved_model.pb is empty (0 bytes); \
         expected a serialized SavedModel protobuf\n"
    );
}

#[test]
fn base_path_shows_the_highest_version() {
    let base = Path::new("tests/fixtures/models/two_versions");
    let output = run_tfprobe(&[
        "show".into(),
        "--dir".into(),
        base.display().to_string(),
        "--all".into(),
    ]);
    assert!(output.status.success());
    let expected = std::fs::read_to_string("tests/fixtures/cli/two_versions/2/all.txt").unwrap();
    assert_eq!(
        normalise_op_sets(&String::from_utf8(output.stdout).unwrap()),
        normalise_op_sets(&expected)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "note: showing version 2 of base path tests/fixtures/models/two_versions\n"
    );
}
