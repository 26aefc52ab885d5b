//! Loading libtensorflow once per process (runtime linking: the binary starts without it).
//!
//! A library, once loaded, stays for the life of the process (unloading one whose sessions
//! live would crash); later calls return the same [`LoadedRuntime`].
//!
//! # The process environment (what embedders must call)
//!
//! TensorFlow reads `TF_CPP_MIN_LOG_LEVEL`, and the tensorflow crate's `library::load()`
//! finds `libtensorflow.so` only through `TENSORFLOW_DIR` (then `LD_LIBRARY_PATH` and
//! `/usr/local/lib`); it has no way to load from a path it is given. Changing the
//! environment is only sound while no other thread runs (C code such as TensorFlow, glibc
//! or a GL driver reads it without Rust's lock), so loading never changes it. Instead:
//!
//! 1. Programs call [`prepare_process`] first thing in `main`, before any thread starts.
//!    It sets `TF_CPP_MIN_LOG_LEVEL=2` (unless set, or unless TensorFlow's logs are wanted)
//!    and points `TENSORFLOW_DIR` at the directory [`discovery::discover`] will pick, or,
//!    when nothing is installed yet, at the directory `tfprobe runtime install` fills, so
//!    an install made later by the same process loads too.
//! 2. On Linux the `TENSORFLOW_DIR` part also runs by itself before `main` (from
//!    `.init_array`, only while the process has a single thread), so test binaries and
//!    programs that skip step 1 still load the runtime, from any thread; TensorFlow then
//!    runs without `TF_CPP_MIN_LOG_LEVEL` and formats more log lines (which the stderr
//!    filter below drops).
//! 3. [`ensure_loaded`] checks that `TENSORFLOW_DIR` leads the tensorflow crate to the
//!    library discovery found and fails with a message saying what to do when it does not
//!    (for example a runtime found only through `python3`, by a program that skipped step
//!    1): it never loads a different library than the one reported.
//!
//! # TensorFlow's start-up noise
//!
//! TensorFlow prints log lines (absl's `I0000 00:00:...` format and its "before
//! absl::InitializeLog()" banner) while it loads and on the first session and run, some
//! of them before `TF_CPP_MIN_LOG_LEVEL` applies. Unless TensorFlow's logs are wanted
//! (`--verbose`, `TFPROBE_LOG=debug`), the first load routes file descriptor 2 through a
//! pipe for the rest of the process: a thread forwards everything, in order, to the
//! original stderr, except TensorFlow's INFO and WARNING lines. An `atexit` handler waits
//! until the pipe is drained, so nothing is lost when the process exits or a `main` that
//! panicked or failed returns.

use super::RuntimeError;
use super::discovery::{self, RuntimeLocation};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The loaded library: where it came from and what it says its version is.
#[derive(Clone, Debug)]
pub struct LoadedRuntime {
    pub location: RuntimeLocation,
    /// `TF_Version()`, e.g. `2.21.0`.
    pub version: String,
    pub load_time: Duration,
}

/// What [`prepare_process`] needs from the command line.
#[derive(Clone, Debug, Default)]
pub struct ProcessSetup {
    /// Show TensorFlow's own log lines (`--verbose`): `TF_CPP_MIN_LOG_LEVEL` keeps its
    /// value (TensorFlow's default shows INFO) and stderr is not filtered.
    pub verbose: bool,
    /// The `--tf-lib DIR` flag, which wins over everything else discovery looks at.
    pub tf_lib: Option<PathBuf>,
    /// Ask `python3` for its tensorflow package when neither the flag, `TENSORFLOW_DIR`
    /// nor the cache has a runtime. It costs a Python start-up (tens of milliseconds), so
    /// only commands that load TensorFlow anyway ask.
    pub ask_python: bool,
}

