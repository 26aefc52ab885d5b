//! `tfprobe deploy`: the docker command has the seed article's shape with the model's
//! base path, the compose and KServe YAML parse with the fields they need, and the
//! Triton config parses into Triton's `ModelConfig` (tritonclient's protos) with every
//! field matching the signature.

use crate::support::server::compat_python;
use crate::support::{copy_dir, fixture, repo};
use serde_norway::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The seed article's command (its line continuations joined).
const SEED_DOCKER_RUN: &str = "docker run -p 8500:8500 -p 8501:8501 --name tfserving_resnet \
    --mount type=bind,source=/tmp/resnet,target=/models/resnet -e MODEL_NAME=resnet -t tensorflow/serving";

fn deploy(args: &[&str]) -> (String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_tfprobe"))
        .arg("deploy")
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "deploy {args:?}: {stderr}");
    (String::from_utf8_lossy(&output.stdout).into_owned(), stderr)
}

fn path_str(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// A copy of the seed-like model under `<tmp>/resnet/1538687457`, canonical path.
fn resnet_base() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().canonicalize().unwrap().join("resnet");
    copy_dir(&fixture("seedlike"), &base);
    (dir, base)
}

#[test]
fn docker_run_is_the_seed_command_with_the_base_path() {
    let (_dir, base) = resnet_base();
    // Opened as the base path, and as its version folder: the mount is the base path.
    for opened in [base.clone(), base.join("1538687457")] {
        let (script, _) = deploy(&["--model", path_str(&opened), "--target", "docker"]);
        let lines: Vec<&str> = script.lines().collect();
        assert_eq!(lines[0], "#!/bin/sh");
        assert_eq!(lines.len(), 2, "{script}");
        let ours = lines[1].replace(path_str(&base), "/tmp/resnet");
        let words = |text: &str| {
            text.split_whitespace()
                .map(str::to_string)
                .collect::<Vec<_>>()
        };
        assert_eq!(words(&ours), words(SEED_DOCKER_RUN));
    }
}

#[test]
fn a_lone_model_folder_gets_a_layout_to_make_first() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let lone = root.join("classifier");
    copy_dir(&fixture("seedlike/1538687457"), &lone);
    let (script, stderr) = deploy(&["--model", path_str(&lone), "--target", "docker"]);
    let base = root.join("classifier-serving");
    let prepare = format!(
        "mkdir -p {base} && cp -r {lone} {base}/1",
        base = base.display(),
        lone = lone.display()
    );
    assert_eq!(
        script,
        format!(
            "#!/bin/sh\n{prepare}\ndocker run -p 8500:8500 -p 8501:8501 --name tfserving_classifier --mount \
             type=bind,source={},target=/models/classifier -e MODEL_NAME=classifier -t tensorflow/serving\n",
            base.display()
        )
    );
    assert_eq!(
        stderr,
        format!(
            "note: TF Serving loads <base path>/<version>/saved_model.pb, and {} is not inside a numeric \
             version folder. Lay it out first: {prepare}\n",
            lone.display()
        )
    );
}

#[test]
fn compose_yaml_parses_with_ports_mount_and_name() {
    let (_dir, base) = resnet_base();
    let (yaml, _) = deploy(&["--model", path_str(&base), "--target", "compose"]);
    let doc: Value = serde_norway::from_str(&yaml).unwrap();
    let service = &doc["services"]["resnet"];
    assert_eq!(service["image"], "tensorflow/serving");
    let ports: Vec<&str> = service["ports"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|port| port.as_str().unwrap())
        .collect();
    assert_eq!(ports, ["8500:8500", "8501:8501"]);
    let volume = &service["volumes"][0];
    assert_eq!(volume["type"], "bind");
    assert_eq!(volume["source"], path_str(&base));
    assert_eq!(volume["target"], "/models/resnet");
    assert_eq!(service["environment"]["MODEL_NAME"], "resnet");
}

