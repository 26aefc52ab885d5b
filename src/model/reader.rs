//! Finding and reading a SavedModel on disk: a version directory (`.../1/` holding
//! `saved_model.pb`) or a TF-Serving base path (`.../resnet/` holding numeric
//! version folders, of which the highest is served by default).

use super::error::ModelError;
use super::functions::functions_from_object_graph;
use super::light;
use super::ops::ops_used_by_graph;
use super::tree::{
    AssetFile, FingerprintInfo, MetaGraphInfo, SavedModelInfo, signature_from_proto,
};
use super::variables::read_variables_dir;
use crate::pb::tensorflow as tfpb;
use prost::Message;
use std::path::{Path, PathBuf};

pub const SAVED_MODEL_PB: &str = "saved_model.pb";
pub const SAVED_MODEL_PBTXT: &str = "saved_model.pbtxt";
/// Protobuf cannot represent messages of 2 GiB or more; refuse before reading.
const MAX_SAVED_MODEL_BYTES: u64 = 2 * 1024 * 1024 * 1024 - 1;
/// Asset folders are listed, not trusted: bound the walk.
const MAX_ASSET_FILES: usize = 10_000;
const MAX_ASSET_DEPTH: usize = 8;

/// Where a SavedModel lives, resolved from what the user pointed at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelLocation {
    pub version_dir: PathBuf,
    pub base_path: Option<PathBuf>,
    /// Numeric version folders under `base_path`, ascending.
    pub versions: Vec<i64>,
    pub version: Option<i64>,
}

/// Resolves a version directory or a base path (highest numeric version wins).
pub fn locate(path: &Path) -> Result<ModelLocation, ModelError> {
    let metadata = std::fs::metadata(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => ModelError::NotFound {
            path: path.to_path_buf(),
        },
        _ => ModelError::io(path, source),
    })?;
    if metadata.is_file() {
        if path.file_name().is_some_and(|name| name == SAVED_MODEL_PB)
            && let Some(parent) = path.parent()
        {
            return locate(if parent.as_os_str().is_empty() {
                Path::new(".")
            } else {
                parent
            });
        }
        return Err(ModelError::NotADirectory {
            path: path.to_path_buf(),
        });
    }
    if has_saved_model(path) {
        return Ok(ModelLocation {
            version_dir: path.to_path_buf(),
            base_path: None,
            versions: Vec::new(),
            version: numeric_name(path),
        });
    }
    let versions = numeric_versions(path)?;
    match versions.last() {
        Some(&latest) => Ok(ModelLocation {
            version_dir: path.join(latest.to_string()),
            base_path: Some(path.to_path_buf()),
            versions,
            version: Some(latest),
        }),
        None => Err(ModelError::NotASavedModel {
            dir: path.to_path_buf(),
        }),
    }
}

/// The numeric version folders under a base path that hold a SavedModel, ascending.
pub fn numeric_versions(base_path: &Path) -> Result<Vec<i64>, ModelError> {
    let entries =
        std::fs::read_dir(base_path).map_err(|source| ModelError::io(base_path, source))?;
    let mut versions: Vec<i64> = entries
        .flatten()
        .filter_map(|entry| {
            let path = entry.path();
            let version = numeric_name(&path)?;
            (path.is_dir() && has_saved_model(&path)).then_some(version)
        })
        .collect();
    versions.sort_unstable();
    Ok(versions)
}

fn has_saved_model(dir: &Path) -> bool {
    dir.join(SAVED_MODEL_PB).is_file() || dir.join(SAVED_MODEL_PBTXT).is_file()
}

fn numeric_name(path: &Path) -> Option<i64> {
    let name = path.file_name()?.to_str()?;
    if name.is_empty() || !name.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    name.parse().ok()
}

/// Reads and decodes all of `saved_model.pb` from a version directory.
pub fn read_saved_model_proto(version_dir: &Path) -> Result<tfpb::SavedModel, ModelError> {
    let (pb_path, saved_model) = read_saved_model_as::<tfpb::SavedModel>(version_dir)?;
    if saved_model.meta_graphs.is_empty() {
        return Err(ModelError::NoMetaGraphs { path: pb_path });
    }
    Ok(saved_model)
}

/// `saved_model.pb` decoded as `M`: the full messages, or the light ones of [`super::light`].
fn read_saved_model_as<M: Message + Default>(
    version_dir: &Path,
) -> Result<(PathBuf, M), ModelError> {
    let pb_path = version_dir.join(SAVED_MODEL_PB);
    if !pb_path.is_file() {
        let pbtxt_path = version_dir.join(SAVED_MODEL_PBTXT);
        if pbtxt_path.is_file() {
            return Err(ModelError::TextFormatUnsupported { path: pbtxt_path });
        }
        return Err(ModelError::NotASavedModel {
            dir: version_dir.to_path_buf(),
        });
    }
    let size = std::fs::metadata(&pb_path)
        .map_err(|source| ModelError::io(&pb_path, source))?
        .len();
    if size == 0 {
        return Err(ModelError::EmptyFile { path: pb_path });
    }
    if size > MAX_SAVED_MODEL_BYTES {
        return Err(ModelError::Io {
            path: pb_path,
            reason: std::io::Error::other("file is 2 GiB or larger, beyond what protobuf can hold"),
        });
    }
    let bytes = std::fs::read(&pb_path).map_err(|source| ModelError::io(&pb_path, source))?;
    let saved_model = M::decode(bytes.as_slice()).map_err(|reason| ModelError::Corrupt {
        path: pb_path.clone(),
        reason,
    })?;
    Ok((pb_path, saved_model))
}

