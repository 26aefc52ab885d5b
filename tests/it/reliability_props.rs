//! Property tests of the reliability suite: tensors of every dtype survive
//! TensorProto (typed fields and tensor_content) and TF Serving JSON (row and
//! columnar) unchanged; the REST request reader never panics, whatever the
//! bytes or JSON; labels files and preprocessing.json from a model's assets
//! never panic and stay in range. Case counts are modest so that the suite
//! stays fast on two cores.

use crate::support::tf::ALL_DTYPES as DTYPES;
use proptest::prelude::*;
use tfprobe::imaging::{ImageOptions, LabelAlignment, Labels, MAX_PREPROCESSING_SIDE_PX};
use tfprobe::model::{DType, Shape, SignatureInfo, TensorInfoView};
use tfprobe::pb::convert::{
    tensor_from_proto, tensor_into_proto, tensor_to_proto, tensor_to_proto_content,
};
use tfprobe::server::json::{Format, PredictBody, outputs_json};
use tfprobe::tensor::{Tensor, TensorData};

/// `n` arbitrary values of `dtype` (every bit pattern, NaNs included).
fn values(dtype: DType, n: usize) -> BoxedStrategy<TensorData> {
    use prop::collection::vec;
    match dtype {
        DType::FLOAT => vec(any::<f32>(), n).prop_map(TensorData::Float).boxed(),
        DType::DOUBLE => vec(any::<f64>(), n).prop_map(TensorData::Double).boxed(),
        DType::HALF => vec(any::<u16>(), n).prop_map(TensorData::Half).boxed(),
        DType::BFLOAT16 => vec(any::<u16>(), n).prop_map(TensorData::BFloat16).boxed(),
        DType::INT8 => vec(any::<i8>(), n).prop_map(TensorData::Int8).boxed(),
        DType::INT16 => vec(any::<i16>(), n).prop_map(TensorData::Int16).boxed(),
        DType::INT32 => vec(any::<i32>(), n).prop_map(TensorData::Int32).boxed(),
        DType::INT64 => vec(any::<i64>(), n).prop_map(TensorData::Int64).boxed(),
        DType::UINT8 => vec(any::<u8>(), n).prop_map(TensorData::UInt8).boxed(),
        DType::UINT16 => vec(any::<u16>(), n).prop_map(TensorData::UInt16).boxed(),
        DType::UINT32 => vec(any::<u32>(), n).prop_map(TensorData::UInt32).boxed(),
        DType::UINT64 => vec(any::<u64>(), n).prop_map(TensorData::UInt64).boxed(),
        DType::BOOL => vec(any::<bool>(), n).prop_map(TensorData::Bool).boxed(),
        _ => vec(
            prop_oneof![
                vec(any::<u8>(), 0..6),
                "[ -~é\"\\\\\n\t\u{1}]{0,6}".prop_map(String::into_bytes),
            ],
            n,
        )
        .prop_map(TensorData::String)
        .boxed(),
    }
}

/// A tensor of any serving dtype, rank 0 to 3, every dim 1 to 3 (JSON cannot
/// carry the shape of an empty tensor, so dims are never 0 here).
fn tensor() -> impl Strategy<Value = Tensor> {
    (prop::collection::vec(1u64..4, 0..4), 0..DTYPES.len()).prop_flat_map(|(shape, index)| {
        let n = shape.iter().product::<u64>() as usize;
        values(DTYPES[index], n).prop_map(move |data| Tensor::new(shape.clone(), data).unwrap())
    })
}

/// Equal values, floats compared by bits (`exact`) or with all NaNs equal (JSON
/// has one NaN).
fn same(a: &Tensor, b: &Tensor, exact: bool) -> bool {
    let float = |x: f64| {
        if !exact && x.is_nan() {
            None
        } else {
            Some(x.to_bits())
        }
    };
    let floats = |data: &TensorData| -> Option<Vec<Option<u64>>> {
        Some(match data {
            TensorData::Float(v) => v.iter().map(|&x| float(f64::from(x))).collect(),
            TensorData::Double(v) => v.iter().map(|&x| float(x)).collect(),
            TensorData::Half(v) => v
                .iter()
                .map(|&x| float(half::f16::from_bits(x).to_f64()))
                .collect(),
            TensorData::BFloat16(v) => v
                .iter()
                .map(|&x| float(half::bf16::from_bits(x).to_f64()))
                .collect(),
            _ => return None,
        })
    };
    a.shape == b.shape
        && a.dtype() == b.dtype()
        && match (floats(&a.data), floats(&b.data)) {
            (Some(x), Some(y)) => x == y,
            _ => a.data == b.data,
        }
}

fn signature(inputs: &[(&str, DType)]) -> SignatureInfo {
    SignatureInfo {
        key: "serving_default".into(),
        method_name: "tensorflow/serving/predict".into(),
        inputs: inputs
            .iter()
            .map(|&(key, dtype)| TensorInfoView {
                key: key.into(),
                dtype,
                shape: Shape::UnknownRank,
                name: format!("{key}:0"),
            })
            .collect(),
        outputs: Vec::new(),
    }
}

