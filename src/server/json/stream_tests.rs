//! The one-pass reader against the tree path: every body it takes gives the
//! very same tensors, and every body the tree path refuses it leaves to it.

use super::*;
use crate::model::{Shape, TensorInfoView};
use crate::server::json::PredictBody;

fn signature(key: &str, inputs: &[(&str, DType)]) -> SignatureInfo {
    SignatureInfo {
        key: key.into(),
        method_name: String::new(),
        inputs: inputs
            .iter()
            .map(|(key, dtype)| TensorInfoView {
                key: (*key).into(),
                dtype: *dtype,
                shape: Shape::UnknownRank,
                name: format!("{key}:0"),
            })
            .collect(),
        outputs: Vec::new(),
    }
}

/// Both readers on `body`; answers whether the fast one took it.
fn compare(body: &str, signatures: &[SignatureInfo]) -> bool {
    let lookup = |key: &str| signatures.iter().find(|signature| signature.key == key);
    let streamed = stream_predict(body.as_bytes(), lookup);
    let tree = PredictBody::parse(body.as_bytes()).and_then(|parsed| {
        let signature = lookup(parsed.signature_key())
            .ok_or_else(|| crate::server::error::ServeError::invalid("no such signature"))?;
        let (format, inputs) = parsed.inputs(signature)?;
        Ok((signature.key.clone(), format, inputs))
    });
    match (streamed, tree) {
        (Some(streamed), Ok((key, format, inputs))) => {
            assert_eq!(streamed.signature_key, key, "{body}");
            assert_eq!(streamed.format, format, "{body}");
            // Bit patterns, so that NaN and -0.0 compare too.
            assert_eq!(
                format!("{:?}", bits(&streamed.inputs)),
                format!("{:?}", bits(&inputs)),
                "{body}"
            );
            true
        }
        (Some(streamed), Err(err)) => {
            panic!("fast path took a body the tree path refuses ({err}): {body} -> {streamed:?}")
        }
        (None, _) => false,
    }
}

fn bits(tensors: &NamedTensors) -> Vec<(String, Vec<u64>, Vec<u64>)> {
    tensors
        .iter()
        .map(|(name, tensor)| {
            let values: Vec<u64> = match &tensor.data {
                TensorData::Float(values) => {
                    values.iter().map(|v| u64::from(v.to_bits())).collect()
                }
                TensorData::Double(values) => values.iter().map(|v| v.to_bits()).collect(),
                other => vec![format!("{other:?}").len() as u64, {
                    let text = format!("{other:?}");
                    text.bytes().fold(0u64, |hash, byte| {
                        hash.wrapping_mul(31).wrapping_add(u64::from(byte))
                    })
                }],
            };
            (name.clone(), tensor.shape.clone(), values)
        })
        .collect()
}

