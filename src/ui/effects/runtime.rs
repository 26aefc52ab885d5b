//! The TensorFlow runtime as the server panel shows it: found or not, and its
//! install with progress.

use super::tasks::{Event, Tasks};
use crate::runtime::install::InstallProgress;
use crate::runtime::{RuntimeError, discovery, install, library};
use crate::ui::state::RuntimeState;

impl Tasks {
    /// Finds libtensorflow (without loading it).
    pub fn check_runtime(&self) {
        let reporter = self.reporter();
        self.spawn_blocking(move || reporter.send(Event::Runtime(runtime_state())));
    }

    /// Installs libtensorflow with progress; `Ready` at the end.
    pub fn install_runtime(&self) {
        let reporter = self.reporter();
        self.spawn_blocking(move || {
            let version = discovery::DEFAULT_VERSION;
            let progress_reporter = reporter.clone();
            let result = install::install(version, move |progress| {
                progress_reporter.send(Event::Runtime(install_progress_state(&progress)));
            });
            reporter.send(Event::Runtime(match result {
                Ok(location) => RuntimeState::Ready {
                    version: location.version.unwrap_or_else(|| version.to_string()),
                },
                Err(err) => RuntimeState::InstallFailed {
                    error: err.to_string(),
                },
            }));
        });
    }
}

fn runtime_state() -> RuntimeState {
    if let Some(loaded) = library::loaded() {
        return RuntimeState::Ready {
            version: loaded.version.clone(),
        };
    }
    match discovery::discover() {
        Ok(location) => RuntimeState::Ready {
            version: location.version.unwrap_or_else(|| "found".into()),
        },
        Err(RuntimeError::LibraryNotFound { how_to_fix }) => RuntimeState::Missing { how_to_fix },
        Err(err) => RuntimeState::Missing {
            how_to_fix: err.to_string(),
        },
    }
}

fn install_progress_state(progress: &InstallProgress) -> RuntimeState {
    use InstallProgress as P;
    let mb = |bytes: u64| bytes as f64 / 1e6;
    let (fraction, text) = match progress {
        P::AlreadyInstalled { dir } => {
            (Some(1.0), format!("already installed in {}", dir.display()))
        }
        P::WaitingForLock { lock } => (
            None,
            format!("waiting for another install ({})", lock.display()),
        ),
        P::Downloading {
            downloaded,
            total: Some(total),
        } if *total > 0 => (
            Some((*downloaded as f32 / *total as f32).min(1.0) * 0.8),
            format!(
                "downloading tensorflow-cpu: {:.0} / {:.0} MB",
                mb(*downloaded),
                mb(*total)
            ),
        ),
        P::Downloading { downloaded, .. } => (
            None,
            format!("downloading tensorflow-cpu: {:.0} MB", mb(*downloaded)),
        ),
        P::Extracting { file, done, total } => (
            Some(0.8 + 0.2 * (*done as f32 / (*total).max(1) as f32).min(1.0)),
            format!("extracting {file}: {:.0} / {:.0} MB", mb(*done), mb(*total)),
        ),
        P::Finished { dir } => (Some(1.0), format!("installed in {}", dir.display())),
    };
    RuntimeState::Installing { fraction, text }
}
