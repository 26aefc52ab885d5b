//! The graph inspector on a Keras ResNet50 export (random weights, made by
//! `tests/compat/resnet50.sh`): building the graph model plus its layout in process,
//! `tfprobe graph --format svg` as a whole process, and a frame of the Graph tab while
//! panning, each beside the baseline it beats, measured in this run:
//! - in process: Python's protobuf reading the same `saved_model.pb` and walking every
//!   node of its graph and function library (the least any Python viewer has to do,
//!   before any layout), in the venv that made the export;
//! - whole process: the same Python walk as a process.
//!
//! Run: `cargo bench --bench graph`. Goals (issue "graph inspector"): build + layout
//! ≤ 300 ms, `graph --format svg` ≤ 1 s, a panning frame ≤ 16 ms.

// Test code: a failed unwrap or expect is the test (or benchmark) failing, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use tfprobe::model::graph::export::SVG_CHAR_WIDTH;
use tfprobe::model::graph::layout;
use tfprobe::workflow::inspect;

const MODEL: &str = "target/resnet50/1";
const PYTHON: &str = ".venv-resnet/bin/python";
const WALK: &str = "import sys, time
from tensorflow.core.protobuf import saved_model_pb2
t = time.perf_counter()
m = saved_model_pb2.SavedModel()
m.ParseFromString(open(sys.argv[1] + '/saved_model.pb', 'rb').read())
g = m.meta_graphs[0].graph_def
n = len(g.node) + sum(len(f.node_def) for f in g.library.function)
print(n, (time.perf_counter() - t) * 1000)";

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn percentile(mut samples: Vec<f64>, fraction: f64) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[((samples.len() - 1) as f64 * fraction).round() as usize]
}

fn time_ms(mut work: impl FnMut()) -> f64 {
    let started = Instant::now();
    work();
    started.elapsed().as_secs_f64() * 1000.0
}

