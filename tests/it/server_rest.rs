//! TF Serving's REST API against real SavedModels (the fixtures and the bundled
//! demo model) run by the real TensorFlow runtime: status and metadata JSON,
//! predict in row and columnar form for every dtype, metrics (bad requests:
//! tests/it/reliability_inputs.rs).

use crate::support::http::{self, Http, get, post};
use crate::support::server::{config, start, tensor_from_values, tensor_json};
use crate::support::tf;
use crate::support::{fixture, repo};
use tfprobe::server::{ModelSource, ServerHandle};

const SEED_STATUS: &str = r#"{
 "model_version_status": [
  {
   "version": "1538687457",
   "state": "AVAILABLE",
   "status": {
    "error_code": "OK",
    "error_message": ""
   }
  }
 ]
}
"#;

async fn resnet_server() -> ServerHandle {
    tf::ensure_runtime();
    start(config(vec![ModelSource::new(
        "resnet",
        fixture("seedlike"),
    )]))
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_and_metadata_match_tf_serving() {
    let server = resnet_server().await;
    let addr = server.rest_addr().unwrap();

    let reply = get(addr, "/v1/models/resnet");
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(
        reply.body, SEED_STATUS,
        "the seed's curl output, byte for byte"
    );
    assert_eq!(
        get(addr, "/v1/models/resnet/versions/1538687457").body,
        SEED_STATUS
    );

    let reply = get(addr, "/v1/models/resnet/metadata");
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(
        reply.body.starts_with(
            "{\n\"model_spec\":{\n \"name\": \"resnet\",\n \"signature_name\": \"\",\n \"version\": \"1538687457\"\n}\n,\n\"metadata\": {\"signature_def\": {\n \"signature_def\": {\n"
        ),
        "{}",
        reply.body
    );
    let json = reply.json();
    let signature = &json["metadata"]["signature_def"]["signature_def"]["serving_default"];
    let input = &signature["inputs"]["image_bytes"];
    assert_eq!(input["dtype"], "DT_STRING");
    assert_eq!(input["tensor_shape"]["dim"][0]["size"], "-1");
    assert_eq!(input["tensor_shape"]["dim"][0]["name"], "");
    assert_eq!(input["tensor_shape"]["unknown_rank"], false);
    assert_eq!(
        signature["outputs"]["probabilities"]["tensor_shape"]["dim"][1]["size"],
        "1001"
    );
    assert_eq!(signature["outputs"]["classes"]["dtype"], "DT_INT64");
    assert_eq!(signature["method_name"], "tensorflow/serving/predict");
    assert!(json["metadata"]["signature_def"]["signature_def"]["predict"].is_object());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_rest_flow_predicts_like_python_tensorflow() {
    let server = resnet_server().await;
    let addr = server.rest_addr().unwrap();
    let cases = tf::recorded_cases("seedlike");
    let mut http = Http::connect(addr);
    for case in cases
        .iter()
        .filter(|case| case.signature == "serving_default" && case.name != "empty_batch")
    {
        let images = &case.inputs["image_bytes"];
        let tfprobe::tensor::TensorData::String(jpegs) = &images.data else {
            panic!()
        };
        // Row format, exactly as resnet_client.py builds it (no Content-Type).
        let instances: Vec<String> = jpegs
            .iter()
            .map(|jpeg| format!("{{\"b64\": \"{}\"}}", http::b64(jpeg)))
            .collect();
        let body = format!("{{\"instances\" : [{}]}}", instances.join(", "));
        let reply = http.post("/v1/models/resnet:predict", &body);
        assert_eq!(reply.status, 200, "{}", reply.body);
        let predictions = reply.json()["predictions"].as_array().unwrap().clone();
        assert_eq!(predictions.len(), jpegs.len());
        let expected_classes = &case.outputs["classes"];
        for (index, prediction) in predictions.iter().enumerate() {
            let tfprobe::tensor::TensorData::Int64(classes) = &expected_classes.data else {
                panic!()
            };
            assert_eq!(
                prediction["classes"], classes[index],
                "{}: item {index}",
                case.name
            );
            assert_eq!(prediction["probabilities"].as_array().unwrap().len(), 1001);
        }
        // Columnar format with a signature name gives the same tensors.
        let body = serde_json::json!({"signature_name": "predict", "inputs": {"image_bytes": tensor_json(images)}});
        let reply = http.post(
            "/v1/models/resnet/versions/1538687457:predict",
            &body.to_string(),
        );
        assert_eq!(reply.status, 200, "{}", reply.body);
        let outputs = reply.json()["outputs"].clone();
        let mut got = tfprobe::runtime::NamedTensors::new();
        for (key, want) in &case.outputs {
            got.insert(key.clone(), tensor_from_values(want, &outputs[key]));
        }
        tf::assert_tensors_match(&case.name, &got, &case.outputs, 1e-6);
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_dtype_round_trips_in_row_and_columnar_form() {
    tf::ensure_runtime();
    let base = tempfile::tempdir().unwrap();
    tf::write_identity_model(&base.path().join("1"));
    let server = start(config(vec![ModelSource::new("identity", base.path())])).await;
    let mut http = Http::connect(server.rest_addr().unwrap());
    for dtype in tf::ALL_DTYPES {
        let tensor = tf::sample_tensor(dtype);
        let signature = format!("identity_{}", dtype.python_name());
        let columnar =
            serde_json::json!({"signature_name": signature, "inputs": tensor_json(&tensor)});
        let reply = http.post("/v1/models/identity:predict", &columnar.to_string());
        assert_eq!(reply.status, 200, "{dtype}: {}", reply.body);
        assert_eq!(
            tensor_from_values(&tensor, &reply.json()["outputs"]),
            tensor,
            "{dtype} columnar"
        );

        let row =
            serde_json::json!({"signature_name": signature, "instances": tensor_json(&tensor)});
        let reply = http.post("/v1/models/identity:predict", &row.to_string());
        assert_eq!(reply.status, 200, "{dtype}: {}", reply.body);
        assert_eq!(
            tensor_from_values(&tensor, &reply.json()["predictions"]),
            tensor,
            "{dtype} row"
        );
    }
    // Non-finite floats travel as NaN / Infinity / -Infinity, as in TF Serving.
    let body = r#"{"signature_name": "identity_float32", "inputs": [NaN, Infinity, -Infinity, -0.0, 1e-7]}"#;
    let reply = http.post("/v1/models/identity:predict", body);
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.body,
        "{\n    \"outputs\": [NaN, Infinity, -Infinity, -0.0, 1e-7]\n}"
    );
    // Plain strings are accepted as DT_STRING values; non-UTF-8 results come back as b64.
    let body = r#"{"signature_name": "identity_string", "instances": ["héllo", {"b64": "/w=="}]}"#;
    let reply = http.post("/v1/models/identity:predict", body);
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.json()["predictions"],
        serde_json::json!(["héllo", {"b64": "/w=="}])
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixture_models_match_python_outputs_over_rest() {
    tf::ensure_runtime();
    let server = start(config(vec![
        ModelSource::new("dtypes", fixture("dtypes")),
        ModelSource::new("shapes", fixture("shapes")),
    ]))
    .await;
    let mut http = Http::connect(server.rest_addr().unwrap());
    for model in ["dtypes", "shapes"] {
        // JSON cannot say [0, 3] (an empty list has no inner dims), in TF Serving neither.
        for case in tf::recorded_cases(model)
            .into_iter()
            .filter(|case| case.name != "empty_batch")
        {
            let inputs: serde_json::Map<String, serde_json::Value> = case
                .inputs
                .iter()
                .map(|(key, tensor)| (key.clone(), tensor_json(tensor)))
                .collect();
            let body = serde_json::json!({"signature_name": case.signature, "inputs": inputs});
            let reply = http.post(&format!("/v1/models/{model}:predict"), &body.to_string());
            let context = format!("{model}/{}/{}", case.signature, case.name);
            assert_eq!(reply.status, 200, "{context}: {}", reply.body);
            let outputs = reply.json()["outputs"].clone();
            let mut got = tfprobe::runtime::NamedTensors::new();
            for (key, want) in &case.outputs {
                // One output is written bare, several as an object (TF Serving's rule).
                let value = if case.outputs.len() == 1 {
                    &outputs
                } else {
                    &outputs[key]
                };
                got.insert(key.clone(), tensor_from_values(want, value));
            }
            tf::assert_tensors_match(&context, &got, &case.outputs, 1e-6);
        }
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_and_loads() {
    let server = resnet_server().await;
    let addr = server.rest_addr().unwrap();
    let jpeg = std::fs::read(repo().join("tests/fixtures/images/gradient_48x40.jpg")).unwrap();
    let body = format!("{{\"instances\": [{{\"b64\": \"{}\"}}]}}", http::b64(&jpeg));
    assert_eq!(post(addr, "/v1/models/resnet:predict", &body).status, 200);
    assert_eq!(
        post(addr, "/v1/models/resnet:predict", r#"{"instances": [1]}"#).status,
        400
    );
    let reply = get(addr, "/monitoring/prometheus/metrics");
    assert_eq!(reply.status, 200);
    assert!(
        reply
            .header("content-type")
            .unwrap()
            .starts_with("text/plain")
    );
    let text = reply.body;
    assert!(text.contains(r#"tfprobe_requests_total{model="resnet",signature="serving_default",api="predict",protocol="rest",status="OK"} 1"#), "{text}");
    assert!(text.contains(r#"status="INVALID_ARGUMENT"} 1"#), "{text}");
    assert!(
        text.contains("tfprobe_request_duration_seconds_bucket{"),
        "{text}"
    );
    assert!(
        text.contains(
            r#"tfprobe_model_load_duration_seconds{model="resnet",version="1538687457"}"#
        ),
        "{text}"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_model_classifies_the_sample_photos() {
    tf::ensure_runtime();
    let base = repo().join("assets/models/efficientnet_lite0");
    let server = start(config(vec![ModelSource::new("efficientnet", base.clone())])).await;
    let expected: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(base.join("expected_probabilities.json")).unwrap(),
    )
    .unwrap();
    let mut http = Http::connect(server.rest_addr().unwrap());
    for (image, info) in expected["images"].as_object().unwrap() {
        let bytes = std::fs::read(repo().join(info["path"].as_str().unwrap())).unwrap();
        let body = format!(
            "{{\"instances\": [{{\"b64\": \"{}\"}}]}}",
            http::b64(&bytes)
        );
        let reply = http.post("/v1/models/efficientnet:predict", &body);
        assert_eq!(reply.status, 200, "{image}: {}", reply.body);
        let prediction = &reply.json()["predictions"][0];
        assert_eq!(prediction["classes"], info["class"], "{image}");
        let top = &info["top10"][0];
        let probability = prediction["probabilities"][top[0].as_u64().unwrap() as usize]
            .as_f64()
            .unwrap();
        assert!(
            (probability - top[1].as_f64().unwrap()).abs() < 1e-5,
            "{image}: {probability} vs {top}"
        );
    }
    server.shutdown().await;
}
