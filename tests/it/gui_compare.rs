//! The Compare tab: the connected server (A) against a second server typed in as a
//! URL (B), both answering the same fixed scores — full agreement, zero difference,
//! both latency series filled — the per-image table, CSV export (and its error), and a
//! bad target B named with the accepted forms. Then the demo model's folder as target
//! B (real TensorFlow): the reported difference is the one computed from its answer.

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

#[test]
fn a_local_folder_as_target_b_reports_its_difference_from_the_server() {
    crate::support::tf::ensure_runtime();
    let server = FakeServer::start(Duration::ZERO);
    let mut harness = connected_harness(&server, TIMEOUT);
    let photo = repo().join("tests/fixtures/images/gradient_48x40.jpg");
    let bytes = std::fs::read(&photo).unwrap();
    harness.state_mut().push_command(Command::AddImage {
        name: "gradient.jpg".into(),
        bytes: Arc::new(bytes.clone()),
    });
    let folder = repo().join("assets/models/efficientnet_lite0");
    {
        let state = &mut harness.state_mut().state;
        state.persisted.tab = Tab::Compare;
        state.compare.target_b = folder.display().to_string();
        state.compare.requests = 5;
        state.compare.warmup = 1;
    }
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
    let row = &compare.report.as_ref().unwrap().images[0];

    // The demo model's own answer for the photo, against the server's fixed scores.
    let target = tfprobe::workflow::target::LocalTarget::load(
        &folder,
        &tfprobe::runtime::LoadOptions::default(),
    )
    .unwrap();
    let plan = tfprobe::workflow::image_request::plan_for_model(
        target.info(),
        None,
        tfprobe::imaging::ImageOptions::default(),
        tfprobe::workflow::image_request::InputMode::Auto,
        None,
    )
    .unwrap();
    let request = plan.request(&bytes).unwrap();
    let answer = server
        .runtime
        .block_on(tfprobe::workflow::target::Target::run(&target, &request))
        .unwrap();
    let tfprobe::tensor::TensorData::Float(real) = &answer.outputs["probabilities"].data else {
        panic!("probabilities are float");
    };
    let mut fixed = vec![0.0_f32; 1001];
    fixed[TOP_CLASS] = 0.70;
    fixed[282] = 0.20;
    fixed[281] = 0.06;
    fixed[285] = 0.04;
    let expected = fixed
        .iter()
        .zip(real)
        .map(|(x, y)| f64::from((x - y).abs()))
        .fold(0.0, f64::max);
    let reported = row.max_abs_diff["probabilities"];
    assert!(expected > 0.01, "the demo model is no fixed score");
    assert!(
        (reported - expected).abs() < 1e-6,
        "{reported} vs {expected}"
    );
    let real_top = (0..real.len())
        .max_by(|&i, &j| real[i].total_cmp(&real[j]))
        .unwrap();
    assert_eq!((row.top1_a, row.top1_b), (Some(TOP_CLASS), Some(real_top)));
    assert_eq!(row.top1_agree, Some(real_top == TOP_CLASS));
    assert_eq!(
        row.max_abs_diff["classes"],
        (TOP_CLASS as f64 - real_top as f64).abs()
    );
    harness.get_by_label(&format!("B: {}", folder.display()));
}
