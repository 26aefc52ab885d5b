//! Versions: hot reload under concurrent REST and gRPC load (zero failed
//! requests across the swap), a failing version that keeps the previous one
//! serving, TF Serving model config files (policies, labels), and shutdown and a
//! restart on the same ports.

use crate::support::http::{Http, get};
use crate::support::server::load::{Check, Load, LoadSpec};
use crate::support::server::{config, start};
use crate::support::tf;
use crate::support::{copy_dir, fixture};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tfprobe::pb::tensorflow::serving::model_service_client::ModelServiceClient;
use tfprobe::pb::tensorflow::serving::model_version_status::State;
use tfprobe::pb::tensorflow::serving::{GetModelStatusRequest, ModelSpec};
use tfprobe::server::{ModelSource, ServerHandle, VersionStatus};
use tfprobe::tensor::{Tensor, TensorData};

/// What versions 1 and 2 of the two_versions fixture answer for x = [1, 2, 3, 4].
fn expected(version: u32) -> Vec<f32> {
    let case = tf::recorded_cases(&format!("two_versions_{version}")).remove(0);
    let TensorData::Float(values) = &case.outputs["y"].data else {
        panic!()
    };
    values.clone()
}

fn input() -> Tensor {
    let case = tf::recorded_cases("two_versions_1").remove(0);
    case.inputs["x"].clone()
}

/// Installs a version the way deployments should: copy aside, then rename.
fn install_version(base: &Path, from: &Path, version: i64) {
    let staging = base.join(format!(".staging-{version}"));
    copy_dir(from, &staging);
    std::fs::rename(&staging, base.join(version.to_string())).unwrap();
}

