//! TF Serving's Classify and Regress APIs (gRPC and REST `:classify` /
//! `:regress`) on the real TensorFlow runtime, against the values Python
//! TensorFlow computed for the `classify_regress` fixture
//! (tests/fixtures/outputs/classify_regress.json), and their errors.

use crate::support::http::Http;
use crate::support::server::{config, start};
use crate::support::tf;
use crate::support::{fixture, repo};
use tfprobe::pb::tensorflow::serving::prediction_service_client::PredictionServiceClient;
use tfprobe::pb::tensorflow::serving::{
    ClassificationRequest, ExampleList, ExampleListWithContext, Input, ModelSpec,
    RegressionRequest, input, model_spec,
};
use tfprobe::pb::tensorflow::{BytesList, Example, Feature, Features, FloatList, feature};
use tfprobe::server::{ModelSource, ServerHandle};
use tonic::transport::Channel;

/// What Python recorded: the examples' `x` values, classes, scores and regression values.
struct Expected {
    examples: Vec<Vec<f32>>,
    classes: Vec<String>,
    scores: Vec<f32>,
    values: Vec<f32>,
}

fn expected() -> Expected {
    let path = repo().join("tests/fixtures/outputs/classify_regress.json");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let floats = |value: &serde_json::Value| -> Vec<f32> {
        value
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect()
    };
    let classes = json["serving_default"]["classes"]["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            let bytes = base64::Engine::decode(
                &base64::engine::general_purpose::STANDARD,
                v["b64"].as_str().unwrap(),
            )
            .unwrap();
            String::from_utf8(bytes).unwrap()
        })
        .collect();
    Expected {
        examples: json["examples"]
            .as_array()
            .unwrap()
            .iter()
            .map(floats)
            .collect(),
        classes,
        scores: floats(&json["serving_default"]["scores"]["values"]),
        values: floats(&json["regress"]["outputs"]["values"]),
    }
}

fn close(actual: f32, expected: f32) -> bool {
    (actual - expected).abs() <= 1e-6 * expected.abs().max(1.0)
}

fn feature(kind: feature::Kind) -> Example {
    Example {
        features: Some(Features {
            feature: [("x".to_string(), Feature { kind: Some(kind) })]
                .into_iter()
                .collect(),
        }),
    }
}

fn x_example(values: &[f32]) -> Example {
    feature(feature::Kind::FloatList(FloatList {
        value: values.to_vec(),
    }))
}

fn example_list(examples: Vec<Example>) -> Option<Input> {
    Some(Input {
        kind: Some(input::Kind::ExampleList(ExampleList { examples })),
    })
}

fn spec(signature: &str) -> Option<ModelSpec> {
    Some(ModelSpec {
        name: "cr".into(),
        signature_name: signature.into(),
        version_choice: None,
    })
}