fn process_ms(program: &str, args: &[&str]) -> (f64, String) {
    let started = Instant::now();
    let output = Command::new(program)
        .args(args)
        .env("TF_CPP_MIN_LOG_LEVEL", "3")
        .output()
        .unwrap_or_else(|err| panic!("run {program}: {err}"));
    let elapsed = started.elapsed().as_secs_f64() * 1000.0;
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    (
        elapsed,
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

fn main() {
    if !Path::new(MODEL).join("saved_model.pb").is_file() || !Path::new(PYTHON).is_file() {
        let status = Command::new("bash")
            .arg("tests/compat/resnet50.sh")
            .status()
            .expect("run tests/compat/resnet50.sh");
        assert!(
            status.success(),
            "tests/compat/resnet50.sh failed (it needs pip for tensorflow-cpu)"
        );
    }
    const RUNS: usize = 7;

    // In process: read + expand + summarize, then lay out the collapsed view.
    let mut build_ms = Vec::new();
    let mut layout_ms = Vec::new();
    let mut expanded_layout_ms = Vec::new();
    let mut inspected = None;
    for _ in 0..RUNS {
        let mut built = None;
        build_ms.push(time_ms(|| {
            built = Some(inspect::inspect(Path::new(MODEL), None).expect("graph builds"))
        }));
        let built = built.expect("built");
        layout_ms.push(time_ms(|| {
            let view = layout::view(&built.graph, &built.summary, &|_| false);
            std::hint::black_box(layout::layout(&view, SVG_CHAR_WIDTH));
        }));
        expanded_layout_ms.push(time_ms(|| {
            let view = layout::view(&built.graph, &built.summary, &|_| true);
            std::hint::black_box(layout::layout(&view, SVG_CHAR_WIDTH));
        }));
        inspected = Some(built);
    }
    let inspected = inspected.expect("built");
    let mut python_walk_ms = Vec::new();
    let mut python_process_ms = Vec::new();
    let mut nodes_in_file = 0usize;
    for _ in 0..RUNS {
        let (whole, stdout) = process_ms(PYTHON, &["-c", WALK, MODEL]);
        let mut fields = stdout.split_whitespace();
        nodes_in_file = fields
            .next()
            .and_then(|n| n.parse().ok())
            .expect("node count");
        python_walk_ms.push(
            fields
                .next()
                .and_then(|ms| ms.parse().ok())
                .expect("walk ms"),
        );
        python_process_ms.push(whole);
    }
    let out = std::env::temp_dir().join("tfprobe-bench-resnet50.svg");
    let out_text = out.to_str().expect("utf-8 path");
    let svg_ms: Vec<f64> = (0..RUNS)
        .map(|_| {
            process_ms(
                env!("CARGO_BIN_EXE_tfprobe"),
                &["graph", "--dir", MODEL, "--format", "svg", "-o", out_text],
            )
            .0
        })
        .collect();

    let build = median(build_ms);
    let collapsed = median(layout_ms);
    let walk = median(python_walk_ms);
    println!(
        "ResNet50 export: {} nodes in the file; the serving signature's graph has {} nodes in {} layers",
        nodes_in_file,
        inspected.summary.nodes,
        inspected.summary.layers.len()
    );
    println!("{:<58} {:>10} {:>10}", "", "median ms", "vs base");
    println!(
        "{:<58} {:>10.1} {:>9}",
        "baseline: Python protobuf parse + walk (no layout)", walk, "1.00x"
    );
    println!(
        "{:<58} {:>10.1} {:>9.2}x",
        "tfprobe: read + expand + summarize",
        build,
        walk / build
    );
    println!(
        "{:<58} {:>10.1} {:>9.2}x",
        "tfprobe: read + expand + summarize + layout (collapsed)",
        build + collapsed,
        walk / (build + collapsed)
    );
    println!(
        "{:<58} {:>10.1}",
        "tfprobe: layout of every node (expanded)",
        median(expanded_layout_ms)
    );
    let python_process = median(python_process_ms);
    let svg = median(svg_ms);
    println!(
        "{:<58} {:>10.1} {:>9}",
        "baseline: the Python walk as a process", python_process, "1.00x"
    );
    println!(
        "{:<58} {:>10.1} {:>9.2}x",
        "tfprobe graph --format svg (whole process, SVG written)",
        svg,
        python_process / svg
    );
    let frames = pan_frames_ms();
    println!(
        "{:<58} {:>10.2} {:>9}",
        "Graph tab frame while panning (p50; p99 below)",
        percentile(frames.clone(), 0.5),
        ""
    );
    println!(
        "{:<58} {:>10.2}",
        "Graph tab frame while panning (p99)",
        percentile(frames, 0.99)
    );
    println!(
        "goals: build + layout {:.0} ms (<= 300), svg {:.0} ms (<= 1000)",
        build + collapsed,
        svg
    );
}

/// Frame times of the real app (kittest, no GPU: the UI code and tessellation-free
/// painting) on the ResNet50 Graph tab while a pointer drags the canvas.
fn pan_frames_ms() -> Vec<f64> {
    use tfprobe::ui::state::Tab;
    let options = tfprobe::ui::LaunchOptions {
        paths: vec![Path::new(MODEL).to_path_buf()],
        ..Default::default()
    };
    let mut harness = egui_kittest::Harness::builder()
        .with_size(egui::vec2(1280.0, 800.0))
        .build_eframe(|cc| tfprobe::ui::TfprobeApp::new(cc, options));
    let deadline = Instant::now() + Duration::from_secs(60);
    while harness.state().state.local.is_none() {
        assert!(Instant::now() < deadline, "the model did not open");
        harness.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    harness.state_mut().state.persisted.tab = Tab::Graph;
    while harness.state().state.graph.drawing.is_none() {
        assert!(Instant::now() < deadline, "the graph was not laid out");
        harness.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    harness.step();
    let start = egui::pos2(700.0, 400.0);
    harness.hover_at(start);
    harness.drag_at(start);
    let mut frames = Vec::new();
    for step in 0..120 {
        let offset = egui::vec2((step % 40) as f32 * 3.0, (step % 40) as f32 * 5.0);
        harness.hover_at(start + offset);
        frames.push(time_ms(|| harness.step()));
    }
    harness.drop_at(start);
    frames
}
