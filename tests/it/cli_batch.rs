//! `tfprobe predict --images`: a folder of photos and one text file through the demo
//! model, as a user runs it; the CSV is read back with Python's own `csv` module.

use crate::support::repo;
use crate::support::tf::tfprobe;
use std::path::Path;
use std::process::Command;

/// A folder with three demo photos and a text file pretending to be an image.
fn photo_folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for name in ["chelsea.png", "coffee.png", "rocket.jpg"] {
        std::fs::copy(
            repo().join("assets/images").join(name),
            dir.path().join(name),
        )
        .unwrap();
    }
    std::fs::write(dir.path().join("notes.png"), "not an image\n").unwrap();
    dir
}

/// The CSV's records, parsed by Python's csv module (an independent reader).
fn parse_csv(path: &Path) -> Vec<Vec<String>> {
    let output = Command::new("python3")
        .args([
            "-c",
            "import csv, json, sys; print(json.dumps(list(csv.reader(open(sys.argv[1], newline='')))))",
        ])
        .arg(path)
        .output()
        .expect("run python3");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn a_folder_gives_one_row_per_file_and_an_error_row_for_a_text_file() {
    let folder = photo_folder();
    let csv = folder.path().join("rows.csv");
    let dir = folder.path().display().to_string();
    let output = tfprobe(&[
        "predict",
        "--model",
        "assets/models/efficientnet_lite0",
        "--images",
        &dir,
        "--top-k",
        "3",
        "--csv",
        &csv.display().to_string(),
    ]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stderr.contains("1 of 4 files failed"), "{stderr}\n{stdout}");

    let records = parse_csv(&csv);
    assert_eq!(
        records[0],
        [
            "file",
            "latency_ms",
            "class_1",
            "label_1",
            "probability_1",
            "class_2",
            "label_2",
            "probability_2",
            "class_3",
            "label_3",
            "probability_3",
            "error"
        ]
    );
    assert_eq!(records.len(), 5, "{records:?}");
    let row = |name: &str| {
        records
            .iter()
            .find(|record| record[0].ends_with(name))
            .unwrap_or_else(|| panic!("no row for {name}: {records:?}"))
    };
    for (name, class, label) in [
        ("chelsea.png", "283", "tiger cat"),
        ("coffee.png", "968", "espresso"),
        ("rocket.jpg", "658", "missile"),
    ] {
        let record = row(name);
        assert_eq!(
            (&record[2][..], &record[3][..]),
            (class, label),
            "{record:?}"
        );
        assert_eq!(record[11], "", "{record:?}");
        let probabilities: Vec<f64> = [4, 7, 10].map(|at| record[at].parse().unwrap()).to_vec();
        assert!(
            probabilities[0] >= probabilities[1] && probabilities[1] >= probabilities[2],
            "{record:?}"
        );
        assert!(
            probabilities[0] > 0.2 && probabilities[0] <= 1.0,
            "{record:?}"
        );
        let latency_ms: f64 = record[1].parse().unwrap();
        assert!(latency_ms > 0.0, "{record:?}");
    }
    let failed = row("notes.png");
    assert_eq!(failed[1..11].concat(), "", "{failed:?}");
    assert!(
        failed[11].starts_with("notes.png is neither a SavedModel nor an image."),
        "{failed:?}"
    );
    // The terminal table says the same.
    assert!(stdout.contains("espresso"), "{stdout}");
    assert!(
        stdout
            .lines()
            .any(|line| line.contains("notes.png ")
                && line.contains("  error: notes.png is neither")),
        "{stdout}"
    );
}

#[test]
fn a_pattern_picks_files_and_json_lists_the_rows() {
    let folder = photo_folder();
    let pattern = folder.path().join("c*.png").display().to_string();
    let output = tfprobe(&[
        "predict",
        "--model",
        "assets/models/efficientnet_lite0",
        "--images",
        &pattern,
        "--top-k",
        "1",
        "--json",
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let rows = json["rows"].as_array().unwrap();
    let labels: Vec<(&str, &str)> = rows
        .iter()
        .map(|row| {
            (
                Path::new(row["file"].as_str().unwrap())
                    .file_name()
                    .unwrap()
                    .to_str()
                    .unwrap(),
                row["top_k"][0]["label"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        labels,
        [("chelsea.png", "tiger cat"), ("coffee.png", "espresso")]
    );
    assert!(rows.iter().all(|row| row["error"].is_null()));
}

#[test]
fn a_server_target_gives_the_same_rows() {
    let (_dir, base) = crate::warmup_builder::demo_base();
    let served = crate::warmup_builder::Served::start(&base, &[]);
    let folder = photo_folder();
    let dir = folder.path().display().to_string();
    let server = format!("127.0.0.1:{}", served.rest);
    let output = tfprobe(&[
        "predict",
        "--server",
        &server,
        "--model_name",
        "demo",
        "--images",
        &dir,
        "--json",
    ]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let rows: Vec<(String, Option<i64>, bool)> = json["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            (
                Path::new(row["file"].as_str().unwrap())
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
                row["top_k"][0]["class"].as_i64(),
                row["error"].is_string(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("chelsea.png".to_string(), Some(283), false),
            ("coffee.png".to_string(), Some(968), false),
            ("notes.png".to_string(), None, true),
            ("rocket.jpg".to_string(), Some(658), false),
        ]
    );
}
