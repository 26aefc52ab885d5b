//! The clients against tfprobe's own server running the real TensorFlow runtime:
//! status, metadata and predict over REST and gRPC agree with each other and with a
//! local run; errors keep the server's code and message; `tfprobe predict --server`
//! prints the seed's line; `--print-curl` output runs as printed.

use crate::support::client::{self_signed, tls_proxy};
use crate::support::repo;
use crate::support::server::{compat_python, config, start};
use crate::support::tf;
use std::time::Duration;
use tfprobe::client::bench::{BenchLimit, Progress, run_level};
use tfprobe::client::{
    Client, ClientConfig, ClientError, ModelClient, Protocol, TlsOptions, VersionSelector,
};
use tfprobe::imaging::{ImageOptions, classify, image_input};
use tfprobe::runtime::{Backend, LoadOptions, TfBackend};
use tfprobe::server::{ModelSource, ServerHandle};
use tfprobe::tensor::TensorData;

const MODEL: &str = "efficientnet_lite0";

async fn demo_server() -> ServerHandle {
    tf::ensure_runtime();
    start(config(vec![ModelSource::new(
        MODEL,
        repo().join("assets/models/efficientnet_lite0"),
    )]))
    .await
}

/// Settings for `model` on `server` over `protocol`.
fn client_config(server: &ServerHandle, protocol: Protocol, model: &str) -> ClientConfig {
    let addr = match protocol {
        Protocol::Rest => server.rest_addr().unwrap(),
        Protocol::Grpc => server.grpc_addr().unwrap(),
    };
    let mut config = ClientConfig::new("127.0.0.1", addr.port(), protocol).with_model(model);
    config.timeout = Duration::from_secs(60);
    config
}

