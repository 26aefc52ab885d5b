//! Loading libtensorflow once per process (runtime linking: the binary starts without it).
//!
//! The tensorflow crate's `library::load()` looks for `libtensorflow.so` in
//! `TENSORFLOW_DIR`, so the discovered directory is put there first. A library, once
//! loaded, stays for the life of the process (unloading one whose sessions live would
//! crash); later calls return the same [`LoadedRuntime`].

use super::RuntimeError;
use super::discovery::{self, RuntimeLocation};
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

static LOADED: Mutex<Option<Arc<LoadedRuntime>>> = Mutex::new(None);

/// The runtime already loaded in this process, if any.
pub fn loaded() -> Option<Arc<LoadedRuntime>> {
    LOADED
        .lock()
        .unwrap_or_else(|poison| poison.into_inner())
        .clone()
}

/// Discovers and loads libtensorflow unless already loaded. Must run before any call
/// into the tensorflow crate.
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
    // SAFETY: `set_var` races with concurrent reads of the environment by other threads.
    // This runs under the LOADED mutex, once per process, before TensorFlow starts any
    // thread of its own; tfprobe reads these variables nowhere else concurrently.
    unsafe {
        if std::env::var_os("TF_CPP_MIN_LOG_LEVEL").is_none() {
            std::env::set_var("TF_CPP_MIN_LOG_LEVEL", "2");
        }
        std::env::set_var("TENSORFLOW_DIR", &location.dir);
    }
    let started = Instant::now();
    isolate_symbols(&location);
    quiet_startup(tensorflow::library::load).map_err(|message| RuntimeError::LibraryLoad {
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

/// Runs `load` (the dlopen, whose static initialisers log a start-up banner through absl
/// before TF_CPP_MIN_LOG_LEVEL applies) with stderr captured, then writes the captured text
/// back without the INFO/WARNING lines that TF_CPP_MIN_LOG_LEVEL asks to hide.
fn quiet_startup<T>(load: impl FnOnce() -> T) -> T {
    use std::io::{Read, Seek, Write};
    use std::os::fd::AsRawFd;
    let level: u32 = std::env::var("TF_CPP_MIN_LOG_LEVEL")
        .ok()
        .and_then(|level| level.parse().ok())
        .unwrap_or(0);
    let capture_path = std::env::temp_dir().join(format!(
        ".tfprobe-stderr-{}-{}",
        std::process::id(),
        super::discovery::unique_suffix()
    ));
    let capture = std::fs::File::options()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&capture_path);
    let _ = std::fs::remove_file(&capture_path);
    let Ok(mut capture) = capture else {
        return load();
    };
    let _ = std::io::stderr().flush();
    // SAFETY: plain descriptor juggling on fds we own (the dup) or that always exist (2).
    let saved = unsafe { libc::dup(2) };
    if saved < 0 || unsafe { libc::dup2(capture.as_raw_fd(), 2) } < 0 {
        if saved >= 0 {
            unsafe { libc::close(saved) };
        }
        return load();
    }
    let result = load();
    let _ = std::io::stderr().flush();
    // SAFETY: restores the original stderr and closes our copy of it.
    unsafe {
        libc::dup2(saved, 2);
        libc::close(saved);
    }
    let mut text = String::new();
    if capture.rewind().is_ok() {
        let _ = capture.read_to_string(&mut text);
    }
    let kept: Vec<&str> = text
        .lines()
        .filter(|line| !hidden_log_line(line, level))
        .collect();
    if !kept.is_empty() {
        eprintln!("{}", kept.join("\n"));
    }
    result
}

/// absl's `I1125 12:00:00.000 ...` / `W...` lines below the wanted level, and its
/// "before absl::InitializeLog()" banner.
fn hidden_log_line(line: &str, level: u32) -> bool {
    if line.starts_with("WARNING: All log messages before absl::InitializeLog()") {
        return level >= 1;
    }
    let mut chars = line.chars();
    let severity = match chars.next() {
        Some('I') => 0,
        Some('W') => 1,
        _ => return false,
    };
    let stamped = chars.take(4).filter(char::is_ascii_digit).count() == 4;
    stamped && severity < level
}
