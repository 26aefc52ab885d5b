//! Finding libtensorflow on this machine, without loading it.
//!
//! Order (the first hit wins):
//! 1. the `--tf-lib DIR` flag ([`set_tf_lib_override`]),
//! 2. the `TENSORFLOW_DIR` environment variable (the user's: [`user_tensorflow_dir`]),
//! 3. tfprobe's cache (`$XDG_CACHE_HOME/tfprobe/tensorflow-<version>/`, else
//!    `~/.cache/tfprobe/...`), filled by `tfprobe runtime install`,
//! 4. the `tensorflow` package of the `python3` on `PATH` (located without importing it).
//!
//! A usable directory holds `libtensorflow.so` (what the tensorflow crate dlopens) next to
//! `libtensorflow_framework.so.2`. A directory that only holds the wheel's names
//! (`libtensorflow_cc.so.2`, `libtensorflow_framework.so.2`, as a Python install does) gets
//! a directory of symlinks under the cache, so the library is used in place.
//!
//! [`loader_dir`] predicts, without loading anything, the directory this order will pick,
//! for `TENSORFLOW_DIR` at start-up (see [`super::library`]).

use super::RuntimeError;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};

/// The TensorFlow version `tfprobe runtime install` fetches by default.
pub const DEFAULT_VERSION: &str = "2.21.0";
/// The file the tensorflow crate loads.
pub const LIB_NAME: &str = "libtensorflow.so";
/// The wheel's C API library (what `libtensorflow.so` points to).
pub const CC_LIB: &str = "libtensorflow_cc.so.2";
/// The framework library `libtensorflow_cc.so.2` needs beside it.
pub const FRAMEWORK_LIB: &str = "libtensorflow_framework.so.2";
/// The unversioned framework name some builds link against.
pub const FRAMEWORK_LINK: &str = "libtensorflow_framework.so";
/// Written last into an installed runtime directory; holds the version.
pub const MARKER_FILE: &str = "tfprobe-runtime.txt";

/// Set beside `TENSORFLOW_DIR` when tfprobe points that at the runtime, holding the same
/// value: a child process that inherits both can tell tfprobe's setting from the user's.
pub const SET_TENSORFLOW_DIR_MARKER: &str = "TFPROBE_SET_TENSORFLOW_DIR";

static TF_LIB_OVERRIDE: Mutex<Option<PathBuf>> = Mutex::new(None);

/// The user's `TENSORFLOW_DIR` as it was before tfprobe changed it at start-up.
static USER_TENSORFLOW_DIR: OnceLock<Option<PathBuf>> = OnceLock::new();

/// Remembers the user's `TENSORFLOW_DIR` before it is changed (the first call wins).
pub(crate) fn remember_user_tensorflow_dir() {
    USER_TENSORFLOW_DIR.get_or_init(read_user_tensorflow_dir);
}

/// The `TENSORFLOW_DIR` the user set, not one tfprobe set for the tensorflow crate (in this
/// process or in a tfprobe parent process).
pub fn user_tensorflow_dir() -> Option<PathBuf> {
    match USER_TENSORFLOW_DIR.get() {
        Some(remembered) => remembered.clone(),
        None => read_user_tensorflow_dir(),
    }
}

fn read_user_tensorflow_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("TENSORFLOW_DIR").filter(|dir| !dir.is_empty())?;
    if std::env::var_os(SET_TENSORFLOW_DIR_MARKER).as_deref() == Some(dir.as_os_str()) {
        return None;
    }
    Some(PathBuf::from(dir))
}

/// Sets the directory given with `--tf-lib` (it wins over everything else).
pub fn set_tf_lib_override(dir: Option<PathBuf>) {
    *TF_LIB_OVERRIDE
        .lock()
        .unwrap_or_else(|poison| poison.into_inner()) = dir;
}

pub fn tf_lib_override() -> Option<PathBuf> {
    TF_LIB_OVERRIDE
        .lock()
        .unwrap_or_else(|poison| poison.into_inner())
        .clone()
}

/// Where a runtime was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RuntimeSource {
    Flag,
    EnvTensorflowDir,
    Cache,
    /// The `tensorflow` package of a Python interpreter.
    PythonPackage {
        python: String,
        package_dir: PathBuf,
    },
}

impl fmt::Display for RuntimeSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RuntimeSource::Flag => f.write_str("--tf-lib"),
            RuntimeSource::EnvTensorflowDir => f.write_str("TENSORFLOW_DIR"),
            RuntimeSource::Cache => f.write_str("tfprobe's cache (`tfprobe runtime install`)"),
            RuntimeSource::PythonPackage {
                python,
                package_dir,
            } => {
                write!(
                    f,
                    "the tensorflow package of {python} ({})",
                    package_dir.display()
                )
            }
        }
    }
}

