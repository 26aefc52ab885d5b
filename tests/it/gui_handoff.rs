//! The app's compare and deploy windows, driven like a person: "Compare with…" in the
//! model panel names the one variable whose value changed between two versions;
//! "Deploy…" in the Server tab shows each target's files and writes them to a folder,
//! with a failed write explained in the window.

use crate::model_diff::{W, base_with_one_changed_variable};
use crate::support::fixture;
use crate::support::gui::{app_harness, model_on_free_ports, wait_until};
use egui_kittest::kittest::Queryable;
use std::time::Duration;
use tfprobe::ui::command::Command;

const TIMEOUT: Duration = Duration::from_secs(20);

/// What the compare window holds once a comparison finished.
fn compare_result(
    harness: &egui_kittest::Harness<'static, tfprobe::ui::TfprobeApp>,
) -> Result<tfprobe::model::ModelDiff, String> {
    harness.state().state.diff_window.result.clone().unwrap()
}

#[test]
fn compare_with_another_version_names_the_changed_variable() {
    let (_dir, base) = base_with_one_changed_variable();
    let mut harness = app_harness(vec![base.clone()]);
    wait_until(&mut harness, "the model to open", TIMEOUT, |h| {
        h.state().state.local.is_some()
    });
    harness.get_by_label("Compare with…").click();
    wait_until(&mut harness, "the compare window", TIMEOUT, |h| {
        h.query_by_label("Compare with version 1").is_some()
    });
    // Version 2 (the highest) is open; compare it with version 1.
    harness.get_by_label("Compare with version 1").click();
    wait_until(&mut harness, "the comparison", TIMEOUT, |h| {
        h.state().state.diff_window.result.is_some()
    });
    harness.get_by_label("1 difference");
    harness.get_by_label(&format!("  ~ {W}: values changed"));
    harness.get_by_label("ops: no change");
    assert!(
        harness
            .query_by_label_contains("b/.ATTRIBUTES/VARIABLE_VALUE")
            .is_none(),
        "only w changed"
    );
    let diff = compare_result(&harness).unwrap();
    assert_eq!(diff.b, base.join("1"));
    assert_eq!(diff.variables_values_changed, [W]);
}

#[test]
fn compare_with_a_missing_folder_shows_the_error() {
    let mut harness = app_harness(vec![fixture("two_versions")]);
    wait_until(&mut harness, "the model to open", TIMEOUT, |h| {
        h.state().state.local.is_some()
    });
    let missing = fixture("no_such_model");
    harness.state_mut().push_command(Command::CompareWith(
        tfprobe::ui::state::CompareWith::Folder(missing.clone()),
    ));
    wait_until(&mut harness, "the comparison", TIMEOUT, |h| {
        h.state().state.diff_window.result.is_some()
    });
    let error = compare_result(&harness).unwrap_err();
    assert!(error.contains(&missing.display().to_string()), "{error}");
    harness.get_by_label(&error);
}

#[test]
fn deploy_shows_each_target_and_writes_the_triton_repository() {
    let mut harness = model_on_free_ports(fixture("seedlike"), TIMEOUT);
    harness.step();
    harness.get_by_label("Deploy…").click();
    wait_until(&mut harness, "the deploy window", TIMEOUT, |h| {
        h.query_by_label_contains("-e MODEL_NAME=seedlike -t tensorflow/serving")
            .is_some()
    });
    harness.get_by_label("triton").click();
    harness.step();
    harness.step();
    harness.get_by_label_contains("platform: \"tensorflow_savedmodel\"");
    harness.get_by_label("Copy");

    let dir = tempfile::tempdir().unwrap();
    harness
        .state_mut()
        .push_command(Command::WriteDeploy(dir.path().to_path_buf()));
    wait_until(&mut harness, "the write", TIMEOUT, |h| {
        h.state().state.deploy.written.is_some()
    });
    let config = dir.path().join("seedlike/config.pbtxt");
    harness.get_by_label_contains(&format!("wrote {}", config.display()));
    assert!(
        std::fs::read_to_string(&config)
            .unwrap()
            .contains("name: \"probabilities\"\n    data_type: TYPE_FP32\n    dims: [ 1001 ]")
    );
    assert!(
        dir.path()
            .join("seedlike/1538687457/model.savedmodel/saved_model.pb")
            .is_file()
    );

    // Writing again would copy over the model: refused, and said in the window.
    harness
        .state_mut()
        .push_command(Command::WriteDeploy(dir.path().to_path_buf()));
    wait_until(&mut harness, "the second write", TIMEOUT, |h| {
        matches!(h.state().state.deploy.written, Some(Err(_)))
    });
    harness.get_by_label_contains("already exists; remove it or write to another folder");
}
