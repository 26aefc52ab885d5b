//! The Compare tab: the connected server (A) against a second server typed in as a
//! URL (B), both answering the same fixed scores — full agreement, zero difference,
//! both latency series filled — the per-image table, CSV export (and its error), and a
//! bad target B named with the accepted forms.

use crate::support::gui::{FakeServer, TOP_CLASS, connected_harness, wait_until};
use crate::support::repo;
use egui::accesskit::Role;
use egui_kittest::kittest::Queryable;
use std::sync::Arc;
use std::time::Duration;
use tfprobe::ui::command::Command;
use tfprobe::ui::state::{NoticeLevel, Tab};
use tfprobe::workflow::compare_target::ACCEPTED_TARGETS;

const TIMEOUT: Duration = Duration::from_secs(60);

#[test]
fn compare_two_servers_fills_the_table_both_series_and_exports_csv() {
    let server_a = FakeServer::start(Duration::ZERO);
    let server_b = FakeServer::start(Duration::ZERO);
    let mut harness = connected_harness(&server_a, TIMEOUT);
    let bytes = std::fs::read(repo().join("tests/fixtures/images/gradient_48x40.jpg")).unwrap();
    harness.state_mut().push_command(Command::AddImage {
        name: "gradient.jpg".into(),
        bytes: Arc::new(bytes),
    });
    harness.state_mut().state.persisted.tab = Tab::Compare;
    harness.step();
    harness.step();

    // Without target B the run does not start and says what B may be.
    harness
        .get_by_role_and_label(Role::Button, "Run comparison")
        .click();
    harness.step();
    harness.step();
    harness.get_by_label(&format!("Enter target B: {ACCEPTED_TARGETS}"));

    let url_b = format!(
        "http://127.0.0.1:{}/v1/models/{}",
        server_b.rest_port(),
        server_b.model_name
    );
    let field = harness.get_by_label("Target B");
    field.focus();
    field.type_text("ftp://nowhere/m");
    harness.step();
    harness
        .get_by_role_and_label(Role::Button, "Run comparison")
        .click();
    wait_until(&mut harness, "the bad spec's error", TIMEOUT, |h| {
        !h.state().state.compare.running && h.state().state.compare.error.is_some()
    });
    harness.get_by_label(&format!(
        "target 'ftp://nowhere/m': unknown scheme 'ftp://'; expected {ACCEPTED_TARGETS}"
    ));

    harness.state_mut().state.compare.target_b = url_b.clone();
    harness.state_mut().state.compare.requests = 20;
    harness.state_mut().state.compare.warmup = 2;
    harness.step();
    harness
        .get_by_role_and_label(Role::Button, "Run comparison")
        .click();
    wait_until(&mut harness, "the comparison", TIMEOUT, |h| {
        let compare = &h.state().state.compare;
        !compare.running && (compare.report.is_some() || compare.error.is_some())
    });
    let compare = &harness.state().state.compare;
    assert_eq!(compare.error, None);
    let report = compare.report.as_ref().unwrap();
    assert_eq!(report.target_b, url_b);
    assert_eq!(report.images.len(), 1);
    let row = &report.images[0];
    assert_eq!(
        (row.top1_a, row.top1_b, row.top1_agree, row.top5_overlap),
        (Some(TOP_CLASS), Some(TOP_CLASS), Some(true), Some(5))
    );
    assert_eq!(row.max_abs_diff.get("probabilities"), Some(&0.0));
    assert_eq!((compare.points_a.len(), compare.points_b.len()), (20, 20));
    let latency = report.latency.as_ref().unwrap();
    assert!(latency.a.p50_ms > 0.0 && latency.b.throughput_rps > 0.0);

    // The table and summary as a person reads them.
    harness.get_by_label("gradient.jpg");
    harness.get_by_label("top-1 agreement 1/1 (100.0 %)");
    harness.get_by_label("max |A−B| probabilities: 0.000e0");
    harness.get_by_label(&format!("B: {url_b}"));
    harness.get_by_label("B/A");
    harness.get_by_role_and_label(Role::Button, "Export CSV…");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("compare.csv");
    harness
        .state_mut()
        .push_command(Command::SaveCompareCsv(path.clone()));
    wait_until(&mut harness, "the CSV", TIMEOUT, |_| path.exists());
    let csv = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(lines[0].contains(",max_abs_diff_probabilities,"), "{csv}");
    assert!(
        lines[1].starts_with(&format!("gradient.jpg,{TOP_CLASS},{TOP_CLASS},true,5,")),
        "{csv}"
    );

    let unwritable = dir.path().join("missing/compare.csv");
    harness
        .state_mut()
        .push_command(Command::SaveCompareCsv(unwritable.clone()));
    wait_until(&mut harness, "the export error", TIMEOUT, |h| {
        h.state()
            .state
            .notices
            .iter()
            .any(|notice| notice.level == NoticeLevel::Error)
    });
    let notice = harness.state().state.notices.last().unwrap().text.clone();
    assert!(
        notice.starts_with(&format!("cannot write {}", unwritable.display())),
        "{notice}"
    );
}
