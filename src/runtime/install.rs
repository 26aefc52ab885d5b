//! `tfprobe runtime install`: libtensorflow from the tensorflow-cpu wheel, without
//! installing TensorFlow.
//!
//! `python3 -m pip download --no-deps --only-binary=:all: tensorflow-cpu==VERSION` fetches
//! the wheel (pip's own index configuration applies), the two libraries are extracted
//! from it (a wheel is a zip), `libtensorflow.so` / `libtensorflow_framework.so` names are
//! linked, and the directory is renamed into place in one step, so a half-finished install
//! is never picked up. A lock file serialises installs across processes; a second install
//! of the same version returns at once.

use super::RuntimeError;
use super::discovery::{
    self, CC_LIB, FRAMEWORK_LIB, FRAMEWORK_LINK, LIB_NAME, MARKER_FILE, RuntimeLocation,
    RuntimeSource,
};
use std::fs::{File, TryLockError};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// What an install is doing, for a progress bar.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InstallProgress {
    AlreadyInstalled {
        dir: PathBuf,
    },
    /// Another process holds the install lock.
    WaitingForLock {
        lock: PathBuf,
    },
    /// pip is downloading; `total` once pip said the wheel's size.
    Downloading {
        downloaded: u64,
        total: Option<u64>,
    },
    Extracting {
        file: String,
        done: u64,
        total: u64,
    },
    Finished {
        dir: PathBuf,
    },
}

/// Everything an install can be told; [`install`] uses the defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstallOptions {
    pub version: String,
    /// Defaults to [`discovery::cache_root`].
    pub cache_root: Option<PathBuf>,
    /// The interpreter whose pip downloads the wheel.
    pub python: String,
    /// The PyPI project (`tensorflow-cpu`).
    pub package: String,
    /// A wheel already on disk: no download.
    pub wheel: Option<PathBuf>,
}

impl InstallOptions {
    pub fn new(version: &str) -> InstallOptions {
        InstallOptions {
            version: version.to_string(),
            cache_root: None,
            python: "python3".into(),
            package: "tensorflow-cpu".into(),
            wheel: None,
        }
    }
}

/// Installs libtensorflow `version` into tfprobe's cache (idempotent).
pub fn install(
    version: &str,
    progress: impl FnMut(InstallProgress),
) -> Result<RuntimeLocation, RuntimeError> {
    install_with(&InstallOptions::new(version), progress)
}

fn fail(message: impl Into<String>) -> RuntimeError {
    RuntimeError::Install {
        message: message.into(),
    }
}

fn io_fail(what: &str, path: &Path, err: std::io::Error, cache_root: &Path) -> RuntimeError {
    if err.kind() == std::io::ErrorKind::StorageFull {
        return disk_full(cache_root);
    }
    fail(format!("cannot {what} {}: {err}", path.display()))
}

fn disk_full(cache_root: &Path) -> RuntimeError {
    fail(format!(
        "the disk is full: the install needs about 1.2 GB free in {} (274 MB wheel + 850 MB of libraries, the wheel \
         is removed afterwards); free some space, or set XDG_CACHE_HOME to a directory on a larger disk and retry",
        cache_root.display()
    ))
}

pub fn install_with(
    options: &InstallOptions,
    mut progress: impl FnMut(InstallProgress),
) -> Result<RuntimeLocation, RuntimeError> {
    let valid_version = !options.version.is_empty()
        && options
            .version
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+'));
    if !valid_version {
        return Err(fail(format!(
            "'{}' is not a version number such as {}",
            options.version,
            discovery::DEFAULT_VERSION
        )));
    }
    let root = match &options.cache_root {
        Some(root) => root.clone(),
        None => discovery::cache_root()
            .ok_or_else(|| fail("neither XDG_CACHE_HOME nor HOME is set, so there is no cache directory to install into"))?,
    };
    let final_dir = discovery::cache_dir_for(&root, &options.version);
    let location = || RuntimeLocation {
        dir: final_dir.clone(),
        version: Some(options.version.clone()),
        source: RuntimeSource::Cache,
    };
    if discovery::is_installed(&final_dir) {
        progress(InstallProgress::AlreadyInstalled {
            dir: final_dir.clone(),
        });
        return Ok(location());
    }
    std::fs::create_dir_all(&root)
        .map_err(|err| io_fail("create the cache directory", &root, err, &root))?;
    let lock_path = root.join(".install.lock");
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|err| io_fail("open the lock file", &lock_path, err, &root))?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            progress(InstallProgress::WaitingForLock {
                lock: lock_path.clone(),
            });
            lock.lock()
                .map_err(|err| io_fail("lock", &lock_path, err, &root))?;
        }
        Err(TryLockError::Error(err)) => return Err(io_fail("lock", &lock_path, err, &root)),
    }
    // Another process may have finished while we waited.
    if discovery::is_installed(&final_dir) {
        progress(InstallProgress::AlreadyInstalled {
            dir: final_dir.clone(),
        });
        return Ok(location());
    }
    remove_stale_staging(&root);
    let staging = root.join(format!(
        ".tmp-install-{}-{}",
        options.version,
        std::process::id()
    ));
    let result = fill_staging(options, &root, &staging, &mut progress).and_then(|()| {
        if final_dir.exists() {
            // An unfinished directory (no marker) from an older tfprobe: replace it.
            std::fs::remove_dir_all(&final_dir)
                .map_err(|err| io_fail("remove", &final_dir, err, &root))?;
        }
        std::fs::rename(&staging, &final_dir)
            .map_err(|err| io_fail("move the runtime into", &final_dir, err, &root))
    });
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    result?;
    drop(lock);
    progress(InstallProgress::Finished {
        dir: final_dir.clone(),
    });
    Ok(location())
}

