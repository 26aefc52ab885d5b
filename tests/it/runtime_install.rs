//! Installing the runtime: from a wheel file into a fresh cache, concurrently (the lock),
//! idempotently, atomically; and the real install/discovery of the machine's runtime.

use crate::support::tf;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Barrier};
use tfprobe::runtime::discovery::{
    self, CC_LIB, FRAMEWORK_LIB, FRAMEWORK_LINK, LIB_NAME, MARKER_FILE,
};
use tfprobe::runtime::install::{InstallOptions, InstallProgress, install_with};

/// A stand-in wheel holding the two library names (and some other file).
fn fake_wheel(path: &Path) {
    let file = std::fs::File::create(path).unwrap();
    let mut zip = zip::ZipWriter::new(file);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, size) in [
        ("tensorflow/__init__.py", 10),
        (&*format!("tensorflow/{CC_LIB}"), 3_000_000),
        (&*format!("tensorflow/{FRAMEWORK_LIB}"), 1000),
    ] {
        zip.start_file(name, options).unwrap();
        let content: Vec<u8> = (0..size).map(|index| (index % 251) as u8).collect();
        zip.write_all(&content).unwrap();
    }
    zip.finish().unwrap();
}

#[test]
fn parallel_installs_from_a_wheel_end_with_one_complete_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let wheel = tmp.path().join("tensorflow_cpu-9.9.9-cp311-none-any.whl");
    fake_wheel(&wheel);
    let root = tmp.path().join("cache");
    let mut options = InstallOptions::new("9.9.9");
    options.cache_root = Some(root.clone());
    options.wheel = Some(wheel);
    let start = Arc::new(Barrier::new(4));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let options = options.clone();
            let start = start.clone();
            std::thread::spawn(move || {
                start.wait();
                let mut events = Vec::new();
                let location = install_with(&options, |event| events.push(event)).unwrap();
                (location, events)
            })
        })
        .collect();
    let results: Vec<_> = threads
        .into_iter()
        .map(|thread| thread.join().unwrap())
        .collect();
    let finished = results
        .iter()
        .filter(|(_, events)| {
            events
                .iter()
                .any(|e| matches!(e, InstallProgress::Finished { .. }))
        })
        .count();
    assert_eq!(
        finished, 1,
        "exactly one thread installs; the others find it done"
    );
    let dir = discovery::cache_dir_for(&root, "9.9.9");
    for (location, _) in &results {
        assert_eq!(location.dir, dir);
        assert_eq!(location.version.as_deref(), Some("9.9.9"));
    }
    assert_eq!(
        std::fs::metadata(dir.join(CC_LIB)).unwrap().len(),
        3_000_000
    );
    assert_eq!(
        std::fs::read_link(dir.join(LIB_NAME)).unwrap(),
        Path::new(CC_LIB)
    );
    assert_eq!(
        std::fs::read_link(dir.join(FRAMEWORK_LINK)).unwrap(),
        Path::new(FRAMEWORK_LIB)
    );
    assert!(
        std::fs::read_to_string(dir.join(MARKER_FILE))
            .unwrap()
            .contains("version=9.9.9")
    );
    assert!(discovery::is_installed(&dir));
    // Nothing else is left in the cache: no staging directory, no wheel.
    let mut names: Vec<String> = std::fs::read_dir(&root)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, [".install.lock", "tensorflow-9.9.9"]);
    // A second install is instant and says so.
    let started = std::time::Instant::now();
    let mut events = Vec::new();
    install_with(&options, |event| events.push(event)).unwrap();
    assert!(started.elapsed().as_millis() < 100);
    assert!(
        matches!(
            events.as_slice(),
            [InstallProgress::AlreadyInstalled { .. }]
        ),
        "{events:?}"
    );
}

#[test]
fn a_wheel_without_the_libraries_leaves_nothing_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let wheel = tmp.path().join("other.whl");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&wheel).unwrap());
    zip.start_file(
        "numpy/__init__.py",
        zip::write::SimpleFileOptions::default(),
    )
    .unwrap();
    zip.write_all(b"x").unwrap();
    zip.finish().unwrap();
    let mut options = InstallOptions::new("9.9.8");
    options.cache_root = Some(tmp.path().join("cache"));
    options.wheel = Some(wheel);
    let err = install_with(&options, |_| {}).unwrap_err();
    assert!(err.to_string().contains("holds no tensorflow/"), "{err}");
    let names: Vec<_> = std::fs::read_dir(tmp.path().join("cache"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(names, [".install.lock"]);
}

#[test]
fn the_real_runtime_is_installed_found_and_reports_its_version() {
    let loaded = tf::ensure_runtime();
    assert!(
        loaded.version.starts_with("2."),
        "TF_Version() = {}",
        loaded.version
    );
    assert!(loaded.location.library_path().is_file());
    // Installing the default version again (it is there, or another source won) is quick
    // when the cache holds it.
    if loaded.location.source == discovery::RuntimeSource::Cache {
        let started = std::time::Instant::now();
        tfprobe::runtime::install::install(discovery::DEFAULT_VERSION, |_| {}).unwrap();
        assert!(started.elapsed().as_secs() < 2);
    }
}
