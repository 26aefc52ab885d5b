//! TLS on both ports: certificates made at test time (a CA, a server certificate
//! for localhost and 127.0.0.1, a client certificate), REST over https with
//! tfprobe's client and with curl, gRPC over TLS, clear refusals of plain-text and
//! untrusted clients, mutual TLS from TF Serving's `SSLConfig` file, and
//! `tfprobe serve` refusing bad TLS files with their names.

use crate::support::fixture;
use crate::support::http::Http;
use crate::support::pki::{Pki, ca, pki, write_client_cert};
use crate::support::server::{config, start};
use crate::support::tf;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;
use tfprobe::client::{Client, ClientConfig, ClientError, ModelClient, Protocol, TlsOptions};
use tfprobe::pb::tensorflow::serving::model_service_client::ModelServiceClient;
use tfprobe::pb::tensorflow::serving::{GetModelStatusRequest, ModelSpec};
use tfprobe::server::{ModelSource, ServerHandle, TlsSettings};
use tfprobe::tensor::TensorData;

/// What `GET /v1/models/half` answers for the two_versions fixture (latest: 2),
/// byte for byte as TF Serving prints it.
const STATUS: &str = r#"{
 "model_version_status": [
  {
   "version": "2",
   "state": "AVAILABLE",
   "status": {
    "error_code": "OK",
    "error_message": ""
   }
  }
 ]
}
"#;

/// An `SSLConfig` text file as TF Serving reads it (PEM text inside).
fn write_ssl_config(pki: &Pki, client_verify: bool) -> PathBuf {
    let quoted = |text: &str| format!("{text:?}"); // a text-format string literal
    let text = format!(
        "server_key: {}\nserver_cert: {}\ncustom_ca: {}\nclient_verify: {client_verify}\n",
        quoted(&pki.read("server.key")),
        quoted(&pki.read("server.pem")),
        quoted(&pki.read("ca.pem")),
    );
    let path = pki.path("ssl.config");
    std::fs::write(&path, text).unwrap();
    path
}

async fn tls_server(tls: TlsSettings) -> ServerHandle {
    tf::ensure_runtime();
    let mut config = config(vec![ModelSource::new("half", fixture("two_versions"))]);
    config.tls = Some(tls);
    start(config).await
}

fn client(port: u16, protocol: Protocol, ca_file: Option<&Path>) -> Client {
    let mut config = ClientConfig::new("localhost", port, protocol).with_model("half");
    config.timeout = Duration::from_secs(30);
    config.tls = ca_file.map(|ca| TlsOptions {
        ca_file: Some(ca.to_path_buf()),
        ..TlsOptions::default()
    });
    Client::connect(&config).unwrap()
}