/// Prepares the environment TensorFlow and the tensorflow crate read (see the module
/// docs): `TF_CPP_MIN_LOG_LEVEL` and `TENSORFLOW_DIR`. Call it once, first thing in `main`.
///
/// # Safety
///
/// It changes the process environment, so no other thread may run (or read the
/// environment) while it does: call it before starting any thread, tokio runtime or
/// window.
pub unsafe fn prepare_process(setup: &ProcessSetup) {
    VERBOSE.store(setup.verbose, Ordering::Relaxed);
    if !tensorflow_logs_wanted() && std::env::var_os("TF_CPP_MIN_LOG_LEVEL").is_none() {
        // SAFETY: the caller guarantees that this thread is the only one.
        unsafe { std::env::set_var("TF_CPP_MIN_LOG_LEVEL", "2") };
    }
    // SAFETY: as above.
    unsafe { point_tensorflow_dir(setup.tf_lib.as_deref(), setup.ask_python) };
}

/// Sets `TENSORFLOW_DIR` to the directory discovery will pick (and the marker that tells a
/// child process it was tfprobe's doing), when it does not say that already.
///
/// # Safety
///
/// Changes the environment: only while this is the process's only thread.
unsafe fn point_tensorflow_dir(tf_lib: Option<&Path>, ask_python: bool) {
    discovery::remember_user_tensorflow_dir();
    let Some(dir) = discovery::loader_dir(tf_lib, ask_python) else {
        return;
    };
    if std::env::var_os("TENSORFLOW_DIR").as_deref() != Some(dir.as_os_str()) {
        // SAFETY: the caller guarantees that this thread is the only one.
        unsafe {
            std::env::set_var("TENSORFLOW_DIR", &dir);
            std::env::set_var(discovery::SET_TENSORFLOW_DIR_MARKER, &dir);
        }
    }
}

/// Step 2 of the module docs: programs whose `main` is not theirs (test harnesses) or
/// that skip [`prepare_process`] still get a `TENSORFLOW_DIR` that leads to the runtime.
/// An `.init_array` entry of the executable runs before `main`; a library that is itself
/// `dlopen`ed runs it at that time, when other threads may exist, hence the thread count.
#[cfg(target_os = "linux")]
#[used]
#[unsafe(link_section = ".init_array")]
static POINT_TENSORFLOW_DIR_BEFORE_MAIN: extern "C" fn() = {
    extern "C" fn before_main() {
        if !process_is_single_threaded() {
            return;
        }
        // A panic must not unwind out of an `extern "C"` function (that aborts); losing
        // the set-up only makes a later load fail with a message.
        let _ = std::panic::catch_unwind(|| {
            // SAFETY: the process has one thread, this one (checked just above), and only
            // this thread could start another.
            unsafe { point_tensorflow_dir(None, false) }
        });
    }
    before_main
};

/// Whether `/proc/self/task` lists exactly one thread (false when it cannot be read).
#[cfg(target_os = "linux")]
fn process_is_single_threaded() -> bool {
    std::fs::read_dir("/proc/self/task").is_ok_and(|tasks| tasks.count() == 1)
}

static VERBOSE: AtomicBool = AtomicBool::new(false);

/// `--verbose`, or a `TFPROBE_LOG` filter that asks for debug or trace output.
fn tensorflow_logs_wanted() -> bool {
    VERBOSE.load(Ordering::Relaxed)
        || std::env::var("TFPROBE_LOG").is_ok_and(|filter| {
            let filter = filter.to_ascii_lowercase();
            filter.contains("debug") || filter.contains("trace")
        })
}

static LOADED: Mutex<Option<Arc<LoadedRuntime>>> = Mutex::new(None);

/// The runtime already loaded in this process, if any.
pub fn loaded() -> Option<Arc<LoadedRuntime>> {
    LOADED
        .lock()
        .unwrap_or_else(|poison| poison.into_inner())
        .clone()
}

/// Discovers and loads libtensorflow unless already loaded. Must run before any call
/// into the tensorflow crate. Safe from any thread: it reads the environment, never
/// writes it (see the module docs for what the process must have done at start-up).
pub fn ensure_loaded() -> Result<Arc<LoadedRuntime>, RuntimeError> {
    let mut slot = LOADED.lock().unwrap_or_else(|poison| poison.into_inner());
    if let Some(loaded) = slot.as_ref() {
        return Ok(loaded.clone());
    }
    let location = discovery::discover()?;
    let loaded = Arc::new(load_from(location)?);
    *slot = Some(loaded.clone());
    Ok(loaded)
}

