//! The connection layer under abuse and at shutdown: slow clients (slowloris)
//! trickling headers, bodies or the HTTP/2 preface, and silent ones, are closed
//! after the timeout while normal clients keep getting prompt answers; idle
//! keep-alive connections close; connections beyond the cap wait for a slot; and
//! a shutdown lets requests in flight finish while the ports refuse new ones.
//! (Restarting on the same ports is checked in tests/it/server_reload.rs.)

use crate::support::fixture;
use crate::support::http::{Http, get};
use crate::support::server::{Hooked, config, start, tf_loader};
use crate::support::tf;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tfprobe::pb::convert::{tensor_from_proto, tensor_to_proto};
use tfprobe::pb::tensorflow::serving::prediction_service_client::PredictionServiceClient;
use tfprobe::pb::tensorflow::serving::{ModelSpec, PredictRequest};
use tfprobe::runtime::Backend;
use tfprobe::server::{Loader, ModelSource, ServerConfig};
use tfprobe::tensor::{Tensor, TensorData};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TIMEOUT: Duration = Duration::from_secs(1);

/// The bytes every HTTP/2 (gRPC) connection starts with.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

fn half_config() -> ServerConfig {
    let mut config = config(vec![ModelSource::new("half", fixture("two_versions"))]);
    config.header_read_timeout = TIMEOUT;
    config.body_read_timeout = Some(TIMEOUT);
    config
}

fn x() -> Tensor {
    Tensor::new(vec![4], TensorData::Float(vec![0.0, 1.0, 2.5, -4.0])).unwrap()
}

const PREDICT_BODY: &str = r#"{"instances": [0.0, 1.0, 2.5, -4.0]}"#;

async fn grpc_predict(addr: SocketAddr) -> Result<Tensor, tonic::Status> {
    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .map_err(|err| tonic::Status::unavailable(err.to_string()))?;
    let request = PredictRequest {
        model_spec: Some(ModelSpec {
            name: "half".into(),
            ..ModelSpec::default()
        }),
        inputs: [("x".to_string(), tensor_to_proto(&x()))].into(),
        ..PredictRequest::default()
    };
    let response = PredictionServiceClient::new(channel)
        .predict(request)
        .await?;
    Ok(tensor_from_proto(&response.into_inner().outputs["y"]).unwrap())
}

/// A slow client: sends `head`, then one byte of `drip` (cycled) every 100 ms, or
/// nothing when `drip` is empty, until the server closes the connection. Returns
/// how long the connection lasted and what the server sent.
async fn slow_client(addr: SocketAddr, head: Vec<u8>, drip: Vec<u8>) -> (Duration, Vec<u8>) {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    slow_stream(tcp, head, drip).await
}