#[test]
fn accepted_bodies_give_the_tree_paths_tensors() {
    let float = [signature("serving_default", &[("x", DType::FLOAT)])];
    let taken = [
        r#"{"instances": [1, 2.5, -0, -0.0, 1e-3, NaN, -Infinity, Inf, 9007199254740993]}"#,
        r#"{"instances": [[[0.1, 0.2, 0.3], [1, 2, 3]], [[4, 5, 6], [7, 8, 9.75]]]}"#,
        r#" { "instances" : [ [ ] , [ ] ] , "extra": {"a": [1, "x", null]} } trailing"#,
        r#"{"inputs": [[1.5, 2], [3, 4]]}"#,
        r#"{"inputs": 3.25}"#,
        r#"{"inputs": {"x": [[1], [2]], "unused": [1, [2]]}}"#,
        r#"{"inputs": {"x": [1], "x": "second is only JSON"}}"#,
        r#"{"inputs": []}"#,
        r#"{"inputs": [[], []]}"#,
        r#"{"signature_name": "", "instances": [{"x": [1, 2]}, {"x": [3, 4]}]}"#,
        r#"{"instances": [0.30000000000000004, 123456789012345678901234567890, 1.7976931348623157e308]}"#,
    ];
    for body in taken {
        assert!(compare(body, &float), "not taken: {body}");
    }
    let mixed = [
        signature(
            "serving_default",
            &[
                ("a", DType::INT64),
                ("b", DType::STRING),
                ("c", DType::BOOL),
            ],
        ),
        signature(
            "other",
            &[("u", DType::UINT64), ("h", DType::HALF), ("i", DType::INT8)],
        ),
    ];
    let taken = [
        r#"{"instances": [{"a": -9007199254740993, "b": {"b64": "/9j/"}, "c": true}, {"c": false, "b": "x\u00e9", "a": 7}]}"#,
        r#"{"inputs": {"a": [[1, 2]], "b": [[{"b64": "YQ"}, {"b64" : "YWI="}]], "c": [[true, false]]}}"#,
        r#"{"signature_name": "other", "inputs": {"u": [18446744073709551615, -0], "h": [0.1, 65504], "i": [-128, 127]}}"#,
    ];
    for body in taken {
        assert!(compare(body, &mixed), "not taken: {body}");
    }
    // `signature_name` after the inputs: read again, typed by the named signature.
    let late = [
        signature("serving_default", &[("x", DType::FLOAT)]),
        signature("wide", &[("x", DType::DOUBLE)]),
    ];
    let body = r#"{"inputs": [0.1], "signature_name": "wide"}"#;
    assert!(compare(body, &late));
    let streamed = stream_predict(body.as_bytes(), |key| {
        late.iter().find(|signature| signature.key == key)
    })
    .unwrap();
    assert_eq!(streamed.inputs["x"].data, TensorData::Double(vec![0.1]));
    let image = [signature(
        "serving_default",
        &[("image_bytes", DType::STRING)],
    )];
    assert!(compare(
        r#"{"instances": [{"b64": "/9j/4AAQ"}, {"b64": "AA=="}]}"#,
        &image
    ));
    assert!(compare(
        r#"{"instances": [{"image_bytes": {"b64": "/9j/4AAQ"}}]}"#,
        &image
    ));
    assert!(compare(r#"{"inputs": {"b64": "/9j/4AAQ"}}"#, &image));
    assert!(compare(r#"{"instances": [{"b64": "\/9j\/4AAQ"}]}"#, &image));
}

#[test]
fn refused_bodies_are_left_to_the_tree_path() {
    let float = [signature("serving_default", &[("x", DType::FLOAT)])];
    let two = [signature(
        "serving_default",
        &[("a", DType::INT32), ("b", DType::INT32)],
    )];
    let refused: [(&str, &[SignatureInfo]); 30] = [
        ("", &float),
        ("[1]", &float),
        ("{}", &float),
        (r#"{"instances": []}"#, &float),
        (r#"{"instances": 1}"#, &float),
        (r#"{"instances": [1], "inputs": [1]}"#, &float),
        (r#"{"instances": [[1], [2, 3]]}"#, &float),
        (r#"{"instances": [[1, 2], [3]]}"#, &float),
        (r#"{"instances": [[1], 2]}"#, &float),
        (r#"{"instances": [1, [2]]}"#, &float),
        (r#"{"inputs": [[[1]], [2]]}"#, &float),
        (r#"{"inputs": [[], [1]]}"#, &float),
        (r#"{"inputs": [[], 1]}"#, &float),
        (r#"{"inputs": ["1"]}"#, &float),
        (r#"{"inputs": [1e400]}"#, &float),
        (r#"{"inputs": [1.]}"#, &float),
        (r#"{"inputs": [1, 2}"#, &float),
        (r#"{"inputs": [1, 2]"#, &float),
        (r#"{"inputs": {"y": [1]}}"#, &float),
        (r#"{"signature_name": 7, "inputs": [1]}"#, &float),
        (r#"{"signature_name": "nope", "inputs": [1]}"#, &float),
        (r#"{"instances": [{"x": 1, "x": 2}]}"#, &float),
        (r#"{"instances": [{"x": 1}, 2]}"#, &float),
        (r#"{"instances": [1, 2]}"#, &two),
        (r#"{"instances": [{"a": 1}]}"#, &two),
        (r#"{"instances": [{"a": 1, "b": 2.5}]}"#, &two),
        (r#"{"instances": [{"a": 1, "b": 3000000000}]}"#, &two),
        (r#"{"inputs": {"a": [1]}}"#, &two),
        (r#"{"inputs": [1], "extra": [1, }"#, &float),
        (r#"{"inputs": [true]}"#, &float),
    ];
    for (body, signatures) in refused {
        assert!(!compare(body, signatures), "taken: {body}");
    }
    let strings = [signature("serving_default", &[("s", DType::STRING)])];
    for body in [
        r#"{"instances": [{"b64": "!!"}]}"#,
        r#"{"instances": [{"b64": 1}]}"#,
        r#"{"inputs": [{"b64": "YQ==", "x": 1}]}"#,
        r#"{"inputs": [1]}"#,
    ] {
        assert!(!compare(body, &strings), "taken: {body}");
    }
}

#[test]
fn big_float_bodies_fill_one_buffer() {
    let float = [signature("serving_default", &[("x", DType::FLOAT)])];
    let values: Vec<String> = (0..3000).map(|i| format!("{}", i as f64 / 7.0)).collect();
    let row = format!("[{}]", values.join(", "));
    let body = format!("{{\"instances\": [{row}, {row}]}}");
    assert!(compare(&body, &float));
    let streamed = stream_predict(body.as_bytes(), |_| Some(&float[0])).unwrap();
    let tensor = &streamed.inputs["x"];
    assert_eq!(tensor.shape, vec![2, 3000]);
    let TensorData::Float(values) = &tensor.data else {
        panic!()
    };
    assert_eq!(values.len(), values.capacity());
    assert_eq!(values[3001], (1.0f64 / 7.0) as f32);
}
