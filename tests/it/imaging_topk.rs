//! Top-k from class scores: picking the score output, softmax only for logits,
//! labels lined up for 1001-class heads (background at 0) and 1000-line files.

use std::path::PathBuf;
use tfprobe::imaging::{
    LabelAlignment, Labels, builtin_imagenet_labels, classify, find_model_labels, find_scores,
    is_distribution, softmax, top_k,
};
use tfprobe::runtime::NamedTensors;
use tfprobe::tensor::{Tensor, TensorData};

fn floats(shape: &[u64], values: &[f32]) -> Tensor {
    Tensor::new(shape.to_vec(), TensorData::Float(values.to_vec())).unwrap()
}

#[test]
fn probabilities_are_ranked_as_they_are() {
    let outputs: NamedTensors = [
        (
            "classes".to_string(),
            Tensor::new(vec![1], TensorData::Int64(vec![2])).unwrap(),
        ),
        (
            "probabilities".to_string(),
            floats(&[1, 4], &[0.1, 0.2, 0.6, 0.1]),
        ),
    ]
    .into();
    let result = classify(&outputs, None, 3, None).unwrap();
    assert_eq!(result.output, "probabilities");
    assert!(!result.softmax_applied);
    let ranked: Vec<(usize, f32)> = result.rows[0].iter().map(|p| (p.class, p.score)).collect();
    // Ties keep the lower index first.
    assert_eq!(ranked, vec![(2, 0.6), (1, 0.2), (0, 0.1)]);
}

#[test]
fn logits_get_a_softmax() {
    let logits = [1.0f32, 2.0, 3.0];
    let outputs: NamedTensors = [("logits".to_string(), floats(&[1, 3], &logits))].into();
    let result = classify(&outputs, None, 2, None).unwrap();
    assert!(result.softmax_applied);
    let sum: f32 = [1.0f32, 2.0, 3.0].iter().map(|v| v.exp()).sum();
    assert_eq!(result.rows[0][0].class, 2);
    assert!((result.rows[0][0].score - 3.0f32.exp() / sum).abs() < 1e-6);
    assert!((result.rows[0][1].score - 2.0f32.exp() / sum).abs() < 1e-6);
    // Large logits do not overflow.
    let stable = softmax(&[1000.0, 1000.0]);
    assert_eq!(stable, vec![0.5, 0.5]);
    assert!(is_distribution(&softmax(&[-3.0, 0.5, 9.0])));
    assert!(!is_distribution(&[0.5, 0.6]));
    assert!(!is_distribution(&[1.5, -0.5]));
    // NaN ranks last.
    assert_eq!(
        top_k(&[f32::NAN, 0.2, 0.7], 3)
            .iter()
            .map(|t| t.0)
            .collect::<Vec<_>>(),
        vec![2, 1, 0]
    );
}

#[test]
fn score_output_is_found_by_name_or_as_the_only_float_matrix() {
    let only: NamedTensors = [
        ("dense_7".to_string(), floats(&[2, 3], &[0.0; 6])),
        (
            "ids".to_string(),
            Tensor::new(vec![2], TensorData::Int64(vec![0, 1])).unwrap(),
        ),
    ]
    .into();
    let (key, _, rows, classes) = find_scores(&only, None).unwrap();
    assert_eq!((key.as_str(), rows, classes), ("dense_7", 2, 3));
    let two: NamedTensors = [
        ("a".to_string(), floats(&[1, 3], &[0.0; 3])),
        ("b".to_string(), floats(&[1, 3], &[0.0; 3])),
    ]
    .into();
    assert!(
        find_scores(&two, None)
            .unwrap_err()
            .to_string()
            .contains("several")
    );
    assert_eq!(find_scores(&two, Some("b")).unwrap().0, "b");
    assert!(find_scores(&two, Some("c")).is_err());
    let none: NamedTensors = [(
        "x".to_string(),
        Tensor::new(vec![1], TensorData::Int64(vec![1])).unwrap(),
    )]
    .into();
    assert!(
        find_scores(&none, None)
            .unwrap_err()
            .to_string()
            .contains("no float")
    );
    // Every row of a batch is ranked.
    let batch: NamedTensors =
        [("scores".to_string(), floats(&[2, 2], &[0.9, 0.1, 0.3, 0.7]))].into();
    let result = classify(&batch, None, 1, None).unwrap();
    assert_eq!(
        result
            .rows
            .iter()
            .map(|row| row[0].class)
            .collect::<Vec<_>>(),
        vec![0, 1]
    );
}

#[test]
fn labels_line_up_with_background_offsets() {
    let thousand = Labels::from_text(
        &(0..1000).map(|i| format!("class{i}\n")).collect::<String>(),
        "1000.txt",
    );
    // A 1001-class head (background at 0) with a 1000-line file.
    assert_eq!(thousand.alignment(1001), LabelAlignment::ModelHasBackground);
    assert_eq!(thousand.name(0, 1001), Some("background"));
    assert_eq!(thousand.name(1, 1001), Some("class0"));
    assert_eq!(thousand.name(1000, 1001), Some("class999"));
    assert_eq!(thousand.name(5, 1000), Some("class5"));
    // The 1001-line ImageNet file with a 1000-class head.
    let imagenet = builtin_imagenet_labels();
    assert_eq!(imagenet.names.len(), 1001);
    assert_eq!(imagenet.name(286, 1001), Some("Egyptian cat"));
    assert_eq!(imagenet.alignment(1000), LabelAlignment::FileHasBackground);
    assert_eq!(imagenet.name(285, 1000), Some("Egyptian cat"));
    assert_eq!(imagenet.alignment(7), LabelAlignment::Mismatch);
    // Through classify: a 1000-class logits head and the 1001-line file.
    let mut logits = vec![0.0f32; 1000];
    logits[285] = 10.0;
    let outputs: NamedTensors = [("logits".to_string(), floats(&[1, 1000], &logits))].into();
    let result = classify(&outputs, None, 1, Some(&imagenet)).unwrap();
    assert_eq!(result.rows[0][0].label.as_deref(), Some("Egyptian cat"));
    assert_eq!(result.alignment, Some(LabelAlignment::FileHasBackground));
    // Trailing blank lines and CRLF are ignored.
    assert_eq!(
        Labels::from_text("a\r\nb\r\n\n\n", "x").names,
        vec!["a", "b"]
    );
}

#[test]
fn labels_are_found_in_model_assets() {
    let demo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/models/efficientnet_lite0/1");
    let labels = find_model_labels(&demo, 1001).expect("the demo model ships its labels");
    assert!(
        labels.source.ends_with("imagenet_1001.txt"),
        "{}",
        labels.source
    );
    assert_eq!(labels.name(286, 1001), Some("Egyptian cat"));
    assert!(
        find_model_labels(&demo, 1000).is_some(),
        "1000 classes fit a 1001-line file"
    );
    assert!(find_model_labels(&demo, 10).is_none());
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("assets.extra")).unwrap();
    std::fs::write(dir.path().join("assets.extra/notes.txt"), "one\n").unwrap();
    std::fs::write(dir.path().join("assets.extra/labels.txt"), "cat\ndog\n").unwrap();
    let found = find_model_labels(dir.path(), 2).unwrap();
    assert_eq!(found.names, vec!["cat", "dog"]);
}
