//! What changed between two SavedModels: signatures, ops, variables (shape, size and,
//! through the checksum TensorFlow stores in `variables.index`, values), the parameter
//! count and assets. Built from two signature trees, without TensorFlow; every front end
//! (`tfprobe diff`, the app's compare window) renders this one struct.

use super::tree::{MetaGraphInfo, SavedModelInfo, SignatureInfo, TensorInfoView};
use super::variables::VariableInfo;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The TensorBundle key that holds the object graph, not a tensor of the model.
const OBJECT_GRAPH_KEY: &str = "_CHECKPOINTABLE_OBJECT_GRAPH";
/// Keras exports store every variable a second time under this prefix.
const ALL_VARIABLES_PREFIX: &str = "_all_variables/";

/// Every difference between model A and model B (B is the newer one by convention).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ModelDiff {
    /// The version folder of A.
    pub a: PathBuf,
    /// The version folder of B.
    pub b: PathBuf,
    pub signatures_added: Vec<String>,
    pub signatures_removed: Vec<String>,
    pub signatures_changed: Vec<SignatureChange>,
    pub ops_added: Vec<String>,
    pub ops_removed: Vec<String>,
    pub variables_added: Vec<String>,
    pub variables_removed: Vec<String>,
    /// Variables whose dtype, shape or stored size differ.
    pub variables_reshaped: Vec<VariableChange>,
    /// Variables of the same dtype and shape whose stored checksum differs.
    pub variables_values_changed: Vec<String>,
    pub parameters_a: u64,
    pub parameters_b: u64,
    pub parameter_delta: i64,
    pub assets_added: Vec<String>,
    pub assets_removed: Vec<String>,
    /// Assets present in both whose content hash differs.
    pub assets_changed: Vec<String>,
}

impl ModelDiff {
    /// How many separate differences there are (0: the models are the same).
    pub fn difference_count(&self) -> usize {
        self.signatures_added.len()
            + self.signatures_removed.len()
            + self.signatures_changed.len()
            + self.ops_added.len()
            + self.ops_removed.len()
            + self.variables_added.len()
            + self.variables_removed.len()
            + self.variables_reshaped.len()
            + self.variables_values_changed.len()
            + self.assets_added.len()
            + self.assets_removed.len()
            + self.assets_changed.len()
    }

    pub fn is_same(&self) -> bool {
        self.difference_count() == 0
    }
}

/// One signature present in both models whose method, inputs or outputs differ.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SignatureChange {
    pub key: String,
    /// `(A's, B's)` method name, when it changed.
    pub method: Option<(String, String)>,
    pub inputs: Vec<TensorChange>,
    pub outputs: Vec<TensorChange>,
}

/// An input or output that was added, removed or changed dtype or shape.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TensorChange {
    pub key: String,
    /// `None` when the tensor is new in B.
    pub a: Option<TensorSide>,
    /// `None` when the tensor is gone in B.
    pub b: Option<TensorSide>,
}

/// A tensor's dtype and shape as `show` prints them (`DT_FLOAT`, `(-1, 224)`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TensorSide {
    pub dtype: String,
    pub shape: String,
}

/// A variable whose dtype, shape or size differs between A and B.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct VariableChange {
    pub name: String,
    pub dtype_a: String,
    pub dtype_b: String,
    pub shape_a: Vec<i64>,
    pub shape_b: Vec<i64>,
    pub size_bytes_a: u64,
    pub size_bytes_b: u64,
}

/// An asset file's path (under `assets/` or `assets.extra/`) and content hash.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AssetDigest {
    /// `assets/labels.txt`, `assets.extra/tf_serving_warmup_requests`.
    pub path: String,
    /// 64-bit FNV-1a of the file's bytes; `None` when the file could not be read.
    pub fnv1a64: Option<u64>,
}

/// Hashes every asset the tree lists (files are read in chunks, never whole).
pub fn asset_digests(info: &SavedModelInfo) -> Vec<AssetDigest> {
    let folders = [
        ("assets", &info.assets),
        ("assets.extra", &info.assets_extra),
    ];
    let mut digests = Vec::new();
    for (folder, files) in folders {
        for file in files.iter() {
            let full = info.path.join(folder).join(&file.relative_path);
            digests.push(AssetDigest {
                path: format!("{folder}/{}", file.relative_path),
                fnv1a64: fnv1a64_file(&full),
            });
        }
    }
    digests
}

