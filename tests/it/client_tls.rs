//! tfprobe's clients presenting a client certificate to a server that requires one
//! (mutual TLS): REST and gRPC with the certificate are served; without it, or with
//! one from a CA the server does not trust, the error says what the server wanted;
//! bad certificate and key files are named before anything is sent; and
//! `tfprobe predict --server https://... --client-cert --client-key` classifies an
//! image, its `--print-curl` request runs as printed.

use crate::support::pki::{Pki, ca, pki, write_client_cert};
use crate::support::server::{config, start};
use crate::support::tf;
use crate::support::{fixture, repo};
use std::path::Path;
use std::time::Duration;
use tfprobe::client::{
    Client, ClientConfig, ClientError, ClientIdentity, ModelClient, Protocol, TlsOptions,
};
use tfprobe::server::{ModelSource, ServerHandle};
use tfprobe::tensor::{Tensor, TensorData};

const BOTH: [Protocol; 2] = [Protocol::Rest, Protocol::Grpc];

async fn mtls_server(pki: &Pki, model: ModelSource) -> ServerHandle {
    tf::ensure_runtime();
    let mut config = config(vec![model]);
    config.tls = Some(pki.mutual_tls());
    start(config).await
}

fn port(server: &ServerHandle, protocol: Protocol) -> u16 {
    match protocol {
        Protocol::Rest => server.rest_addr().unwrap().port(),
        Protocol::Grpc => server.grpc_addr().unwrap().port(),
    }
}

/// A config for model `half` trusting ca.pem, presenting `NAME.pem`/`KEY` when given.
fn config_with(
    port: u16,
    protocol: Protocol,
    pki: &Pki,
    cert_and_key: Option<(&str, &str)>,
) -> ClientConfig {
    let mut config = ClientConfig::new("localhost", port, protocol).with_model("half");
    config.timeout = Duration::from_secs(30);
    config.tls = Some(TlsOptions {
        ca_file: Some(pki.path("ca.pem")),
        client_identity: cert_and_key.map(|(cert, key)| ClientIdentity {
            cert_file: pki.path(cert),
            key_file: pki.path(key),
        }),
        ..TlsOptions::default()
    });
    config
}