/// A response body read back as a request: `{"predictions": X}` becomes
/// `{"instances": X}` (`{"outputs": X}`: `{"inputs": X}`), text untouched.
fn response_as_request(tensor: &Tensor, format: Format) -> Tensor {
    let outputs = [("y".to_string(), tensor.clone())].into();
    let response = outputs_json(&outputs, format).expect("written");
    let (from, to) = match format {
        Format::Row => ("\"predictions\"", "\"instances\""),
        Format::Columnar => ("\"outputs\"", "\"inputs\""),
    };
    let request = response.replacen(from, to, 1);
    let body = PredictBody::parse(request.as_bytes()).expect("parsed");
    let (read_format, mut tensors) = body
        .inputs(&signature(&[("y", tensor.dtype())]))
        .unwrap_or_else(|err| panic!("{request}: {err}"));
    assert_eq!(read_format, format);
    tensors.remove("y").expect("the one input")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn tensors_round_trip_through_tensor_proto(tensor in tensor()) {
        for proto in [
            tensor_to_proto(&tensor),
            tensor_to_proto_content(&tensor),
            tensor_into_proto(tensor.clone()),
        ] {
            let back = tensor_from_proto(&proto).unwrap();
            prop_assert!(same(&back, &tensor, true), "{tensor:?} -> {proto:?} -> {back:?}");
        }
    }

    #[test]
    fn tensors_round_trip_through_columnar_json(tensor in tensor()) {
        let back = response_as_request(&tensor, Format::Columnar);
        prop_assert!(same(&back, &tensor, false), "{tensor:?} -> {back:?}");
    }

    #[test]
    fn batches_round_trip_through_row_json(
        tensor in tensor().prop_filter("row format needs a batch dimension", |t| !t.shape.is_empty())
    ) {
        let back = response_as_request(&tensor, Format::Row);
        prop_assert!(same(&back, &tensor, false), "{tensor:?} -> {back:?}");
    }
}

/// Reads `body` as a predict request against one signature per dtype and a
/// two-input one; only errors, never panics, may come out.
fn read_request(body: &[u8]) {
    let Ok(parsed) = PredictBody::parse(body) else {
        return;
    };
    let _ = parsed.signature_key();
    for dtype in DTYPES {
        let _ = parsed.inputs(&signature(&[("x", dtype)]));
    }
    let _ = parsed.inputs(&signature(&[("a", DType::FLOAT), ("b", DType::STRING)]));
}

/// JSON text, mostly valid, with the tokens TF Serving's reader treats specially.
fn json_text() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("null".to_string()),
        Just("true".to_string()),
        Just("NaN".to_string()),
        Just("-Infinity".to_string()),
        Just("1e400".to_string()),
        Just("-0".to_string()),
        Just("18446744073709551616".to_string()),
        Just("\"\\ud800\"".to_string()),
        Just("{\"b64\": \"AA==\"}".to_string()),
        Just("{\"b64\": \"!\"}".to_string()),
        any::<i64>().prop_map(|v| v.to_string()),
        any::<u64>().prop_map(|v| v.to_string()),
        any::<f64>().prop_map(|v| format!("{v:e}")),
        "[a-z\"\\\\]{0,4}".prop_map(|s| format!("\"{s}\"")),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6)
                .prop_map(|items| format!("[{}]", items.join(","))),
            prop::collection::vec(
                (
                    prop::sample::select(
                        &[
                            "instances",
                            "inputs",
                            "signature_name",
                            "b64",
                            "x",
                            "a",
                            "b"
                        ][..]
                    ),
                    inner
                ),
                0..4,
            )
            .prop_map(|members| {
                let members: Vec<String> = members
                    .iter()
                    .map(|(key, value)| format!("\"{key}\": {value}"))
                    .collect();
                format!("{{{}}}", members.join(", "))
            }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn the_request_reader_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        read_request(&bytes);
    }

    #[test]
    fn the_request_reader_never_panics_on_json(
        value in json_text(),
        wrapper in prop::sample::select(&["{\"instances\": V}", "{\"inputs\": V}", "{\"inputs\": {\"a\": V, \"b\": V}}", "V"][..]),
        cut in any::<prop::sample::Index>(),
    ) {
        let body = wrapper.replace('V', &value);
        read_request(body.as_bytes());
        // And every prefix: bodies cut short by a client or a proxy.
        read_request(&body.as_bytes()[..cut.index(body.len() + 1)]);
    }

    #[test]
    fn labels_files_never_panic_and_name_every_class(
        text in "([ -~\t\r]{0,12}\n){0,12}",
        classes in 0usize..20,
        index in 0usize..40,
    ) {
        let labels = Labels::from_text(&text, "test");
        prop_assert!(labels.names.last().is_none_or(|name| !name.is_empty()));
        prop_assert!(labels.names.iter().all(|name| name.trim() == name));
        let alignment = labels.alignment(classes);
        prop_assert_eq!(alignment == LabelAlignment::Exact, labels.names.len() == classes);
        let name = labels.name(index, classes);
        if alignment != LabelAlignment::Mismatch && index < classes {
            prop_assert!(name.is_some(), "class {} of {} has no name", index, classes);
        }
    }
}

proptest! {
    // Each case writes files: fewer cases.
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn preprocessing_json_never_panics_and_sizes_stay_in_range(
        size in prop::collection::vec(prop_oneof![any::<u64>().prop_map(|v| v.to_string()), json_text()], 0..3),
        crop in json_text(),
        normalization in prop::sample::select(&["\"unit\"", "\"imagenet\"", "\"nope\"", "7", "null"][..]),
    ) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("assets")).unwrap();
        let text = format!(
            "{{\"size\": [{}], \"crop_fraction\": {crop}, \"normalization\": {normalization}}}",
            size.join(", ")
        );
        std::fs::write(dir.path().join("assets/preprocessing.json"), &text).unwrap();
        let mut options = ImageOptions::default();
        options.fill_from_model_dir(dir.path());
        if let Some((height, width)) = options.size {
            let range = 1..=MAX_PREPROCESSING_SIDE_PX;
            prop_assert!(range.contains(&u64::from(height)) && range.contains(&u64::from(width)), "{text}");
        }
    }
}