/// Staging directories left by a killed install (we hold the lock: none is live).
fn remove_stale_staging(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        if entry
            .file_name()
            .to_string_lossy()
            .starts_with(".tmp-install-")
        {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

fn fill_staging(
    options: &InstallOptions,
    root: &Path,
    staging: &Path,
    progress: &mut impl FnMut(InstallProgress),
) -> Result<(), RuntimeError> {
    std::fs::create_dir_all(staging).map_err(|err| io_fail("create", staging, err, root))?;
    let wheel = match &options.wheel {
        Some(wheel) => wheel.clone(),
        None => download_wheel(options, root, staging, progress)?,
    };
    extract(&wheel, root, staging, progress)?;
    for (link, target) in [(LIB_NAME, CC_LIB), (FRAMEWORK_LINK, FRAMEWORK_LIB)] {
        std::os::unix::fs::symlink(target, staging.join(link))
            .map_err(|err| io_fail("link", &staging.join(link), err, root))?;
    }
    let wheel_name = wheel
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let marker = format!("version={}\nwheel={wheel_name}\n", options.version);
    std::fs::write(staging.join(MARKER_FILE), marker)
        .map_err(|err| io_fail("write", &staging.join(MARKER_FILE), err, root))?;
    for scratch in ["wheel", "pip-tmp"] {
        let _ = std::fs::remove_dir_all(staging.join(scratch));
    }
    Ok(())
}

/// Runs pip; reports the growing download (pip writes it under its TMPDIR, then copies
/// it into `-d`).
fn download_wheel(
    options: &InstallOptions,
    root: &Path,
    staging: &Path,
    progress: &mut impl FnMut(InstallProgress),
) -> Result<PathBuf, RuntimeError> {
    let wheel_dir = staging.join("wheel");
    let pip_tmp = staging.join("pip-tmp");
    for dir in [&wheel_dir, &pip_tmp] {
        std::fs::create_dir_all(dir).map_err(|err| io_fail("create", dir, err, root))?;
    }
    let requirement = format!("{}=={}", options.package, options.version);
    let mut child = Command::new(&options.python)
        .args(["-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--progress-bar", "off"])
        .arg("--disable-pip-version-check")
        .arg(&requirement)
        .arg("-d")
        .arg(&wheel_dir)
        .env("TMPDIR", &pip_tmp)
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|err| {
            if err.kind() == std::io::ErrorKind::NotFound {
                fail(format!(
                    "{} was not found on PATH; install Python 3 with pip (Debian/Ubuntu: `apt install python3-pip`), \
                     or download {requirement}'s wheel elsewhere and run `tfprobe runtime install --wheel FILE`",
                    options.python
                ))
            } else {
                fail(format!("cannot run {}: {err}", options.python))
            }
        })?;
    let total = Arc::new(AtomicU64::new(0));
    let stdout = child.stdout.take().map(|stdout| {
        let total = total.clone();
        std::thread::spawn(move || {
            let mut lines = Vec::new();
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(bytes) = parse_pip_size(&line) {
                    total.store(bytes, Ordering::Relaxed);
                }
                lines.push(line);
            }
            lines.join("\n")
        })
    });
    let stderr = child.stderr.take().map(|mut stderr| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        })
    });
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => {}
            Err(err) => return Err(fail(format!("waiting for pip failed: {err}"))),
        }
        let known = total.load(Ordering::Relaxed);
        let downloaded = largest_file(&pip_tmp).max(largest_file(&wheel_dir));
        progress(InstallProgress::Downloading {
            downloaded,
            total: (known > 0).then_some(known),
        });
        std::thread::sleep(Duration::from_millis(200));
    };
    let stdout = stdout
        .and_then(|thread| thread.join().ok())
        .unwrap_or_default();
    let stderr = stderr
        .and_then(|thread| thread.join().ok())
        .unwrap_or_default();
    if !status.success() {
        return Err(classify_pip_failure(
            &options.python,
            &requirement,
            &stdout,
            &stderr,
            root,
        ));
    }
    let wheel = std::fs::read_dir(&wheel_dir)
        .map_err(|err| io_fail("read", &wheel_dir, err, root))?
        .flatten()
        .map(|entry| entry.path())
        .find(|path| path.extension().is_some_and(|ext| ext == "whl"))
        .ok_or_else(|| {
            fail(format!(
                "pip reported success but left no wheel in {}; pip said:\n{stdout}",
                wheel_dir.display()
            ))
        })?;
    let size = std::fs::metadata(&wheel)
        .map(|metadata| metadata.len())
        .unwrap_or(0);
    progress(InstallProgress::Downloading {
        downloaded: size,
        total: Some(size),
    });
    Ok(wheel)
}

