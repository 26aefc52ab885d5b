//! `tfprobe diff`: two versions that differ in one variable's value name exactly that
//! variable (found through the crc32c in `variables.index`), the text is pinned, the
//! JSON fields hold real values, and the exit code says same (0), differs (1), error (2).

use crate::support::{copy_dir, fixture};
use std::ffi::OsStr;
use std::path::PathBuf;
use std::process::Command;
use tfprobe::model;

pub const W: &str = "w/.ATTRIBUTES/VARIABLE_VALUE";

/// CRC-32C (Castagnoli), bit by bit: small, and independent of the code under test.
fn crc32c(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0x82f6_3b78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// The masking TensorFlow and LevelDB apply to stored CRCs.
fn masked(crc: u32) -> u32 {
    crc.rotate_right(15).wrapping_add(0xa282_ead8)
}

/// A base path with versions 1 and 2, copies of `two_versions/1`, where version 2's
/// `w` holds another value: its bytes in the data shard, its crc32c in the index entry
/// and the index block's own checksum are all rewritten, as TensorFlow would write them.
pub fn base_with_one_changed_variable() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("model");
    copy_dir(&fixture("two_versions/1"), &base.join("1"));
    copy_dir(&fixture("two_versions/1"), &base.join("2"));
    let variables = base.join("2/variables");
    let entry = model::read_variables_index(&variables.join("variables.index"))
        .unwrap()
        .into_iter()
        .find(|variable| variable.name == W)
        .unwrap();
    assert_eq!(entry.size_bytes, 4, "w is one float");

    let data_path = variables.join("variables.data-00000-of-00001");
    let mut data = std::fs::read(&data_path).unwrap();
    let range = entry.offset as usize..entry.offset as usize + 4;
    // The stored checksum is the masked CRC32C of the tensor's bytes.
    assert_eq!(masked(crc32c(&data[range.clone()])), entry.crc32c);
    let old_value = f32::from_le_bytes(data[range.clone()].try_into().unwrap());
    let new_bytes = (old_value + 1.5).to_le_bytes();
    data[range].copy_from_slice(&new_bytes);
    std::fs::write(&data_path, &data).unwrap();

    let index_path = variables.join("variables.index");
    let mut index = std::fs::read(&index_path).unwrap();
    // crc32c is field 6, fixed32: tag byte 0x35 then 4 little-endian bytes.
    let mut old_field = vec![0x35];
    old_field.extend_from_slice(&entry.crc32c.to_le_bytes());
    let at = index
        .windows(5)
        .position(|window| window == old_field.as_slice())
        .unwrap();
    assert_eq!(
        index
            .windows(5)
            .filter(|w| *w == old_field.as_slice())
            .count(),
        1
    );
    index[at + 1..at + 5].copy_from_slice(&masked(crc32c(&new_bytes)).to_le_bytes());
    // The data block starting at 0 ends where its trailer's masked CRC of the block
    // plus its type byte matches; fix the checksum of the block that was patched.
    let original = std::fs::read(&index_path).unwrap();
    let block_len = (at + 5..index.len() - 4)
        .find(|&len| {
            let stored = u32::from_le_bytes(original[len + 1..len + 5].try_into().unwrap());
            original[len] == 0 && masked(crc32c(&original[..len + 1])) == stored
        })
        .expect("the data block's trailer");
    let fixed = masked(crc32c(&index[..block_len + 1]));
    index[block_len + 1..block_len + 5].copy_from_slice(&fixed.to_le_bytes());
    std::fs::write(&index_path, &index).unwrap();
    (dir, base)
}

