//! Try it with a folder: dropping it runs every file through the server (an
//! in-process one with fixed scores), shows a table with an error row for the file
//! that is no image, and exports the rows as CSV; the Try-it images save as a TF
//! Serving warmup file.

use crate::support::gui::{
    FakeServer, TOP_CLASS, TOP_LABEL, connected_harness, drop_and_wait_for_prediction, drop_file,
    wait_until,
};
use crate::support::repo;
use egui_kittest::kittest::Queryable;
use prost::Message;
use std::time::Duration;
use tfprobe::pb::tensorflow::serving::PredictionLog;
use tfprobe::pb::tensorflow::serving::prediction_log::LogType;
use tfprobe::ui::command::Command;

const TIMEOUT: Duration = Duration::from_secs(30);

#[test]
fn a_dropped_folder_runs_as_a_batch_and_exports_csv() {
    let server = FakeServer::start(Duration::ZERO);
    let mut harness = connected_harness(&server, TIMEOUT);
    let folder = tempfile::tempdir().unwrap();
    for name in ["gradient_48x40.jpg", "gray_16x16.png", "not_an_image.txt"] {
        std::fs::copy(
            repo().join("tests/fixtures/images").join(name),
            folder.path().join(name),
        )
        .unwrap();
    }
    drop_file(&mut harness, folder.path().to_path_buf());
    wait_until(&mut harness, "the batch", TIMEOUT, |h| {
        h.state()
            .state
            .predict
            .batch
            .as_ref()
            .is_some_and(|view| view.report.is_some() || view.error.is_some())
    });
    let view = harness.state().state.predict.batch.clone().unwrap();
    assert_eq!(view.error, None);
    let report = view.report.unwrap();
    assert_eq!(report.rows.len(), 3);
    assert_eq!(report.failures(), 1);
    for row in report.rows.iter().filter(|row| !row.failed()) {
        assert_eq!(row.top_k[0].class, TOP_CLASS, "{row:?}");
    }

    // The table: a row per file, the error row names the file.
    harness.get_by_label("Probability");
    harness.get_by_label("gradient_48x40.jpg");
    harness.get_by_label("gray_16x16.png");
    harness.get_by_label("not_an_image.txt");
    assert_eq!(harness.query_all_by_label(TOP_LABEL).count(), 2);
    harness.get_by_label_contains("error: not_an_image.txt is neither");
    harness.get_by_label("3 images, 1 failed");

    // "Export CSV…" asks for a file, then saves the rows there.
    let csv = folder.path().join("out.csv");
    harness
        .state_mut()
        .push_command(Command::SaveBatchCsv(csv.clone()));
    wait_until(&mut harness, "the CSV", TIMEOUT, |h| {
        h.state()
            .state
            .notices
            .iter()
            .any(|notice| notice.text == format!("Saved {}", csv.display()))
    });
    let text = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(text, report.csv());
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert!(lines[0].starts_with("file,latency_ms,class_1,label_1,probability_1"));
    assert!(
        lines[1].contains(&format!(",{TOP_CLASS},{TOP_LABEL},")),
        "{text}"
    );
}

#[test]
fn a_slow_batch_shows_its_progress() {
    // A second a request: two are still to come when the first is counted.
    let server = FakeServer::start(Duration::from_secs(1));
    let mut harness = connected_harness(&server, TIMEOUT);
    let folder = tempfile::tempdir().unwrap();
    for index in 0..3 {
        std::fs::copy(
            repo().join("tests/fixtures/images/gray_16x16.png"),
            folder.path().join(format!("gray_{index}.png")),
        )
        .unwrap();
    }
    drop_file(&mut harness, folder.path().to_path_buf());
    wait_until(&mut harness, "the first of three", TIMEOUT, |h| {
        h.state()
            .state
            .predict
            .batch
            .as_ref()
            .is_some_and(|view| view.done >= 1 && view.total == 3)
    });
    let view = harness.state().state.predict.batch.clone().unwrap();
    assert!(view.report.is_none(), "still running");
    harness.get_by_label_contains(&format!("{} of 3 images", view.done));
    wait_until(&mut harness, "the batch", TIMEOUT, |h| {
        h.state()
            .state
            .predict
            .batch
            .as_ref()
            .is_some_and(|view| view.report.is_some())
    });
    harness.get_by_label("3 images, 0 failed");
}

#[test]
fn save_as_warmup_writes_the_try_it_images_as_prediction_logs() {
    let server = FakeServer::start(Duration::ZERO);
    let mut harness = connected_harness(&server, TIMEOUT);
    let image = repo().join("tests/fixtures/images/gradient_48x40.jpg");
    drop_and_wait_for_prediction(&mut harness, image.clone(), TIMEOUT);
    harness.get_by_label("Save as warmup…");
    let dir = tempfile::tempdir().unwrap();
    let path = dir
        .path()
        .join("assets.extra")
        .join("tf_serving_warmup_requests");
    harness
        .state_mut()
        .push_command(Command::SaveWarmupTo(path.clone()));
    // The file is written, then the app is told (and says so in the status bar).
    wait_until(&mut harness, "the warmup file", TIMEOUT, |h| {
        h.state()
            .state
            .notices
            .iter()
            .any(|notice| notice.text.starts_with("Saved 1 warmup requests to"))
    });
    let bytes = std::fs::read(&path).unwrap();
    let length = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    assert_eq!(bytes.len(), 12 + length + 4, "one record");
    let log = PredictionLog::decode(&bytes[12..12 + length]).unwrap();
    let Some(LogType::PredictLog(predict)) = log.log_type else {
        panic!("{log:?}")
    };
    let request = predict.request.unwrap();
    let (key, tensor) = request.inputs.iter().next().unwrap();
    assert_eq!(key, "image_bytes");
    assert_eq!(tensor.string_val, vec![std::fs::read(&image).unwrap()]);
    harness.get_by_label_contains("Saved 1 warmup requests to");
}