#[test]
fn kserve_inference_service_parses_with_format_storage_and_protocol() {
    let (_dir, base) = resnet_base();
    let model = path_str(&base);
    let (yaml, _) = deploy(&[
        "--model",
        model,
        "--target",
        "kserve",
        "--model_name",
        "Image_Classifier",
        "--storage_uri",
        "gs://bucket/resnet",
    ]);
    let doc: Value = serde_norway::from_str(&yaml).unwrap();
    assert_eq!(doc["apiVersion"], "serving.kserve.io/v1beta1");
    assert_eq!(doc["kind"], "InferenceService");
    assert_eq!(doc["metadata"]["name"], "image-classifier");
    let model_spec = &doc["spec"]["predictor"]["model"];
    assert_eq!(model_spec["modelFormat"]["name"], "tensorflow");
    assert_eq!(model_spec["storageUri"], "gs://bucket/resnet");
    assert_eq!(model_spec["protocolVersion"], "v1");

    let (yaml, stderr) = deploy(&["--model", model, "--target", "kserve", "--protocol", "v2"]);
    let doc: Value = serde_norway::from_str(&yaml).unwrap();
    let model_spec = &doc["spec"]["predictor"]["model"];
    assert_eq!(model_spec["protocolVersion"], "v2");
    assert_eq!(model_spec["storageUri"], "pvc://resnet-models/resnet");
    assert!(stderr.contains("Triton runtime"), "{stderr}");
}

/// Writes the Triton repository of `model` and parses its config with tritonclient.
fn triton_repository(model: &Path, name: &str, out: &Path) -> serde_json::Value {
    deploy(&[
        "--model",
        path_str(model),
        "--target",
        "triton",
        "--model_name",
        name,
        "-o",
        path_str(out),
    ]);
    let output = Command::new("timeout")
        .arg("60")
        .arg(compat_python())
        .arg(repo().join("tests/compat/triton_config.py"))
        .arg(out.join(name).join("config.pbtxt"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "ModelConfig parse failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn triton_config_parses_into_model_config_matching_the_signature() {
    let dir = tempfile::tempdir().unwrap();
    let config = triton_repository(&fixture("seedlike"), "resnet", dir.path());
    // serving_default: image_bytes DT_STRING (-1) -> classes DT_INT64 (-1),
    // probabilities DT_FLOAT (-1, 1001). Every first dim is open: batching, dims drop it.
    assert_eq!(
        config,
        serde_json::json!({
            "name": "resnet",
            "platform": "tensorflow_savedmodel",
            "max_batch_size": 8,
            "input": [
                {"name": "image_bytes", "data_type": "TYPE_STRING", "dims": ["1"], "reshape": {}}
            ],
            "output": [
                {"name": "classes", "data_type": "TYPE_INT64", "dims": ["1"], "reshape": {}},
                {"name": "probabilities", "data_type": "TYPE_FP32", "dims": ["1001"]}
            ]
        })
    );
    let savedmodel = dir.path().join("resnet/1538687457/model.savedmodel");
    assert_eq!(
        std::fs::read(savedmodel.join("saved_model.pb")).unwrap(),
        std::fs::read(fixture("seedlike/1538687457/saved_model.pb")).unwrap()
    );
    assert!(savedmodel.join("variables/variables.index").is_file());
}

#[test]
fn triton_config_of_an_image_model_drops_the_batch_dim() {
    let dir = tempfile::tempdir().unwrap();
    // keras_image: images DT_FLOAT (-1, 64, 64, 3) -> output_0 DT_FLOAT (-1, 10).
    let config = triton_repository(&fixture("keras_image"), "keras_image", dir.path());
    assert_eq!(
        config,
        serde_json::json!({
            "name": "keras_image",
            "platform": "tensorflow_savedmodel",
            "max_batch_size": 8,
            "input": [{"name": "images", "data_type": "TYPE_FP32", "dims": ["64", "64", "3"]}],
            "output": [{"name": "output_0", "data_type": "TYPE_FP32", "dims": ["10"]}]
        })
    );
}

#[test]
fn triton_symlink_links_the_version_folder_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("repo");
    let model = fixture("two_versions");
    let args = [
        "--model",
        path_str(&model),
        "--target",
        "triton",
        "--symlink",
        "-o",
        path_str(&out),
    ];
    deploy(&args);
    let link = out.join("two_versions/2/model.savedmodel");
    assert_eq!(
        std::fs::read_link(&link).unwrap(),
        model.join("2").canonicalize().unwrap()
    );
    let again = Command::new(env!("CARGO_BIN_EXE_tfprobe"))
        .arg("deploy")
        .args(args)
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert_eq!(
        String::from_utf8_lossy(&again.stderr),
        format!(
            "error: cannot write {}: it already exists; remove it or write to another folder\n",
            link.display()
        )
    );
}

#[test]
fn a_model_name_that_cannot_be_a_container_or_folder_name_is_refused() {
    let output = Command::new(env!("CARGO_BIN_EXE_tfprobe"))
        .args(["deploy", "--target", "docker", "--model_name", "my model"])
        .arg("--model")
        .arg(fixture("seedlike"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "error: model name \"my model\" must be ASCII letters, digits, '_', '-' or '.', not starting with '.'\n"
    );
    assert!(output.stdout.is_empty());
}
