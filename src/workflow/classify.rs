//! Outputs to labelled top-k: which output holds the class scores, softmax when they
//! are logits, and labels from the file the user chose, else the model's assets, else
//! ImageNet's for 1000/1001-class heads.

use super::WorkflowError;
use crate::imaging::{self, Classification, Labels};
use crate::runtime::NamedTensors;
use crate::tensor::TensorData;
use std::path::PathBuf;

/// How to rank outputs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Ranking {
    /// How many classes to list (at least 1).
    pub top_k: usize,
    /// The score output to rank; `None`: probabilities/scores/predictions/logits, or
    /// the only float `[N, classes]` output.
    pub output: Option<String>,
    /// A labels file (one class per line) chosen by the user.
    pub labels_file: Option<PathBuf>,
    /// The model's version folder, when it is on this machine (labels in `assets/`).
    pub model_dir: Option<PathBuf>,
}

/// Labelled top-k of every row of the score output.
pub fn rank(outputs: &NamedTensors, ranking: &Ranking) -> Result<Classification, WorkflowError> {
    let (_, _, _, classes) = imaging::find_scores(outputs, ranking.output.as_deref())?;
    let labels = labels_for(ranking, classes)?;
    Ok(imaging::classify(
        outputs,
        ranking.output.as_deref(),
        ranking.top_k.max(1),
        labels.as_ref(),
    )?)
}

/// The labels for a `classes`-wide head: the chosen file (an error if unreadable),
/// else a matching `.txt` in the model's assets, else ImageNet's for 1000/1001.
pub fn labels_for(ranking: &Ranking, classes: usize) -> Result<Option<Labels>, WorkflowError> {
    if let Some(path) = &ranking.labels_file {
        return Ok(Some(Labels::from_file(path)?));
    }
    let from_model = ranking
        .model_dir
        .as_deref()
        .and_then(|dir| imaging::find_model_labels(dir, classes));
    Ok(
        from_model
            .or_else(|| matches!(classes, 1000 | 1001).then(imaging::builtin_imagenet_labels)),
    )
}

/// The predicted class as the seed article's client prints it: the first value of an
/// int64 `classes` output, else the top-1 of the scores.
pub fn predicted_class(outputs: &NamedTensors, output: Option<&str>) -> Option<String> {
    if let Some(TensorData::Int64(values)) = outputs.get("classes").map(|tensor| &tensor.data) {
        return values.first().map(i64::to_string);
    }
    let (_, values, _, classes) = imaging::find_scores(outputs, output).ok()?;
    imaging::top_k(&values[..classes.min(values.len())], 1)
        .first()
        .map(|(class, _)| class.to_string())
}

/// Every 0-D or 1-D int64 output (predicted class indices), as `(name, values)`.
pub fn class_outputs(outputs: &NamedTensors) -> Vec<(&str, &[i64])> {
    outputs
        .iter()
        .filter_map(|(name, tensor)| match &tensor.data {
            TensorData::Int64(values) if !values.is_empty() && tensor.shape.len() <= 1 => {
                Some((name.as_str(), values.as_slice()))
            }
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::Tensor;

    fn outputs(logits: Vec<f32>) -> NamedTensors {
        let classes = logits.len() as u64;
        NamedTensors::from([(
            "logits".to_string(),
            Tensor::new(vec![1, classes], TensorData::Float(logits)).unwrap(),
        )])
    }

    #[test]
    fn logits_rank_after_softmax_with_the_chosen_labels() {
        let dir = tempfile::tempdir().unwrap();
        let labels = dir.path().join("labels.txt");
        std::fs::write(&labels, "cat\ndog\nbird\n").unwrap();
        let ranking = Ranking {
            top_k: 2,
            labels_file: Some(labels),
            ..Ranking::default()
        };
        let ranked = rank(&outputs(vec![1.0, 3.0, 2.0]), &ranking).unwrap();
        assert!(ranked.softmax_applied);
        let top: Vec<(usize, Option<&str>)> = ranked.rows[0]
            .iter()
            .map(|p| (p.class, p.label.as_deref()))
            .collect();
        assert_eq!(top, [(1, Some("dog")), (2, Some("bird"))]);
        let expected = 3f32.exp() / (1f32.exp() + 3f32.exp() + 2f32.exp());
        assert!((ranked.rows[0][0].score - expected).abs() < 1e-6);
        assert_eq!(
            predicted_class(&outputs(vec![1.0, 3.0, 2.0]), None).as_deref(),
            Some("1")
        );
    }

    #[test]
    fn a_missing_labels_file_is_an_error_not_a_silent_fallback() {
        let ranking = Ranking {
            top_k: 1,
            labels_file: Some(PathBuf::from("/nonexistent/labels.txt")),
            ..Ranking::default()
        };
        let err = rank(&outputs(vec![0.5, 0.5]), &ranking).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/labels.txt"), "{err}");
    }
}