fn tfprobe(args: &[&OsStr]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tfprobe"))
        .arg("diff")
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn versions_differing_in_one_value_name_exactly_that_variable() {
    let (_dir, base) = base_with_one_changed_variable();
    let output = Command::new(env!("CARGO_BIN_EXE_tfprobe"))
        .arg("diff")
        .arg(&base)
        .args(["--versions", "1", "2"])
        .output()
        .unwrap();
    let expected = format!(
        "A: {}\nB: {}\nsignatures: no change\nops: no change\nvariables:\n  ~ {W}: values changed\n\
         assets: no change\nparameters: 2 -> 2 (+0)\n1 difference.\n",
        base.join("1").display(),
        base.join("2").display()
    );
    assert_eq!(String::from_utf8_lossy(&output.stdout), expected);
    assert_eq!(output.status.code(), Some(1), "differs: exit 1");
}

#[test]
fn json_lists_the_changed_variable_and_nothing_else() {
    let (_dir, base) = base_with_one_changed_variable();
    let output = tfprobe(&[
        base.join("1").as_os_str(),
        base.join("2").as_os_str(),
        OsStr::new("--json"),
    ]);
    assert_eq!(output.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["variables_values_changed"], serde_json::json!([W]));
    for empty in [
        "signatures_added",
        "signatures_removed",
        "signatures_changed",
        "ops_added",
        "ops_removed",
        "variables_added",
        "variables_removed",
        "variables_reshaped",
        "assets_changed",
    ] {
        assert_eq!(json[empty], serde_json::json!([]), "{empty}");
    }
    assert_eq!(json["parameters_a"], 2);
    assert_eq!(json["parameter_delta"], 0);
    assert_eq!(json["b"], base.join("2").display().to_string());
}

#[test]
fn a_model_against_itself_is_the_same_and_exits_0() {
    let path = fixture("seedlike");
    let output = tfprobe(&[path.as_os_str(), path.as_os_str()]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.ends_with("parameters: 33257 -> 33257 (+0)\nThe models are the same.\n"),
        "{text}"
    );
    assert_eq!(output.status.code(), Some(0));
}

#[test]
fn signatures_ops_variables_and_assets_of_different_models() {
    let diff = tfprobe::workflow::diff::diff_paths(&fixture("two_versions"), &fixture("seedlike"))
        .unwrap();
    assert_eq!(diff.signatures_added, ["predict"]);
    assert!(diff.signatures_removed.is_empty());
    let serving = &diff.signatures_changed[0];
    assert_eq!(serving.key, "serving_default");
    let keys: Vec<(&str, bool, bool)> = serving
        .inputs
        .iter()
        .map(|change| (change.key.as_str(), change.a.is_some(), change.b.is_some()))
        .collect();
    assert_eq!(keys, [("image_bytes", false, true), ("x", true, false)]);
    let probabilities = serving
        .outputs
        .iter()
        .find(|change| change.key == "probabilities")
        .unwrap();
    let side = probabilities.b.as_ref().unwrap();
    assert_eq!(
        (side.dtype.as_str(), side.shape.as_str()),
        ("DT_FLOAT", "(-1, 1001)")
    );
    assert!(
        diff.ops_added.contains(&"Conv2D".to_string()),
        "{:?}",
        diff.ops_added
    );
    assert_eq!(diff.ops_removed, ["Mul"]);
    assert_eq!(diff.variables_removed, ["b/.ATTRIBUTES/VARIABLE_VALUE", W]);
    assert_eq!(diff.assets_added, ["assets/labels.txt"]);
    assert_eq!((diff.parameters_a, diff.parameters_b), (2, 33257));
    assert_eq!(diff.parameter_delta, 33255);
}

#[test]
fn a_changed_asset_is_found_by_its_content() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    copy_dir(&fixture("seedlike/1538687457"), &a);
    copy_dir(&fixture("seedlike/1538687457"), &b);
    let labels = b.join("assets/labels.txt");
    let mut text = std::fs::read(&labels).unwrap();
    // Same size, other content: only the hash can tell.
    text[0] = if text[0] == b'x' { b'y' } else { b'x' };
    std::fs::write(&labels, text).unwrap();
    let diff = tfprobe::workflow::diff::diff_paths(&a, &b).unwrap();
    assert_eq!(diff.assets_changed, ["assets/labels.txt"]);
    assert_eq!(diff.difference_count(), 1);
}

#[test]
fn a_missing_version_is_an_error_that_lists_the_versions_and_exits_2() {
    let output = Command::new(env!("CARGO_BIN_EXE_tfprobe"))
        .arg("diff")
        .arg(fixture("two_versions"))
        .args(["--versions", "1", "3"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        format!(
            "error: version 3 is not a SavedModel folder under {}; it holds versions 1, 2\n",
            fixture("two_versions").display()
        )
    );
    assert!(output.stdout.is_empty());
}