/// Mesa's OpenGL drivers (llvmpipe under Xvfb, radeonsi, ...) bring their own LLVM into
/// the process's global symbol scope; libtensorflow bundles another LLVM whose static
/// initialisers then bind to Mesa's copy and crash while loading (the app, or any program
/// that embeds tfprobe next to a GL window). Opening TensorFlow's libraries first with
/// `RTLD_DEEPBIND` (and `RTLD_LOCAL`) makes them resolve their own symbols first; the
/// tensorflow crate's `dlopen` of the same files right after reuses these handles.
#[cfg(target_os = "linux")]
fn isolate_symbols(location: &RuntimeLocation) {
    use std::os::unix::ffi::OsStrExt;
    for name in [discovery::FRAMEWORK_LIB, discovery::LIB_NAME] {
        let path = location.dir.join(name);
        let Ok(c_path) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
            return;
        };
        // SAFETY: dlopen of a library that is loaded right after anyway; the handle is
        // kept for the life of the process (TensorFlow is never unloaded).
        let handle = unsafe {
            libc::dlopen(
                c_path.as_ptr(),
                libc::RTLD_NOW | libc::RTLD_LOCAL | libc::RTLD_DEEPBIND,
            )
        };
        if handle.is_null() {
            tracing::debug!(
                "pre-loading {} with RTLD_DEEPBIND failed; the normal load will report why",
                path.display()
            );
            return;
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn isolate_symbols(_location: &RuntimeLocation) {}

fn load_from(location: RuntimeLocation) -> Result<LoadedRuntime, RuntimeError> {
    let library = location.library_path();
    check_reachable(&location)?;
    if !tensorflow_logs_wanted() {
        super::stderr_filter::filter_stderr();
    }
    let started = Instant::now();
    isolate_symbols(&location);
    tensorflow::library::load().map_err(|message| RuntimeError::LibraryLoad {
        path: library.clone(),
        message: format!("{message}; reinstall with `tfprobe runtime install` or choose another directory with --tf-lib"),
    })?;
    let load_time = started.elapsed();
    // A library without the C API loads fine but panics on the first missing symbol.
    let version = match std::panic::catch_unwind(tensorflow::version) {
        Ok(Ok(version)) => version,
        Ok(Err(err)) => format!("unknown (TF_Version() is not UTF-8: {err})"),
        Err(_) => {
            return Err(RuntimeError::LibraryLoad {
                path: library,
                message: "the library does not export TensorFlow's C API (TF_Version); point --tf-lib at \
                          libtensorflow_cc.so.2's directory or run `tfprobe runtime install`"
                    .into(),
            });
        }
    };
    Ok(LoadedRuntime {
        location,
        version,
        load_time,
    })
}

/// The tensorflow crate will load the file discovery found, or an error that says why not
/// and what to do. The crate (tensorflow-sys-runtime 0.2's `find`) looks in
/// `TENSORFLOW_DIR` first, so that is the one place checked here; calling its `find`
/// instead would log its search a second time.
fn check_reachable(location: &RuntimeLocation) -> Result<(), RuntimeError> {
    let wanted = location.library_path();
    let tensorflow_dir = std::env::var_os("TENSORFLOW_DIR").map(PathBuf::from);
    if tensorflow_dir
        .as_deref()
        .is_some_and(|dir| same_file(&dir.join(discovery::LIB_NAME), &wanted))
    {
        return Ok(());
    }
    let fixed = match &tensorflow_dir {
        Some(dir) => format!("TENSORFLOW_DIR={}", dir.display()),
        None => "no TENSORFLOW_DIR".into(),
    };
    Err(RuntimeError::LibraryLoad {
        path: wanted,
        message: format!(
            "the tensorflow crate finds libtensorflow only through TENSORFLOW_DIR, and this process started with \
             {fixed}, which does not lead to it; the variable can only be set before any thread starts (by \
             tfprobe::runtime::library::prepare_process), so restart the program (a runtime that appeared elsewhere \
             since start-up is then found), or start it with TENSORFLOW_DIR={}",
            location.dir.display()
        ),
    })
}

/// The same file (device and inode, symlinks followed).
fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}
