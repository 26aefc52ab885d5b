//! `tfprobe compare`: two versions of an image model — version 2 differs from version
//! 1 by its `preprocessing.json` (pixels in -1..1 instead of 0..1), so the same photos
//! give other probabilities — compared between a local folder and a real tfprobe
//! server on 127.0.0.1:0 over REST and gRPC. The reported differences and agreements
//! must be the ones computed here from the two models' own outputs.

use crate::support::server::{config, start};
use crate::support::{copy_dir, fixture, repo, tf};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;
use tfprobe::imaging::ImageOptions;
use tfprobe::runtime::LoadOptions;
use tfprobe::server::ModelSource;
use tfprobe::tensor::TensorData;
use tfprobe::workflow::compare::{self, CompareReport, CompareSettings};
use tfprobe::workflow::compare_target::{self, ACCEPTED_TARGETS};
use tfprobe::workflow::image_request::{self, InputMode};
use tfprobe::workflow::target::{LocalTarget, Target};

const PHOTOS: [&str; 3] = ["gradient_48x40.jpg", "gradient_48x40.png", "rgba_20x10.png"];

/// `base/1`: keras_image as it is; `base/2`: the same graph with a preprocessing.json
/// asking for symmetric normalisation.
fn two_versions(dir: &Path) -> PathBuf {
    let base = dir.join("keras_image");
    copy_dir(&fixture("keras_image/1"), &base.join("1"));
    copy_dir(&fixture("keras_image/1"), &base.join("2"));
    std::fs::create_dir_all(base.join("2/assets.extra")).unwrap();
    std::fs::write(
        base.join("2/assets.extra/preprocessing.json"),
        r#"{"normalization": "symmetric"}"#,
    )
    .unwrap();
    base
}

fn photos() -> Vec<PathBuf> {
    PHOTOS
        .iter()
        .map(|name| repo().join("tests/fixtures/images").join(name))
        .collect()
}

/// Per photo: each version's `output_0` row, run here with the version's own plan.
async fn own_outputs(version_dir: &Path) -> Vec<Vec<f32>> {
    let target = LocalTarget::load(version_dir, &LoadOptions::default()).unwrap();
    let plan = image_request::plan_for_model(
        target.info(),
        None,
        ImageOptions::default(),
        InputMode::Auto,
        Some(version_dir),
    )
    .unwrap();
    let mut rows = Vec::new();
    for photo in photos() {
        let request = plan.request(&std::fs::read(photo).unwrap()).unwrap();
        let answer = target.run(&request).await.unwrap();
        match &answer.outputs["output_0"].data {
            TensorData::Float(values) => rows.push(values.clone()),
            other => panic!("output_0 is {other:?}"),
        }
    }
    rows
}

fn argmax(row: &[f32]) -> usize {
    (0..row.len())
        .max_by(|&i, &j| row[i].total_cmp(&row[j]))
        .unwrap()
}

fn top5(row: &[f32]) -> Vec<usize> {
    let mut classes: Vec<usize> = (0..row.len()).collect();
    classes.sort_by(|&i, &j| row[j].total_cmp(&row[i]));
    classes.truncate(5);
    classes
}