fn client(server: &ServerHandle, protocol: Protocol) -> Client {
    Client::connect(&client_config(server, protocol, MODEL)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_and_grpc_agree_with_each_other_and_with_a_local_run() {
    let server = demo_server().await;
    let (rest, grpc) = (
        client(&server, Protocol::Rest),
        client(&server, Protocol::Grpc),
    );

    let states = rest.status().await.unwrap();
    assert_eq!(states, grpc.status().await.unwrap());
    assert_eq!(
        (
            states.len(),
            states[0].version,
            states[0].state.as_str(),
            states[0].error_code.as_str()
        ),
        (1, 1, "AVAILABLE", "OK")
    );

    // Metadata: the same signature tree over both protocols, and the one read from disk.
    let remote = rest.metadata().await.unwrap();
    assert_eq!(remote, grpc.metadata().await.unwrap());
    assert_eq!(remote.version, Some(1));
    let local = tfprobe::model::open(&repo().join("assets/models/efficientnet_lite0/1")).unwrap();
    let local_graph = local.serving_meta_graph().unwrap();
    let remote_graph = remote.serving_meta_graph().unwrap();
    assert!(remote_graph.signature("serving_default").is_some());
    for signature in &remote_graph.signatures {
        assert_eq!(
            Some(signature),
            local_graph.signature(&signature.key),
            "signature '{}'",
            signature.key
        );
    }

    // Predict the chelsea photo: both protocols and the local backend give the same tensors.
    let signature = remote_graph.signature("serving_default").unwrap();
    let bytes = std::fs::read(repo().join("assets/images/chelsea.png")).unwrap();
    let (key, tensor) = image_input(&bytes, signature, &ImageOptions::default()).unwrap();
    let inputs: tfprobe::runtime::NamedTensors = [(key, tensor)].into();
    let by_rest = rest.predict(inputs.clone(), &[]).await.unwrap();
    let by_grpc = grpc.predict(inputs.clone(), &[]).await.unwrap();
    assert_eq!(by_grpc.model_version, Some(1));
    let backend = TfBackend::load(
        &repo().join("assets/models/efficientnet_lite0/1"),
        &LoadOptions::default(),
    )
    .unwrap();
    let by_local = backend.run("serving_default", inputs.clone(), &[]).unwrap();
    assert_eq!(by_grpc.outputs, by_local, "gRPC carries the exact floats");
    assert_eq!(by_rest.outputs["classes"], by_local["classes"]);
    let (TensorData::Float(rest_values), TensorData::Float(local_values)) = (
        &by_rest.outputs["probabilities"].data,
        &by_local["probabilities"].data,
    ) else {
        panic!("float probabilities")
    };
    assert_eq!(by_rest.outputs["probabilities"].shape, vec![1, 1001]);
    // The JSON floats are the shortest round-tripping text: exact as well.
    assert_eq!(rest_values, local_values);
    let top = classify(
        &by_rest.outputs,
        None,
        3,
        Some(&tfprobe::imaging::builtin_imagenet_labels()),
    )
    .unwrap();
    assert!(!top.softmax_applied);
    let classes: Vec<usize> = top.rows[0].iter().map(|p| p.class).collect();
    assert_eq!(
        classes,
        vec![283, 286, 282],
        "tiger cat, Egyptian cat, tabby"
    );
    assert_eq!(top.rows[0][1].label.as_deref(), Some("Egyptian cat"));

    // Output filter over both protocols.
    let only = ["classes".to_string()];
    for client in [&grpc, &rest] {
        let outputs = client.predict(inputs.clone(), &only).await.unwrap().outputs;
        assert_eq!(outputs.keys().collect::<Vec<_>>(), vec!["classes"]);
    }

    // The load generator over both protocols: every request succeeds.
    for client in [&rest, &grpc] {
        let request = std::sync::Arc::new(client.prepare(&inputs).unwrap());
        let progress = std::sync::Arc::new(Progress::default());
        let report = run_level(client, &request, 2, BenchLimit::Requests(6), &progress).await;
        assert_eq!(
            (report.requests, report.errors),
            (6, 0),
            "{:?}: {report:?}",
            client.config().protocol
        );
        assert!(report.p50_ms > 0.0 && report.throughput_rps > 0.0);
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_come_back_with_their_codes() {
    let server = demo_server().await;
    for protocol in [Protocol::Rest, Protocol::Grpc] {
        // An unknown model, and an unknown version of a known one.
        let missing = Client::connect(&client_config(&server, protocol, "nope")).unwrap();
        let mut wrong_version = client_config(&server, protocol, MODEL);
        wrong_version.version = VersionSelector::Version(99);
        let wrong_version = Client::connect(&wrong_version).unwrap();
        for err in [
            missing.status().await.unwrap_err(),
            wrong_version.metadata().await.unwrap_err(),
        ] {
            assert_eq!(err.server_code(), Some("NOT_FOUND"), "{protocol:?}: {err}");
        }

        let mut bad_signature = client_config(&server, protocol, MODEL);
        bad_signature.signature = Some("nope".into());
        let inputs: tfprobe::runtime::NamedTensors = [(
            "image_bytes".to_string(),
            tfprobe::tensor::Tensor::new(vec![1], TensorData::String(vec![b"not a jpeg".to_vec()]))
                .unwrap(),
        )]
        .into();
        let err = Client::connect(&bad_signature)
            .unwrap()
            .predict(inputs.clone(), &[])
            .await
            .unwrap_err();
        match &err {
            ClientError::Server { code, message, .. } => {
                assert_eq!(code, "INVALID_ARGUMENT", "{protocol:?}");
                assert!(
                    message.contains("Serving signature name: \"nope\" not found in signature def"),
                    "{message}"
                );
            }
            other => panic!("{protocol:?}: {other:?}"),
        }
        // Undecodable bytes: the model's own INVALID_ARGUMENT.
        let err = client(&server, protocol)
            .predict(inputs, &[])
            .await
            .unwrap_err();
        assert_eq!(
            err.server_code(),
            Some("INVALID_ARGUMENT"),
            "{protocol:?}: {err}"
        );
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_protocols_work_through_tls() {
    let server = demo_server().await;
    let (pem, rest_tls) = self_signed(&[b"http/1.1"]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), &pem).unwrap();
    let (rest_proxy, rest_task) = tls_proxy(server.rest_addr().unwrap(), rest_tls).await;
    // The gRPC proxy needs the same certificate: make one config for h2 from the same PEM key pair.
    let (grpc_pem, grpc_tls) = self_signed(&[b"h2"]);
    std::fs::write(dir.path().join("grpc-ca.pem"), &grpc_pem).unwrap();
    let (grpc_proxy, grpc_task) = tls_proxy(server.grpc_addr().unwrap(), grpc_tls).await;
    for (protocol, addr, ca) in [
        (Protocol::Rest, rest_proxy, "ca.pem"),
        (Protocol::Grpc, grpc_proxy, "grpc-ca.pem"),
    ] {
        let mut config = ClientConfig::new("localhost", addr.port(), protocol).with_model(MODEL);
        config.tls = Some(TlsOptions {
            ca_file: Some(dir.path().join(ca)),
            ..TlsOptions::default()
        });
        let client = Client::connect(&config).unwrap();
        assert_eq!(
            client.status().await.unwrap()[0].state,
            "AVAILABLE",
            "{protocol:?}"
        );
        assert_eq!(
            client.metadata().await.unwrap().version,
            Some(1),
            "{protocol:?}"
        );
        config.tls = Some(TlsOptions::default());
        let err = Client::connect(&config)
            .unwrap()
            .status()
            .await
            .unwrap_err();
        assert!(
            matches!(err, ClientError::Tls { .. }),
            "{protocol:?}: {err:?}"
        );
    }
    rest_task.abort();
    grpc_task.abort();
    server.shutdown().await;
}

fn tfprobe(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_tfprobe"))
        .args(args)
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn predict_command_over_both_protocols_and_copy_as_code() {
    let server = demo_server().await;
    let image = repo()
        .join("assets/images/chelsea.png")
        .display()
        .to_string();
    let rest = server.rest_addr().unwrap().to_string();
    let grpc = server.grpc_addr().unwrap().to_string();
    let outputs = tokio::task::spawn_blocking(move || {
        let base = ["predict", "--model_name", MODEL, "--image", image.as_str()];
        let repeat = ["--repeat", "3", "--warmup", "1"];
        let rest_run = tfprobe(&[&base[..], &["--server", &rest], &repeat[..]].concat());
        let grpc_run = tfprobe(&[&base[..], &["--server", &grpc, "--grpc"], &repeat[..]].concat());
        let json = tfprobe(&[&base[..], &["--server", &grpc, "--grpc", "--json"]].concat());
        let curl = tfprobe(&[&base[..], &["--server", &rest, "--print-curl"]].concat());
        let rest_python = tfprobe(&[&base[..], &["--server", &rest, "--print-python"]].concat());
        let grpc_python =
            tfprobe(&[&base[..], &["--server", &grpc, "--grpc", "--print-python"]].concat());
        (rest_run, grpc_run, json, curl, rest_python, grpc_python)
    })
    .await
    .unwrap();
    let (rest_run, grpc_run, json, curl, rest_python, grpc_python) = outputs;
    for (name, run) in [("REST", &rest_run), ("gRPC", &grpc_run)] {
        let stdout = String::from_utf8_lossy(&run.stdout);
        assert!(
            run.status.success(),
            "{name}: {stdout}{}",
            String::from_utf8_lossy(&run.stderr)
        );
        assert!(
            stdout.contains("Prediction class: 283, avg latency: "),
            "{name}: {stdout}"
        );
        assert!(
            stdout.contains("tiger cat") && stdout.contains("Egyptian cat"),
            "{name}: {stdout}"
        );
        assert!(
            stdout.contains("p50 ") && stdout.contains("p90 ") && stdout.contains("p99 "),
            "{name}: {stdout}"
        );
    }
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(value["predictions"][0]["classes"], 283);
    assert_eq!(
        value["predictions"][0]["probabilities"]
            .as_array()
            .unwrap()
            .len(),
        1001
    );

    // The printed request runs as printed and gets the same answer: curl, the
    // Python REST script (requests) and the Python gRPC script (the official client).
    let dir = tempfile::tempdir().unwrap();
    let files = [
        ("request.sh", &curl),
        ("rest_request.py", &rest_python),
        ("grpc_request.py", &grpc_python),
    ];
    for (name, output) in files {
        assert!(
            output.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        std::fs::write(dir.path().join(name), &output.stdout).unwrap();
    }
    assert!(curl.stdout.starts_with(b"curl "));
    let paths = (
        dir.path().join("request.sh"),
        dir.path().join("rest_request.py"),
        dir.path().join("grpc_request.py"),
    );
    let (ran_curl, ran_rest, ran_grpc) = tokio::task::spawn_blocking(move || {
        let python = compat_python();
        let run = |program: &str, file: &std::path::Path| {
            std::process::Command::new(program)
                .arg(file)
                .output()
                .unwrap()
        };
        (
            run("bash", &paths.0),
            run(python.to_str().unwrap(), &paths.1),
            run(python.to_str().unwrap(), &paths.2),
        )
    })
    .await
    .unwrap();
    for (name, ran) in [
        ("curl", &ran_curl),
        ("rest_request.py", &ran_rest),
        ("grpc_request.py", &ran_grpc),
    ] {
        assert!(
            ran.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&ran.stderr)
        );
    }
    let answer: serde_json::Value = serde_json::from_slice(&ran_curl.stdout).unwrap();
    assert_eq!(answer["predictions"][0]["classes"], 283);
    let rest_text = String::from_utf8_lossy(&ran_rest.stdout);
    assert!(
        rest_text.starts_with("200\n") && rest_text.contains("\"classes\": 283"),
        "{rest_text}"
    );
    let grpc_text = String::from_utf8_lossy(&ran_grpc.stdout);
    assert!(
        grpc_text.contains("int64_val: 283") && grpc_text.contains("name: \"efficientnet_lite0\""),
        "{grpc_text}"
    );
    server.shutdown().await;
}
