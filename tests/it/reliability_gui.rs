//! The bad-input suite, part 4: the app's loaders. Every broken model of part 1
//! (tests/it/reliability_models.rs) is opened in the app, from the command line and by
//! drag-and-drop: the window shows an error naming what is wrong, no model is shown,
//! no thread panics, and a good model opens afterwards in the same window.

use crate::support::broken_models;
use crate::support::gui::{app_harness, drop_file, wait_until};
use crate::support::panics::PanicWatch;
use crate::support::repo;
use egui_kittest::kittest::Queryable;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(20);

#[cfg(unix)]
#[test]
fn broken_models_are_errors_in_the_window_and_a_good_one_opens_after() {
    let panics = PanicWatch::install();
    let dir = tempfile::tempdir().unwrap();
    let cases = broken_models::cases(dir.path());
    // From the command line: a fresh window per case.
    for case in &cases {
        let mut harness = app_harness(vec![repo().join(&case.path)]);
        let error = wait_for_error(&mut harness, &case.path);
        assert!(
            error.contains(case.app_error),
            "{}: {error:?} lacks {:?}",
            case.path,
            case.app_error
        );
        assert!(harness.state().state.local.is_none(), "{}", case.path);
        // On screen, not only in the state.
        harness.get_by_label_contains(case.app_error);
    }
    // Dropped one after another on one window, which then still opens a good model.
    let mut harness = app_harness(Vec::new());
    harness.step();
    for case in &cases {
        harness.state_mut().state.model_error = None;
        harness.state_mut().state.notices.clear();
        drop_file(&mut harness, repo().join(&case.path));
        let error = wait_for_error(&mut harness, &case.path);
        assert!(
            error.contains(case.app_error),
            "dropped {}: {error:?} lacks {:?}",
            case.path,
            case.app_error
        );
    }
    drop_file(
        &mut harness,
        repo().join("tests/fixtures/models/two_versions"),
    );
    wait_until(&mut harness, "the good model", TIMEOUT, |h| {
        h.state().state.local.is_some()
    });
    panics.assert_none();
}

/// The error the window shows for `path`: the model error box, or a notice for a
/// dropped file the app cannot take.
fn wait_for_error(
    harness: &mut egui_kittest::Harness<'static, tfprobe::ui::TfprobeApp>,
    path: &str,
) -> String {
    wait_until(harness, &format!("the error for {path}"), TIMEOUT, |h| {
        h.state().state.model_error.is_some() || !h.state().state.notices.is_empty()
    });
    let state = &harness.state().state;
    state
        .model_error
        .clone()
        .or_else(|| state.notices.last().map(|notice| notice.text.clone()))
        .unwrap_or_default()
}
