//! Server behaviour that needs no TensorFlow: a test-only backend (beside the
//! real one, which tests/server_*.rs use) that echoes its input after a delay,
//! to check deadlines, full queues, background loading and the REST plumbing.

use super::{ModelSource, ServerConfig, start};
use crate::model::{DType, MetaGraphInfo, SavedModelInfo, Shape, SignatureInfo, TensorInfoView};
use crate::pb::tensorflow::serving::model_version_status::State;
use crate::runtime::{Backend, RuntimeError};
use crate::tensor::NamedTensors;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// `serving_default`: x (DT_FLOAT, (-1)) -> y, after sleeping `delay`.
struct SlowEcho {
    model: SavedModelInfo,
    delay: Duration,
}

impl SlowEcho {
    fn new(delay: Duration) -> SlowEcho {
        let view = |key: &str| TensorInfoView {
            key: key.into(),
            dtype: DType::FLOAT,
            shape: Shape::from_sizes(&[-1]),
            name: format!("{key}:0"),
        };
        let signature = SignatureInfo {
            key: "serving_default".into(),
            method_name: "tensorflow/serving/predict".into(),
            inputs: vec![view("x")],
            outputs: vec![view("y")],
        };
        let meta_graph = MetaGraphInfo {
            tags: vec!["serve".into()],
            signatures: vec![signature],
            ..Default::default()
        };
        SlowEcho {
            model: SavedModelInfo {
                meta_graphs: vec![meta_graph],
                ..Default::default()
            },
            delay,
        }
    }
}

impl Backend for SlowEcho {
    fn model(&self) -> &SavedModelInfo {
        &self.model
    }

    fn run(
        &self,
        _: &str,
        mut inputs: NamedTensors,
        _: &[String],
    ) -> Result<NamedTensors, RuntimeError> {
        std::thread::sleep(self.delay);
        let x = inputs.remove("x").ok_or(RuntimeError::InvalidArgument {
            message: "no x".into(),
        })?;
        Ok([("y".to_string(), x)].into())
    }
}

fn config(base: &Path, run_delay: Duration, load_delay: Duration) -> ServerConfig {
    let loader: super::Loader = Arc::new(move |_: &Path| {
        std::thread::sleep(load_delay);
        Ok(Arc::new(SlowEcho::new(run_delay)) as Arc<dyn Backend>)
    });
    let mut config = ServerConfig::new(vec![ModelSource::new("echo", base)], loader);
    config.grpc_port = None;
    config.rest_port = Some(0);
    config.poll_interval = Some(Duration::from_millis(50));
    config
}

fn model_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("1")).unwrap();
    std::fs::write(
        dir.path().join("1/saved_model.pb"),
        b"not read by the test backend",
    )
    .unwrap();
    dir
}

/// One HTTP/1.1 request on its own connection: (status, body).
fn post(addr: SocketAddr, path: &str, body: &str) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .unwrap_or_default();
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadlines_answer_504_and_full_queues_429() {
    let dir = model_dir();
    let mut config = config(dir.path(), Duration::from_millis(400), Duration::ZERO);
    config.rest_timeout = Some(Duration::from_millis(100));
    config.model_threads = 1;
    config.queue_capacity = 1;
    let server = start(config).await.unwrap();
    let addr = server.rest_addr().unwrap();
    let body = r#"{"instances": [1.0, 2.0]}"#;

    let (status, reply) =
        tokio::task::spawn_blocking(move || post(addr, "/v1/models/echo:predict", body))
            .await
            .unwrap();
    assert_eq!(status, 504, "{reply}");
    assert!(reply.contains("timed out after 100 ms"), "{reply}");

    // One running, one queued: the third is refused at once.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let calls: Vec<_> = (0..3)
        .map(|index| {
            tokio::task::spawn_blocking(move || {
                std::thread::sleep(Duration::from_millis(30 * index));
                post(addr, "/v1/models/echo:predict", body)
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for call in calls {
        statuses.push(call.await.unwrap());
    }
    let refused: Vec<_> = statuses
        .iter()
        .filter(|(status, _)| *status == 429)
        .collect();
    assert_eq!(refused.len(), 1, "{statuses:?}");
    assert!(refused[0].1.contains("queue is full"), "{statuses:?}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_loading_reports_loading_then_available() {
    let dir = model_dir();
    let mut config = config(dir.path(), Duration::ZERO, Duration::from_millis(500));
    config.wait_for_models = false;
    let server = start(config).await.unwrap();
    let addr = server.rest_addr().unwrap();
    assert!(!server.ready());
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(server.models()[0].versions[0].state, State::Loading);
    let (status, reply) = tokio::task::spawn_blocking(move || {
        post(addr, "/v1/models/echo:predict", r#"{"inputs": [1.0]}"#)
    })
    .await
    .unwrap();
    assert_eq!(status, 404);
    assert!(
        reply.contains("Servable not found for request: Latest(echo)"),
        "{reply}"
    );
    assert!(reply.contains("1: LOADING"), "{reply}");
    for _ in 0..100 {
        if server.ready() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(server.ready());
    let (status, reply) = tokio::task::spawn_blocking(move || {
        post(
            addr,
            "/v1/models/echo:predict",
            r#"{"inputs": [1.0, -2.5]}"#,
        )
    })
    .await
    .unwrap();
    assert_eq!(
        (status, reply.as_str()),
        (200, "{\n    \"outputs\": [1.0, -2.5]\n}")
    );
    server.shutdown().await;
}

#[tokio::test]
async fn bad_configs_are_refused_before_binding() {
    let dir = model_dir();
    let mut config = config(dir.path(), Duration::ZERO, Duration::ZERO);
    config.models.push(ModelSource::new("echo", dir.path()));
    let err = start(config).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "Illegal to list model echo multiple times in config list"
    );
    let mut config = super::tests::config(dir.path(), Duration::ZERO, Duration::ZERO);
    config.models.clear();
    assert!(
        start(config)
            .await
            .unwrap_err()
            .to_string()
            .contains("--model_base_path")
    );
    let mut config = super::tests::config(dir.path(), Duration::ZERO, Duration::ZERO);
    config.models[0].name = "a/b".into();
    assert!(
        start(config)
            .await
            .unwrap_err()
            .to_string()
            .contains("not usable in REST paths")
    );
}

#[test]
fn only_addresses_other_machines_reach_are_warned_about() {
    use super::exposure_warning;
    for local in ["127.0.0.1", "127.0.0.2", "::1"] {
        assert_eq!(
            exposure_warning(local.parse().unwrap(), false),
            None,
            "{local}"
        );
    }
    assert_eq!(
        exposure_warning("0.0.0.0".parse().unwrap(), false).as_deref(),
        Some(
            "listening on 0.0.0.0 makes the models reachable from other machines, in plain text \
             (add --ssl_config_file, or --ssl_cert_file and --ssl_key_file, for TLS); use --host \
             127.0.0.1 to keep them local"
        )
    );
    assert_eq!(
        exposure_warning("::".parse().unwrap(), true).as_deref(),
        Some(
            "listening on :: makes the models reachable from other machines; use --host 127.0.0.1 \
             to keep them local"
        )
    );
    assert!(exposure_warning("192.168.1.5".parse().unwrap(), true).is_some());
}
