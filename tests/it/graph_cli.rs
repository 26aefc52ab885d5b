//! `tfprobe summary` and `tfprobe graph` as a user runs them: the layer table, DOT that
//! Graphviz's `dot` accepts, SVG that parses as XML, and JSON; on the fixtures and on a
//! Keras ResNet50 export (made by `tests/compat/resnet50.sh`).

use std::path::Path;
use std::process::{Command, Output};

fn tfprobe(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tfprobe"))
        .args(args)
        .output()
        .expect("run tfprobe")
}

fn stdout_of(args: &[&str]) -> String {
    let output = tfprobe(args);
    assert!(
        output.status.success(),
        "tfprobe {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8")
}

/// Runs Graphviz's `dot` on `text`; fails, saying how to get it, when it is missing.
fn graphviz_accepts(text: &str) {
    use std::io::Write;
    let mut child = Command::new("dot")
        .arg("-Tsvg")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| {
            panic!(
                "Graphviz's `dot` is needed ({err}); install Debian's graphviz (tools/test.sh does)"
            )
        });
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write dot");
    let output = child.wait_with_output().expect("dot runs");
    assert!(
        output.status.success(),
        "dot rejected the graph: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("<svg"));
}

/// Parses `path` with Python's XML parser (a real one, not a string check).
fn assert_valid_xml(path: &Path) {
    let output = Command::new("python3")
        .args([
            "-c",
            "import sys, xml.etree.ElementTree as E; r = E.parse(sys.argv[1]).getroot(); print(r.tag, len(list(r.iter())))",
        ])
        .arg(path)
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "{} is not valid XML: {}",
        path.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        String::from_utf8_lossy(&output.stdout).starts_with("{http://www.w3.org/2000/svg}svg ")
    );
}

#[test]
fn summary_of_a_tf1_export_lists_its_layers_and_parameters() {
    let text = stdout_of(&["summary", "--dir", "tests/fixtures/models/tf1_softmax"]);
    let layers: Vec<&str> = text
        .lines()
        .skip(4)
        .take_while(|line| !line.starts_with('─'))
        .map(|line| line.split_whitespace().next().unwrap_or_default())
        .collect();
    assert_eq!(
        layers,
        ["Placeholder", "conv1", "dense", "softmax_tensor", "ArgMax"]
    );
    assert!(
        text.contains("Total params: 1,397\nTrainable params: 1,392\nNon-trainable params: 5\n"),
        "{text}"
    );
}

#[test]
fn summary_json_carries_the_same_counts() {
    let text = stdout_of(&[
        "summary",
        "--dir",
        "tests/fixtures/models/keras_image",
        "--json",
    ]);
    let json: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(json["total_params"], 1562);
    assert_eq!(json["convolution_layers"], 2);
    assert_eq!(json["layers"][1]["name"], "tiny_image_classifier_1/conv1_1");
    assert_eq!(json["layers"][1]["params"], 224);
}

#[test]
fn graph_exports_dot_that_graphviz_draws_svg_that_parses_and_json() {
    let dir = tempfile::tempdir().expect("tempdir");
    for expand in [false, true] {
        let mut args = vec![
            "graph",
            "--dir",
            "tests/fixtures/models/keras_image",
            "--format",
            "dot",
        ];
        if expand {
            args.push("--expand");
        }
        let dot = stdout_of(&args);
        assert!(dot.starts_with("digraph \"serving_default\" {"), "{dot}");
        assert_eq!(dot.contains("subgraph \"cluster_"), expand, "{dot}");
        graphviz_accepts(&dot);
    }
    let svg = dir.path().join("graph.svg");
    stdout_of(&[
        "graph",
        "--dir",
        "tests/fixtures/models/keras_image",
        "--format",
        "svg",
        "-o",
        svg.to_str().expect("utf-8"),
    ]);
    assert_valid_xml(&svg);
    let text = std::fs::read_to_string(&svg).expect("svg written");
    assert!(text.contains(">tiny_image_classifier_1/conv1_1<"), "{text}");
    let json: serde_json::Value = serde_json::from_str(&stdout_of(&[
        "graph",
        "--dir",
        "tests/fixtures/models/keras_image",
        "--format",
        "json",
    ]))
    .expect("json");
    let nodes = json["nodes"].as_array().expect("nodes");
    let conv = nodes
        .iter()
        .find(|node| node["op"] == "Conv2D")
        .expect("a Conv2D node");
    assert!(
        conv["attrs"]
            .as_array()
            .expect("attrs")
            .iter()
            .any(|attr| attr[0] == "strides")
    );
    assert!(!json["edges"].as_array().expect("edges").is_empty());
}

#[test]
fn an_unknown_signature_names_the_valid_ones_and_the_flag() {
    let output = tfprobe(&[
        "graph",
        "--dir",
        "tests/fixtures/models/keras_image",
        "--signature_def",
        "nope",
    ]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("the model has no signature 'nope' (it has: serve, serving_default); choose one with --signature_def"),
        "{stderr}"
    );
}

#[test]
fn resnet50_summary_matches_keras_and_its_graph_exports_are_valid() {
    let setup = Command::new("timeout")
        .args(["1500", "bash", "tests/compat/resnet50.sh"])
        .output()
        .expect("run tests/compat/resnet50.sh");
    assert!(
        setup.status.success(),
        "tests/compat/resnet50.sh failed (it needs pip access to install tensorflow-cpu):\n{}\n{}",
        String::from_utf8_lossy(&setup.stdout),
        String::from_utf8_lossy(&setup.stderr)
    );
    let counts: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string("target/resnet50/keras_counts.json").expect("keras counts"),
    )
    .expect("counts json");
    assert_eq!(counts["total"], 25_636_712, "Keras's own count_params()");
    let json: serde_json::Value = serde_json::from_str(&stdout_of(&[
        "summary",
        "--dir",
        "target/resnet50",
        "--json",
    ]))
    .expect("json");
    assert_eq!(json["total_params"], counts["total"]);
    assert_eq!(json["trainable_params"], counts["trainable"]);
    assert_eq!(json["convolution_layers"], 53);
    assert_eq!(json["convolution_layers"], counts["conv2d_layers"]);
    let text = stdout_of(&["summary", "--dir", "target/resnet50"]);
    assert!(text.contains("Total params: 25,636,712\n"), "{text}");
    graphviz_accepts(&stdout_of(&[
        "graph",
        "--dir",
        "target/resnet50",
        "--format",
        "dot",
    ]));
    let dir = tempfile::tempdir().expect("tempdir");
    let svg = dir.path().join("resnet50.svg");
    stdout_of(&[
        "graph",
        "--dir",
        "target/resnet50",
        "--format",
        "svg",
        "-o",
        svg.to_str().expect("utf-8"),
    ]);
    assert_valid_xml(&svg);
}