fn connect(config: &ClientConfig) -> Client {
    Client::connect(config).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_are_presented_and_refusals_explained() {
    let pki = pki();
    write_client_cert(&pki, "stranger", &ca("another CA"));
    let server = mtls_server(&pki, ModelSource::new("half", fixture("two_versions"))).await;
    for protocol in BOTH {
        let port = port(&server, protocol);

        // With the certificate: status and predict are answered.
        let client = connect(&config_with(
            port,
            protocol,
            &pki,
            Some(("client.pem", "client.key")),
        ));
        let states = client.status().await.unwrap();
        assert_eq!(
            (states[0].version, states[0].state.as_str()),
            (2, "AVAILABLE"),
            "{protocol:?}"
        );
        let x = Tensor::new(vec![4], TensorData::Float(vec![1.0, 2.0, 3.0, 4.0])).unwrap();
        let result = client
            .predict([("x".to_string(), x)].into(), &[])
            .await
            .unwrap();
        assert!(result.outputs.contains_key("y"), "{protocol:?}: {result:?}");

        // Without: a TLS error that says a certificate is required and how to give one.
        let err = connect(&config_with(port, protocol, &pki, None))
            .status()
            .await
            .unwrap_err();
        assert!(
            matches!(err, ClientError::Tls { .. }),
            "{protocol:?}: {err}"
        );
        let text = err.to_string();
        assert!(
            text.contains("requires a client certificate"),
            "{protocol:?}: {text}"
        );
        assert!(
            text.contains("--client-cert FILE --client-key FILE"),
            "{protocol:?}: {text}"
        );

        // A certificate the server's CA did not sign: refused, and said so.
        let err = connect(&config_with(
            port,
            protocol,
            &pki,
            Some(("stranger.pem", "stranger.key")),
        ))
        .status()
        .await
        .unwrap_err();
        assert!(
            matches!(err, ClientError::Tls { .. }),
            "{protocol:?}: {err}"
        );
        assert!(
            err.to_string()
                .contains("did not accept the client certificate"),
            "{protocol:?}: {err}"
        );
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_certificate_and_key_files_are_named() {
    let pki = pki();
    std::fs::write(pki.path("notes.txt"), "not a certificate\n").unwrap();
    let shown = |name: &str| pki.path(name).display().to_string();
    let cases = [
        (
            ("missing.pem", "client.key"),
            format!(
                "cannot read client certificate file {}",
                shown("missing.pem")
            ),
        ),
        (
            ("client.pem", "missing.key"),
            format!("cannot read client key file {}", shown("missing.key")),
        ),
        (
            ("notes.txt", "client.key"),
            format!(
                "client certificate file {} is not PEM: expected a PEM certificate",
                shown("notes.txt")
            ),
        ),
        (
            ("client.pem", "notes.txt"),
            format!(
                "client key file {} is not PEM: expected a PEM private key",
                shown("notes.txt")
            ),
        ),
        (
            ("client.key", "client.key"),
            format!(
                "client certificate file {} holds no certificate",
                shown("client.key")
            ),
        ),
        (
            ("client.pem", "client.pem"),
            format!(
                "client key file {} holds no private key",
                shown("client.pem")
            ),
        ),
        (
            ("client.pem", "other.key"),
            format!(
                "the private key in client key file {} does not match the certificate in client certificate file {}",
                shown("other.key"),
                shown("client.pem")
            ),
        ),
    ];
    for protocol in BOTH {
        for (files, expected) in &cases {
            // Nothing listens on port 9: the files are checked before any connection.
            let err = Client::connect(&config_with(9, protocol, &pki, Some(*files))).unwrap_err();
            assert!(
                matches!(err, ClientError::Config(_)),
                "{protocol:?} {files:?}: {err}"
            );
            assert!(
                err.to_string().contains(expected.as_str()),
                "{protocol:?} {files:?}: {err}"
            );
        }
    }
}

fn tfprobe(args: &[&str]) -> (bool, String, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_tfprobe"))
        .args(args)
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn arg(path: &Path) -> String {
    path.display().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn predict_command_presents_the_client_certificate() {
    let pki = pki();
    let model = "efficientnet_lite0";
    let server = mtls_server(
        &pki,
        ModelSource::new(model, repo().join("assets/models/efficientnet_lite0")),
    )
    .await;
    let (rest, grpc) = (port(&server, Protocol::Rest), port(&server, Protocol::Grpc));
    let image = arg(&repo().join("assets/images/chelsea.png"));
    let (ca, cert, key, other_key) = (
        arg(&pki.path("ca.pem")),
        arg(&pki.path("client.pem")),
        arg(&pki.path("client.key")),
        arg(&pki.path("other.key")),
    );
    let runs = tokio::task::spawn_blocking(move || {
        let base = [
            "predict",
            "--model_name",
            model,
            "--image",
            &image,
            "--ca-cert",
            &ca,
        ];
        let identity = ["--client-cert", &cert, "--client-key", &key];
        // Two requests: the summary line with the class comes with --repeat.
        let repeat = ["--repeat", "2"];
        let rest_url = format!("https://127.0.0.1:{rest}");
        let grpc_url = format!("grpcs://127.0.0.1:{grpc}");
        [
            tfprobe(
                &[
                    &base[..],
                    &["--server", &rest_url],
                    &identity[..],
                    &repeat[..],
                ]
                .concat(),
            ),
            tfprobe(
                &[
                    &base[..],
                    &["--server", &grpc_url],
                    &identity[..],
                    &repeat[..],
                ]
                .concat(),
            ),
            tfprobe(&[&base[..], &["--server", &rest_url]].concat()),
            tfprobe(&[&base[..], &["--server", &rest_url, "--client-cert", &cert]].concat()),
            tfprobe(
                &[
                    &base[..],
                    &[
                        "--server",
                        &rest_url,
                        "--client-cert",
                        &cert,
                        "--client-key",
                        &other_key,
                    ],
                ]
                .concat(),
            ),
            tfprobe(
                &[
                    &base[..],
                    &["--server", &rest_url, "--print-curl"],
                    &identity[..],
                ]
                .concat(),
            ),
        ]
    })
    .await
    .unwrap();
    let [rest_run, grpc_run, without, half_pair, wrong_key, curl] = runs;
    for (name, (success, stdout, stderr)) in [("REST", &rest_run), ("gRPC", &grpc_run)] {
        assert!(success, "{name}: {stdout}{stderr}");
        assert!(
            stdout.contains("Prediction class: 283, avg latency: "),
            "{name}: {stdout}"
        );
    }
    let (success, _, stderr) = &without;
    assert!(!success);
    assert!(
        stderr.contains("requires a client certificate") && stderr.contains("--client-cert"),
        "{stderr}"
    );
    // clap: the two flags come together.
    let (success, _, stderr) = &half_pair;
    assert!(!success);
    assert!(stderr.contains("--client-key"), "{stderr}");
    let (success, _, stderr) = &wrong_key;
    assert!(!success);
    assert!(
        stderr.contains(&format!("client key file {}", arg(&pki.path("other.key")))),
        "{stderr}"
    );

    // The printed curl command carries --cert/--key and runs as printed.
    let (success, command, stderr) = &curl;
    assert!(success, "{stderr}");
    assert!(
        command.contains(&format!("--cert {}", arg(&pki.path("client.pem")))),
        "{command}"
    );
    // A file: the command holds the image and is longer than an argument may be.
    let script = pki.path("predict.sh");
    std::fs::write(&script, command).unwrap();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("bash")
            .arg(script)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let body = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{body}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let value: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(value["predictions"][0]["classes"], 283, "{body}");
    server.shutdown().await;
}
