//! Hosts that are not a working TF Serving give named errors within the timeout,
//! over REST and gRPC: a closed port, a listener that never answers, a web server
//! that answers 404 HTML, an HTTP/2 server without TF Serving's services, and TLS
//! certificate checks. Loopback only.

use crate::support::client::{
    FAKE_MODEL, config, fake_rest, html_404, self_signed, silent_listener, tls_proxy,
};
use crate::support::closed_port;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tfprobe::client::{Client, ClientError, ModelClient, Protocol, TlsOptions};

const PROTOCOLS: [Protocol; 2] = [Protocol::Rest, Protocol::Grpc];

async fn status_error(
    addr: SocketAddr,
    protocol: Protocol,
    timeout: Duration,
) -> (ClientError, Duration) {
    let mut config = config(addr, protocol, "resnet");
    config.timeout = timeout;
    config.connect_timeout = timeout;
    let client = Client::connect(&config).unwrap();
    let started = Instant::now();
    let err = client.status().await.expect_err("no TF Serving there");
    (err, started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_port_is_connection_refused() {
    let addr: SocketAddr = format!("127.0.0.1:{}", closed_port()).parse().unwrap();
    for protocol in PROTOCOLS {
        let (err, elapsed) = status_error(addr, protocol, Duration::from_secs(5)).await;
        assert!(
            matches!(err, ClientError::Refused { .. }),
            "{protocol:?}: {err:?}"
        );
        assert!(err.to_string().contains("connection refused"), "{err}");
        assert!(
            elapsed < Duration::from_secs(2),
            "{protocol:?} took {elapsed:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_listener_times_out() {
    let listener = silent_listener();
    let addr = listener.local_addr().unwrap();
    for protocol in PROTOCOLS {
        let timeout = Duration::from_millis(600);
        let (err, elapsed) = status_error(addr, protocol, timeout).await;
        assert!(
            matches!(err, ClientError::TimedOut { .. }),
            "{protocol:?}: {err:?}"
        );
        assert!(
            err.to_string().starts_with("timed out after 600 ms"),
            "{err}"
        );
        assert!(
            elapsed >= Duration::from_millis(500)
                && elapsed < timeout + Duration::from_millis(1500),
            "{elapsed:?}"
        );
    }
    drop(listener);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_web_server_is_not_tf_serving() {
    let (addr, server) = html_404().await;
    for protocol in PROTOCOLS {
        let (err, elapsed) = status_error(addr, protocol, Duration::from_secs(5)).await;
        assert!(
            matches!(err, ClientError::NotTfServing { .. }),
            "{protocol:?}: {err:?}"
        );
        assert!(
            err.to_string().contains("does not look like TF Serving"),
            "{err}"
        );
        assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
    }
    let mut rest = config(addr, Protocol::Rest, "resnet");
    rest.timeout = Duration::from_secs(5);
    let err = Client::connect(&rest)
        .unwrap()
        .metadata()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("HTTP 404 (text/html)"), "{err}");
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grpc_server_without_tf_serving_services() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (_reporter, health) = tonic_health::server::health_reporter();
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(health)
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );
    let (err, _) = status_error(addr, Protocol::Grpc, Duration::from_secs(5)).await;
    assert!(matches!(err, ClientError::NotTfServing { .. }), "{err:?}");
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_keep_code_and_message() {
    let fake = fake_rest(Duration::ZERO, 0).await;
    let client = Client::connect(&config(fake.addr, Protocol::Rest, "other")).unwrap();
    let err = client.status().await.unwrap_err();
    match &err {
        ClientError::Server {
            code,
            http_status,
            message,
        } => {
            assert_eq!((code.as_str(), *http_status), ("NOT_FOUND", Some(404)));
            assert_eq!(message, "Servable not found for request: Latest(other)");
        }
        other => panic!("{other:?}"),
    }
    let client = Client::connect(&config(fake.addr, Protocol::Rest, FAKE_MODEL)).unwrap();
    assert_eq!(client.status().await.unwrap()[0].state, "AVAILABLE");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_needs_a_trusted_certificate_unless_told_otherwise() {
    let fake = fake_rest(Duration::ZERO, 0).await;
    let (pem, server_config) = self_signed(&[b"http/1.1"]);
    let (addr, proxy) = tls_proxy(fake.addr, server_config).await;
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, pem).unwrap();
    let with_tls = |options: TlsOptions| {
        let mut config = config(addr, Protocol::Rest, FAKE_MODEL);
        config.host = "localhost".into();
        config.timeout = Duration::from_secs(20);
        config.tls = Some(options);
        Client::connect(&config).unwrap()
    };
    // Not trusted: a TLS error that says so.
    let err = with_tls(TlsOptions::default()).status().await.unwrap_err();
    assert!(matches!(err, ClientError::Tls { .. }), "{err:?}");
    // Trusted through --ca-cert, or accepted through --insecure.
    let trusted = with_tls(TlsOptions {
        ca_file: Some(ca.clone()),
        ..TlsOptions::default()
    });
    assert_eq!(trusted.status().await.unwrap()[0].version, 3);
    let insecure = with_tls(TlsOptions {
        accept_invalid_certs: true,
        ..TlsOptions::default()
    });
    assert_eq!(insecure.metadata().await.unwrap().version, Some(3));
    // A CA file that is not PEM is a settings error.
    std::fs::write(dir.path().join("bad.pem"), "nope").unwrap();
    let mut bad = config(addr, Protocol::Rest, FAKE_MODEL);
    bad.tls = Some(TlsOptions {
        ca_file: Some(dir.path().join("bad.pem")),
        ..TlsOptions::default()
    });
    assert!(matches!(Client::connect(&bad), Err(ClientError::Config(_))));
    proxy.abort();
}