/// `Downloading tensorflow_cpu-...whl (273.8 MB)` or `Using cached ... (273.8 MB)` -> bytes.
pub fn parse_pip_size(line: &str) -> Option<u64> {
    if !(line.contains("Downloading") || line.contains("Using cached")) {
        return None;
    }
    let inside = line.trim_end().strip_suffix(')')?.rsplit_once('(')?.1;
    let (number, unit) = inside.trim().split_once(' ')?;
    let number: f64 = number.parse().ok()?;
    let scale = match unit {
        "bytes" => 1.0,
        "kB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        _ => return None,
    };
    Some((number * scale) as u64)
}

fn largest_file(dir: &Path) -> u64 {
    let mut largest = 0;
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&current) else {
            continue;
        };
        for entry in entries.flatten() {
            match entry.file_type() {
                Ok(kind) if kind.is_dir() => pending.push(entry.path()),
                Ok(_) => {
                    largest =
                        largest.max(entry.metadata().map(|metadata| metadata.len()).unwrap_or(0))
                }
                Err(_) => {}
            }
        }
    }
    largest
}

/// pip's failure as an instruction.
fn classify_pip_failure(
    python: &str,
    requirement: &str,
    stdout: &str,
    stderr: &str,
    root: &Path,
) -> RuntimeError {
    let both = format!("{stdout}\n{stderr}");
    let tail: Vec<&str> = stderr
        .lines()
        .filter(|line| !line.trim().is_empty())
        .collect();
    let tail = tail[tail.len().saturating_sub(6)..].join("\n");
    let has = |needles: &[&str]| needles.iter().any(|needle| both.contains(needle));
    if has(&["No module named pip"]) {
        return fail(format!(
            "{python} has no pip; install it (Debian/Ubuntu: `apt install python3-pip`, elsewhere `{python} -m ensurepip`) and retry"
        ));
    }
    if has(&["No space left on device", "[Errno 28]"]) {
        return disk_full(root);
    }
    let network = [
        "NewConnectionError",
        "Failed to establish a new connection",
        "Temporary failure in name resolution",
        "Name or service not known",
        "ConnectTimeout",
        "ReadTimeout",
        "Connection reset",
        "Network is unreachable",
        "ProxyError",
        "SSLError",
        "Max retries exceeded",
    ];
    if has(&network) {
        return fail(format!(
            "network failure: pip could not download {requirement}. Check the connection (pip honours HTTPS_PROXY and \
             its pip.conf index settings), or download the wheel on another machine and run \
             `tfprobe runtime install --wheel FILE`.\npip said:\n{tail}"
        ));
    }
    if has(&[
        "No matching distribution found",
        "Could not find a version that satisfies",
    ]) {
        return fail(format!(
            "pip found no wheel of {requirement} for {python} on this platform (tensorflow-cpu wheels exist for CPython \
             3.10-3.13 on x86_64 Linux); use another python with `--python`, another `--version`, or `--wheel FILE`.\n\
             pip said:\n{tail}"
        ));
    }
    fail(format!(
        "`{python} -m pip download {requirement}` failed:\n{tail}"
    ))
}