/// A directory from which libtensorflow can be loaded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuntimeLocation {
    /// Holds `libtensorflow.so` and `libtensorflow_framework.so.2`.
    pub dir: PathBuf,
    /// TensorFlow's version when known before loading (cache dir name, install marker,
    /// or the Python package's metadata).
    pub version: Option<String>,
    pub source: RuntimeSource,
}

impl RuntimeLocation {
    pub fn library_path(&self) -> PathBuf {
        self.dir.join(LIB_NAME)
    }
}

/// `$XDG_CACHE_HOME/tfprobe` (an absolute `XDG_CACHE_HOME` only, per the XDG spec), else
/// `$HOME/.cache/tfprobe`.
pub fn cache_root() -> Option<PathBuf> {
    let xdg = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|path| path.is_absolute());
    let base = xdg.or_else(|| {
        std::env::var_os("HOME")
            .filter(|home| !home.is_empty())
            .map(|home| PathBuf::from(home).join(".cache"))
    })?;
    Some(base.join("tfprobe"))
}

/// The directory `tfprobe runtime install --version VERSION` fills.
pub fn cache_dir_for(cache_root: &Path, version: &str) -> PathBuf {
    cache_root.join(format!("tensorflow-{version}"))
}

/// The instructions printed wherever no runtime was found.
pub fn how_to_get_runtime() -> String {
    format!(
        "run `tfprobe runtime install` (downloads the tensorflow-cpu {DEFAULT_VERSION} wheel with pip, \
         about 274 MB, and keeps only libtensorflow in {}), or point `--tf-lib DIR` / TENSORFLOW_DIR at a \
         directory holding libtensorflow.so or a Python tensorflow package's libtensorflow_cc.so.2",
        cache_root()
            .map(|root| cache_dir_for(&root, DEFAULT_VERSION).display().to_string())
            .unwrap_or_else(|| "~/.cache/tfprobe".into())
    )
}

/// Finds a runtime in the documented order; `Err(LibraryNotFound)` says how to get one.
pub fn discover() -> Result<RuntimeLocation, RuntimeError> {
    if let Some(dir) = tf_lib_override() {
        return explicit_dir(&dir, RuntimeSource::Flag, "--tf-lib");
    }
    if let Some(dir) = user_tensorflow_dir() {
        return explicit_dir(&dir, RuntimeSource::EnvTensorflowDir, "TENSORFLOW_DIR");
    }
    if let Some(found) = find_in_cache() {
        return Ok(found);
    }
    if let Some(found) = find_in_python("python3") {
        return Ok(found);
    }
    Err(RuntimeError::LibraryNotFound {
        how_to_fix: how_to_get_runtime(),
    })
}

/// The directory [`discover`] will pick, for the tensorflow crate's `TENSORFLOW_DIR`:
/// `tf_lib` (the flag, not yet stored when this runs at start-up), the user's
/// `TENSORFLOW_DIR`, the cache, `python3` only when `ask_python` (it costs a Python
/// start-up), else the directory `tfprobe runtime install` fills, so that an install
/// made later in this process loads. `None` when a named directory is unusable (discovery
/// then reports it) or there is no cache directory.
pub fn loader_dir(tf_lib: Option<&Path>, ask_python: bool) -> Option<PathBuf> {
    if let Some(dir) = tf_lib.map(Path::to_path_buf).or_else(user_tensorflow_dir) {
        return usable_dir(&dir).ok().flatten();
    }
    if let Some(found) = find_in_cache() {
        return Some(found.dir);
    }
    if ask_python && let Some(found) = find_in_python("python3") {
        return Some(found.dir);
    }
    Some(cache_dir_for(&cache_root()?, DEFAULT_VERSION))
}

/// A directory the user named: it must be usable, never silently skipped.
fn explicit_dir(
    dir: &Path,
    source: RuntimeSource,
    what: &str,
) -> Result<RuntimeLocation, RuntimeError> {
    match usable_dir(dir)? {
        Some(usable) => Ok(RuntimeLocation {
            version: read_marker(dir)
                .or_else(|| read_marker(&usable))
                .or_else(|| version_from_dist_info(dir)),
            dir: usable,
            source,
        }),
        None => Err(RuntimeError::LibraryNotFound {
            how_to_fix: format!(
                "{what} is {} but it holds neither {LIB_NAME} nor {CC_LIB} with {FRAMEWORK_LIB}; {}",
                dir.display(),
                how_to_get_runtime()
            ),
        }),
    }
}

