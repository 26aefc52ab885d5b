//! The signature tree that `model::open` builds (the data every front end renders),
//! and its JSON form (broken models: tests/it/reliability_inputs.rs).

use proptest::prelude::*;
use std::path::Path;
use std::process::Command;
use tfprobe::model::{self, DType, Shape};

fn fixture(path: &str) -> std::path::PathBuf {
    Path::new("tests/fixtures/models").join(path)
}

#[test]
fn seed_like_base_path_resolves_to_its_version_with_signatures_assets_and_variables() {
    let tree = model::open(&fixture("seedlike")).expect("open seedlike base path");
    assert_eq!(tree.versions, vec![1538687457]);
    assert_eq!(tree.version, Some(1538687457));
    assert_eq!(tree.path, fixture("seedlike/1538687457"));
    let serve = tree.serving_meta_graph().expect("serve meta graph");
    assert_eq!(serve.tags, vec!["serve"]);
    assert_eq!(
        serve.signature_keys(),
        vec!["__saved_model_init_op", "predict", "serving_default"]
    );
    let signature = serve.signature("serving_default").unwrap();
    assert_eq!(signature.method_name, "tensorflow/serving/predict");
    let input = signature.input("image_bytes").unwrap();
    assert_eq!(
        (input.dtype, input.shape.sizes()),
        (DType::STRING, Some(vec![-1]))
    );
    let probabilities = signature.output("probabilities").unwrap();
    assert_eq!(
        (probabilities.dtype, probabilities.shape.sizes()),
        (DType::FLOAT, Some(vec![-1, 1001]))
    );
    assert_eq!(signature.output("classes").unwrap().dtype, DType::INT64);
    assert!(
        serve.ops.iter().any(|op| op == "StatefulPartitionedCall"),
        "ops: {:?}",
        serve.ops
    );
    assert_eq!(
        tree.assets
            .iter()
            .map(|a| a.relative_path.as_str())
            .collect::<Vec<_>>(),
        vec!["labels.txt"]
    );
    assert!(tree.assets[0].size_bytes > 1000);
    assert!(tree.variables.error.is_none(), "{:?}", tree.variables.error);
    assert!(!tree.variables.variables.is_empty());
    assert!(tree.variables.total_bytes > 0);
    for variable in &tree.variables.variables {
        assert!(
            variable.name.ends_with("VARIABLE_VALUE") || variable.name.starts_with('_'),
            "{}",
            variable.name
        );
    }
    assert!(tree.fingerprint.is_some());
}

#[test]
fn shapes_cover_scalar_partial_fixed_and_unknown_rank() {
    let tree = model::open(&fixture("shapes/1")).unwrap();
    let serve = tree.serving_meta_graph().unwrap();
    let fixed = serve.signature("fixed").unwrap();
    assert_eq!(fixed.input("m").unwrap().shape.sizes(), Some(vec![2, 2]));
    assert_eq!(fixed.output("trace").unwrap().shape, Shape::Dims(vec![]));
    assert_eq!(
        serve
            .signature("partial")
            .unwrap()
            .input("x")
            .unwrap()
            .shape
            .cli_text(),
        "(-1, 3)"
    );
    let unknown = serve.signature("unknown_rank").unwrap();
    assert!(
        unknown
            .inputs
            .iter()
            .any(|input| input.shape == Shape::UnknownRank),
        "{unknown:?}"
    );
    let init = serve.signature("__saved_model_init_op").unwrap();
    assert_eq!(init.outputs[0].dtype, DType::INVALID);
    assert_eq!(init.outputs[0].name, "NoOp");
}

#[test]
fn variables_index_lists_names_dtypes_shapes_and_sizes() {
    let tree = model::open(Path::new("assets/models/efficientnet_lite0/1")).unwrap();
    let variables = &tree.variables.variables;
    assert!(variables.len() > 50, "{} variables", variables.len());
    let float_bytes: u64 = variables
        .iter()
        .filter(|v| v.dtype == DType::FLOAT)
        .map(|v| v.size_bytes)
        .sum();
    let element_bytes: u64 = variables
        .iter()
        .filter(|v| v.dtype == DType::FLOAT)
        .map(|v| 4 * v.shape.iter().product::<i64>() as u64)
        .sum();
    assert_eq!(
        float_bytes, element_bytes,
        "entry sizes agree with dtype x shape"
    );
    // EfficientNet-Lite0 holds about 4.6 M float parameters.
    assert!(
        (4_000_000..5_500_000).contains(&(element_bytes / 4)),
        "{} floats",
        element_bytes / 4
    );
    assert_eq!(
        tree.variables.shard_files,
        vec!["variables.data-00000-of-00001", "variables.index"]
    );
}

#[test]
fn json_tree_round_trips_and_matches_the_cli() {
    let tree = model::open(&fixture("dtypes/1")).unwrap();
    let json = serde_json::to_string(&tree).unwrap();
    let back: model::SavedModelInfo = serde_json::from_str(&json).unwrap();
    assert_eq!(back, tree);
    let output = Command::new(env!("CARGO_BIN_EXE_tfprobe"))
        .args(["show", "--dir", "tests/fixtures/models/dtypes/1", "--json"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let cli: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(cli, serde_json::to_value(&tree).unwrap());
    let uint8 = &cli["meta_graphs"][0]["signatures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["key"] == "uint8")
        .unwrap()["inputs"][0];
    assert_eq!(uint8["dtype"], "DT_UINT8");
}

fn seed_like_pb() -> Vec<u8> {
    std::fs::read(fixture("seedlike/1538687457/saved_model.pb")).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Flipped, truncated or spliced saved_model.pb bytes give an error or a tree,
    /// never a panic.
    #[test]
    fn mutated_saved_model_never_panics(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..16),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = seed_like_pb();
        for (index, value) in flips {
            let at = index.index(bytes.len());
            bytes[at] = value;
        }
        bytes.truncate(cut.index(bytes.len()) + 1);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("saved_model.pb"), &bytes).unwrap();
        if let Ok(tree) = model::open(dir.path()) {
            let _ = model::show::all_text(&tree);
        }
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 1..4096)) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("saved_model.pb"), &bytes).unwrap();
        if let Ok(tree) = model::open(dir.path()) {
            let _ = model::show::all_text(&tree);
        }
    }
}