/// Runs curl (bounded) and returns (exit code, stdout, stderr).
fn curl(args: &[&str]) -> (i32, String, String) {
    let output = Command::new("curl")
        .args(["--silent", "--show-error", "--max-time", "30"])
        .args(args)
        .output()
        .expect("curl runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_and_grpc_over_tls_answer_clients_that_trust_the_ca() {
    let pki = pki();
    let settings =
        TlsSettings::from_pem_files(&pki.path("server.pem"), &pki.path("server.key")).unwrap();
    assert!(!settings.client_verify());
    let server = tls_server(settings).await;
    let (rest, grpc) = (
        server.rest_addr().unwrap().port(),
        server.grpc_addr().unwrap().port(),
    );
    let ca = pki.path("ca.pem");

    // curl, by name and by address (the certificate carries both).
    for host in ["localhost", "127.0.0.1"] {
        let url = format!("https://{host}:{rest}/v1/models/half");
        let (code, body, stderr) = curl(&["--cacert", ca.to_str().unwrap(), &url]);
        assert_eq!(code, 0, "curl {url}: {stderr}");
        assert_eq!(body, STATUS, "curl {url}");
    }
    // A predict through curl: the same paths as plain TF Serving.
    let (code, body, stderr) = curl(&[
        "--cacert",
        ca.to_str().unwrap(),
        "-d",
        r#"{"instances": [1.0, 2.0, 3.0, 4.0]}"#,
        &format!("https://localhost:{rest}/v1/models/half:predict"),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let predicted: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(predicted["predictions"].as_array().map(Vec::len), Some(4));

    // tfprobe's own clients with the custom CA, REST and gRPC.
    for (protocol, port) in [(Protocol::Rest, rest), (Protocol::Grpc, grpc)] {
        let client = client(port, protocol, Some(&ca));
        let states = client.status().await.unwrap();
        assert_eq!(
            (states.len(), states[0].version, states[0].state.as_str()),
            (1, 2, "AVAILABLE"),
            "{protocol:?}"
        );
        let x = tfprobe::tensor::Tensor::new(vec![4], TensorData::Float(vec![1.0, 2.0, 3.0, 4.0]))
            .unwrap();
        let result = client
            .predict([("x".to_string(), x)].into_iter().collect(), &[])
            .await
            .unwrap();
        assert!(result.outputs.contains_key("y"), "{protocol:?}: {result:?}");
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_text_and_untrusting_clients_are_refused_clearly() {
    let pki = pki();
    let server = tls_server(
        TlsSettings::from_pem_files(&pki.path("server.pem"), &pki.path("server.key")).unwrap(),
    )
    .await;
    let rest = server.rest_addr().unwrap();
    let grpc = server.grpc_addr().unwrap();

    // Plain HTTP on the https port: a readable answer saying what to do.
    let reply = tokio::task::spawn_blocking(move || Http::connect(rest).get("/v1/models/half"))
        .await
        .unwrap();
    assert_eq!(reply.status, 400);
    assert!(
        reply
            .error()
            .contains(&format!("use https://HOST:{}/", rest.port())),
        "{}",
        reply.error()
    );
    let err = client(rest.port(), Protocol::Rest, None)
        .status()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("HTTPS (TLS) only"), "{err}");
    let (code, body, stderr) = curl(&[
        "--write-out",
        "\n%{http_code}",
        &format!("http://127.0.0.1:{}/v1/models/half", rest.port()),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(body.contains("HTTPS (TLS) only"), "{body}");
    assert!(body.ends_with("\n400"), "{body}");

    // Plain-text gRPC fails (and does not hang).
    let err = tokio::time::timeout(
        Duration::from_secs(30),
        client(grpc.port(), Protocol::Grpc, None).status(),
    )
    .await
    .expect("a plain-text gRPC client is answered")
    .unwrap_err();
    // tonic reports the closed connection as a transport error or a cancelled call.
    assert!(
        matches!(
            err.server_code(),
            None | Some("UNKNOWN" | "CANCELLED" | "UNAVAILABLE")
        ),
        "{err}"
    );

    // A client that trusts another CA refuses the server's certificate.
    let other = pki.path("other-ca.pem");
    for (protocol, port) in [(Protocol::Rest, rest.port()), (Protocol::Grpc, grpc.port())] {
        let err = client(port, protocol, Some(&other))
            .status()
            .await
            .unwrap_err();
        assert!(
            matches!(err, ClientError::Tls { .. }),
            "{protocol:?}: {err}"
        );
        assert!(
            err.to_string().contains("certificate"),
            "{protocol:?}: {err}"
        );
    }
    let (code, _, stderr) = curl(&[
        "--cacert",
        other.to_str().unwrap(),
        &format!("https://localhost:{}/v1/models/half", rest.port()),
    ]);
    assert_eq!(code, 60, "curl: certificate not trusted: {stderr}");

    // The server took no harm: a trusting client still gets answers.
    let states = client(rest.port(), Protocol::Rest, Some(&pki.path("ca.pem")))
        .status()
        .await
        .unwrap();
    assert_eq!(states[0].version, 2);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_stall_the_handshake_are_closed_after_the_header_timeout() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let pki = pki();
    tf::ensure_runtime();
    let mut config = config(vec![ModelSource::new("half", fixture("two_versions"))]);
    config.tls = Some(
        TlsSettings::from_pem_files(&pki.path("server.pem"), &pki.path("server.key")).unwrap(),
    );
    config.header_read_timeout = Duration::from_secs(1);
    let server = start(config).await;
    let mut stalled = Vec::new();
    for addr in [server.rest_addr().unwrap(), server.grpc_addr().unwrap()] {
        // Silent, and the first byte of a ClientHello then nothing.
        for opening in [&b""[..], &[0x16][..]] {
            for _ in 0..3 {
                let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
                stalled.push(tokio::spawn(async move {
                    let started = std::time::Instant::now();
                    tcp.write_all(opening).await.unwrap();
                    let mut buffer = [0u8; 64];
                    // Ends when the server closes (0 bytes or a reset).
                    let read = tokio::time::timeout(Duration::from_secs(30), tcp.read(&mut buffer))
                        .await
                        .expect("the server closes a stalled handshake within 30 s");
                    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
                    started.elapsed()
                }));
            }
        }
    }
    // Meanwhile a real client is served.
    let states = client(
        server.rest_addr().unwrap().port(),
        Protocol::Rest,
        Some(&pki.path("ca.pem")),
    )
    .status()
    .await
    .unwrap();
    assert_eq!(states[0].version, 2);
    for task in stalled {
        let lasted = task.await.unwrap();
        assert!(
            lasted >= Duration::from_millis(900) && lasted < Duration::from_secs(5),
            "a stalled handshake lasted {lasted:?}; the timeout is 1 s"
        );
    }
    server.shutdown().await;
}

/// A gRPC channel presenting `client.pem`, built with plain rustls so that the server
/// is checked independently of tfprobe's client (tests/it/client_tls.rs covers that).
async fn grpc_with_client_cert(pki: &Pki, port: u16) -> tonic::transport::Channel {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(pki.path("ca.pem")).unwrap())
        .unwrap();
    let mut tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_client_auth_cert(
        vec![CertificateDer::from_pem_file(pki.path("client.pem")).unwrap()],
        PrivateKeyDer::from_pem_file(pki.path("client.key")).unwrap(),
    )
    .unwrap();
    tls.alpn_protocols = vec![b"h2".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(tls));
    let connect = tower::service_fn(move |_: http::Uri| {
        let connector = connector.clone();
        async move {
            let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
            let name = ServerName::try_from("localhost").unwrap();
            let stream = connector.connect(name, tcp).await?;
            Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(stream))
        }
    });
    tonic::transport::Endpoint::from_shared(format!("https://localhost:{port}"))
        .unwrap()
        .timeout(Duration::from_secs(30))
        .connect_with_connector(connect)
        .await
        .expect("gRPC over mutual TLS connects")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_from_an_ssl_config_file_requires_a_client_certificate() {
    let pki = pki();
    let file = write_ssl_config(&pki, true);
    let settings = TlsSettings::from_ssl_config_file(&file).unwrap();
    assert!(settings.client_verify());
    let server = tls_server(settings).await;
    let (rest, grpc) = (
        server.rest_addr().unwrap().port(),
        server.grpc_addr().unwrap().port(),
    );
    let path = |name: &str| pki.path(name).to_str().unwrap().to_string();
    let url = format!("https://localhost:{rest}/v1/models/half");

    // Without a client certificate: refused, by curl and by tfprobe's clients.
    let (code, body, stderr) = curl(&["--cacert", &path("ca.pem"), &url]);
    assert_ne!(code, 0, "no client certificate, yet: {body}");
    assert!(body.is_empty(), "{body}");
    assert!(!stderr.is_empty());
    for (protocol, port) in [(Protocol::Rest, rest), (Protocol::Grpc, grpc)] {
        let refused = client(port, protocol, Some(&pki.path("ca.pem")))
            .status()
            .await;
        assert!(
            refused.is_err(),
            "{protocol:?} without a client certificate: {refused:?}"
        );
    }

    // With the client certificate: answered.
    let (code, body, stderr) = curl(&[
        "--cacert",
        &path("ca.pem"),
        "--cert",
        &path("client.pem"),
        "--key",
        &path("client.key"),
        &url,
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(body, STATUS);
    let channel = grpc_with_client_cert(&pki, grpc).await;
    let status = ModelServiceClient::new(channel)
        .get_model_status(GetModelStatusRequest {
            model_spec: Some(ModelSpec {
                name: "half".into(),
                ..ModelSpec::default()
            }),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status.model_version_status[0].version, 2);

    // A client certificate from another CA is refused.
    write_client_cert(&pki, "stranger", &ca("another CA"));
    let (code, body, _) = curl(&[
        "--cacert",
        &path("ca.pem"),
        "--cert",
        &path("stranger.pem"),
        "--key",
        &path("stranger.key"),
        &url,
    ]);
    assert_ne!(code, 0, "a stranger's certificate, yet: {body}");
    server.shutdown().await;
}

/// `tfprobe serve` with TLS flags; returns (exit success, stderr).
fn serve(args: &[&str]) -> (bool, String) {
    let model = fixture("two_versions");
    let mut child = Command::new(env!("CARGO_BIN_EXE_tfprobe"))
        .args([
            "serve",
            "--model_name",
            "half",
            "--port",
            "0",
            "--rest_api_port",
            "0",
        ])
        .arg(format!("--model_base_path={}", model.display()))
        .args(args)
        .env("TFPROBE_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // A bad TLS file is reported before anything else starts; a server that does
    // start instead would run until killed, so wait with a deadline.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut stderr = String::new();
            std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
            return (status.success(), stderr);
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("tfprobe serve {args:?} kept running");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn serve_refuses_bad_tls_files_and_names_them() {
    let pki = pki();
    let file = |name: &str, text: &str| {
        let path = pki.path(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    };
    let missing = pki.path("nope.config").to_str().unwrap().to_string();
    let misspelt = file("misspelt.config", "server_kee: 'x'\n");
    let no_key = file(
        "no-key.config",
        &format!("server_cert: {:?}\n", pki.read("server.pem")),
    );
    let other_key = pki.read("other.key");
    let mismatch = file(
        "mismatch.config",
        &format!(
            "server_cert: {:?}\nserver_key: {:?}\n",
            pki.read("server.pem"),
            other_key
        ),
    );
    let verify_without_ca = file(
        "verify.config",
        &format!(
            "server_cert: {:?}\nserver_key: {:?}\nclient_verify: true\n",
            pki.read("server.pem"),
            pki.read("server.key")
        ),
    );
    let not_pem = file("cert.txt", "this is not a certificate\n");
    let server_key = pki.path("server.key").to_str().unwrap().to_string();
    let cases: Vec<(Vec<&str>, Vec<String>)> = vec![
        (
            vec!["--ssl_config_file", &missing],
            vec![format!("cannot read {missing}")],
        ),
        (
            vec!["--ssl_config_file", &misspelt],
            vec![misspelt.clone(), "server_kee".into()],
        ),
        (
            vec!["--ssl_config_file", &no_key],
            vec![
                format!("server_key in {no_key} is empty"),
                "PRIVATE KEY".into(),
            ],
        ),
        (
            vec!["--ssl_config_file", &mismatch],
            vec![format!(
                "the private key in server_key in {mismatch} does not match the certificate in server_cert in {mismatch}"
            )],
        ),
        (
            vec!["--ssl_config_file", &verify_without_ca],
            vec![verify_without_ca.clone(), "custom_ca".into()],
        ),
        (
            vec!["--ssl_cert_file", &not_pem, "--ssl_key_file", &server_key],
            vec![
                format!("certificate file {not_pem} is not PEM"),
                "BEGIN CERTIFICATE".into(),
            ],
        ),
        (
            vec![
                "--ssl_cert_file",
                &server_key,
                "--ssl_key_file",
                &server_key,
            ],
            vec![format!(
                "certificate file {server_key} holds no certificate"
            )],
        ),
    ];
    for (args, expected) in cases {
        let (success, stderr) = serve(&args);
        assert!(!success, "{args:?} was accepted: {stderr}");
        for needle in expected {
            assert!(
                stderr.contains(&needle),
                "{args:?}: {needle:?} not in {stderr}"
            );
        }
    }
}
