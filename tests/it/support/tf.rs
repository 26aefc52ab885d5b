//! Shared helpers of the runtime tests: a real libtensorflow (installed into tfprobe's
//! cache once, under the install lock), the recorded Python TF outputs, comparisons, and a
//! hand-built SavedModel that covers every serving dtype.

use base64::Engine;
use prost::Message;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use tfprobe::model::DType;
use tfprobe::pb::tensorflow as tfpb;
use tfprobe::runtime::library::{self, LoadedRuntime};
use tfprobe::runtime::{NamedTensors, discovery, install};
use tfprobe::tensor::{Tensor, TensorData};

/// libtensorflow, loaded. Installs it into the cache when nothing is found; FAILS (never
/// skips) with the reason when that is impossible.
pub fn ensure_runtime() -> Arc<LoadedRuntime> {
    let _guard = install_lock();
    if let Some(loaded) = library::loaded() {
        return loaded;
    }
    if let Err(not_found) = discovery::discover() {
        eprintln!(
            "no TensorFlow runtime found ({not_found}); installing {} into the cache",
            discovery::DEFAULT_VERSION
        );
        install::install(discovery::DEFAULT_VERSION, |_| {}).unwrap_or_else(|err| {
            panic!("the runtime tests need libtensorflow and installing it failed: {err}")
        });
    }
    library::ensure_loaded()
        .unwrap_or_else(|err| panic!("libtensorflow could not be loaded: {err}"))
}

/// Held while the runtime is installed and loaded: a test that compares two looks at
/// the machine's runtime (discovery, the app's check) holds it so that no install or
/// load by another test lands between them.
pub fn install_lock() -> MutexGuard<'static, ()> {
    static INSTALL: Mutex<()> = Mutex::new(());
    INSTALL.lock().unwrap_or_else(|poison| poison.into_inner())
}

/// One recorded case: inputs and Python TF's outputs.
#[derive(Debug)]
pub struct Case {
    pub signature: String,
    pub name: String,
    pub inputs: NamedTensors,
    pub outputs: NamedTensors,
}

/// All cases of `tests/fixtures/outputs/<name>.json`.
pub fn recorded_cases(name: &str) -> Vec<Case> {
    let path = super::repo()
        .join("tests/fixtures/outputs")
        .join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|err| panic!("read {}: {err}", path.display()));
    let json: serde_json::Value = serde_json::from_str(&text).expect("outputs json");
    let mut cases = Vec::new();
    for (signature, entry) in json.as_object().expect("object of signatures") {
        let case = |name: &str, value: &serde_json::Value| Case {
            signature: signature.clone(),
            name: name.to_string(),
            inputs: tensors_from_json(&value["inputs"]),
            outputs: tensors_from_json(&value["outputs"]),
        };
        cases.push(case("main", entry));
        for extra in entry["extra_cases"].as_array().into_iter().flatten() {
            cases.push(case(extra["name"].as_str().expect("case name"), extra));
        }
    }
    cases
}

pub fn tensors_from_json(value: &serde_json::Value) -> NamedTensors {
    value
        .as_object()
        .expect("object of tensors")
        .iter()
        .map(|(key, tensor)| (key.clone(), tensor_from_json(tensor)))
        .collect()
}

pub fn tensor_from_json(value: &serde_json::Value) -> Tensor {
    let dtype = DType::from_name(value["dtype"].as_str().expect("dtype")).expect("known dtype");
    let shape: Vec<u64> = value["shape"]
        .as_array()
        .expect("shape")
        .iter()
        .map(|dim| dim.as_u64().expect("dim"))
        .collect();
    let values = value["values"].as_array().expect("values");
    let f64s = || {
        values
            .iter()
            .map(|v| v.as_f64().expect("number"))
            .collect::<Vec<_>>()
    };
    let i64s = || {
        values
            .iter()
            .map(|v| v.as_i64().expect("integer"))
            .collect::<Vec<_>>()
    };
    let u64s = || {
        values
            .iter()
            .map(|v| v.as_u64().expect("unsigned"))
            .collect::<Vec<_>>()
    };
    let data = match dtype {
        DType::FLOAT => TensorData::Float(f64s().into_iter().map(|v| v as f32).collect()),
        DType::DOUBLE => TensorData::Double(f64s()),
        DType::INT8 => TensorData::Int8(i64s().into_iter().map(|v| v as i8).collect()),
        DType::INT16 => TensorData::Int16(i64s().into_iter().map(|v| v as i16).collect()),
        DType::INT32 => TensorData::Int32(i64s().into_iter().map(|v| v as i32).collect()),
        DType::INT64 => TensorData::Int64(i64s()),
        DType::UINT8 => TensorData::UInt8(u64s().into_iter().map(|v| v as u8).collect()),
        DType::UINT16 => TensorData::UInt16(u64s().into_iter().map(|v| v as u16).collect()),
        DType::UINT32 => TensorData::UInt32(u64s().into_iter().map(|v| v as u32).collect()),
        DType::UINT64 => TensorData::UInt64(u64s()),
        DType::BOOL => {
            TensorData::Bool(values.iter().map(|v| v.as_bool().expect("bool")).collect())
        }
        DType::STRING => TensorData::String(
            values
                .iter()
                .map(|v| {
                    base64::engine::general_purpose::STANDARD
                        .decode(v["b64"].as_str().expect("b64 string"))
                        .expect("base64")
                })
                .collect(),
        ),
        other => panic!("fixture dtype {other} not handled"),
    };
    Tensor::new(shape, data).expect("consistent fixture tensor")
}

