//! Class scores -> labelled top-k: finding the score output, softmax when the
//! values are not already a distribution, and labels files (1001-class heads with
//! a background class at index 0 next to 1000-line files, and the reverse).

use super::ImageError;
use crate::tensor::NamedTensors;
use crate::tensor::{Tensor, TensorData};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Output names that hold class scores, most likely first.
const SCORE_NAMES: [&str; 6] = [
    "probabilities",
    "probs",
    "scores",
    "predictions",
    "logits",
    "output_0",
];

/// The class-score output: `(key, scores row-major as f32, rows, classes)`.
/// `preferred` names it; otherwise a known name, else the only float `[N, C]` output.
pub fn find_scores(
    outputs: &NamedTensors,
    preferred: Option<&str>,
) -> Result<(String, Vec<f32>, usize, usize), ImageError> {
    let as_scores = |key: &str, tensor: &Tensor| -> Option<(String, Vec<f32>, usize, usize)> {
        let values: Vec<f32> = match &tensor.data {
            TensorData::Float(values) => values.clone(),
            TensorData::Double(values) => values.iter().map(|&v| v as f32).collect(),
            TensorData::Half(values) => values
                .iter()
                .map(|&v| half::f16::from_bits(v).to_f32())
                .collect(),
            TensorData::BFloat16(values) => values
                .iter()
                .map(|&v| half::bf16::from_bits(v).to_f32())
                .collect(),
            _ => return None,
        };
        let (rows, classes) = match tensor.shape.as_slice() {
            [rows, classes] => (*rows as usize, *classes as usize),
            [classes] => (1, *classes as usize),
            _ => return None,
        };
        (classes > 0).then(|| (key.to_string(), values, rows, classes))
    };
    if let Some(key) = preferred {
        let tensor = outputs.get(key).ok_or_else(|| {
            ImageError::NoScores(format!(
                "no output '{key}' (outputs: {})",
                outputs.keys().cloned().collect::<Vec<_>>().join(", ")
            ))
        })?;
        return as_scores(key, tensor).ok_or_else(|| {
            ImageError::NoScores(format!("output '{key}' is not a float [N, classes] tensor"))
        });
    }
    let candidates: Vec<(&String, &Tensor)> = outputs
        .iter()
        .filter(|(key, tensor)| {
            tensor.shape.len() == 2 && as_scores(key, tensor).is_some_and(|s| s.3 > 1)
        })
        .collect();
    for name in SCORE_NAMES {
        if let Some((key, tensor)) = candidates
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
        {
            return Ok(as_scores(key, tensor).unwrap_or_default());
        }
    }
    match candidates.as_slice() {
        [(key, tensor)] => Ok(as_scores(key, tensor).unwrap_or_default()),
        [] => Err(ImageError::NoScores(format!(
            "no float [N, classes] output to rank (outputs: {})",
            outputs.keys().cloned().collect::<Vec<_>>().join(", ")
        ))),
        several => Err(ImageError::NoScores(format!(
            "several float outputs could be class scores ({}); name one",
            several
                .iter()
                .map(|(key, _)| key.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// Whether `row` already is a probability distribution (all in 0..=1, sum 1).
pub fn is_distribution(row: &[f32]) -> bool {
    let in_range = row
        .iter()
        .all(|&v| v.is_finite() && (-1e-6..=1.0 + 1e-6).contains(&v));
    let sum: f64 = row.iter().map(|&v| f64::from(v)).sum();
    in_range && (sum - 1.0).abs() < 1e-3
}

/// Numerically stable softmax.
pub fn softmax(row: &[f32]) -> Vec<f32> {
    let max = row
        .iter()
        .copied()
        .filter(|v| !v.is_nan())
        .fold(f32::NEG_INFINITY, f32::max);
    if !max.is_finite() {
        return row.to_vec();
    }
    let exps: Vec<f64> = row.iter().map(|&v| f64::from(v - max).exp()).collect();
    let sum: f64 = exps.iter().sum();
    exps.iter().map(|&e| (e / sum) as f32).collect()
}

/// Indices of the `k` highest scores, highest first (ties: lower index first; NaN last).
pub fn top_k(row: &[f32], k: usize) -> Vec<(usize, f32)> {
    let mut order: Vec<usize> = (0..row.len()).collect();
    order.sort_by(|&a, &b| {
        let (x, y) = (row[a], row[b]);
        match (x.is_nan(), y.is_nan()) {
            (true, false) => std::cmp::Ordering::Greater,
            (false, true) => std::cmp::Ordering::Less,
            _ => y
                .partial_cmp(&x)
                .unwrap_or(std::cmp::Ordering::Equal)
                .then(a.cmp(&b)),
        }
    });
    order
        .into_iter()
        .take(k)
        .map(|index| (index, row[index]))
        .collect()
}

/// How a labels file lines up with a model's class indices.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LabelAlignment {
    /// One line per class.
    Exact,
    /// The model has a background class 0 the file lacks (1001 classes, 1000 lines).
    ModelHasBackground,
    /// The file starts with a background line the model lacks (1000 classes, 1001 lines).
    FileHasBackground,
    /// Counts do not fit; lines are used by index as far as they go.
    Mismatch,
}

/// Class names, one per line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Labels {
    pub names: Vec<String>,
    /// Where they came from (a path, or "built-in ImageNet labels").
    pub source: String,
}

impl Labels {
    /// One label per non-empty-trailing line; `index: name` / `index name` lines keep the name.
    pub fn from_text(text: &str, source: impl Into<String>) -> Labels {
        let mut names: Vec<String> = text
            .lines()
            .map(|line| line.trim_end_matches('\r').trim().to_string())
            .collect();
        while names.last().is_some_and(String::is_empty) {
            names.pop();
        }
        Labels {
            names,
            source: source.into(),
        }
    }

    pub fn from_file(path: &Path) -> Result<Labels, ImageError> {
        let text = std::fs::read_to_string(path).map_err(|source| ImageError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Ok(Labels::from_text(&text, path.display().to_string()))
    }

    pub fn alignment(&self, classes: usize) -> LabelAlignment {
        let lines = self.names.len();
        if lines == classes {
            LabelAlignment::Exact
        } else if lines + 1 == classes {
            LabelAlignment::ModelHasBackground
        } else if lines == classes + 1 {
            LabelAlignment::FileHasBackground
        } else {
            LabelAlignment::Mismatch
        }
    }

    /// The name of class `index` of a `classes`-wide output.
    pub fn name(&self, index: usize, classes: usize) -> Option<&str> {
        let line = match self.alignment(classes) {
            LabelAlignment::Exact | LabelAlignment::Mismatch => Some(index),
            LabelAlignment::ModelHasBackground => index.checked_sub(1),
            LabelAlignment::FileHasBackground => Some(index + 1),
        };
        match line {
            Some(line) => self.names.get(line).map(String::as_str),
            None => Some("background"),
        }
    }
}

/// ImageNet's 1001 labels ("background" first), shipped with tfprobe.
pub fn builtin_imagenet_labels() -> Labels {
    Labels::from_text(
        include_str!("../../assets/labels/imagenet_1001.txt"),
        "built-in ImageNet labels",
    )
}

/// A labels file among a SavedModel's `assets/` or `assets.extra/` whose line count
/// fits `classes` (exactly or off by a background line). Names with "label",
/// "class" or "imagenet" win.
pub fn find_model_labels(model_dir: &Path, classes: usize) -> Option<Labels> {
    let mut files = Vec::new();
    for folder in ["assets", "assets.extra"] {
        let Ok(entries) = std::fs::read_dir(model_dir.join(folder)) else {
            continue;
        };
        for entry in entries.flatten().take(1000) {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().to_ascii_lowercase();
            let fits =
                name.ends_with(".txt") || name.ends_with(".labels") || name.ends_with(".names");
            if fits && path.is_file() && entry.metadata().is_ok_and(|meta| meta.len() < 16 << 20) {
                files.push((name, path));
            }
        }
    }
    files.sort_by_key(|(name, _)| {
        (
            !["label", "class", "imagenet"]
                .iter()
                .any(|word| name.contains(word)),
            name.clone(),
        )
    });
    files.into_iter().find_map(|(_, path)| {
        let labels = Labels::from_file(&path).ok()?;
        (labels.alignment(classes) != LabelAlignment::Mismatch).then_some(labels)
    })
}

/// One ranked class.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    pub class: usize,
    pub score: f32,
    pub label: Option<String>,
}

/// The top-k of every row of a score output.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Classification {
    pub output: String,
    pub classes: usize,
    /// Whether softmax was applied (the output held logits, not probabilities).
    pub softmax_applied: bool,
    pub labels_source: Option<String>,
    pub alignment: Option<LabelAlignment>,
    pub rows: Vec<Vec<Prediction>>,
}

/// Ranks the class scores in `outputs`.
pub fn classify(
    outputs: &NamedTensors,
    output: Option<&str>,
    k: usize,
    labels: Option<&Labels>,
) -> Result<Classification, ImageError> {
    let (key, values, rows, classes) = find_scores(outputs, output)?;
    let mut softmax_applied = false;
    let ranked = values
        .chunks(classes)
        .take(rows)
        .map(|row| {
            let probabilities = if is_distribution(row) {
                row.to_vec()
            } else {
                softmax_applied = true;
                softmax(row)
            };
            top_k(&probabilities, k)
                .into_iter()
                .map(|(class, score)| Prediction {
                    class,
                    score,
                    label: labels
                        .and_then(|labels| labels.name(class, classes))
                        .map(str::to_string),
                })
                .collect()
        })
        .collect();
    Ok(Classification {
        output: key,
        classes,
        softmax_applied,
        labels_source: labels.map(|labels| labels.source.clone()),
        alignment: labels.map(|labels| labels.alignment(classes)),
        rows: ranked,
    })
}
