//! The TensorFlow backend against real libtensorflow: outputs equal Python TF's recorded
//! outputs for every fixture signature, every serving dtype round-trips, bytes stay
//! bytes, and bad requests give named errors (broken models: tests/it/reliability_inputs.rs).

use crate::support::tf::*;
use crate::support::{fixture, repo};
use std::sync::Arc;
use tfprobe::runtime::{Backend, LoadOptions, NamedTensors, RuntimeError, TfBackend};
use tfprobe::tensor::{Tensor, TensorData};

fn load(path: &std::path::Path) -> TfBackend {
    ensure_runtime();
    TfBackend::load(path, &LoadOptions::default())
        .unwrap_or_else(|err| panic!("loading {}: {err}", path.display()))
}

fn check_recorded(model: &str, outputs: &str) {
    let backend = load(&fixture(model));
    let cases = recorded_cases(outputs);
    assert!(!cases.is_empty(), "no recorded cases in {outputs}.json");
    for case in cases {
        let context = format!("{model} / {} / {}", case.signature, case.name);
        let actual = backend
            .run(&case.signature, case.inputs, &[])
            .unwrap_or_else(|err| panic!("{context}: {err}"));
        assert_tensors_match(&context, &actual, &case.outputs, 1e-6);
    }
}

#[test]
fn dtypes_fixture_matches_python_tf() {
    check_recorded("dtypes/1", "dtypes");
}

#[test]
fn shapes_fixture_matches_python_tf() {
    check_recorded("shapes/1", "shapes");
}

#[test]
fn keras_export_matches_python_tf() {
    check_recorded("keras_export/1", "keras_export");
}

#[test]
fn seedlike_base_path_matches_python_tf_including_empty_batch() {
    check_recorded("seedlike", "seedlike");
}

#[test]
fn two_versions_each_match_and_base_path_serves_the_highest() {
    check_recorded("two_versions/1", "two_versions_1");
    check_recorded("two_versions/2", "two_versions_2");
    let backend = load(&fixture("two_versions"));
    assert_eq!(backend.model().version, Some(2));
}

#[test]
fn every_serving_dtype_round_trips_exactly() {
    let dir = tempfile::tempdir().unwrap();
    write_identity_model(dir.path());
    let backend = load(dir.path());
    for dtype in ALL_DTYPES {
        let key = format!("identity_{}", dtype.python_name());
        for tensor in [
            sample_tensor(dtype),
            Tensor::new(vec![0, 3], TensorData::empty(dtype).unwrap()).unwrap(),
            Tensor::new(vec![4], sample_tensor(dtype).data).unwrap(),
        ] {
            let outputs = backend
                .run(&key, one_input("x", tensor.clone()), &[])
                .unwrap_or_else(|err| panic!("{key}: {err}"));
            assert_eq!(outputs["y"], tensor, "{key} changed the tensor");
        }
    }
}

#[test]
fn non_utf8_bytes_round_trip_through_a_python_graph() {
    let backend = load(&fixture("dtypes/1"));
    let values = vec![
        vec![0xff, 0xfe, 0x00],
        Vec::new(),
        vec![0x80; 40],
        "é".as_bytes().to_vec(),
    ];
    let input = Tensor::new(vec![4], TensorData::String(values.clone())).unwrap();
    let outputs = backend.run("string", one_input("x", input), &[]).unwrap();
    let expected: Vec<Vec<u8>> = values
        .iter()
        .map(|value| [value.as_slice(), b"!"].concat())
        .collect();
    assert_eq!(outputs["y"].data, TensorData::String(expected));
    assert_eq!(outputs["length"].data, TensorData::Int32(vec![3, 0, 40, 2]));
    // An empty batch of strings.
    let empty = Tensor::new(vec![0], TensorData::String(vec![])).unwrap();
    let outputs = backend.run("string", one_input("x", empty), &[]).unwrap();
    assert_eq!(outputs["y"].shape, vec![0]);
}

#[test]
fn output_selection_returns_only_the_requested_keys() {
    let backend = load(&fixture("dtypes/1"));
    let input = Tensor::new(vec![1], TensorData::String(vec![b"abc".to_vec()])).unwrap();
    let outputs = backend
        .run("string", one_input("x", input), &["length".into()])
        .unwrap();
    assert_eq!(outputs.keys().collect::<Vec<_>>(), ["length"]);
}

