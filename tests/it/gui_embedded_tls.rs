//! The embedded server with TLS, started from the server panel: https in everything
//! the panel shows, a real status request over TLS, a prediction from the Try it
//! panel over TLS, and a key that does not match its certificate shown in the panel.
//! Certificates are made at test time (rcgen); the running server needs
//! libtensorflow, provisioned like the runtime tests.

use crate::support::pki;
use crate::support::repo;
use crate::support::tf;

use crate::support::gui::{drop_and_wait_for_prediction, model_on_free_ports, wait_until};
use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use std::path::Path;
use std::time::Duration;
use tfprobe::client::{Client, ClientConfig, ModelClient, Protocol, TlsOptions};
use tfprobe::ui::TfprobeApp;
use tfprobe::ui::state::{PredictStatus, ServerPhase};
use tfprobe::workflow::target::EmbeddedEndpoints;

const TIMEOUT: Duration = Duration::from_secs(120);
const MODEL: &str = "efficientnet_lite0";

/// The app on the server tab with the demo model open, free ports and TLS on.
fn server_tab(cert: &Path, key: &Path) -> Harness<'static, TfprobeApp> {
    let mut harness =
        model_on_free_ports(repo().join("assets/models/efficientnet_lite0/1"), TIMEOUT);
    {
        let state = &mut harness.state_mut().state;
        let server = &mut state.persisted.server;
        server.tls = true;
        server.tls_cert_file = cert.display().to_string();
        server.tls_key_file = key.display().to_string();
    }
    harness.step();
    harness.step();
    harness
}

fn click_start(harness: &mut Harness<'static, TfprobeApp>) {
    harness
        .get_by_role_and_label(Role::Button, "Start server")
        .click();
}

#[test]
fn serves_over_tls_from_the_panel() {
    tf::ensure_runtime();
    let pki = pki::pki();
    // server.pem is signed by ca.pem: a chain file that ends with the CA is one the
    // panel's clients can trust on its own (see src/ui/server_tls.rs).
    let chain = pki.path("chain.pem");
    std::fs::write(&chain, pki.read("server.pem") + &pki.read("ca.pem")).unwrap();
    let mut harness = server_tab(&chain, &pki.path("server.key"));
    harness.get_by_label("Certificate (PEM)");
    click_start(&mut harness);
    wait_until(&mut harness, "the server to serve", TIMEOUT, |h| {
        h.state().state.target_ready()
    });
    let ServerPhase::Running(EmbeddedEndpoints { rest, tls_cert, .. }) =
        harness.state().state.server.phase.clone()
    else {
        panic!("not running: {:?}", harness.state().state.server.phase)
    };
    assert_eq!(tls_cert.as_deref(), Some(chain.as_path()));
    let rest = rest.expect("a REST port");
    assert!(rest.ip().is_loopback(), "{rest}");

    // The REST URL, the curl commands and the status line all say https.
    harness.get_by_label(&format!("https://{rest}"));
    let status_curl = format!(
        "curl --cacert {} https://{rest}/v1/models/{MODEL}",
        chain.display()
    );
    harness.get_by_label(&status_curl);
    harness.get_by_label(&format!("embedded server https://{rest} / {MODEL}"));
    assert_eq!(
        harness.query_all_by_label_contains("http://").count(),
        0,
        "nothing shown says plain http"
    );

    // A real status request over TLS, trusting the same file as curl does.
    let mut config = ClientConfig::new("127.0.0.1", rest.port(), Protocol::Rest).with_model(MODEL);
    config.tls = Some(TlsOptions {
        ca_file: Some(chain.clone()),
        accept_invalid_certs: false,
        server_name: None,
        client_identity: None,
    });
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let versions = runtime
        .block_on(Client::connect(&config).unwrap().status())
        .expect("status over TLS");
    assert_eq!(versions.len(), 1, "{versions:?}");
    // Plain HTTP to the TLS port is not served.
    let mut plain = config.clone();
    plain.tls = None;
    assert!(
        runtime
            .block_on(Client::connect(&plain).unwrap().status())
            .is_err()
    );

    // Try it sends to the embedded server over TLS too.
    drop_and_wait_for_prediction(
        &mut harness,
        repo().join("assets/images/chelsea.png"),
        TIMEOUT,
    );
    if let PredictStatus::Failed(message) = &harness.state().state.predict.items[0].status {
        panic!("the prediction over TLS failed: {message}");
    }
    let curl = harness.state().state.predict.last_curl.clone().unwrap();
    assert!(
        curl.contains("https://") && curl.contains("--cacert"),
        "{curl}"
    );

    harness
        .state_mut()
        .push_command(tfprobe::ui::command::Command::StopServer);
    wait_until(&mut harness, "the server to stop", TIMEOUT, |h| {
        h.state().state.server.phase == ServerPhase::Stopped
    });
}

#[test]
fn a_key_that_does_not_match_is_shown_in_the_panel() {
    let pki = pki::pki();
    let mut harness = server_tab(&pki.path("server.pem"), &pki.path("other.key"));
    click_start(&mut harness);
    // The TLS files are checked before TensorFlow loads: no runtime needed here.
    wait_until(&mut harness, "the start to fail", TIMEOUT, |h| {
        matches!(h.state().state.server.phase, ServerPhase::Failed { .. })
    });
    let ServerPhase::Failed { error } = harness.state().state.server.phase.clone() else {
        unreachable!()
    };
    assert!(error.contains("does not match"), "{error}");
    assert!(error.contains("other.key"), "{error}");
    harness.get_by_label("The server did not start");
    harness.get_by_label_contains("does not match the certificate");
    // The app keeps running and can start again once fixed.
    harness.get_by_role_and_label(Role::Button, "Start server");
}

#[test]
fn missing_tls_files_keep_start_disabled() {
    let pki = pki::pki();
    let mut harness = server_tab(&pki.path("server.pem"), &pki.path("no-such.key"));
    harness.get_by_label_contains("no-such.key does not exist");
    let start = harness.get_by_role_and_label(Role::Button, "Start server");
    assert!(start.accesskit_node().is_disabled());
    harness.state_mut().state.persisted.server.tls_key_file = String::new();
    harness.step();
    harness.get_by_label("TLS needs a private key file (PEM)");
    // Without TLS the same settings may start.
    harness.state_mut().state.persisted.server.tls = false;
    harness.step();
    let start = harness.get_by_role_and_label(Role::Button, "Start server");
    assert!(!start.accesskit_node().is_disabled());
}
