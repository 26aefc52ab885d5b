//! Helpers of the client tests: small loopback servers that are not TF Serving
//! (a fake REST model with an injected delay, an HTML 404 server, a silent
//! listener) and a TLS-terminating proxy with a throw-away certificate.

use axum::body::Body;
use axum::http::{Response, StatusCode};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tfprobe::client::{ClientConfig, Protocol};
use tokio::net::TcpListener;

pub const FAKE_MODEL: &str = "fake";

/// Metadata of the fake model: `image_bytes` (DT_STRING, -1) -> `scores` (DT_FLOAT, -1 x 2).
pub const FAKE_METADATA: &str = r#"{"model_spec":{"name":"fake","signature_name":"","version":"3"},
"metadata":{"signature_def":{"signature_def":{"serving_default":{
"inputs":{"image_bytes":{"dtype":"DT_STRING","tensor_shape":{"dim":[{"size":"-1","name":""}],"unknown_rank":false},"name":"x:0"}},
"outputs":{"scores":{"dtype":"DT_FLOAT","tensor_shape":{"dim":[{"size":"-1","name":""},{"size":"2","name":""}],"unknown_rank":false},"name":"y:0"}},
"method_name":"tensorflow/serving/predict","defaults":{}}}}}}"#;

/// A REST server for model `fake` whose predict sleeps `delay`; every
/// `fail_every`-th predict (when non-zero) answers 500 `{"error": "injected failure"}`.
pub struct FakeRest {
    pub addr: SocketAddr,
    pub predicts: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeRest {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn reply(status: StatusCode, content_type: &str, body: impl Into<String>) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Body::from(body.into()))
        .unwrap_or_default()
}

pub async fn fake_rest(delay: Duration, fail_every: u64) -> FakeRest {
    let predicts = Arc::new(AtomicU64::new(0));
    let counter = predicts.clone();
    let app = axum::Router::new().fallback(move |request: axum::extract::Request| {
        let counter = counter.clone();
        async move {
            let path = request.uri().path().to_string();
            match (request.method().as_str(), path.as_str()) {
                ("GET", "/v1/models/fake") => reply(
                    StatusCode::OK,
                    "application/json",
                    r#"{"model_version_status":[{"version":"3","state":"AVAILABLE","status":{"error_code":"OK","error_message":""}}]}"#,
                ),
                ("GET", "/v1/models/fake/metadata") => reply(StatusCode::OK, "application/json", FAKE_METADATA),
                ("POST", "/v1/models/fake:predict") => {
                    let number = counter.fetch_add(1, Ordering::SeqCst) + 1;
                    tokio::time::sleep(delay).await;
                    if fail_every > 0 && number.is_multiple_of(fail_every) {
                        reply(StatusCode::INTERNAL_SERVER_ERROR, "application/json", r#"{ "error": "injected failure" }"#)
                    } else {
                        reply(StatusCode::OK, "application/json", r#"{"predictions": [[0.25, 0.75]]}"#)
                    }
                }
                _ => reply(
                    StatusCode::NOT_FOUND,
                    "application/json",
                    r#"{ "error": "Servable not found for request: Latest(other)" }"#,
                ),
            }
        }
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    FakeRest {
        addr,
        predicts,
        task,
    }
}

/// A web server that answers everything with a 404 HTML page.
pub async fn html_404() -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let app = axum::Router::new().fallback(|| async {
        reply(
            StatusCode::NOT_FOUND,
            "text/html",
            "<html><body><h1>404 Not Found</h1></body></html>",
        )
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    (
        addr,
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        }),
    )
}

/// A listener that completes TCP handshakes (the kernel's backlog) and never answers.
pub fn silent_listener() -> std::net::TcpListener {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap()
}

pub fn config(addr: SocketAddr, protocol: Protocol, model: &str) -> ClientConfig {
    ClientConfig::new(addr.ip().to_string(), addr.port(), protocol).with_model(model)
}

/// A self-signed certificate for `localhost` and 127.0.0.1: (PEM, rustls server config).
pub fn self_signed(alpn: &[&[u8]]) -> (String, Arc<rustls::ServerConfig>) {
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .unwrap();
    let pem = certified.cert.pem();
    let cert = certified.cert.der().clone();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert], key)
    .unwrap();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    (pem, Arc::new(config))
}

/// Terminates TLS on a loopback port and forwards the bytes to `backend`.
pub async fn tls_proxy(
    backend: SocketAddr,
    config: Arc<rustls::ServerConfig>,
) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let task = tokio::spawn(async move {
        // Bounded: a test opens a handful of connections.
        for _ in 0..64 {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut upstream) = tokio::net::TcpStream::connect(backend).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut upstream).await;
            });
        }
    });
    (addr, task)
}
