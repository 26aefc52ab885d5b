//! Version discovery on disk: the numeric version folders under a base path,
//! and a fingerprint of a folder's files to notice when a failed one changes.

use std::hash::{Hash, Hasher};
use std::path::Path;

/// The numeric version folders under `base_path` that hold a SavedModel, ascending.
pub(super) fn numeric_versions(base_path: &Path) -> std::io::Result<Vec<i64>> {
    let mut versions: Vec<i64> = std::fs::read_dir(base_path)?
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name();
            let name = name.to_str()?;
            if name.is_empty() || !name.bytes().all(|byte| byte.is_ascii_digit()) {
                return None;
            }
            let version: i64 = name.parse().ok()?;
            let dir = entry.path();
            (dir.join("saved_model.pb").is_file() || dir.join("saved_model.pbtxt").is_file())
                .then_some(version)
        })
        .collect();
    versions.sort_unstable();
    Ok(versions)
}

/// A hash of the file names, sizes and modification times under `dir`.
pub(super) fn folder_fingerprint(dir: &Path) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    let mut pending = vec![dir.to_path_buf()];
    let mut seen = 0usize;
    while let Some(current) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&current) else {
            continue;
        };
        let mut entries: Vec<_> = entries.flatten().collect();
        entries.sort_by_key(|entry| entry.file_name());
        for entry in entries {
            seen += 1;
            if seen > 10_000 {
                return hasher.finish();
            }
            let Ok(metadata) = entry.metadata() else {
                continue;
            };
            entry.path().hash(&mut hasher);
            metadata.len().hash(&mut hasher);
            metadata.modified().ok().hash(&mut hasher);
            if metadata.is_dir() {
                pending.push(entry.path());
            }
        }
    }
    hasher.finish()
}
