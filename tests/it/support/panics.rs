//! Panic detection for the reliability tests: a hook (installed once per test
//! process, wrapping the previous one so messages still print) counts every
//! panic on a thread that is not a test's own thread. Server tasks, model
//! workers and client threads panicking on bad input is what the suite looks
//! for; a test's failed assertion is its own failure and is not counted.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, Once, PoisonError};

static PANICS: AtomicUsize = AtomicUsize::new(0);
/// Names of the threads the harness runs tests on.
static TEST_THREADS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Proof that the hook is installed; [`PanicWatch::assert_none`] checks it.
pub struct PanicWatch(());

impl PanicWatch {
    /// Installs the hook (once) and registers the calling test thread.
    pub fn install() -> PanicWatch {
        static HOOK: Once = Once::new();
        HOOK.call_once(|| {
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                let thread = std::thread::current();
                let on_test_thread = thread.name().is_some_and(|name| {
                    TEST_THREADS
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .iter()
                        .any(|test| test == name)
                });
                if !on_test_thread {
                    PANICS.fetch_add(1, Ordering::SeqCst);
                }
                previous(info);
            }));
        });
        if let Some(name) = std::thread::current().name() {
            TEST_THREADS
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(name.to_string());
        }
        PanicWatch(())
    }

    /// No thread other than a test thread has panicked in this process so far.
    pub fn assert_none(&self) {
        assert_eq!(
            PANICS.load(Ordering::SeqCst),
            0,
            "a server, model worker or client thread panicked (its message is printed above)"
        );
    }
}
