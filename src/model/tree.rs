//! The signature tree: a serialisable picture of a SavedModel that every front end
//! (CLI text, JSON, GUI, server metadata, remote metadata) shares.

use super::dtype::DType;
use super::functions::FunctionInfo;
use super::variables::VariablesInfo;
use crate::pb::tensorflow as tfpb;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Everything tfprobe knows about one SavedModel version.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SavedModelInfo {
    /// The version directory that holds `saved_model.pb`.
    pub path: PathBuf,
    /// The TF-Serving base path when the model was opened through one.
    pub base_path: Option<PathBuf>,
    /// The numeric version folders found under `base_path` (ascending).
    pub versions: Vec<i64>,
    /// The version this tree describes (the folder name, when numeric).
    pub version: Option<i64>,
    pub saved_model_schema_version: i64,
    pub meta_graphs: Vec<MetaGraphInfo>,
    /// Whether any MetaGraph carries a SavedObjectGraph (TF2 SavedModels do); only
    /// then does `show --all` print a `Concrete Functions:` section.
    pub has_object_graph: bool,
    /// Functions saved in the object graph (the `Concrete Functions:` section).
    pub functions: Vec<FunctionInfo>,
    pub assets: Vec<AssetFile>,
    pub assets_extra: Vec<AssetFile>,
    pub variables: VariablesInfo,
    pub fingerprint: Option<FingerprintInfo>,
}

impl SavedModelInfo {
    /// The MetaGraph that serving uses: the one tagged exactly `serve`, else the first.
    pub fn serving_meta_graph(&self) -> Option<&MetaGraphInfo> {
        self.meta_graph(&["serve"])
            .or_else(|| self.meta_graphs.first())
    }