/// The newest installed runtime in the cache, preferring [`DEFAULT_VERSION`].
pub fn find_in_cache() -> Option<RuntimeLocation> {
    let root = cache_root()?;
    let preferred = cache_dir_for(&root, DEFAULT_VERSION);
    let mut candidates = vec![preferred.clone()];
    if let Ok(entries) = std::fs::read_dir(&root) {
        let mut others: Vec<PathBuf> = entries
            .flatten()
            .map(|entry| entry.path())
            .filter(|path| path != &preferred && is_versioned_name(path))
            .collect();
        others.sort_by_key(|path| std::cmp::Reverse(version_key(path)));
        candidates.extend(others);
    }
    candidates
        .into_iter()
        .find(|dir| is_installed(dir))
        .map(|dir| RuntimeLocation {
            version: read_marker(&dir).or_else(|| version_from_dir_name(&dir)),
            dir,
            source: RuntimeSource::Cache,
        })
}

/// An install tfprobe finished (its marker is written last, after the rename).
pub fn is_installed(dir: &Path) -> bool {
    dir.join(MARKER_FILE).is_file()
        && dir.join(LIB_NAME).is_file()
        && dir.join(FRAMEWORK_LIB).is_file()
}

fn is_versioned_name(path: &Path) -> bool {
    version_from_dir_name(path).is_some()
}

fn version_from_dir_name(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    let version = name.strip_prefix("tensorflow-")?;
    version.chars().next().filter(char::is_ascii_digit)?;
    Some(version.to_string())
}