async fn server() -> (ServerHandle, PredictionServiceClient<Channel>) {
    tf::ensure_runtime();
    let server = start(config(vec![ModelSource::new(
        "cr",
        fixture("classify_regress"),
    )]))
    .await;
    let channel = Channel::from_shared(format!("http://{}", server.grpc_addr().unwrap()))
        .unwrap()
        .connect()
        .await
        .expect("gRPC connect");
    (server, PredictionServiceClient::new(channel))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_classify_and_regress_answer_like_python() {
    let expected = expected();
    let (server, mut client) = server().await;
    let examples: Vec<Example> = expected.examples.iter().map(|x| x_example(x)).collect();

    let response = client
        .classify(ClassificationRequest {
            model_spec: spec(""),
            input: example_list(examples.clone()),
        })
        .await
        .expect("classify")
        .into_inner();
    let answered = response.model_spec.unwrap();
    assert_eq!(answered.signature_name, "serving_default");
    assert_eq!(
        answered.version_choice,
        Some(model_spec::VersionChoice::Version(1))
    );
    let result = response.result.unwrap();
    assert_eq!(result.classifications.len(), expected.examples.len());
    let classes: Vec<_> = result
        .classifications
        .iter()
        .flat_map(|list| list.classes.iter())
        .collect();
    assert_eq!(classes.len(), expected.scores.len());
    for ((class, label), score) in classes.iter().zip(&expected.classes).zip(&expected.scores) {
        assert_eq!(&class.label, label);
        assert!(close(class.score, *score), "{} vs {score}", class.score);
    }

    let response = client
        .regress(RegressionRequest {
            model_spec: spec("regress"),
            input: example_list(examples),
        })
        .await
        .expect("regress")
        .into_inner();
    assert_eq!(response.model_spec.unwrap().signature_name, "regress");
    let values: Vec<f32> = response
        .result
        .unwrap()
        .regressions
        .iter()
        .map(|r| r.value)
        .collect();
    assert_eq!(values, expected.values);

    // The context's features reach every example; an example's own win.
    let response = client
        .regress(RegressionRequest {
            model_spec: spec("regress"),
            input: Some(Input {
                kind: Some(input::Kind::ExampleListWithContext(
                    ExampleListWithContext {
                        examples: vec![Example::default(), x_example(&[0.0])],
                        context: Some(x_example(&[1.5])),
                    },
                )),
            }),
        })
        .await
        .expect("regress with context")
        .into_inner();
    let values: Vec<f32> = response
        .result
        .unwrap()
        .regressions
        .iter()
        .map(|r| r.value)
        .collect();
    assert_eq!(values, vec![4.0, 1.0]);

    let metrics = server.metrics_text();
    for api in ["classify", "regress"] {
        assert!(
            metrics.contains(&format!("api=\"{api}\",protocol=\"grpc\",status=\"OK\"")),
            "{metrics}"
        );
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_errors_match_tf_serving() {
    let (server, mut client) = server().await;
    let status = client
        .classify(ClassificationRequest {
            model_spec: spec("predict"),
            input: example_list(vec![x_example(&[1.0])]),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(
        status
            .message()
            .starts_with("No classification inputs found in SignatureDef: 'predict'"),
        "{}",
        status.message()
    );
    let status = client
        .regress(RegressionRequest {
            model_spec: spec(""),
            input: example_list(vec![x_example(&[1.0])]),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(
        status.message().starts_with("Expected one output Tensor."),
        "{}",
        status.message()
    );
    let status = client
        .classify(ClassificationRequest {
            model_spec: spec(""),
            input: example_list(vec![]),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert_eq!(status.message(), "Input is empty.");
    // A bytes feature where the model parses floats: TensorFlow's own error.
    let status = client
        .classify(ClassificationRequest {
            model_spec: spec(""),
            input: example_list(vec![feature(feature::Kind::BytesList(BytesList {
                value: vec![b"one".to_vec()],
            }))]),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    assert!(
        status
            .message()
            .contains("Key: x, Index: 0.  Data types don't match. Expected type: float"),
        "{}",
        status.message()
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_classify_and_regress_answer_tf_serving_json() {
    let expected = expected();
    let (server, _client) = server().await;
    let mut http = Http::connect(server.rest_addr().unwrap());
    let examples: Vec<String> = expected
        .examples
        .iter()
        .map(|x| {
            let values: Vec<String> = x.iter().map(|v| format!("{v:?}")).collect();
            format!("{{\"x\": [{}]}}", values.join(", "))
        })
        .collect();
    let body = format!("{{\"examples\": [{}]}}", examples.join(", "));

    let reply = http.post("/v1/models/cr:classify", &body);
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(
        reply.body.starts_with("{\n    \"results\": [[[\"low\", "),
        "{}",
        reply.body
    );
    let results = reply.json()["results"].as_array().unwrap().clone();
    assert_eq!(results.len(), expected.examples.len());
    let pairs: Vec<&serde_json::Value> = results
        .iter()
        .flat_map(|list| list.as_array().unwrap())
        .collect();
    for ((pair, label), score) in pairs.iter().zip(&expected.classes).zip(&expected.scores) {
        assert_eq!(pair[0].as_str().unwrap(), label);
        assert!(close(pair[1].as_f64().unwrap() as f32, *score), "{pair}");
    }

    let with_signature = body.replacen('{', "{\"signature_name\": \"regress\", ", 1);
    let reply = http.post("/v1/models/cr/versions/1:regress", &with_signature);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let values: Vec<f32> = reply.json()["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap() as f32)
        .collect();
    assert_eq!(values, expected.values);
    assert_eq!(reply.body, "{\n    \"results\": [1.0, 4.0, -3.0]\n}");

    let reply = http.post(
        "/v1/models/cr:regress",
        r#"{"signature_name": "regress", "context": {"x": 1.5}, "examples": [{}, {"x": 0.0}]}"#,
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body, "{\n    \"results\": [4.0, 1.0]\n}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_errors_match_tf_serving() {
    let (server, _client) = server().await;
    let mut http = Http::connect(server.rest_addr().unwrap());
    let cases = [
        (
            "/v1/models/cr:classify",
            r#"{"signature_name": "predict", "examples": [{"x": 1.0}]}"#,
            "No classification inputs found in SignatureDef: 'predict'",
        ),
        (
            "/v1/models/cr:classify",
            r#"{"examples": []}"#,
            "'examples' value is an empty array",
        ),
        (
            "/v1/models/cr:regress",
            r#"{"signature_name": "regress"}"#,
            "When method is regress, key 'examples' is expected and was not found",
        ),
        (
            "/v1/models/cr:classify",
            r#"{"examples": [{"x": [1.0, "one"]}]}"#,
            "Unexpected element type in feature: x expecting type: float",
        ),
        (
            "/v1/models/cr:classify",
            r#"{"examples": {"x": 1.0}}"#,
            "Expecting 'examples' value to be an list/array",
        ),
    ];
    for (path, body, message) in cases {
        let reply = http.post(path, body);
        assert_eq!(reply.status, 400, "{body}: {}", reply.body);
        assert!(reply.error().contains(message), "{body}: {}", reply.body);
    }
    server.shutdown().await;
}
