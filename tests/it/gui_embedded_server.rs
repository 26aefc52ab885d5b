//! The embedded server with real TensorFlow: open the demo model, Start server (free
//! ports), wait for AVAILABLE, drop a cat photo and read the top-k bars. Needs
//! libtensorflow, provisioned like the runtime tests (installed into the cache once).

use crate::support::gui::{drop_and_wait_for_prediction, model_on_free_ports, wait_until};
use crate::support::repo;
use crate::support::tf;
use egui::accesskit::Role;
use egui_kittest::kittest::Queryable;
use std::time::Duration;
use tfprobe::ui::state::{PredictStatus, ServerPhase};
use tfprobe::workflow::target::EmbeddedEndpoints;

const TIMEOUT: Duration = Duration::from_secs(120);

#[test]
fn start_the_embedded_server_and_classify_a_photo() {
    tf::ensure_runtime();
    let mut harness =
        model_on_free_ports(repo().join("assets/models/efficientnet_lite0/1"), TIMEOUT);
    harness.step();
    harness.step();
    harness.get_by_label("Embedded server");
    harness
        .get_by_role_and_label(Role::Button, "Start server")
        .click();
    wait_until(&mut harness, "the server to serve", TIMEOUT, |h| {
        h.state().state.target_ready()
    });
    let ServerPhase::Running(EmbeddedEndpoints {
        rest, model_name, ..
    }) = harness.state().state.server.phase.clone()
    else {
        panic!(
            "the server is not running: {:?}",
            harness.state().state.server.phase
        )
    };
    assert_eq!(model_name, "efficientnet_lite0");
    assert!(
        harness.get_all_by_label("v1 AVAILABLE").count() >= 1,
        "the state badge"
    );
    let rest = rest.expect("a REST port");
    harness.get_by_label(&format!("curl http://{rest}/v1/models/efficientnet_lite0"));

    drop_and_wait_for_prediction(
        &mut harness,
        repo().join("assets/images/chelsea.png"),
        TIMEOUT,
    );
    let item = &harness.state().state.predict.items[0];
    let outcome = match &item.status {
        PredictStatus::Done(outcome) => outcome,
        PredictStatus::Failed(message) => panic!("the prediction failed: {message}"),
        _ => unreachable!(),
    };
    let classification = outcome.classification.as_ref().expect("class scores");
    let top3: Vec<usize> = classification.rows[0]
        .iter()
        .take(3)
        .map(|prediction| prediction.class)
        .collect();
    assert!(
        top3.contains(&286) || top3.contains(&282) || top3.contains(&283),
        "a cat in the top 3: {top3:?}"
    );
    // The labels come from the model's assets and show as bars.
    harness.get_by_label("Egyptian cat");
    assert!(harness.get_all_by_role(Role::ProgressIndicator).count() >= 5);

    harness
        .state_mut()
        .push_command(tfprobe::ui::command::Command::StopServer);
    wait_until(&mut harness, "the server to stop", TIMEOUT, |h| {
        h.state().state.server.phase == ServerPhase::Stopped
    });
}