fn fnv1a64_file(path: &Path) -> Option<u64> {
    let mut file = std::fs::File::open(path).ok()?;
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let read = file.read(&mut buffer).ok()?;
        if read == 0 {
            return Some(hash);
        }
        for &byte in &buffer[..read] {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

/// Compares two opened models; `assets_a`/`assets_b` come from [`asset_digests`].
pub fn diff(
    a: &SavedModelInfo,
    b: &SavedModelInfo,
    assets_a: &[AssetDigest],
    assets_b: &[AssetDigest],
) -> ModelDiff {
    let empty = MetaGraphInfo::default();
    let graph_a = a.serving_meta_graph().unwrap_or(&empty);
    let graph_b = b.serving_meta_graph().unwrap_or(&empty);
    let mut out = ModelDiff {
        a: a.path.clone(),
        b: b.path.clone(),
        ..ModelDiff::default()
    };
    diff_signatures(&graph_a.signatures, &graph_b.signatures, &mut out);
    (out.ops_added, out.ops_removed) = added_removed(&graph_a.ops, &graph_b.ops);
    diff_variables(&a.variables.variables, &b.variables.variables, &mut out);
    out.parameters_a = parameter_count(&a.variables.variables);
    out.parameters_b = parameter_count(&b.variables.variables);
    out.parameter_delta = out.parameters_b as i64 - out.parameters_a as i64;
    let by_path = |digests: &[AssetDigest]| -> BTreeMap<String, Option<u64>> {
        digests
            .iter()
            .map(|digest| (digest.path.clone(), digest.fnv1a64))
            .collect()
    };
    let (map_a, map_b) = (by_path(assets_a), by_path(assets_b));
    for (path, hash_a) in &map_a {
        match map_b.get(path) {
            None => out.assets_removed.push(path.clone()),
            // An unreadable file on either side cannot be shown equal.
            Some(hash_b) if hash_b != hash_a || hash_a.is_none() => {
                out.assets_changed.push(path.clone());
            }
            Some(_) => {}
        }
    }
    out.assets_added = map_b
        .keys()
        .filter(|path| !map_a.contains_key(*path))
        .cloned()
        .collect();
    out
}

/// Names in `b` but not `a`, and in `a` but not `b`, each sorted.
fn added_removed(a: &[String], b: &[String]) -> (Vec<String>, Vec<String>) {
    let mut added: Vec<String> = b.iter().filter(|x| !a.contains(x)).cloned().collect();
    let mut removed: Vec<String> = a.iter().filter(|x| !b.contains(x)).cloned().collect();
    added.sort();
    removed.sort();
    (added, removed)
}

fn diff_signatures(a: &[SignatureInfo], b: &[SignatureInfo], out: &mut ModelDiff) {
    let keys = |signatures: &[SignatureInfo]| -> Vec<String> {
        signatures.iter().map(|s| s.key.clone()).collect()
    };
    (out.signatures_added, out.signatures_removed) = added_removed(&keys(a), &keys(b));
    for old in a {
        let Some(new) = b.iter().find(|signature| signature.key == old.key) else {
            continue;
        };
        let change = SignatureChange {
            key: old.key.clone(),
            method: (old.method_name != new.method_name)
                .then(|| (old.method_name.clone(), new.method_name.clone())),
            inputs: diff_tensors(&old.inputs, &new.inputs),
            outputs: diff_tensors(&old.outputs, &new.outputs),
        };
        if change.method.is_some() || !change.inputs.is_empty() || !change.outputs.is_empty() {
            out.signatures_changed.push(change);
        }
    }
}

fn side(tensor: &TensorInfoView) -> TensorSide {
    TensorSide {
        dtype: tensor.dtype.name(),
        shape: tensor.shape.cli_text(),
    }
}

fn diff_tensors(a: &[TensorInfoView], b: &[TensorInfoView]) -> Vec<TensorChange> {
    let sides = |tensors: &[TensorInfoView]| -> BTreeMap<String, TensorSide> {
        tensors.iter().map(|t| (t.key.clone(), side(t))).collect()
    };
    let (map_a, map_b) = (sides(a), sides(b));
    let mut keys: Vec<&String> = map_a.keys().chain(map_b.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter_map(|key| {
            let (old, new) = (map_a.get(key), map_b.get(key));
            (old != new).then(|| TensorChange {
                key: key.clone(),
                a: old.cloned(),
                b: new.cloned(),
            })
        })
        .collect()
}

fn diff_variables(a: &[VariableInfo], b: &[VariableInfo], out: &mut ModelDiff) {
    let names = |variables: &[VariableInfo]| -> Vec<String> {
        variables.iter().map(|v| v.name.clone()).collect()
    };
    (out.variables_added, out.variables_removed) = added_removed(&names(a), &names(b));
    for old in a {
        let Some(new) = b.iter().find(|variable| variable.name == old.name) else {
            continue;
        };
        if old.dtype != new.dtype || old.shape != new.shape || old.size_bytes != new.size_bytes {
            out.variables_reshaped.push(VariableChange {
                name: old.name.clone(),
                dtype_a: old.dtype.name(),
                dtype_b: new.dtype.name(),
                shape_a: old.shape.clone(),
                shape_b: new.shape.clone(),
                size_bytes_a: old.size_bytes,
                size_bytes_b: new.size_bytes,
            });
        } else if old.crc32c != new.crc32c {
            out.variables_values_changed.push(old.name.clone());
        }
    }
    out.variables_reshaped.sort_by(|x, y| x.name.cmp(&y.name));
    out.variables_values_changed.sort();
}

/// Elements of the model's numeric tensors in `variables.index`: the object graph and
/// string tensors are not parameters, and Keras's second copy under `_all_variables/`
/// is counted once.
pub fn parameter_count(variables: &[VariableInfo]) -> u64 {
    let tensors: Vec<&VariableInfo> = variables
        .iter()
        .filter(|variable| {
            variable.name != OBJECT_GRAPH_KEY && variable.dtype.name() != "DT_STRING"
        })
        .collect();
    let has_plain = tensors
        .iter()
        .any(|variable| !variable.name.starts_with(ALL_VARIABLES_PREFIX));
    tensors
        .iter()
        .filter(|variable| !(has_plain && variable.name.starts_with(ALL_VARIABLES_PREFIX)))
        .map(|variable| {
            variable
                .shape
                .iter()
                .map(|&size| size.max(0) as u64)
                .product::<u64>()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DType, diff_text};

    // DT_FLOAT = 1, DT_INT32 = 3, DT_STRING = 7.
    fn tensor(key: &str, dtype: i32, sizes: &[i64]) -> TensorInfoView {
        TensorInfoView::for_test(key, dtype, sizes)
    }

    fn variable(name: &str, dtype: i32, shape: &[i64], crc32c: u32) -> VariableInfo {
        VariableInfo {
            name: name.into(),
            dtype: DType(dtype),
            shape: shape.to_vec(),
            size_bytes: 4 * shape.iter().product::<i64>().max(1) as u64,
            crc32c,
            ..VariableInfo::default()
        }
    }

    fn model(
        method: &str,
        inputs: Vec<TensorInfoView>,
        variables: Vec<VariableInfo>,
    ) -> SavedModelInfo {
        let mut info = SavedModelInfo {
            path: PathBuf::from("m"),
            meta_graphs: vec![MetaGraphInfo {
                tags: vec!["serve".into()],
                signatures: vec![SignatureInfo {
                    key: "serving_default".into(),
                    method_name: method.into(),
                    inputs,
                    outputs: vec![tensor("y", 1, &[-1])],
                }],
                ops: vec!["MatMul".into()],
                ..MetaGraphInfo::default()
            }],
            ..SavedModelInfo::default()
        };
        info.variables.variables = variables;
        info
    }

    #[test]
    fn method_dtype_shape_and_reshaped_variables_are_reported_and_printed() {
        let a = model(
            "tensorflow/serving/predict",
            vec![tensor("x", 1, &[-1, 3])],
            vec![variable("k", 1, &[3, 2], 7), variable("s", 1, &[], 9)],
        );
        let b = model(
            "tensorflow/serving/classify",
            vec![tensor("x", 3, &[-1, 4])],
            vec![variable("k", 1, &[4, 2], 7), variable("s", 1, &[], 9)],
        );
        let diff = diff(&a, &b, &[], &[]);
        assert_eq!(
            (diff.parameters_a, diff.parameters_b, diff.parameter_delta),
            (7, 9, 2)
        );
        assert!(
            diff.variables_values_changed.is_empty(),
            "s kept its checksum"
        );
        assert_eq!(
            diff_text(&diff),
            "A: m\nB: m\nsignatures:\n  ~ serving_default\n      method: \"tensorflow/serving/predict\" -> \
             \"tensorflow/serving/classify\"\n      ~ input x: DT_FLOAT (-1, 3) -> DT_INT32 (-1, 4)\n\
             ops: no change\nvariables:\n  ~ k: DT_FLOAT (3, 2) (24 bytes) -> DT_FLOAT (4, 2) (32 bytes)\n\
             assets: no change\nparameters: 7 -> 9 (+2)\n2 differences.\n"
        );
    }

    #[test]
    fn parameters_skip_the_object_graph_strings_and_the_keras_second_copy() {
        let variables = [
            variable(OBJECT_GRAPH_KEY, 7, &[], 1),
            variable("vocabulary", 7, &[100], 2),
            variable("dense/kernel/.ATTRIBUTES/VARIABLE_VALUE", 1, &[10, 5], 3),
            variable(
                "_all_variables/0/.ATTRIBUTES/VARIABLE_VALUE",
                1,
                &[10, 5],
                3,
            ),
        ];
        assert_eq!(parameter_count(&variables), 50);
        // A model holding only the `_all_variables/` copies still counts them.
        assert_eq!(parameter_count(&variables[3..]), 50);
    }

    #[test]
    fn an_unreadable_asset_counts_as_changed() {
        let a = model("p", vec![], vec![]);
        let digest = |hash| AssetDigest {
            path: "assets/vocab.txt".into(),
            fnv1a64: hash,
        };
        let diff = diff(&a, &a, &[digest(None)], &[digest(None)]);
        assert_eq!(diff.assets_changed, ["assets/vocab.txt"]);
        let diff = super::diff(&a, &a, &[digest(Some(5))], &[digest(Some(5))]);
        assert!(diff.is_same());
    }
}
