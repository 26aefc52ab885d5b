//! The latency chart: a run against an in-process server streams every request into
//! the chart and fills the statistics table; a run can be cancelled; 10 000 points
//! still render quickly.

use crate::support::gui::{FakeServer, app_harness, connected_harness, wait_until};
use egui::accesskit::Role;
use egui::{Key, Modifiers};
use egui_kittest::kittest::Queryable;
use std::time::{Duration, Instant};
use tfprobe::ui::command::Command;
use tfprobe::ui::state::{Sample, Tab};

const TIMEOUT: Duration = Duration::from_secs(60);

#[test]
fn ctrl_r_runs_requests_and_fills_the_stats_table() {
    let server = FakeServer::start(Duration::ZERO);
    let mut harness = connected_harness(&server, TIMEOUT);
    {
        let settings = &mut harness.state_mut().state.persisted.latency;
        settings.requests = 60;
        settings.warmup = 5;
        settings.concurrency = 2;
    }
    harness.key_press_modifiers(Modifiers::COMMAND, Key::R);
    wait_until(&mut harness, "the run to start", TIMEOUT, |h| {
        h.state().state.latency.running || !h.state().state.latency.samples.is_empty()
    });
    assert_eq!(harness.state().state.persisted.tab, Tab::Latency);
    wait_until(&mut harness, "the run to finish", TIMEOUT, |h| {
        !h.state().state.latency.running
    });

    let latency = &harness.state().state.latency;
    assert_eq!(latency.snapshot.count, 60, "measured requests");
    assert_eq!(latency.snapshot.errors, 0, "{:?}", latency.first_error);
    assert_eq!(latency.warmup_points.len(), 5);
    assert_eq!(latency.main_points.len(), 60);
    assert!(latency.snapshot.p50_ms > 0.0 && latency.snapshot.p50_ms <= latency.snapshot.p99_ms);

    // The statistics table, as a person reads it.
    harness.get_by_label("Statistics");
    for row in ["requests", "errors", "p50", "p90", "p99", "throughput"] {
        harness.get_by_label(row);
    }
    harness.get_by_label("60");
    let p50 = format!("{:.2} ms", harness.state().state.latency.snapshot.p50_ms);
    assert!(
        harness.query_all_by_label(&p50).count() >= 1,
        "p50 {p50} shown"
    );
    harness.get_by_role_and_label(Role::Button, "Run 60 requests");

    // The histogram view and the CSV text.
    harness.get_by_label("Histogram").click();
    harness.step();
    harness.step();
    assert!(harness.state().state.persisted.latency.histogram);
    let csv = tfprobe::ui::TfprobeApp::latency_csv(&harness.state().state.latency);
    assert_eq!(csv.lines().count(), 1 + 65, "header + one row per request");
    assert!(
        csv.lines()
            .nth(1)
            .is_some_and(|line| line.contains(",warmup,")),
        "{csv}"
    );
}

#[test]
fn a_run_can_be_cancelled() {
    let server = FakeServer::start(Duration::from_millis(20));
    let mut harness = connected_harness(&server, TIMEOUT);
    {
        let settings = &mut harness.state_mut().state.persisted.latency;
        settings.requests = 5000;
        settings.warmup = 0;
        settings.concurrency = 1;
    }
    harness.state_mut().push_command(Command::RunLatency);
    wait_until(&mut harness, "some samples", TIMEOUT, |h| {
        h.state().state.latency.samples.len() >= 3
    });
    harness
        .get_by_role_and_label(Role::Button, "Cancel")
        .click();
    wait_until(&mut harness, "the run to stop", TIMEOUT, |h| {
        !h.state().state.latency.running
    });
    let done = harness.state().state.latency.samples.len();
    assert!(
        done < 5000,
        "cancel stopped the run early ({done} requests)"
    );
}

#[test]
fn ten_thousand_points_render_within_a_frame_budget() {
    let mut harness = app_harness(Vec::new());
    harness.step();
    {
        let state = &mut harness.state_mut().state;
        state.persisted.tab = Tab::Latency;
        let latency = &mut state.latency;
        for index in 0..10_000u32 {
            let ms = 2.0 + f64::from(index % 97) / 40.0;
            latency.samples.push(Sample {
                index,
                latency_ms: Some(ms),
                warmup: index < 100,
            });
            let point = egui_plot::PlotPoint::new(f64::from(index), ms);
            if index < 100 {
                latency.warmup_points.push(point);
            } else {
                latency.stats.record(Duration::from_secs_f64(ms / 1000.0));
                latency.main_points.push(point);
            }
        }
        latency.snapshot = latency.stats.snapshot();
    }
    harness.step();
    let frames = 20;
    let started = Instant::now();
    for _ in 0..frames {
        harness.step();
        // What a real frame also pays: turning the shapes into triangles.
        let output = harness.output();
        let primitives = harness
            .ctx
            .tessellate(output.shapes.clone(), output.pixels_per_point);
        let vertices: usize = primitives
            .iter()
            .map(|primitive| match &primitive.primitive {
                egui::epaint::Primitive::Mesh(mesh) => mesh.vertices.len(),
                egui::epaint::Primitive::Callback(_) => 0,
            })
            .sum();
        // Every point is a small filled circle: several vertices each.
        assert!(
            vertices > 10_000 * 4,
            "the points were not drawn ({vertices} vertices)"
        );
    }
    let per_frame = started.elapsed() / frames;
    eprintln!(
        "latency tab with 10 000 points: {:.2} ms per frame (egui pass + tessellation)",
        per_frame.as_secs_f64() * 1000.0
    );
    // Timing is reported, not asserted: a loaded CI machine is no place for a timed
    // test (speed is measured by benchmarks).
}
