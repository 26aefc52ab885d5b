//! Try it: images dropped on the window go to a server (here an in-process one with
//! fixed scores) and come back as labelled top-k bars; several give a results table.

use crate::support::gui::{
    FakeServer, TOP_LABEL, app_harness, connected_harness, drop_file, wait_until,
};
use crate::support::repo;
use egui::accesskit::Role;
use egui_kittest::kittest::{NodeT, Queryable};
use std::time::Duration;
use tfprobe::ui::command::Command;
use tfprobe::ui::state::PredictStatus;

const TIMEOUT: Duration = Duration::from_secs(30);

fn all_done(
    harness: &egui_kittest::Harness<'static, tfprobe::ui::TfprobeApp>,
    count: usize,
) -> bool {
    let items = &harness.state().state.predict.items;
    items.len() == count
        && items.iter().all(|item| {
            matches!(
                item.status,
                PredictStatus::Done(_) | PredictStatus::Failed(_)
            ) && item.thumbnail.is_some()
        })
}

#[test]
fn a_dropped_jpeg_shows_top_k_bars_with_labels_and_percentages() {
    let server = FakeServer::start(Duration::ZERO);
    let mut harness = connected_harness(&server, TIMEOUT);
    harness.get_by_label_contains("Drop JPEG or PNG images here");

    drop_file(
        &mut harness,
        repo().join("tests/fixtures/images/gradient_48x40.jpg"),
    );
    wait_until(&mut harness, "the prediction", TIMEOUT, |h| all_done(h, 1));
    let item = &harness.state().state.predict.items[0];
    let PredictStatus::Done(outcome) = &item.status else {
        panic!(
            "the prediction failed: {}",
            match &item.status {
                PredictStatus::Failed(message) => message.as_str(),
                _ => "?",
            }
        )
    };
    assert!(outcome.latency_ms > 0.0);
    assert!(
        outcome.input_summary.contains("image_bytes"),
        "{}",
        outcome.input_summary
    );

    // The bars: label, progress bar with the percentage, best first.
    harness.get_by_label(TOP_LABEL);
    harness.get_by_label("tabby, tabby cat");
    let bars: Vec<_> = harness.get_all_by_role(Role::ProgressIndicator).collect();
    assert!(
        bars.len() >= 4,
        "expected a bar per class, found {}",
        bars.len()
    );
    harness.get_by_label_contains("70.0 %");
    harness.get_by_label_contains("20.0 %");
    harness.get_by_label_contains("ms");

    // The raw output can be shown.
    harness.get_by_label("Raw output").click();
    harness.step();
    harness.step();
    harness.get_by_label_contains("probabilities: DT_FLOAT shape [1, 1001]");
}

#[test]
fn several_images_fill_a_results_table_and_bad_files_explain_themselves() {
    let server = FakeServer::start(Duration::ZERO);
    let mut harness = connected_harness(&server, TIMEOUT);
    for name in ["gradient_48x40.png", "rgba_20x10.png", "corrupt.jpg"] {
        drop_file(
            &mut harness,
            repo().join("tests/fixtures/images").join(name),
        );
    }
    wait_until(&mut harness, "three results", TIMEOUT, |h| {
        let items = &h.state().state.predict.items;
        items.len() == 3
            && items.iter().all(|item| {
                matches!(
                    item.status,
                    PredictStatus::Done(_) | PredictStatus::Failed(_)
                )
            })
            && items.iter().filter(|item| item.thumbnail.is_some()).count() == 2
    });
    harness.get_by_label("Image");
    harness.get_by_label("Top-1");
    for name in ["gradient_48x40.png", "rgba_20x10.png", "corrupt.jpg"] {
        assert!(
            harness.query_all_by_label(name).count() >= 1,
            "{name} in the table"
        );
    }
    assert!(
        harness
            .get_all_by_label_contains(&format!("{TOP_LABEL} 70.0 %"))
            .count()
            >= 2
    );
    let failed = harness
        .state()
        .state
        .predict
        .items
        .iter()
        .filter(|item| matches!(item.status, PredictStatus::Failed(_)))
        .count();
    assert_eq!(failed, 1, "the corrupt JPEG fails, the others succeed");
    harness.get_by_label_contains("error:");
}

#[test]
fn images_dropped_before_any_server_wait_and_run_once_connected() {
    let server = FakeServer::start(Duration::ZERO);
    let mut harness = app_harness(Vec::new());
    harness.step();
    drop_file(
        &mut harness,
        repo().join("tests/fixtures/images/gradient_48x40.png"),
    );
    wait_until(&mut harness, "the image to wait", TIMEOUT, |h| {
        h.state()
            .state
            .predict
            .items
            .first()
            .is_some_and(|item| matches!(item.status, PredictStatus::Waiting))
    });
    harness.get_by_label_contains("Waiting");
    harness
        .state_mut()
        .push_command(Command::Connect(server.connection()));
    wait_until(&mut harness, "the prediction", TIMEOUT, |h| all_done(h, 1));
    harness.get_by_label(TOP_LABEL);
    let bar = harness
        .get_all_by_role(Role::ProgressIndicator)
        .next()
        .expect("a bar");
    assert!(
        bar.accesskit_node()
            .numeric_value()
            .is_some_and(|value| value > 0.0),
        "{bar:?}"
    );
}
