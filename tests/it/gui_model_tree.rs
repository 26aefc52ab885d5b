//! The desktop app's signature tree, driven like a person would: open a model (command
//! line, drag-and-drop), find its signatures and dtypes by label; broken models and
//! dropped non-model files explain themselves instead of crashing.

use crate::support::gui::{app_harness, drop_file, wait_until};
use crate::support::repo;
use crate::support::tf;
use egui::accesskit::Role;
use egui_kittest::kittest::{NodeT, Queryable};
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(20);

#[test]
fn opening_a_base_path_shows_signatures_inputs_outputs_and_dtypes() {
    let model = repo().join("tests/fixtures/models/seedlike");
    let mut harness = app_harness(vec![model]);
    wait_until(&mut harness, "the model to open", TIMEOUT, |h| {
        h.state().state.local.is_some()
    });

    // Tag-set, signatures (non-internal ones open), method names.
    harness.get_by_label("Tag-set: serve");
    harness.get_by_label("serving_default");
    harness.get_by_label("predict");
    harness.get_by_label("__saved_model_init_op");
    assert!(
        !harness
            .get_all_by_label("tensorflow/serving/predict")
            .collect::<Vec<_>>()
            .is_empty()
    );
    // Inputs and outputs with dtype and shape chips and tensor names.
    assert!(harness.get_all_by_label("image_bytes").count() >= 2);
    assert!(harness.get_all_by_label("DT_STRING").count() >= 2);
    assert!(harness.get_all_by_label("DT_FLOAT").count() >= 2);
    assert!(harness.get_all_by_label("DT_INT64").count() >= 2);
    assert!(harness.get_all_by_label("(-1, 1001)").count() >= 2);
    harness.get_by_label("serving_default_image_bytes:0");
    // The version of the base path and the collapsible sections.
    harness.get_by_label("1538687457");
    harness.get_by_label_contains("Variables (");
    harness.get_by_label_contains("Ops (");

    // Expanding the ops section shows its filter box and op chips.
    harness.get_by_label_contains("Ops (").click();
    harness.step();
    harness.step();
    assert!(harness.query_by_label("Const").is_some() || harness.query_by_label("NoOp").is_some());
    let filter = harness.get_by_label("Filter ops");
    assert_eq!(filter.accesskit_node().role(), Role::TextInput);
    filter.focus();
    filter.type_text("NoO");
    harness.step();
    harness.step();
    harness.get_by_label("NoOp");
    assert!(
        harness.query_by_label("Const").is_none(),
        "the filter hides other ops"
    );
}

#[test]
fn a_folder_dropped_on_the_window_opens_and_lands_in_recent() {
    let mut harness = app_harness(Vec::new());
    harness.step();
    harness.get_by_label("No model open.");
    let model = repo().join("assets/models/efficientnet_lite0/1");
    drop_file(&mut harness, model.clone());
    wait_until(&mut harness, "the dropped model to open", TIMEOUT, |h| {
        h.state().state.local.is_some()
    });
    harness.get_by_label("efficientnet_lite0");
    harness.get_by_label("serving_default");
    assert!(harness.get_all_by_label("probabilities").count() >= 2);
    assert_eq!(
        harness.state().state.persisted.recent_models.first(),
        Some(&model)
    );
}

#[test]
fn a_broken_model_shows_its_error_in_the_window() {
    for broken in ["garbage", "empty_pb", "truncated", "not_a_model"] {
        let path = repo().join("tests/fixtures/models/broken").join(broken);
        let mut harness = app_harness(vec![path]);
        wait_until(&mut harness, "the error", TIMEOUT, |h| {
            h.state().state.model_error.is_some()
        });
        harness.get_by_label("Could not open the model");
        let message = harness
            .state()
            .state
            .model_error
            .clone()
            .unwrap_or_default();
        assert!(!message.is_empty(), "{broken}: empty error");
        assert!(
            harness.state().state.local.is_none(),
            "{broken}: no model must be shown"
        );
        // Dismissing the error removes it.
        harness
            .get_by_role_and_label(Role::Button, "Dismiss")
            .click();
        harness.step();
        harness.step();
        assert!(
            harness.query_by_label("Could not open the model").is_none(),
            "{broken}"
        );
    }
}

#[test]
fn a_missing_path_from_the_command_line_is_an_error_not_a_crash() {
    let mut harness = app_harness(vec![repo().join("tests/fixtures/models/does-not-exist")]);
    wait_until(&mut harness, "the error", TIMEOUT, |h| {
        h.state().state.model_error.is_some()
    });
    let message = harness
        .state()
        .state
        .model_error
        .clone()
        .unwrap_or_default();
    assert!(message.contains("does-not-exist"), "{message}");
    harness.get_by_label("Could not open the model");
}

#[test]
fn a_dropped_file_that_is_neither_model_nor_image_says_why() {
    let mut harness = app_harness(Vec::new());
    harness.step();
    drop_file(
        &mut harness,
        repo().join("tests/fixtures/images/not_an_image.txt"),
    );
    wait_until(&mut harness, "the explanation", TIMEOUT, |h| {
        !h.state().state.notices.is_empty()
    });
    let notice = harness
        .state()
        .state
        .notices
        .last()
        .map(|notice| notice.text.clone())
        .unwrap_or_default();
    assert!(
        notice.contains("neither a SavedModel nor an image"),
        "{notice}"
    );
    harness.get_by_label_contains("neither a SavedModel nor an image");
    assert!(harness.state().state.predict.items.is_empty());
}

#[test]
fn about_names_the_app_and_tensorflow_runtime_versions() {
    // The app's runtime check and the discovery below must see the same machine: no
    // other test installs or loads the runtime in between.
    let _runtime = tf::install_lock();
    let mut harness = app_harness(Vec::new());
    wait_until(&mut harness, "the runtime check", TIMEOUT, |h| {
        h.state().state.server.runtime != tfprobe::ui::state::RuntimeState::Unknown
    });
    harness.get_by_label("Help").click();
    harness.step();
    harness.step();
    harness.get_by_label("About tfprobe").click();
    harness.step();
    harness.step();
    harness.get_by_label(&format!("tfprobe {}", env!("CARGO_PKG_VERSION")));
    // What discovery finds on this machine, worked out apart from the app.
    let expected = match tfprobe::runtime::discovery::discover() {
        Ok(location) => format!(
            "TensorFlow runtime {}",
            location.version.expect("the runtime's version")
        ),
        Err(_) => "TensorFlow runtime: not installed (Server ▸ Install TensorFlow runtime)".into(),
    };
    harness.get_by_label(&expected);
}