/// Extracts the two libraries from the wheel into `staging`.
fn extract(
    wheel: &Path,
    root: &Path,
    staging: &Path,
    progress: &mut impl FnMut(InstallProgress),
) -> Result<(), RuntimeError> {
    let file = File::open(wheel).map_err(|err| io_fail("open the wheel", wheel, err, root))?;
    let mut archive = zip::ZipArchive::new(file).map_err(|err| {
        fail(format!(
            "{} is not a readable wheel: {err}",
            wheel.display()
        ))
    })?;
    for name in [FRAMEWORK_LIB, CC_LIB] {
        let entry_name = format!("tensorflow/{name}");
        let mut entry = archive.by_name(&entry_name).map_err(|err| {
            fail(format!(
                "{} holds no {entry_name} ({err}); is it a tensorflow or tensorflow-cpu wheel?",
                wheel.display()
            ))
        })?;
        let total = entry.size();
        let target = staging.join(name);
        let mut out = File::create(&target).map_err(|err| io_fail("create", &target, err, root))?;
        let mut buffer = vec![0u8; 1 << 20];
        let mut done = 0u64;
        let mut reported = 0u64;
        progress(InstallProgress::Extracting {
            file: name.into(),
            done,
            total,
        });
        loop {
            let count = entry.read(&mut buffer).map_err(|err| {
                if err.kind() == std::io::ErrorKind::StorageFull {
                    disk_full(root)
                } else {
                    fail(format!(
                        "the wheel {} is damaged ({entry_name}: {err}); delete it and retry",
                        wheel.display()
                    ))
                }
            })?;
            if count == 0 {
                break;
            }
            out.write_all(&buffer[..count])
                .map_err(|err| io_fail("write", &target, err, root))?;
            done += count as u64;
            if done - reported >= 16 << 20 {
                reported = done;
                progress(InstallProgress::Extracting {
                    file: name.into(),
                    done,
                    total,
                });
            }
        }
        out.sync_all()
            .map_err(|err| io_fail("write", &target, err, root))?;
        progress(InstallProgress::Extracting {
            file: name.into(),
            done,
            total,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pip_sizes_parse() {
        assert_eq!(
            parse_pip_size(
                "  Downloading tensorflow_cpu-2.21.0-cp311-cp311-manylinux_2_27_x86_64.whl (273.8 MB)"
            ),
            Some(273_800_000)
        );
        assert_eq!(
            parse_pip_size("  Using cached tensorflow_cpu-2.21.0.whl (12 kB)"),
            Some(12_000)
        );
        assert_eq!(parse_pip_size("Collecting tensorflow-cpu==2.21.0"), None);
    }

    #[test]
    fn failures_say_what_to_do() {
        let root = Path::new("/cache");
        let err = classify_pip_failure(
            "python3",
            "tensorflow-cpu==9.9",
            "",
            "ERROR: No matching distribution found for x",
            root,
        );
        assert!(
            err.to_string().contains("no wheel of tensorflow-cpu==9.9"),
            "{err}"
        );
        let err = classify_pip_failure(
            "python3",
            "r",
            "",
            "WARNING: Retrying ... NewConnectionError(...)",
            root,
        );
        assert!(err.to_string().contains("network failure"), "{err}");
        let err = classify_pip_failure(
            "python3",
            "r",
            "",
            "/usr/bin/python3: No module named pip",
            root,
        );
        assert!(err.to_string().contains("has no pip"), "{err}");
        let err = classify_pip_failure(
            "python3",
            "r",
            "",
            "OSError: [Errno 28] No space left on device",
            root,
        );
        assert!(err.to_string().contains("disk is full"), "{err}");
    }

    #[test]
    fn missing_python_and_bad_wheels_fail_cleanly() {
        let tmp = tempfile::tempdir().unwrap();
        let mut options = InstallOptions::new("2.21.0");
        options.cache_root = Some(tmp.path().to_path_buf());
        options.python = "/nonexistent/python3".into();
        let err = install_with(&options, |_| {}).unwrap_err();
        assert!(err.to_string().contains("was not found on PATH"), "{err}");
        let not_a_wheel = tmp.path().join("x.whl");
        std::fs::write(&not_a_wheel, b"not a zip").unwrap();
        options.wheel = Some(not_a_wheel);
        let err = install_with(&options, |_| {}).unwrap_err();
        assert!(err.to_string().contains("is not a readable wheel"), "{err}");
        // Nothing half-finished is left behind.
        assert!(!discovery::cache_dir_for(tmp.path(), "2.21.0").exists());
        let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .flatten()
            .map(|entry| entry.file_name())
            .collect();
        assert!(
            leftovers
                .iter()
                .all(|name| !name.to_string_lossy().starts_with(".tmp-install")),
            "{leftovers:?}"
        );
        options.version = "2.21; rm -rf".into();
        assert!(install_with(&options, |_| {}).is_err());
    }
}
