//! The Connect dialog: Ctrl+K opens it, fields are checked as they are typed, a closed
//! port gives a clear failure, a live server's model replaces the tree, and a server
//! that requires a client certificate is reached once the certificate fields are
//! filled in (and explains itself while they are not).

use crate::support::closed_port;
use crate::support::gui::{FakeServer, app_harness, wait_until};
use crate::support::pki::pki;
use egui::accesskit::Role;
use egui::{Key, Modifiers};
use egui_kittest::kittest::{NodeT, Queryable};
use std::time::Duration;
use tfprobe::ui::state::{TargetChoice, TreeSource};

const TIMEOUT: Duration = Duration::from_secs(20);

fn open_dialog(harness: &mut egui_kittest::Harness<'static, tfprobe::ui::TfprobeApp>) {
    harness.step();
    harness.key_press_modifiers(Modifiers::COMMAND, Key::K);
    // A few frames: the window measures itself, then settles centred.
    for _ in 0..4 {
        harness.step();
    }
    harness.get_by_label("Connect to a model server");
}

#[test]
fn ctrl_k_opens_the_dialog_and_fields_are_validated() {
    let mut harness = app_harness(Vec::new());
    open_dialog(&mut harness);
    // A fresh dialog has no model name: explained, and nothing can be sent.
    harness.get_by_label_contains("Model name is empty");
    let test_button = harness.get_by_role_and_label(Role::Button, "Test connection");
    assert!(
        test_button.accesskit_node().is_disabled(),
        "Test connection must wait for a valid form"
    );
    assert!(
        harness
            .get_by_role_and_label(Role::Button, "Connect")
            .accesskit_node()
            .is_disabled()
    );

    // Typing a model name makes the form valid.
    let field = harness.get_by_label("Model name");
    field.focus();
    field.type_text("resnet");
    harness.step();
    harness.step();
    assert_eq!(harness.state().state.connect.draft.model_name, "resnet");
    assert!(
        harness
            .query_by_label_contains("Model name is empty")
            .is_none()
    );
    assert!(
        !harness
            .get_by_role_and_label(Role::Button, "Test connection")
            .accesskit_node()
            .is_disabled()
    );

    // A version that is not a number is refused with the reason.
    let field = harness.get_by_label("Version");
    field.focus();
    field.type_text("latest-ish");
    harness.step();
    harness.step();
    harness.get_by_label_contains("is not a number");
    assert!(
        harness
            .get_by_role_and_label(Role::Button, "Test connection")
            .accesskit_node()
            .is_disabled()
    );

    // An empty host too.
    harness.state_mut().state.connect.draft.version.clear();
    harness.state_mut().state.connect.draft.host.clear();
    harness.step();
    harness.step();
    harness.get_by_label_contains("Host is empty");
}

#[test]
fn a_closed_port_fails_with_a_clear_message() {
    let mut harness = app_harness(Vec::new());
    open_dialog(&mut harness);
    let port = closed_port();
    {
        let draft = &mut harness.state_mut().state.connect.draft;
        draft.host = "127.0.0.1".into();
        draft.port = port;
        draft.model_name = "resnet".into();
        draft.timeout_ms = 3000;
    }
    harness.step();
    harness
        .get_by_role_and_label(Role::Button, "Test connection")
        .click();
    wait_until(&mut harness, "the test to fail", TIMEOUT, |h| {
        matches!(h.state().state.connect.result, Some(Err(_))) && !h.state().state.connect.testing
    });
    harness.get_by_label("Connection failed");
    let message = match &harness.state().state.connect.result {
        Some(Err(message)) => message.clone(),
        other => panic!("expected a failure, got {other:?}"),
    };
    assert!(
        message.contains("refused") && message.contains(&port.to_string()),
        "{message}"
    );
    harness.get_by_label_contains("refused");
    assert!(harness.state().state.remote.is_none());
}

#[test]
fn testing_and_connecting_to_a_live_server_shows_the_remote_tree() {
    let server = FakeServer::start(Duration::ZERO);
    let mut harness = app_harness(Vec::new());
    open_dialog(&mut harness);
    harness.state_mut().state.connect.draft = server.connection();
    harness.step();

    harness
        .get_by_role_and_label(Role::Button, "Test connection")
        .click();
    wait_until(&mut harness, "the test to pass", TIMEOUT, |h| {
        matches!(h.state().state.connect.result, Some(Ok(_)))
    });
    harness.get_by_label_contains("version 1 AVAILABLE");

    harness
        .get_by_role_and_label(Role::Button, "Connect")
        .click();
    wait_until(&mut harness, "the remote model", TIMEOUT, |h| {
        h.state().state.remote.is_some()
    });
    let state = &harness.state().state;
    assert_eq!(state.tree_source, TreeSource::Remote);
    assert_eq!(state.target, TargetChoice::Remote);
    assert!(!state.connect.open, "the dialog closes on success");
    assert_eq!(
        state.persisted.recent_hosts.first().map(String::as_str),
        Some("127.0.0.1")
    );
    // The same tree as a local model: signatures, tensors, dtypes and shapes.
    harness.get_by_label("Remote model");
    harness.get_by_label("serving_default");
    assert!(harness.get_all_by_label("image_bytes").count() >= 1);
    assert!(harness.get_all_by_label("DT_STRING").count() >= 1);
    assert!(harness.get_all_by_label("(-1, 1001)").count() >= 1);
    harness.get_by_label("AVAILABLE");
}

#[test]
fn mutual_tls_needs_the_client_certificate_fields() {
    let pki = pki();
    let server = FakeServer::start_with_tls(Duration::ZERO, Some(pki.mutual_tls()));
    let mut harness = app_harness(Vec::new());
    open_dialog(&mut harness);
    {
        let draft = &mut harness.state_mut().state.connect.draft;
        *draft = server.connection();
        draft.tls = true;
        draft.ca_file = pki.path("ca.pem").display().to_string();
    }
    harness.step();

    // Without a client certificate the server's refusal is explained.
    harness
        .get_by_role_and_label(Role::Button, "Connect")
        .click();
    wait_until(&mut harness, "the connection to fail", TIMEOUT, |h| {
        matches!(h.state().state.connect.result, Some(Err(_))) && !h.state().state.connect.testing
    });
    harness.get_by_label("Connection failed");
    harness.get_by_label_contains("requires a client certificate");
    assert!(harness.state().state.remote.is_none());

    // The certificate alone is not enough: the form asks for its key.
    let cert = pki.path("client.pem").display().to_string();
    let field = harness.get_by_label("Client certificate");
    field.focus();
    field.type_text(&cert);
    harness.step();
    harness.step();
    assert_eq!(harness.state().state.connect.draft.client_cert_file, cert);
    harness.get_by_label_contains("fill in both");
    assert!(
        harness
            .get_by_role_and_label(Role::Button, "Connect")
            .accesskit_node()
            .is_disabled()
    );
    let key = pki.path("client.key").display().to_string();
    let field = harness.get_by_label("Client key");
    field.focus();
    field.type_text(&key);
    harness.step();
    harness.step();
    assert_eq!(harness.state().state.connect.draft.client_key_file, key);

    // With both: connected, and the remote model's signatures are shown.
    harness
        .get_by_role_and_label(Role::Button, "Connect")
        .click();
    wait_until(&mut harness, "the remote model", TIMEOUT, |h| {
        h.state().state.remote.is_some()
    });
    assert_eq!(harness.state().state.tree_source, TreeSource::Remote);
    harness.get_by_label("Remote model");
    harness.get_by_label("serving_default");
    assert!(harness.get_all_by_label("image_bytes").count() >= 1);
}