fn version_key(path: &Path) -> Vec<u64> {
    version_from_dir_name(path)
        .map(|version| {
            version
                .split(['.', '-', 'r'])
                .filter_map(|part| part.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// The version of the wheel a Python `tensorflow/` package directory came from, from the
/// `tensorflow*-X.Y.Z.dist-info` folder beside it.
fn version_from_dist_info(package_dir: &Path) -> Option<String> {
    let site_packages = package_dir.parent()?;
    let mut versions: Vec<String> = std::fs::read_dir(site_packages)
        .ok()?
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().to_str()?.to_string();
            let stem = name.strip_suffix(".dist-info")?;
            let (project, version) = stem.rsplit_once('-')?;
            let known = [
                "tensorflow",
                "tensorflow_cpu",
                "tensorflow_intel",
                "tf_nightly",
                "tf_nightly_cpu",
            ];
            known
                .contains(&project.to_ascii_lowercase().as_str())
                .then(|| version.to_string())
        })
        .collect();
    versions.sort();
    versions.pop()
}

fn read_marker(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join(MARKER_FILE)).ok()?;
    text.lines()
        .find_map(|line| line.strip_prefix("version="))
        .map(|version| version.trim().to_string())
}

/// Locates the `tensorflow` package of `python` without importing it.
pub fn find_in_python(python: &str) -> Option<RuntimeLocation> {
    const SCRIPT: &str = "import importlib.util as u, importlib.metadata as m\n\
        s = u.find_spec('tensorflow')\n\
        print(s.submodule_search_locations[0] if s and s.submodule_search_locations else '')\n\
        v = ''\n\
        for n in ('tensorflow', 'tensorflow-cpu', 'tensorflow-intel', 'tf-nightly', 'tf-nightly-cpu'):\n\
        \x20   try:\n\
        \x20       v = m.version(n)\n\
        \x20       break\n\
        \x20   except Exception:\n\
        \x20       pass\n\
        print(v)\n";
    let output = Command::new(python)
        .args(["-c", SCRIPT])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?;
    let mut lines = text.lines();
    let package_dir = PathBuf::from(lines.next()?.trim());
    if package_dir.as_os_str().is_empty() {
        return None;
    }
    let version = lines
        .next()
        .map(str::trim)
        .filter(|version| !version.is_empty())
        .map(String::from);
    let dir = usable_dir(&package_dir).ok()??;
    Some(RuntimeLocation {
        dir,
        version,
        source: RuntimeSource::PythonPackage {
            python: python.to_string(),
            package_dir,
        },
    })
}

/// `dir` itself when it holds `libtensorflow.so`; a symlink directory in the cache when it
/// holds the wheel's names only; `None` when neither.
pub fn usable_dir(dir: &Path) -> Result<Option<PathBuf>, RuntimeError> {
    if dir.join(LIB_NAME).is_file() {
        return Ok(Some(dir.to_path_buf()));
    }
    if !(dir.join(CC_LIB).is_file() && dir.join(FRAMEWORK_LIB).is_file()) {
        return Ok(None);
    }
    let root = cache_root().ok_or_else(|| RuntimeError::LibraryNotFound {
        how_to_fix: format!(
            "{} holds {CC_LIB} but not {LIB_NAME}, and there is no cache directory (HOME unset) to make the link in; \
             create the symlink {LIB_NAME} -> {CC_LIB} there yourself",
            dir.display()
        ),
    })?;
    link_dir(&root, dir).map(Some)
}

/// Makes (or reuses) `<cache>/links/<hash>/` with `libtensorflow.so` -> `dir/libtensorflow_cc.so.2`
/// and the framework names -> `dir/libtensorflow_framework.so.2`.
fn link_dir(cache_root: &Path, dir: &Path) -> Result<PathBuf, RuntimeError> {
    let target = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let links = cache_root.join("links").join(format!(
        "{:016x}",
        fnv1a(target.as_os_str().as_encoded_bytes())
    ));
    let wanted = [
        (LIB_NAME, target.join(CC_LIB)),
        (CC_LIB, target.join(CC_LIB)),
        (FRAMEWORK_LIB, target.join(FRAMEWORK_LIB)),
        (FRAMEWORK_LINK, target.join(FRAMEWORK_LIB)),
    ];
    let complete = wanted
        .iter()
        .all(|(name, to)| std::fs::read_link(links.join(name)).is_ok_and(|link| &link == to));
    if complete {
        return Ok(links);
    }
    let io_error = |what: &str, path: &Path, err: std::io::Error| RuntimeError::LibraryLoad {
        path: path.to_path_buf(),
        message: format!(
            "cannot {what} the link directory for {}: {err}",
            dir.display()
        ),
    };
    let parent = links.parent().unwrap_or(cache_root);
    std::fs::create_dir_all(parent).map_err(|err| io_error("create", parent, err))?;
    let staging = parent.join(format!(".tmp-{}-{}", std::process::id(), unique_suffix()));
    std::fs::create_dir_all(&staging).map_err(|err| io_error("create", &staging, err))?;
    for (name, to) in &wanted {
        std::os::unix::fs::symlink(to, staging.join(name))
            .map_err(|err| io_error("fill", &staging, err))?;
    }
    // Replace an outdated directory; if another process won the race, use theirs.
    let _ = std::fs::remove_dir_all(&links);
    if std::fs::rename(&staging, &links).is_err() {
        let _ = std::fs::remove_dir_all(&staging);
        if !links.join(LIB_NAME).is_file() {
            return Err(io_error(
                "publish",
                &links,
                std::io::Error::other("rename failed"),
            ));
        }
    }
    Ok(links)
}

pub(crate) fn unique_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos())
        .unwrap_or(0)
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_dir_names_give_versions() {
        assert_eq!(
            version_from_dir_name(Path::new("/x/tensorflow-2.21.0")).as_deref(),
            Some("2.21.0")
        );
        assert_eq!(version_from_dir_name(Path::new("/x/tensorflow-abc")), None);
        assert_eq!(version_from_dir_name(Path::new("/x/links")), None);
        assert!(
            version_key(Path::new("tensorflow-2.21.0"))
                > version_key(Path::new("tensorflow-2.9.1"))
        );
    }

    #[test]
    fn wheel_layout_gets_a_link_dir_and_empty_dirs_are_not_usable() {
        let tmp = tempfile::tempdir().unwrap();
        let package = tmp.path().join("site-packages/tensorflow");
        std::fs::create_dir_all(&package).unwrap();
        assert_eq!(usable_dir(&package).unwrap(), None);
        std::fs::write(package.join(CC_LIB), b"\x7fELF").unwrap();
        std::fs::write(package.join(FRAMEWORK_LIB), b"\x7fELF").unwrap();
        let cache = tmp.path().join("cache");
        let links = link_dir(&cache, &package).unwrap();
        assert!(links.join(LIB_NAME).is_file());
        assert!(links.join(FRAMEWORK_LINK).is_file());
        // Reused the second time.
        assert_eq!(link_dir(&cache, &package).unwrap(), links);
        let direct = tmp.path().join("direct");
        std::fs::create_dir_all(&direct).unwrap();
        std::fs::write(direct.join(LIB_NAME), b"").unwrap();
        assert_eq!(usable_dir(&direct).unwrap(), Some(direct));
    }
}
