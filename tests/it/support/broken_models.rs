//! The broken model paths every loader is tried on (`tfprobe show`, the app), made in a
//! scratch folder where git cannot hold them (symlink loops, a folder named like a file),
//! with the words each loader's error must contain.

use std::path::Path;

pub struct BrokenModel {
    pub path: String,
    /// What `tfprobe show` (and the library's reader) must say.
    pub show_error: &'static str,
    /// What the app must say; the app also accepts images, so a plain file reads
    /// differently there.
    pub app_error: &'static str,
}

fn same(path: impl Into<String>, error: &'static str) -> BrokenModel {
    BrokenModel {
        path: path.into(),
        show_error: error,
        app_error: error,
    }
}

/// A copy of a fixture version in `dir`, to break on purpose.
pub fn broken_copy(dir: &Path, name: &str, break_it: impl FnOnce(&Path)) -> String {
    let copy = dir.join(name);
    super::copy_dir(&super::fixture("two_versions").join("1"), &copy);
    break_it(&copy);
    copy.display().to_string()
}

/// Every broken model case; the made ones live in `dir`. Paths are relative to the
/// repository root, as users type them.
#[cfg(unix)]
pub fn cases(dir: &Path) -> Vec<BrokenModel> {
    let self_link = dir.join("self");
    std::os::unix::fs::symlink(&self_link, &self_link).unwrap();
    let version_loop = dir.join("versions");
    std::fs::create_dir(&version_loop).unwrap();
    std::os::unix::fs::symlink(&version_loop, version_loop.join("1")).unwrap();
    let pb_is_a_folder = broken_copy(dir, "pb_folder", |copy| {
        std::fs::remove_file(copy.join("saved_model.pb")).unwrap();
        std::fs::create_dir(copy.join("saved_model.pb")).unwrap();
    });
    vec![
        BrokenModel {
            path: "tests/fixtures/models/broken/truncated".into(),
            show_error: "Cannot parse proto file tests/fixtures/models/broken/truncated/saved_model.pb",
            // The app opens absolute paths.
            app_error: "truncated/saved_model.pb: failed to decode Protobuf message",
        },
        same(
            "tests/fixtures/models/broken/garbage",
            "(the file is truncated, corrupt or not a SavedModel)",
        ),
        same(
            "tests/fixtures/models/broken/empty_pb",
            "saved_model.pb is empty (0 bytes); expected a serialized SavedModel protobuf",
        ),
        same(
            "tests/fixtures/models/broken/not_a_model",
            "expected a SavedModel directory holding saved_model.pb and variables/",
        ),
        BrokenModel {
            path: "tests/fixtures/models/broken/not_a_model/README.txt".into(),
            show_error: "README.txt is a file; expected a SavedModel directory",
            app_error: "README.txt is neither a SavedModel nor an image",
        },
        same(
            "tests/fixtures/models/does_not_exist",
            "no such file or directory",
        ),
        same(
            self_link.display().to_string(),
            "Too many levels of symbolic links",
        ),
        same(
            version_loop.display().to_string(),
            "or a base path with numeric version folders such as 1/",
        ),
        same(
            pb_is_a_folder,
            "expected a SavedModel directory holding saved_model.pb",
        ),
    ]
}