#[test]
fn bad_requests_name_what_the_signature_expects() {
    let dir = tempfile::tempdir().unwrap();
    write_identity_model(dir.path());
    let backend = load(dir.path());
    let floats = |shape: Vec<u64>| {
        let count = shape.iter().product::<u64>() as usize;
        Tensor::new(shape, TensorData::Float(vec![1.0; count])).unwrap()
    };
    let err = backend
        .run(
            "identity_fixed_2x3",
            one_input("x", floats(vec![3, 2])),
            &[],
        )
        .unwrap_err();
    assert!(matches!(err, RuntimeError::ShapeMismatch { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "input 'x' expects shape (2, 3) but got [3, 2]"
    );
    let err = backend
        .run(
            "identity_fixed_2x3",
            one_input("x", floats(vec![2, 3, 1])),
            &[],
        )
        .unwrap_err();
    assert!(matches!(err, RuntimeError::ShapeMismatch { .. }), "{err}");
    let ints = Tensor::new(vec![2, 3], TensorData::Int32(vec![0; 6])).unwrap();
    let err = backend
        .run("identity_fixed_2x3", one_input("x", ints), &[])
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "input 'x' expects dtype DT_FLOAT but got DT_INT32"
    );
    let err = backend
        .run("identity_fixed_2x3", NamedTensors::new(), &[])
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("input 'x' of signature 'identity_fixed_2x3' is missing"),
        "{err}"
    );
    assert!(err.to_string().contains("x: DT_FLOAT (2, 3)"), "{err}");
    let mut extra = one_input("x", floats(vec![2, 3]));
    extra.insert("bogus".into(), floats(vec![1]));
    let err = backend.run("identity_fixed_2x3", extra, &[]).unwrap_err();
    assert!(err.to_string().contains("has no input 'bogus'"), "{err}");
    let err = backend
        .run("nope", one_input("x", floats(vec![2, 3])), &[])
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("Serving signature name: \"nope\" not found in signature def"),
        "{err}"
    );
    assert_eq!(
        err.code(),
        tfprobe::pb::tensorflow::error::Code::InvalidArgument
    );
    let err = backend
        .run(
            "identity_fixed_2x3",
            one_input("x", floats(vec![2, 3])),
            &["z".into()],
        )
        .unwrap_err();
    assert!(err.to_string().contains("has no output 'z'"), "{err}");
    // The backend still works after all of that.
    backend
        .run(
            "identity_fixed_2x3",
            one_input("x", floats(vec![2, 3])),
            &[],
        )
        .unwrap();
}

#[test]
fn tensorflow_run_errors_keep_their_status() {
    let backend = load(&fixture("seedlike"));
    let not_an_image =
        Tensor::new(vec![1], TensorData::String(vec![b"not an image".to_vec()])).unwrap();
    let err = backend
        .run(
            "serving_default",
            one_input("image_bytes", not_an_image),
            &[],
        )
        .unwrap_err();
    match &err {
        RuntimeError::Run { code, message } => {
            assert_eq!(
                *code,
                tfprobe::pb::tensorflow::error::Code::InvalidArgument,
                "{message}"
            );
            assert!(!message.is_empty());
        }
        other => panic!("expected a TensorFlow run error, got {other:?}"),
    }
}

#[test]
fn thread_options_and_tags_are_applied() {
    ensure_runtime();
    let options = LoadOptions {
        intra_op_threads: Some(2),
        inter_op_threads: Some(5),
        ..LoadOptions::default()
    };
    let backend = TfBackend::load(&fixture("two_versions/1"), &options).unwrap();
    let input = Tensor::new(vec![2], TensorData::Float(vec![0.0, 1.0])).unwrap();
    assert_eq!(
        backend
            .run("serving_default", one_input("x", input), &[])
            .unwrap()["y"]
            .data,
        TensorData::Float(vec![1.0, 3.0])
    );
    let options = LoadOptions {
        tags: vec!["train".into()],
        ..LoadOptions::default()
    };
    let err = TfBackend::load(&fixture("two_versions/1"), &options).unwrap_err();
    assert!(
        err.to_string()
            .contains("no MetaGraph with tag-set 'train'"),
        "{err}"
    );
}

#[test]
fn demo_model_classifies_the_sample_photos_like_python_tf() {
    let backend = load(&repo().join("assets/models/efficientnet_lite0/1"));
    let expected: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            repo().join("assets/models/efficientnet_lite0/expected_probabilities.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let classify = |image: &str| {
        let bytes = std::fs::read(repo().join("assets/images").join(image)).unwrap();
        let input = Tensor::new(vec![1], TensorData::String(vec![bytes])).unwrap();
        backend
            .run("serving_default", one_input("image_bytes", input), &[])
            .unwrap()
    };
    let chelsea = classify("chelsea.png");
    let TensorData::Float(probabilities) = &chelsea["probabilities"].data else {
        panic!("float probabilities")
    };
    assert_eq!(chelsea["probabilities"].shape, vec![1, 1001]);
    let full = expected["full"]["probabilities"].as_array().unwrap();
    assert_eq!(full.len(), 1001);
    for (index, (got, want)) in probabilities.iter().zip(full).enumerate() {
        let want = want.as_f64().unwrap();
        assert!(
            (f64::from(*got) - want).abs() <= 1e-5,
            "chelsea probability {index}: {got} vs Python TF {want}"
        );
    }
    let mut order: Vec<usize> = (0..1001).collect();
    order.sort_by(|&a, &b| probabilities[b].total_cmp(&probabilities[a]));
    assert!(
        order[..5].iter().any(|class| (282..=286).contains(class)),
        "top-5 {:?}",
        &order[..5]
    );
    assert_eq!(chelsea["classes"].data, TensorData::Int64(vec![283]));
    let coffee = classify("coffee.png");
    assert_eq!(coffee["classes"].data, TensorData::Int64(vec![968]));
}

#[test]
fn concurrent_runs_on_one_session_agree() {
    let backend = Arc::new(load(&fixture("seedlike")));
    let case = recorded_cases("seedlike")
        .into_iter()
        .find(|case| case.name == "four_images")
        .expect("four_images case");
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let backend = backend.clone();
            let inputs = case.inputs.clone();
            std::thread::spawn(move || {
                (0..5)
                    .map(|_| backend.run("serving_default", inputs.clone(), &[]).unwrap())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    for thread in threads {
        for outputs in thread.join().unwrap() {
            assert_tensors_match("concurrent four_images", &outputs, &case.outputs, 1e-6);
        }
    }
}