async fn wait_for(server: &ServerHandle, what: &str, done: impl Fn(&[VersionStatus]) -> bool) {
    let started = Instant::now();
    loop {
        let versions = server.models()[0].versions.clone();
        if done(&versions) {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}: {versions:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_reload_under_load_loses_no_request() {
    tf::ensure_runtime();
    let base = tempfile::tempdir().unwrap();
    install_version(base.path(), &fixture("two_versions").join("1"), 1);
    let server = start(config(vec![ModelSource::new("half", base.path())])).await;
    let rest = server.rest_addr().unwrap();
    let (old, new) = (expected(1), expected(2));
    let saw_new = Arc::new(AtomicUsize::new(0));
    let check: Check = {
        let saw_new = Arc::clone(&saw_new);
        Arc::new(move |values: &[f32]| {
            if values == new.as_slice() {
                saw_new.fetch_add(1, Ordering::Relaxed);
            }
            values == old.as_slice() || values == new.as_slice()
        })
    };
    let load = Load::start(LoadSpec {
        rest,
        grpc: server.grpc_addr().unwrap(),
        model: "half".into(),
        x: input(),
        rest_clients: 3,
        grpc_clients: 2,
        max_requests: None,
        deadline: Duration::from_secs(90),
        check,
    });

    tokio::time::sleep(Duration::from_millis(500)).await;
    let before_swap = load.served();
    install_version(base.path(), &fixture("two_versions").join("2"), 2);
    wait_for(
        &server,
        "version 2 to serve and version 1 to end",
        |versions| {
            versions
                .iter()
                .any(|v| v.version == 2 && v.state == State::Available)
                && versions
                    .iter()
                    .any(|v| v.version == 1 && v.state == State::End)
        },
    )
    .await;
    let started = Instant::now();
    while saw_new.load(Ordering::Relaxed) < 20 && started.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let counts = load.stop().await;
    eprintln!(
        "{} requests ({before_swap} before the swap), {} answered by version 2",
        counts.served,
        saw_new.load(Ordering::Relaxed)
    );
    assert_eq!(counts.failures, 0, "requests failed across the swap");
    assert!(
        before_swap > 0 && counts.served > before_swap,
        "load ran across the swap"
    );
    assert!(
        saw_new.load(Ordering::Relaxed) > 0,
        "the new version's outputs appeared"
    );

    let status = get(rest, "/v1/models/half").json();
    assert_eq!(status["model_version_status"][0]["version"], "2");
    assert_eq!(status["model_version_status"][0]["state"], "AVAILABLE");
    assert_eq!(status["model_version_status"][1]["version"], "1");
    assert_eq!(status["model_version_status"][1]["state"], "END");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_version_keeps_the_previous_one_serving() {
    tf::ensure_runtime();
    let base = tempfile::tempdir().unwrap();
    install_version(base.path(), &fixture("two_versions").join("1"), 1);
    let server = start(config(vec![ModelSource::new("half", base.path())])).await;
    let rest = server.rest_addr().unwrap();
    install_version(base.path(), &fixture("broken").join("garbage"), 3);
    wait_for(&server, "version 3 to fail", |versions| {
        versions
            .iter()
            .any(|v| v.version == 3 && v.state == State::End && v.error.is_some())
    })
    .await;
    let status = get(rest, "/v1/models/half").json();
    let failed = &status["model_version_status"][0];
    assert_eq!(failed["version"], "3");
    assert_eq!(failed["state"], "END");
    assert_ne!(failed["status"]["error_code"], "OK");
    assert!(
        failed["status"]["error_message"]
            .as_str()
            .unwrap()
            .contains("saved_model.pb"),
        "{failed}"
    );
    assert_eq!(status["model_version_status"][1]["state"], "AVAILABLE");
    let x = input();
    let TensorData::Float(x_values) = &x.data else {
        panic!()
    };
    let body = serde_json::json!({"instances": x_values}).to_string();
    let reply = Http::connect(rest).post("/v1/models/half:predict", &body);
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        serde_json::from_value::<Vec<f32>>(reply.json()["predictions"].clone()).unwrap(),
        expected(1)
    );

    // Fixing the folder's files retries the load.
    let version_dir = base.path().join("3");
    std::fs::remove_dir_all(&version_dir).unwrap();
    copy_dir(&fixture("two_versions").join("2"), &version_dir);
    wait_for(&server, "version 3 to load after the fix", |versions| {
        versions
            .iter()
            .any(|v| v.version == 3 && v.state == State::Available)
    })
    .await;
    let reply = Http::connect(rest).post("/v1/models/half:predict", &body);
    assert_eq!(
        serde_json::from_value::<Vec<f32>>(reply.json()["predictions"].clone()).unwrap(),
        expected(2)
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn model_config_file_policies_and_labels() {
    tf::ensure_runtime();
    let dir = tempfile::tempdir().unwrap();
    let config_text = format!(
        "model_config_list {{\n  config {{\n    name: 'half'\n    base_path: '{}'\n    model_platform: 'tensorflow'\n    \
         model_version_policy {{ specific {{ versions: 1 versions: 2 }} }}\n    \
         version_labels {{ key: 'stable' value: 1 }}\n    version_labels {{ key: 'canary' value: 2 }}\n  }}\n  \
         config {{ name: 'resnet' base_path: '{}' }}\n}}\n",
        fixture("two_versions").display(),
        fixture("seedlike").display()
    );
    let path = dir.path().join("models.config");
    std::fs::write(&path, config_text).unwrap();
    let models = tfprobe::server::read_model_config_file(&path).unwrap();
    let server = start(config(models)).await;
    let rest = server.rest_addr().unwrap();
    let x = input();
    let TensorData::Float(x_values) = &x.data else {
        panic!()
    };
    let body = serde_json::json!({"inputs": x_values}).to_string();
    let mut http = Http::connect(rest);
    for (path, version) in [
        ("/v1/models/half:predict", 2),
        ("/v1/models/half/versions/1:predict", 1),
        ("/v1/models/half/labels/stable:predict", 1),
        ("/v1/models/half/labels/canary:predict", 2),
    ] {
        let reply = http.post(path, &body);
        assert_eq!(reply.status, 200, "{path}: {}", reply.body);
        assert_eq!(
            serde_json::from_value::<Vec<f32>>(reply.json()["outputs"].clone()).unwrap(),
            expected(version),
            "{path}"
        );
    }
    let status = http.get("/v1/models/half/labels/canary").json();
    assert_eq!(status["model_version_status"].as_array().unwrap().len(), 1);
    assert_eq!(status["model_version_status"][0]["version"], "2");
    let status = http.get("/v1/models/half").json();
    let versions: Vec<&str> = status["model_version_status"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["version"].as_str().unwrap())
        .collect();
    assert_eq!(versions, ["2", "1"]);
    assert_eq!(http.get("/v1/models/resnet").status, 200);
    let metadata = http.get("/v1/models/half/labels/stable/metadata").json();
    assert_eq!(metadata["model_spec"]["version"], "1");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_the_ports_and_unloads() {
    tf::ensure_runtime();
    let server = start(config(vec![ModelSource::new(
        "half",
        fixture("two_versions"),
    )]))
    .await;
    let rest = server.rest_addr().unwrap();
    let grpc = server.grpc_addr().unwrap();
    assert!(server.ready());
    // A keep-alive connection left open: the server closes it at shutdown, so the
    // server's side of it lingers in TIME_WAIT, which must not block a restart.
    let mut idle = Http::connect(rest);
    assert_eq!(idle.get("/v1/models/half").status, 200);
    assert_eq!(grpc_status(grpc).await, 2);
    tokio::time::timeout(Duration::from_secs(30), server.shutdown())
        .await
        .expect("shutdown finishes");
    // Closed by the time shutdown returns.
    assert!(
        std::net::TcpStream::connect(rest).is_err(),
        "REST port closed"
    );
    assert!(
        std::net::TcpStream::connect(grpc).is_err(),
        "gRPC port closed"
    );

    // Restart in place at once (as a supervisor restarting the process would).
    let mut again = config(vec![ModelSource::new("half", fixture("two_versions"))]);
    again.rest_port = Some(rest.port());
    again.grpc_port = Some(grpc.port());
    let server = start(again).await;
    assert_eq!(
        (server.rest_addr(), server.grpc_addr()),
        (Some(rest), Some(grpc))
    );
    assert_eq!(get(rest, "/v1/models/half").status, 200);
    assert_eq!(grpc_status(grpc).await, 2);
    drop(idle);
    server.shutdown().await;
}

/// The latest version `GetModelStatus` reports for `half`.
async fn grpc_status(addr: std::net::SocketAddr) -> i64 {
    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let status = ModelServiceClient::new(channel)
        .get_model_status(GetModelStatusRequest {
            model_spec: Some(ModelSpec {
                name: "half".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner();
    status.model_version_status[0].version
}