/// Floats within `tolerance` (relative above 1), everything else exactly.
pub fn assert_tensors_match(
    context: &str,
    actual: &NamedTensors,
    expected: &NamedTensors,
    tolerance: f64,
) {
    let actual_keys: Vec<_> = actual.keys().collect();
    let expected_keys: Vec<_> = expected.keys().collect();
    assert_eq!(actual_keys, expected_keys, "{context}: output keys");
    for (key, want) in expected {
        let got = &actual[key];
        assert_eq!(got.shape, want.shape, "{context}: shape of '{key}'");
        assert_eq!(got.dtype(), want.dtype(), "{context}: dtype of '{key}'");
        let close = |a: f64, b: f64| a == b || (a - b).abs() <= tolerance * b.abs().max(1.0);
        match (&got.data, &want.data) {
            (TensorData::Float(a), TensorData::Float(b)) => {
                for (index, (x, y)) in a.iter().zip(b).enumerate() {
                    assert!(
                        close(f64::from(*x), f64::from(*y)),
                        "{context}: '{key}'[{index}] = {x}, Python TF gave {y}"
                    );
                }
            }
            (TensorData::Double(a), TensorData::Double(b)) => {
                for (index, (x, y)) in a.iter().zip(b).enumerate() {
                    assert!(
                        close(*x, *y),
                        "{context}: '{key}'[{index}] = {x}, Python TF gave {y}"
                    );
                }
            }
            (a, b) => assert_eq!(a, b, "{context}: values of '{key}'"),
        }
    }
}

/// Writes a TF1-style SavedModel (no variables) whose signature `identity_<dtype>` maps
/// input `x` through an `Identity` op to output `y`, for every serving dtype, plus
/// `fixed_2x3` (float, shape (2, 3)).
pub fn write_identity_model(dir: &Path) {
    let node = |name: &str,
                op: &str,
                inputs: &[&str],
                attrs: Vec<(&str, tfpb::attr_value::Value)>| tfpb::NodeDef {
        name: name.into(),
        op: op.into(),
        input: inputs.iter().map(|input| input.to_string()).collect(),
        attr: attrs
            .into_iter()
            .map(|(key, value)| (key.to_string(), tfpb::AttrValue { value: Some(value) }))
            .collect(),
        ..Default::default()
    };
    let info = |name: &str, dtype: DType, sizes: Option<&[i64]>| tfpb::TensorInfo {
        dtype: dtype.0,
        tensor_shape: Some(match sizes {
            Some(sizes) => tfprobe::model::Shape::from_sizes(sizes).to_proto(),
            None => tfprobe::model::Shape::UnknownRank.to_proto(),
        }),
        encoding: Some(tfpb::tensor_info::Encoding::Name(format!("{name}:0"))),
    };
    let mut nodes = Vec::new();
    let mut signatures = BTreeMap::new();
    let mut add = |key: &str, dtype: DType, sizes: Option<&[i64]>| {
        let (x, y) = (format!("x_{key}"), format!("y_{key}"));
        let mut placeholder_attrs = vec![("dtype", tfpb::attr_value::Value::Type(dtype.0))];
        if let Some(sizes) = sizes {
            placeholder_attrs.push((
                "shape",
                tfpb::attr_value::Value::Shape(tfprobe::model::Shape::from_sizes(sizes).to_proto()),
            ));
        }
        nodes.push(node(&x, "Placeholder", &[], placeholder_attrs));
        nodes.push(node(
            &y,
            "Identity",
            &[&x],
            vec![("T", tfpb::attr_value::Value::Type(dtype.0))],
        ));
        let signature = tfpb::SignatureDef {
            inputs: [("x".to_string(), info(&x, dtype, sizes))].into(),
            outputs: [("y".to_string(), info(&y, dtype, sizes))].into(),
            method_name: "tensorflow/serving/predict".into(),
            ..Default::default()
        };
        signatures.insert(format!("identity_{key}"), signature);
    };
    for dtype in ALL_DTYPES {
        add(&dtype.python_name(), dtype, None);
    }
    add("fixed_2x3", DType::FLOAT, Some(&[2, 3]));
    let meta_graph = tfpb::MetaGraphDef {
        meta_info_def: Some(tfpb::meta_graph_def::MetaInfoDef {
            tags: vec!["serve".into()],
            tensorflow_version: "2.21.0".into(),
            ..Default::default()
        }),
        graph_def: Some(tfpb::GraphDef {
            node: nodes,
            versions: Some(tfpb::VersionDef {
                producer: 1205,
                min_consumer: 12,
                bad_consumers: vec![],
            }),
            ..Default::default()
        }),
        signature_def: signatures,
        ..Default::default()
    };
    let saved_model = tfpb::SavedModel {
        saved_model_schema_version: 1,
        meta_graphs: vec![meta_graph],
    };
    std::fs::create_dir_all(dir).expect("create model dir");
    std::fs::write(dir.join("saved_model.pb"), saved_model.encode_to_vec())
        .expect("write saved_model.pb");
}