async fn slow_stream(
    mut tcp: tokio::net::TcpStream,
    head: Vec<u8>,
    drip: Vec<u8>,
) -> (Duration, Vec<u8>) {
    let started = Instant::now();
    tcp.write_all(&head).await.unwrap();
    let (mut received, mut buffer, mut next) = (Vec::new(), [0u8; 1024], 0);
    loop {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the server kept a slow client (sending {:?}..., then {:?}) for 30 s",
            String::from_utf8_lossy(&head[..head.len().min(20)]),
            String::from_utf8_lossy(&drip)
        );
        // The 100 ms is the client's pace, not a wait for the server.
        match tokio::time::timeout(Duration::from_millis(100), tcp.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (started.elapsed(), received),
            Ok(Ok(n)) => received.extend_from_slice(&buffer[..n]),
            Err(_) if drip.is_empty() => {}
            Err(_) => {
                if tcp.write_all(&[drip[next % drip.len()]]).await.is_err() {
                    return (started.elapsed(), received);
                }
                next += 1;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_closed_while_others_are_answered() {
    tf::ensure_runtime();
    let server = start(half_config()).await;
    let rest = server.rest_addr().unwrap();
    let grpc = server.grpc_addr().unwrap();

    // 50 slow connections: REST headers and bodies trickled, REST and gRPC silent,
    // the HTTP/2 preface trickled.
    let header_head = b"GET /v1/models/half HTTP/1.1\r\nHost: localhost\r\nX-Slow: ".to_vec();
    let body_head = format!(
        "POST /v1/models/half:predict HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n{{",
        PREDICT_BODY.len() * 100
    )
    .into_bytes();
    let mut slow = Vec::new();
    let mut spawn = |kind: &'static str, addr, head: &[u8], drip: &[u8], count| {
        for _ in 0..count {
            let task = tokio::spawn(slow_client(addr, head.to_vec(), drip.to_vec()));
            slow.push((kind, task));
        }
    };
    spawn("REST headers", rest, &header_head, b"a", 15);
    spawn("REST body", rest, &body_head, b" ", 10);
    spawn("REST silent", rest, b"", b"", 10);
    spawn("gRPC preface", grpc, b"", H2_PREFACE, 10);
    spawn("gRPC silent", grpc, b"", b"", 5);

    // Normal clients meanwhile: each answer comes promptly.
    let expected = {
        let case = tf::recorded_cases("two_versions_2").remove(0);
        case.outputs["y"].clone()
    };
    for _ in 0..3 {
        let started = Instant::now();
        let reply = tokio::task::spawn_blocking(move || {
            let mut http = Http::connect(rest);
            (
                http.get("/v1/models/half"),
                http.post("/v1/models/half:predict", PREDICT_BODY),
            )
        })
        .await
        .unwrap();
        assert_eq!(reply.0.status, 200, "{}", reply.0.body);
        assert_eq!(reply.1.status, 200, "{}", reply.1.body);
        let y = grpc_predict(grpc).await.unwrap();
        assert_eq!(y.data, expected.data);
        let took = started.elapsed();
        assert!(
            took < Duration::from_secs(3),
            "status, REST and gRPC predict took {took:?} beside the slow clients"
        );
    }

    for (kind, task) in slow {
        let (closed_after, received) = task.await.unwrap();
        assert!(
            closed_after >= TIMEOUT - Duration::from_millis(100)
                && closed_after < TIMEOUT + Duration::from_secs(4),
            "{kind}: closed after {closed_after:?}, the timeout is {TIMEOUT:?}"
        );
        let received = String::from_utf8_lossy(&received);
        if kind == "REST body" {
            assert!(
                received.starts_with("HTTP/1.1 408 ")
                    && received.contains("did not arrive within 1000 ms"),
                "{kind}: {received}"
            );
        } else if kind.starts_with("REST") {
            // hyper closes without an answer: there is no request to answer yet.
            assert!(received.is_empty(), "{kind}: {received}");
        }
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_keep_alive_connections_close_after_the_header_timeout() {
    tf::ensure_runtime();
    let server = start(half_config()).await;
    let rest = server.rest_addr().unwrap();
    let mut tcp = tokio::net::TcpStream::connect(rest).await.unwrap();
    tcp.write_all(b"GET /v1/models/half HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    // Reads the answer, then nothing until the server closes: the time from the
    // last byte of the answer to the close is how long the idle connection lived.
    let (mut received, mut buffer) = (Vec::new(), [0u8; 1024]);
    let mut last_data = Instant::now();
    loop {
        let read = tokio::time::timeout(Duration::from_secs(30), tcp.read(&mut buffer))
            .await
            .expect("the server closes the idle connection within 30 s")
            .unwrap();
        if read == 0 {
            break;
        }
        received.extend_from_slice(&buffer[..read]);
        last_data = Instant::now();
    }
    let closed_after = last_data.elapsed();
    assert!(
        String::from_utf8_lossy(&received).starts_with("HTTP/1.1 200 "),
        "{}",
        String::from_utf8_lossy(&received)
    );
    assert!(
        closed_after >= TIMEOUT - Duration::from_millis(100)
            && closed_after < TIMEOUT + Duration::from_secs(4),
        "closed after {closed_after:?}"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_cap_wait_for_a_free_slot() {
    tf::ensure_runtime();
    let mut config = half_config();
    config.max_connections = 3;
    let server = start(config).await;
    let rest = server.rest_addr().unwrap();
    // Connected before the fourth, so they are first in the listen backlog and take
    // the three slots; each holds its slot until the server closes it.
    let mut silent = Vec::new();
    for _ in 0..3 {
        let tcp = tokio::net::TcpStream::connect(rest).await.unwrap();
        silent.push(tokio::spawn(slow_stream(tcp, Vec::new(), Vec::new())));
    }
    let started = Instant::now();
    let reply = tokio::task::spawn_blocking(move || get(rest, "/v1/models/half"))
        .await
        .unwrap();
    let waited = started.elapsed();
    assert_eq!(reply.status, 200);
    for task in silent {
        task.await.unwrap();
    }
    // Answered only once a silent connection had been closed for its timeout.
    assert!(
        waited >= TIMEOUT - Duration::from_millis(200),
        "the fourth connection was served after {waited:?}, before a slot was free"
    );
    server.shutdown().await;
}

async fn wait_until(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn refused(addr: SocketAddr) -> bool {
    std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_requests_in_flight_and_refuses_new_connections() {
    tf::ensure_runtime();
    let (started, finished) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let loader: Loader = {
        let (started, finished) = (started.clone(), finished.clone());
        let real = tf_loader();
        Arc::new(move |dir| {
            // The real model, each run held for 2 s, counting runs started and finished.
            let (started, finished) = (started.clone(), finished.clone());
            let delayed = Hooked::new(real(dir)?, move || {
                started.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(Duration::from_secs(2));
            })
            .after(move || {
                finished.fetch_add(1, Ordering::SeqCst);
            });
            Ok(Arc::new(delayed) as Arc<dyn Backend>)
        })
    };
    let mut config = half_config();
    config.loader = loader;
    let server = start(config).await;
    let rest = server.rest_addr().unwrap();
    let grpc = server.grpc_addr().unwrap();

    let rest_call = tokio::task::spawn_blocking(move || {
        Http::connect(rest).post("/v1/models/half:predict", PREDICT_BODY)
    });
    let grpc_call = tokio::spawn(grpc_predict(grpc));
    wait_until("both predicts to be running", || {
        started.load(Ordering::SeqCst) == 2
    })
    .await;

    let shutdown = tokio::spawn(server.shutdown());
    wait_until("both ports to refuse connections", || {
        refused(rest) && refused(grpc)
    })
    .await;
    assert_eq!(
        finished.load(Ordering::SeqCst),
        0,
        "the ports closed only after the requests had finished"
    );

    let reply = rest_call.await.unwrap();
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.json()["predictions"].as_array().map(Vec::len),
        Some(4)
    );
    let y = grpc_call
        .await
        .unwrap()
        .expect("the gRPC predict in flight");
    assert_eq!(y.shape, vec![4]);
    tokio::time::timeout(Duration::from_secs(30), shutdown)
        .await
        .expect("shutdown finishes")
        .unwrap();
    assert_eq!(finished.load(Ordering::SeqCst), 2);
}
