//! `variables/variables.index`: a LevelDB-format table (TensorFlow's TensorBundle)
//! mapping each checkpoint key to a `BundleEntryProto` (dtype, shape, shard, size).
//! We read it ourselves so the inspector can list variables without TensorFlow.

use super::dtype::DType;
use super::error::ModelError;
use crate::pb::tensorflow as tfpb;
use prost::Message;
use serde::{Deserialize, Serialize};
use std::path::Path;

const FOOTER_LEN: usize = 48;
const TABLE_MAGIC: u64 = 0xdb47_7524_8b80_fb57;
/// Each block is followed by a compression-type byte and a CRC32C.
const BLOCK_TRAILER_LEN: usize = 5;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct VariablesInfo {
    /// Bytes of all files in `variables/` (index + data shards).
    pub total_bytes: u64,
    pub shard_files: Vec<String>,
    /// Sorted by checkpoint key.
    pub variables: Vec<VariableInfo>,
    /// Why the index could not be read, when it could not (the tree stays usable).
    pub error: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct VariableInfo {
    /// Checkpoint key, e.g. `dense/kernel/.ATTRIBUTES/VARIABLE_VALUE`.
    pub name: String,
    pub dtype: DType,
    pub shape: Vec<i64>,
    pub size_bytes: u64,
    pub shard_id: i32,
    /// Where the tensor's bytes start in its data shard.
    pub offset: u64,
    /// The tensor's masked CRC32C as TensorFlow stored it (`BundleEntryProto.crc32c`):
    /// equal values mean equal bytes, so a diff sees value changes without TensorFlow.
    pub crc32c: u32,
}

/// Reads `variables/` under a SavedModel version directory. A missing folder gives
/// an empty listing with `error` set; it is not fatal for inspection.
pub fn read_variables_dir(version_dir: &Path) -> VariablesInfo {
    let dir = version_dir.join("variables");
    let mut info = VariablesInfo::default();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        info.error = Some(format!(
            "{} is missing; the model has no saved variables",
            dir.display()
        ));
        return info;
    };
    let mut shard_files = Vec::new();
    for entry in entries.flatten() {
        if let Ok(metadata) = entry.metadata()
            && metadata.is_file()
        {
            info.total_bytes += metadata.len();
            shard_files.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    shard_files.sort();
    info.shard_files = shard_files;
    let index = dir.join("variables.index");
    if !index.exists() {
        // Models without variables have no index at all; that is fine.
        return info;
    }
    match read_variables_index(&index) {
        Ok(variables) => info.variables = variables,
        Err(err) => info.error = Some(err.to_string()),
    }
    info
}

/// Parses a TensorBundle index file into its variable entries (header key skipped).
pub fn read_variables_index(path: &Path) -> Result<Vec<VariableInfo>, ModelError> {
    let bytes = std::fs::read(path).map_err(|source| ModelError::io(path, source))?;
    let fail = |reason: String| ModelError::VariablesIndex {
        path: path.to_path_buf(),
        reason,
    };
    let entries = read_table(&bytes).map_err(fail)?;
    let mut variables = Vec::new();
    for (key, value) in entries {
        if key.is_empty() {
            continue; // the BundleHeaderProto
        }
        let entry = tfpb::BundleEntryProto::decode(value.as_slice())
            .map_err(|err| fail(format!("entry {:?}: {err}", String::from_utf8_lossy(&key))))?;
        variables.push(VariableInfo {
            name: String::from_utf8_lossy(&key).into_owned(),
            dtype: DType(entry.dtype),
            shape: entry
                .shape
                .map(|shape| shape.dim.iter().map(|dim| dim.size).collect())
                .unwrap_or_default(),
            size_bytes: entry.size as u64,
            shard_id: entry.shard_id,
            offset: entry.offset as u64,
            crc32c: entry.crc32c,
        });
    }
    Ok(variables)
}

type Entry = (Vec<u8>, Vec<u8>);

/// Reads every key/value of an uncompressed LevelDB table held in memory.
fn read_table(bytes: &[u8]) -> Result<Vec<Entry>, String> {
    // The footer: two block handles padded to 40 bytes, then the 8-byte magic.
    let Some((_, footer)) = bytes.split_last_chunk::<FOOTER_LEN>() else {
        return Err(format!(
            "file is {} bytes, shorter than a table footer ({FOOTER_LEN})",
            bytes.len()
        ));
    };
    let [handles @ .., m0, m1, m2, m3, m4, m5, m6, m7] = *footer;
    let magic = u64::from_le_bytes([m0, m1, m2, m3, m4, m5, m6, m7]);
    if magic != TABLE_MAGIC {
        return Err(format!(
            "bad table magic {magic:#018x}; expected {TABLE_MAGIC:#018x}"
        ));
    }
    let mut cursor = &handles[..];
    let _metaindex = read_handle(&mut cursor)?;
    let index_handle = read_handle(&mut cursor)?;
    let index_block = block(bytes, index_handle)?;
    let mut entries = Vec::new();
    for (_, handle_bytes) in block_entries(index_block)? {
        let handle = read_handle(&mut handle_bytes.as_slice())?;
        entries.extend(block_entries(block(bytes, handle)?)?);
    }
    Ok(entries)
}

fn read_handle(cursor: &mut &[u8]) -> Result<(u64, u64), String> {
    Ok((read_varint(cursor)?, read_varint(cursor)?))
}

fn read_varint(cursor: &mut &[u8]) -> Result<u64, String> {
    let mut value: u64 = 0;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = cursor.split_first().ok_or("truncated varint")?;
        *cursor = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err("varint longer than 10 bytes".into())
}

/// The contents of one block; checks the handle against the file before slicing.
fn block(bytes: &[u8], (offset, size): (u64, u64)) -> Result<&[u8], String> {
    let end = offset.checked_add(size).ok_or("block handle overflows")?;
    let trailer_end = end
        .checked_add(BLOCK_TRAILER_LEN as u64)
        .ok_or("block handle overflows")?;
    if trailer_end > bytes.len() as u64 {
        return Err(format!(
            "block at {offset}+{size} runs past the end of the file ({} bytes)",
            bytes.len()
        ));
    }
    let compression = bytes[end as usize];
    if compression != 0 {
        return Err(format!(
            "block compression type {compression} is not supported (TensorFlow writes 0)"
        ));
    }
    Ok(&bytes[offset as usize..end as usize])
}

/// Decodes the prefix-compressed entries of a block (the restart array is skipped).
fn block_entries(block: &[u8]) -> Result<Vec<Entry>, String> {
    let Some((_, &restart_count)) = block.split_last_chunk::<4>() else {
        return Err("block shorter than its restart count".into());
    };
    let restarts = u32::from_le_bytes(restart_count) as usize;
    let restart_bytes = restarts
        .checked_mul(4)
        .and_then(|n| n.checked_add(4))
        .ok_or("restart count overflows")?;
    if restart_bytes > block.len() {
        return Err(format!(
            "block claims {restarts} restart points but has {} bytes",
            block.len()
        ));
    }
    let mut cursor = &block[..block.len() - restart_bytes];
    let mut entries: Vec<Entry> = Vec::new();
    let mut key: Vec<u8> = Vec::new();
    while !cursor.is_empty() {
        let shared = read_varint(&mut cursor)? as usize;
        let unshared = read_varint(&mut cursor)? as usize;
        let value_len = read_varint(&mut cursor)? as usize;
        if shared > key.len() {
            return Err(format!(
                "entry shares {shared} key bytes but the previous key has {}",
                key.len()
            ));
        }
        let needed = unshared
            .checked_add(value_len)
            .ok_or("entry length overflows")?;
        if needed > cursor.len() {
            return Err("entry runs past the end of its block".into());
        }
        key.truncate(shared);
        key.extend_from_slice(&cursor[..unshared]);
        let value = cursor[unshared..needed].to_vec();
        cursor = &cursor[needed..];
        entries.push((key.clone(), value));
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = read_table(&bytes);
        }

        #[test]
        fn random_bytes_with_valid_magic_never_panic(mut bytes in proptest::collection::vec(any::<u8>(), 48..512)) {
            let len = bytes.len();
            bytes[len - 8..].copy_from_slice(&TABLE_MAGIC.to_le_bytes());
            let _ = read_table(&bytes);
        }
    }

    #[test]
    fn short_file_names_the_footer() {
        let err = read_table(&[1, 2, 3]).unwrap_err();
        assert_eq!(err, "file is 3 bytes, shorter than a table footer (48)");
    }
}