    /// The MetaGraph whose tag set equals `tags` (order-insensitive).
    pub fn meta_graph(&self, tags: &[&str]) -> Option<&MetaGraphInfo> {
        let mut wanted: Vec<&str> = tags.to_vec();
        wanted.sort_unstable();
        self.meta_graphs.iter().find(|meta_graph| {
            let mut have: Vec<&str> = meta_graph.tags.iter().map(String::as_str).collect();
            have.sort_unstable();
            have == wanted
        })
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MetaGraphInfo {
    /// Tags in the order the file lists them (saved_model_cli prints them so).
    pub tags: Vec<String>,
    pub tensorflow_version: String,
    pub tensorflow_git_version: String,
    /// Sorted by key, like saved_model_cli.
    pub signatures: Vec<SignatureInfo>,
    /// Op types the graph uses (sorted), as `saved_model_cli show --all` lists them.
    pub ops: Vec<String>,
}

impl MetaGraphInfo {
    pub fn signature(&self, key: &str) -> Option<&SignatureInfo> {
        self.signatures
            .iter()
            .find(|signature| signature.key == key)
    }

    pub fn signature_keys(&self) -> Vec<&str> {
        self.signatures
            .iter()
            .map(|signature| signature.key.as_str())
            .collect()
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SignatureInfo {
    pub key: String,
    pub method_name: String,
    /// Sorted by key.
    pub inputs: Vec<TensorInfoView>,
    /// Sorted by key.
    pub outputs: Vec<TensorInfoView>,
}

impl SignatureInfo {
    pub fn input(&self, key: &str) -> Option<&TensorInfoView> {
        self.inputs.iter().find(|tensor| tensor.key == key)
    }

    pub fn output(&self, key: &str) -> Option<&TensorInfoView> {
        self.outputs.iter().find(|tensor| tensor.key == key)
    }
}

/// One input or output of a signature.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TensorInfoView {
    pub key: String,
    pub dtype: DType,
    pub shape: Shape,
    /// Graph tensor name such as `serving_default_x:0` (empty for composite tensors).
    pub name: String,
}

impl TensorInfoView {
    /// A tensor of dtype number `dtype` and shape `sizes`, named `KEY:0` (for tests).
    #[cfg(test)]
    pub(crate) fn for_test(key: &str, dtype: i32, sizes: &[i64]) -> TensorInfoView {
        TensorInfoView {
            key: key.into(),
            dtype: DType(dtype),
            shape: Shape::from_sizes(sizes),
            name: format!("{key}:0"),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Shape {
    #[default]
    UnknownRank,
    /// Known rank; a dimension of -1 is unknown. Empty means a scalar.
    Dims(Vec<Dim>),
}

impl Shape {
    pub fn from_sizes(sizes: &[i64]) -> Shape {
        Shape::Dims(
            sizes
                .iter()
                .map(|&size| Dim {
                    size,
                    name: String::new(),
                })
                .collect(),
        )
    }

    pub fn rank(&self) -> Option<usize> {
        match self {
            Shape::UnknownRank => None,
            Shape::Dims(dims) => Some(dims.len()),
        }
    }

    pub fn sizes(&self) -> Option<Vec<i64>> {
        match self {
            Shape::UnknownRank => None,
            Shape::Dims(dims) => Some(dims.iter().map(|dim| dim.size).collect()),
        }
    }

    /// `(-1, 1001)` as saved_model_cli prints it; `unknown_rank` when the rank is unknown.
    pub fn cli_text(&self) -> String {
        match self {
            Shape::UnknownRank => "unknown_rank".to_string(),
            Shape::Dims(dims) => {
                let sizes: Vec<String> = dims.iter().map(|dim| dim.size.to_string()).collect();
                format!("({})", sizes.join(", "))
            }
        }
    }

    pub fn from_proto(proto: Option<&tfpb::TensorShapeProto>) -> Shape {
        match proto {
            // A TensorInfo without a shape parses to the default TensorShapeProto:
            // known rank 0. saved_model_cli prints that as `()`, and so do we.
            None => Shape::Dims(Vec::new()),
            Some(shape) if shape.unknown_rank => Shape::UnknownRank,
            Some(shape) => Shape::Dims(
                shape
                    .dim
                    .iter()
                    .map(|dim| Dim {
                        size: dim.size,
                        name: dim.name.clone(),
                    })
                    .collect(),
            ),
        }
    }

    pub fn to_proto(&self) -> tfpb::TensorShapeProto {
        match self {
            Shape::UnknownRank => tfpb::TensorShapeProto {
                dim: Vec::new(),
                unknown_rank: true,
            },
            Shape::Dims(dims) => tfpb::TensorShapeProto {
                dim: dims
                    .iter()
                    .map(|dim| tfpb::tensor_shape_proto::Dim {
                        size: dim.size,
                        name: dim.name.clone(),
                    })
                    .collect(),
                unknown_rank: false,
            },
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Dim {
    pub size: i64,
    pub name: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AssetFile {
    /// Path relative to the `assets/` or `assets.extra/` folder.
    pub relative_path: String,
    pub size_bytes: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FingerprintInfo {
    pub saved_model_checksum: u64,
    pub graph_def_program_hash: u64,
    pub signature_def_hash: u64,
    pub saved_object_graph_hash: u64,
    pub checkpoint_hash: u64,
}

/// Builds our view of one `SignatureDef`; inputs and outputs sorted by key.
pub fn signature_from_proto(key: &str, proto: &tfpb::SignatureDef) -> SignatureInfo {
    SignatureInfo {
        key: key.to_string(),
        method_name: proto.method_name.clone(),
        inputs: tensor_views(&proto.inputs),
        outputs: tensor_views(&proto.outputs),
    }
}

fn tensor_views<'a>(
    map: impl IntoIterator<Item = (&'a String, &'a tfpb::TensorInfo)>,
) -> Vec<TensorInfoView> {
    let mut views: Vec<TensorInfoView> = map
        .into_iter()
        .map(|(key, info)| TensorInfoView {
            key: key.clone(),
            dtype: DType(info.dtype),
            shape: Shape::from_proto(info.tensor_shape.as_ref()),
            name: match &info.encoding {
                Some(tfpb::tensor_info::Encoding::Name(name)) => name.clone(),
                _ => String::new(),
            },
        })
        .collect();
    views.sort_by(|a, b| a.key.cmp(&b.key));
    views
}

impl SignatureInfo {
    /// Back to a `SignatureDef` (for TF Serving's metadata answers).
    pub fn to_proto(&self) -> tfpb::SignatureDef {
        let to_map = |views: &[TensorInfoView]| {
            views
                .iter()
                .map(|view| {
                    let info = tfpb::TensorInfo {
                        dtype: view.dtype.0,
                        tensor_shape: Some(view.shape.to_proto()),
                        encoding: Some(tfpb::tensor_info::Encoding::Name(view.name.clone())),
                    };
                    (view.key.clone(), info)
                })
                .collect()
        };
        tfpb::SignatureDef {
            inputs: to_map(&self.inputs),
            outputs: to_map(&self.outputs),
            method_name: self.method_name.clone(),
            ..Default::default()
        }
    }
}