/// Opens a SavedModel (version directory or base path) and builds its full tree.
pub fn open(path: &Path) -> Result<SavedModelInfo, ModelError> {
    let location = locate(path)?;
    let (pb_path, proto) = read_saved_model_as::<light::SavedModel>(&location.version_dir)?;
    if proto.meta_graphs.is_empty() {
        return Err(ModelError::NoMetaGraphs { path: pb_path });
    }
    Ok(build_tree(location, &proto, true))
}

/// The tree with tags and signatures only (no op set, functions, variables, assets or
/// fingerprint): what `show`'s tag-set, signature-key and signature views print, read
/// without decoding the graph.
pub fn open_signatures(path: &Path) -> Result<SavedModelInfo, ModelError> {
    let location = locate(path)?;
    let (pb_path, proto) =
        read_saved_model_as::<light::signatures::SavedModel>(&location.version_dir)?;
    if proto.meta_graphs.is_empty() {
        return Err(ModelError::NoMetaGraphs { path: pb_path });
    }
    let proto = light::SavedModel {
        saved_model_schema_version: proto.saved_model_schema_version,
        meta_graphs: proto
            .meta_graphs
            .into_iter()
            .map(|meta_graph| light::MetaGraphDef {
                meta_info_def: meta_graph.meta_info_def,
                graph_def: None,
                signature_def: meta_graph.signature_def,
                object_graph_def: None,
            })
            .collect(),
    };
    Ok(build_tree(location, &proto, false))
}

/// `with_files`: also read the variables index, the assets and the fingerprint.
fn build_tree(
    location: ModelLocation,
    proto: &light::SavedModel,
    with_files: bool,
) -> SavedModelInfo {
    let meta_graphs = proto.meta_graphs.iter().map(meta_graph_info).collect();
    let functions = proto
        .meta_graphs
        .iter()
        .find_map(|meta_graph| meta_graph.object_graph_def.as_ref())
        .map(functions_from_object_graph)
        .unwrap_or_default();
    let dir = &location.version_dir;
    SavedModelInfo {
        path: dir.clone(),
        base_path: location.base_path,
        versions: location.versions,
        version: location.version,
        saved_model_schema_version: proto.saved_model_schema_version,
        meta_graphs,
        has_object_graph: proto
            .meta_graphs
            .iter()
            .any(|meta_graph| meta_graph.object_graph_def.is_some()),
        functions,
        assets: if with_files {
            list_files(&dir.join("assets"))
        } else {
            Vec::new()
        },
        assets_extra: if with_files {
            list_files(&dir.join("assets.extra"))
        } else {
            Vec::new()
        },
        variables: if with_files {
            read_variables_dir(dir)
        } else {
            Default::default()
        },
        fingerprint: if with_files {
            read_fingerprint(dir)
        } else {
            None
        },
    }
}

fn meta_graph_info(meta_graph: &light::MetaGraphDef) -> MetaGraphInfo {
    let meta_info = meta_graph.meta_info_def.clone().unwrap_or_default();
    let mut signatures: Vec<_> = meta_graph
        .signature_def
        .iter()
        .map(|(key, signature)| signature_from_proto(key, signature))
        .collect();
    signatures.sort_by(|a, b| a.key.cmp(&b.key));
    MetaGraphInfo {
        tags: meta_info.tags,
        tensorflow_version: meta_info.tensorflow_version,
        tensorflow_git_version: meta_info.tensorflow_git_version,
        signatures,
        ops: meta_graph
            .graph_def
            .as_ref()
            .map(ops_used_by_graph)
            .unwrap_or_default(),
    }
}

fn read_fingerprint(dir: &Path) -> Option<FingerprintInfo> {
    let bytes = std::fs::read(dir.join("fingerprint.pb")).ok()?;
    let fingerprint = tfpb::FingerprintDef::decode(bytes.as_slice()).ok()?;
    Some(FingerprintInfo {
        saved_model_checksum: fingerprint.saved_model_checksum,
        graph_def_program_hash: fingerprint.graph_def_program_hash,
        signature_def_hash: fingerprint.signature_def_hash,
        saved_object_graph_hash: fingerprint.saved_object_graph_hash,
        checkpoint_hash: fingerprint.checkpoint_hash,
    })
}

/// Regular files under `dir`, relative paths sorted; symlinked folders are not
/// followed (a model folder is untrusted input and may hold loops).
fn list_files(dir: &Path) -> Vec<AssetFile> {
    let mut files = Vec::new();
    let mut pending = vec![(dir.to_path_buf(), 0usize)];
    while let Some((current, depth)) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&current) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(file_type) = entry.file_type() else {
                continue;
            };
            let path = entry.path();
            if file_type.is_dir() {
                if depth + 1 < MAX_ASSET_DEPTH {
                    pending.push((path, depth + 1));
                }
            } else if files.len() < MAX_ASSET_FILES {
                let size_bytes = std::fs::metadata(&path)
                    .map(|metadata| metadata.len())
                    .unwrap_or(0);
                let relative = path.strip_prefix(dir).unwrap_or(&path);
                files.push(AssetFile {
                    relative_path: relative.to_string_lossy().into_owned(),
                    size_bytes,
                });
            }
        }
    }
    files.sort_by(|a, b| a.relative_path.cmp(&b.relative_path));
    files
}