pub const ALL_DTYPES: [DType; 14] = [
    DType::FLOAT,
    DType::DOUBLE,
    DType::HALF,
    DType::BFLOAT16,
    DType::INT8,
    DType::INT16,
    DType::INT32,
    DType::INT64,
    DType::UINT8,
    DType::UINT16,
    DType::UINT32,
    DType::UINT64,
    DType::BOOL,
    DType::STRING,
];

/// Sample values of a dtype, including extremes, as a tensor of shape [2, 2].
pub fn sample_tensor(dtype: DType) -> Tensor {
    let data = match dtype {
        DType::FLOAT => TensorData::Float(vec![1.5, -0.0, f32::MAX, f32::MIN_POSITIVE]),
        DType::DOUBLE => TensorData::Double(vec![0.1, -1e300, f64::MIN_POSITIVE, 3.0]),
        DType::HALF => TensorData::Half(vec![0x3c00, 0xc000, 0x7bff, 0x0001]),
        DType::BFLOAT16 => TensorData::BFloat16(vec![0x3f80, 0xc000, 0x7f7f, 0x0001]),
        DType::INT8 => TensorData::Int8(vec![i8::MIN, -1, 0, i8::MAX]),
        DType::INT16 => TensorData::Int16(vec![i16::MIN, -1, 0, i16::MAX]),
        DType::INT32 => TensorData::Int32(vec![i32::MIN, -1, 0, i32::MAX]),
        DType::INT64 => TensorData::Int64(vec![i64::MIN, -1, 9_007_199_254_740_993, i64::MAX]),
        DType::UINT8 => TensorData::UInt8(vec![0, 1, 128, u8::MAX]),
        DType::UINT16 => TensorData::UInt16(vec![0, 1, 40_000, u16::MAX]),
        DType::UINT32 => TensorData::UInt32(vec![0, 1, 3_000_000_000, u32::MAX]),
        DType::UINT64 => TensorData::UInt64(vec![0, 1, 1 << 63, u64::MAX]),
        DType::BOOL => TensorData::Bool(vec![true, false, false, true]),
        DType::STRING => TensorData::String(vec![
            vec![0xff, 0xfe, 0x00, 0x80],
            Vec::new(),
            b"plain text".to_vec(),
            (0..=255u8).cycle().take(1000).collect(),
        ]),
        other => panic!("no sample for {other}"),
    };
    Tensor::new(vec![2, 2], data).expect("sample tensor")
}

pub fn one_input(key: &str, tensor: Tensor) -> NamedTensors {
    [(key.to_string(), tensor)].into()
}

/// The `tfprobe` binary run in the repository root with `args`, the runtime ensured first.
pub fn tfprobe(args: &[&str]) -> std::process::Output {
    ensure_runtime();
    std::process::Command::new(env!("CARGO_BIN_EXE_tfprobe"))
        .args(args)
        .current_dir(super::repo())
        .output()
        .expect("run tfprobe")
}