/// Checks every per-image value and the summary against the models' own outputs.
fn assert_matches_own_outputs(report: &CompareReport, a: &[Vec<f32>], b: &[Vec<f32>]) {
    assert_eq!(report.images.len(), PHOTOS.len());
    let mut overall: f64 = 0.0;
    let mut agreed = 0;
    for (index, row) in report.images.iter().enumerate() {
        assert_eq!(row.image, PHOTOS[index]);
        assert_eq!(row.error, None);
        let expected = a[index]
            .iter()
            .zip(&b[index])
            .map(|(x, y)| f64::from((x - y).abs()))
            .fold(0.0, f64::max);
        assert!(expected > 0.01, "the versions must differ on {}", row.image);
        let reported = row.max_abs_diff["output_0"];
        assert!(
            (reported - expected).abs() < 1e-6,
            "{}: reported {reported}, computed {expected}",
            row.image
        );
        overall = overall.max(expected);
        let (top_a, top_b) = (argmax(&a[index]), argmax(&b[index]));
        assert_eq!((row.top1_a, row.top1_b), (Some(top_a), Some(top_b)));
        assert_eq!(row.top1_agree, Some(top_a == top_b));
        agreed += usize::from(top_a == top_b);
        let (five_a, five_b) = (top5(&a[index]), top5(&b[index]));
        let overlap = five_a.iter().filter(|class| five_b.contains(class)).count();
        assert_eq!(row.top5_overlap, Some(overlap), "{}", row.image);
    }
    let summary = &report.summary;
    assert!((summary.max_abs_diff["output_0"] - overall).abs() < 1e-6);
    assert_eq!((summary.ranked, summary.top1_agreed), (3, agreed));
    assert_eq!(summary.agreement_rate, Some(agreed as f64 / 3.0));
    let latency = report.latency.as_ref().expect("a latency comparison");
    for side in [&latency.a, &latency.b] {
        assert_eq!((side.requests, side.errors), (10, 0), "{side:?}");
        assert!(side.p50_ms > 0.0 && side.p50_ms <= side.p90_ms && side.p90_ms <= side.p99_ms);
        assert!(side.throughput_rps > 0.0, "{side:?}");
    }
    let ratio = &latency.ratio_b_over_a;
    let expected_p50 = latency.b.p50_ms / latency.a.p50_ms;
    assert!((ratio.p50.unwrap() - expected_p50).abs() < 1e-12);
    assert!(ratio.throughput.unwrap() > 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_version_against_the_other_on_a_server_over_rest_and_grpc() {
    tf::ensure_runtime();
    let dir = tempfile::tempdir().unwrap();
    let base = two_versions(dir.path());
    let served = dir.path().join("served");
    copy_dir(&base.join("1"), &served.join("1"));
    let server = start(config(vec![ModelSource::new("keras_image", &served)])).await;
    let v1 = own_outputs(&base.join("1")).await;
    let v2 = own_outputs(&base.join("2")).await;

    let local = compare_target::parse_target(&format!("{}@2", base.display())).unwrap();
    let a = compare_target::open(&local, Duration::from_secs(60))
        .await
        .unwrap();
    let images = compare::collect_images(&photos()).unwrap();
    let settings = CompareSettings {
        requests: 10,
        warmup: 2,
        ..CompareSettings::default()
    };
    let urls = [
        format!(
            "http://127.0.0.1:{}/v1/models/keras_image/versions/1",
            server.rest_addr().unwrap().port()
        ),
        format!(
            "grpc://127.0.0.1:{}/keras_image@1",
            server.grpc_addr().unwrap().port()
        ),
    ];
    for url in urls {
        let spec = compare_target::parse_target(&url).unwrap();
        let b = compare_target::open(&spec, Duration::from_secs(60))
            .await
            .unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let cancel = Arc::new(AtomicBool::new(false));
        let report = compare::compare(&a, &b, &images, &settings, cancel, tx)
            .await
            .unwrap();
        assert_eq!(report.target_b, url);
        assert_eq!(
            report.input_a,
            "images: 64×64×3 DT_FLOAT pixels Nhwc, batch 1, normalised x/127.5-1 (-1..1)"
        );
        assert_eq!(
            report.input_b,
            "images: 64×64×3 DT_FLOAT pixels Nhwc, batch 1, normalised x/255 (0..1)"
        );
        assert_matches_own_outputs(&report, &v2, &v1);
        let mut events = Vec::new();
        while let Ok(event) = rx.try_recv() {
            events.push(event);
        }
        // 3 images, then (2 warm-up + 10) samples per side.
        assert_eq!(events.len(), 3 + 2 * 12, "{url}");
    }
}

fn tfprobe(args: &[&str]) -> Output {
    tf::ensure_runtime();
    Command::new(env!("CARGO_BIN_EXE_tfprobe"))
        .args(args)
        .current_dir(repo())
        .output()
        .expect("run tfprobe")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_prints_a_table_json_and_csv_with_the_models_values() {
    tf::ensure_runtime();
    let dir = tempfile::tempdir().unwrap();
    let base = two_versions(dir.path());
    let v1 = own_outputs(&base.join("1")).await;
    let v2 = own_outputs(&base.join("2")).await;
    let (a, b) = (
        format!("{}@1", base.display()),
        format!("{}@2", base.display()),
    );
    let photos: Vec<String> = photos().iter().map(|p| p.display().to_string()).collect();
    let csv_path = dir.path().join("rows.csv");
    let mut args = vec![
        "compare",
        "--target",
        &a,
        "--target",
        &b,
        "--requests",
        "10",
    ];
    args.extend([
        "--warmup",
        "2",
        "--csv",
        csv_path.to_str().unwrap(),
        "--images",
    ]);
    args.extend(photos.iter().map(String::as_str));

    let output = tfprobe(&args);
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(
        output.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], format!("A: {a}"));
    assert_eq!(
        lines[1],
        "   input images: 64×64×3 DT_FLOAT pixels Nhwc, batch 1, normalised x/255 (0..1)"
    );
    assert_eq!(lines[2], format!("B: {b}"));
    assert_eq!(
        lines[5],
        "image               top-1 A  top-1 B  agree   top-5  max|Δ| output_0"
    );
    for (index, photo) in PHOTOS.iter().enumerate() {
        let diff = v1[index]
            .iter()
            .zip(&v2[index])
            .map(|(x, y)| f64::from((x - y).abs()))
            .fold(0.0, f64::max);
        let (top_a, top_b) = (argmax(&v1[index]), argmax(&v2[index]));
        let agree = if top_a == top_b { "yes" } else { "NO" };
        let columns: Vec<&str> = lines[6 + index].split_whitespace().collect();
        assert_eq!(
            columns[..4],
            [*photo, &top_a.to_string(), &top_b.to_string(), agree],
            "{}",
            lines[6 + index]
        );
        assert_eq!(columns[5], format!("{diff:.3e}"));
    }
    assert!(lines[10].starts_with("top-1 agreement: "), "{text}");
    assert!(
        text.contains("\nlatency (10 sequential requests per target, image gradient_48x40.jpg)\n")
    );
    let b_over_a = lines.iter().find(|line| line.starts_with("B/A")).unwrap();
    assert_eq!(b_over_a.split_whitespace().count(), 5, "{b_over_a}");

    let csv = std::fs::read_to_string(&csv_path).unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(
        rows[0],
        "image,top1_a,top1_b,top1_agree,top5_overlap,latency_a_ms,latency_b_ms,max_abs_diff_output_0,error"
    );
    assert_eq!(rows.len(), 4);
    assert!(rows[1].starts_with("gradient_48x40.jpg,"), "{csv}");

    let mut json_args = args.clone();
    json_args.push("--json");
    let output = tfprobe(&json_args);
    assert!(output.status.success());
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["target_a"], a.as_str());
    assert_eq!(json["images"].as_array().unwrap().len(), 3);
    let diff = json["images"][2]["max_abs_diff"]["output_0"]
        .as_f64()
        .unwrap();
    let expected = v1[2]
        .iter()
        .zip(&v2[2])
        .map(|(x, y)| f64::from((x - y).abs()))
        .fold(0.0, f64::max);
    assert!((diff - expected).abs() < 1e-6, "{diff} vs {expected}");
    for side in ["a", "b"] {
        let latency = &json["latency"][side];
        for field in ["p50_ms", "p90_ms", "p99_ms", "throughput_rps"] {
            assert!(latency[field].as_f64().unwrap() > 0.0, "{side}.{field}");
        }
    }
    assert!(json["latency"]["ratio_b_over_a"]["p50"].as_f64().unwrap() > 0.0);
}

#[test]
fn bad_targets_name_the_accepted_forms() {
    let image = repo().join("tests/fixtures/images/gray_16x16.png");
    let image = image.to_str().unwrap();
    let model = fixture("keras_image").display().to_string();
    let cases = [
        ("ftp://host/m", "unknown scheme 'ftp://'"),
        (
            "http://127.0.0.1:1/models/m",
            "a REST URL needs the path /v1/models/NAME[/versions/N]",
        ),
        ("/nonexistent/model", "no such folder"),
    ];
    for (spec, why) in cases {
        let output = tfprobe(&[
            "compare", "--target", &model, "--target", spec, "--images", image,
        ]);
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            stderr.trim_end(),
            format!("error: target '{spec}': {why}; expected {ACCEPTED_TARGETS}"),
        );
    }
    let v2 = "http://127.0.0.1:8000/v2/models/m";
    let output = tfprobe(&[
        "compare", "--target", &model, "--target", v2, "--images", image,
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("KServe V2 (Open Inference Protocol) targets are not supported yet"),
        "{stderr}"
    );
    let output = tfprobe(&["compare", "--target", &model, "--images", image]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--target is given exactly twice (A, then B); got 1."),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_targets_trust_the_ca_given_and_fail_without_it() {
    tf::ensure_runtime();
    let dir = tempfile::tempdir().unwrap();
    let base = two_versions(dir.path());
    let served = dir.path().join("served");
    copy_dir(&base.join("1"), &served.join("1"));
    let pki = crate::support::pki::pki();
    let mut server_config = config(vec![ModelSource::new("keras_image", &served)]);
    server_config.tls = Some(
        tfprobe::server::TlsSettings::from_pem_files(
            &pki.path("server.pem"),
            &pki.path("server.key"),
        )
        .unwrap(),
    );
    let server = start(server_config).await;
    let local = format!("{}@1", base.display());
    let url = format!(
        "grpcs://127.0.0.1:{}/keras_image",
        server.grpc_addr().unwrap().port()
    );
    let image = repo().join("tests/fixtures/images/gradient_48x40.jpg");
    let image = image.to_str().unwrap();
    let ca = pki.path("ca.pem");
    let mut args = vec!["compare", "--target", &local, "--target", &url];
    args.extend(["--images", image, "--requests", "3", "--json"]);
    let without_ca = tfprobe(&args);
    assert!(!without_ca.status.success());
    let stderr = String::from_utf8_lossy(&without_ca.stderr);
    assert!(
        stderr.contains("opening target B") && stderr.contains("TLS with 127.0.0.1:"),
        "{stderr}"
    );

    args.extend(["--ca-cert", ca.to_str().unwrap()]);
    let output = tfprobe(&args);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["target_b"], url.as_str());
    // The same version on both sides: the same answer, bit for bit.
    assert_eq!(
        json["images"][0]["max_abs_diff"]["output_0"].as_f64(),
        Some(0.0)
    );
    assert_eq!(json["summary"]["agreement_rate"].as_f64(), Some(1.0));
    assert_eq!(json["latency"]["b"]["requests"].as_u64(), Some(3));

    let plain = format!("{}@2", base.display());
    let mut args = vec!["compare", "--target", &local, "--target", &plain];
    args.extend(["--images", image, "--ca-cert", ca.to_str().unwrap()]);
    let output = tfprobe(&args);
    assert_eq!(
        String::from_utf8_lossy(&output.stderr).trim_end(),
        "error: --ca-cert is for https:// and grpcs:// targets, and neither target is one"
    );
}

#[test]
fn a_folder_with_a_corrupt_image_gives_an_error_row_and_a_failing_exit_code() {
    let model = fixture("keras_image").display().to_string();
    let images = repo().join("tests/fixtures/images");
    let images = images.to_str().unwrap();
    let output = tfprobe(&[
        "compare",
        "--target",
        &model,
        "--target",
        &model,
        "--images",
        images,
        "--requests",
        "0",
    ]);
    let text = String::from_utf8(output.stdout).unwrap();
    assert_eq!(output.status.code(), Some(1), "{text}");
    let rows: Vec<&str> = text.lines().skip(6).take(5).collect();
    let names: Vec<&str> = rows
        .iter()
        .map(|row| row.split_whitespace().next().unwrap())
        .collect();
    // Folder order; not_an_image.txt is not an image file name and is left out.
    assert_eq!(
        names,
        [
            "corrupt.jpg",
            "gradient_48x40.jpg",
            "gradient_48x40.png",
            "gray_16x16.png",
            "rgba_20x10.png"
        ]
    );
    assert!(
        rows[0].contains("error: the image could not be decoded (JPEG)"),
        "{text}"
    );
    for row in &rows[1..] {
        assert!(row.contains(" yes ") && row.ends_with("0.000e0"), "{row}");
    }
    assert!(
        text.contains("\ntop-1 agreement: 4/4 (100.0 %)\n"),
        "{text}"
    );
    assert!(text.contains("\n1 of 5 images failed\n"), "{text}");
    assert!(
        !text.contains("latency ("),
        "--requests 0 measures nothing: {text}"
    );
}
