//! Panic detection for the reliability tests: a hook (installed once per process,
//! wrapping the previous one so messages still print) counts every panic on a thread
//! that is not a test's own thread, while a reliability test watches. Server tasks,
//! model workers and client threads panicking on bad input is what the suite looks
//! for; a test's failed assertion (or a `#[should_panic]` test) is that test's own
//! failure and is not counted.
//!
//! All tests share one process, so two more rules keep other tests out of the count:
//! panics are counted only while at least one [`PanicWatch`] is alive, and a test that
//! makes a server or worker thread panic on purpose holds [`expect_panics`], which
//! waits for every watch to end and keeps new ones from starting until it is done.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, Once, PoisonError};

static PANICS: AtomicUsize = AtomicUsize::new(0);
/// Names of the threads the harness runs watching tests on.
static TEST_THREADS: Mutex<Vec<String>> = Mutex::new(Vec::new());
/// Watches alive (the hook reads it without taking [`GATE`]).
static WATCHING: AtomicUsize = AtomicUsize::new(0);
/// Whether a test that panics on purpose is running; watches and it exclude each other.
static GATE: Mutex<bool> = Mutex::new(false);
static GATE_CHANGED: Condvar = Condvar::new();

/// Proof that the hook is installed and counting; [`PanicWatch::assert_none`] checks it.
pub struct PanicWatch(());

impl PanicWatch {
    /// Installs the hook (once), registers the calling test thread and starts counting
    /// (after any test that panics on purpose has finished).
    pub fn install() -> PanicWatch {
        static HOOK: Once = Once::new();
        HOOK.call_once(|| {
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                if WATCHING.load(Ordering::SeqCst) > 0 && !on_test_thread() {
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
        let mut expecting = GATE.lock().unwrap_or_else(PoisonError::into_inner);
        while *expecting {
            expecting = GATE_CHANGED
                .wait(expecting)
                .unwrap_or_else(PoisonError::into_inner);
        }
        WATCHING.fetch_add(1, Ordering::SeqCst);
        PanicWatch(())
    }

    /// No thread other than a test thread has panicked while a test watched.
    pub fn assert_none(&self) {
        assert_eq!(
            PANICS.load(Ordering::SeqCst),
            0,
            "a server, model worker or client thread panicked (its message is printed above)"
        );
    }
}

impl Drop for PanicWatch {
    fn drop(&mut self) {
        let _gate = GATE.lock().unwrap_or_else(PoisonError::into_inner);
        WATCHING.fetch_sub(1, Ordering::SeqCst);
        GATE_CHANGED.notify_all();
    }
}

/// A test thread: one a watching test registered, or any thread the test harness runs a
/// test on (libtest names it after the test's path, `module::test`, and every test of
/// this binary is in a module).
fn on_test_thread() -> bool {
    let thread = std::thread::current();
    thread.name().is_some_and(|name| {
        name.contains("::")
            || TEST_THREADS
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .iter()
                .any(|test| test == name)
    })
}

/// Held by a test that makes a non-test thread panic on purpose: no [`PanicWatch`] is
/// alive meanwhile, so its panics are not taken for a reliability failure.
pub struct ExpectedPanics(());

/// Waits until no watch is alive (and no other such test runs), then holds new watches
/// back until the returned guard is dropped.
pub fn expect_panics() -> ExpectedPanics {
    let mut expecting = GATE.lock().unwrap_or_else(PoisonError::into_inner);
    while *expecting || WATCHING.load(Ordering::SeqCst) > 0 {
        expecting = GATE_CHANGED
            .wait(expecting)
            .unwrap_or_else(PoisonError::into_inner);
    }
    *expecting = true;
    ExpectedPanics(())
}

impl Drop for ExpectedPanics {
    fn drop(&mut self) {
        *GATE.lock().unwrap_or_else(PoisonError::into_inner) = false;
        GATE_CHANGED.notify_all();
    }
}
