//! TF Serving's gRPC API (tonic client of tfprobe's own generated stubs)
//! against real SavedModels on the real TensorFlow runtime: Predict (typed
//! fields and tensor_content, every dtype, versions, labels, output_filter),
//! GetModelMetadata, GetModelStatus, health and reflection (bad requests:
//! tests/it/reliability_server.rs).

use crate::support::fixture;
use crate::support::server::{config, start};
use crate::support::tf;
use prost::Message;
use std::net::SocketAddr;
use tfprobe::pb::convert::{tensor_from_proto, tensor_to_proto, tensor_to_proto_content};
use tfprobe::pb::tensorflow::serving::model_service_client::ModelServiceClient;
use tfprobe::pb::tensorflow::serving::prediction_service_client::PredictionServiceClient;
use tfprobe::pb::tensorflow::serving::{
    GetModelMetadataRequest, GetModelStatusRequest, ModelSpec, PredictRequest, SignatureDefMap,
    model_spec, model_version_status::State,
};
use tfprobe::runtime::NamedTensors;
use tfprobe::server::{ModelSource, ServerHandle, VersionPolicy};
use tonic::transport::Channel;

async fn channel(addr: SocketAddr) -> Channel {
    Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .expect("gRPC connect")
}

fn spec(name: &str, signature: &str) -> Option<ModelSpec> {
    Some(ModelSpec {
        name: name.into(),
        signature_name: signature.into(),
        version_choice: None,
    })
}

fn request(model_spec: Option<ModelSpec>, inputs: &NamedTensors) -> PredictRequest {
    PredictRequest {
        model_spec,
        inputs: inputs
            .iter()
            .map(|(key, tensor)| (key.clone(), tensor_to_proto(tensor)))
            .collect(),
        ..Default::default()
    }
}

fn outputs(response: &tfprobe::pb::tensorflow::serving::PredictResponse) -> NamedTensors {
    response
        .outputs
        .iter()
        .map(|(key, proto)| (key.clone(), tensor_from_proto(proto).unwrap()))
        .collect()
}

/// The seed-like model served as `resnet`, and a channel to its gRPC port.
async fn seedlike_server() -> (ServerHandle, Channel) {
    tf::ensure_runtime();
    let server = start(config(vec![ModelSource::new(
        "resnet",
        fixture("seedlike"),
    )]))
    .await;
    let channel = channel(server.grpc_addr().unwrap()).await;
    (server, channel)
}

async fn two_models() -> ServerHandle {
    tf::ensure_runtime();
    let mut two_versions = ModelSource::new("two", fixture("two_versions"));
    two_versions.policy = VersionPolicy::All;
    two_versions.labels.insert("stable".into(), 1);
    two_versions.labels.insert("canary".into(), 2);
    start(config(vec![
        ModelSource::new("resnet", fixture("seedlike")),
        two_versions,
    ]))
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_grpc_flow_predicts_like_python_tensorflow() {
    let server = two_models().await;
    let mut client = PredictionServiceClient::new(channel(server.grpc_addr().unwrap()).await);
    for case in tf::recorded_cases("seedlike") {
        // As resnet_client_grpc.py: model_spec.name, signature_name, image_bytes as string_val.
        let response = client
            .predict(request(spec("resnet", &case.signature), &case.inputs))
            .await
            .unwrap_or_else(|status| panic!("{}: {status}", case.name))
            .into_inner();
        tf::assert_tensors_match(&case.name, &outputs(&response), &case.outputs, 1e-6);
        let model_spec = response.model_spec.unwrap();
        assert_eq!(model_spec.name, "resnet");
        assert_eq!(model_spec.signature_name, case.signature);
        assert_eq!(
            model_spec.version_choice,
            Some(model_spec::VersionChoice::Version(1_538_687_457))
        );
    }
    // An empty signature_name means serving_default; output_filter picks outputs.
    let case = tf::recorded_cases("seedlike")
        .into_iter()
        .find(|case| case.name == "single_jpeg")
        .unwrap();
    let mut filtered = request(spec("resnet", ""), &case.inputs);
    filtered.output_filter = vec!["classes".into()];
    let response = client.predict(filtered).await.unwrap().into_inner();
    assert_eq!(response.outputs.keys().collect::<Vec<_>>(), ["classes"]);
    assert_eq!(
        response.model_spec.unwrap().signature_name,
        "serving_default"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_labels_and_tensor_content() {
    let server = two_models().await;
    let mut client = PredictionServiceClient::new(channel(server.grpc_addr().unwrap()).await);
    for (choice, file) in [
        (None, "two_versions_2"),
        (
            Some(model_spec::VersionChoice::Version(1)),
            "two_versions_1",
        ),
        (
            Some(model_spec::VersionChoice::Version(2)),
            "two_versions_2",
        ),
        (
            Some(model_spec::VersionChoice::VersionLabel("stable".into())),
            "two_versions_1",
        ),
        (
            Some(model_spec::VersionChoice::VersionLabel("canary".into())),
            "two_versions_2",
        ),
    ] {
        let case = tf::recorded_cases(file).remove(0);
        let mut request = request(
            Some(ModelSpec {
                name: "two".into(),
                signature_name: String::new(),
                version_choice: choice.clone(),
            }),
            &case.inputs,
        );
        // Python's make_tensor_proto sends numeric arrays as raw tensor_content.
        for (key, tensor) in &case.inputs {
            request
                .inputs
                .insert(key.clone(), tensor_to_proto_content(tensor));
        }
        let response = client.predict(request).await.unwrap().into_inner();
        tf::assert_tensors_match(
            &format!("{choice:?}"),
            &outputs(&response),
            &case.outputs,
            1e-6,
        );
    }

    let mut models = ModelServiceClient::new(channel(server.grpc_addr().unwrap()).await);
    let status = models
        .get_model_status(GetModelStatusRequest {
            model_spec: spec("two", ""),
        })
        .await
        .unwrap()
        .into_inner();
    let versions: Vec<(i64, i32)> = status
        .model_version_status
        .iter()
        .map(|s| (s.version, s.state))
        .collect();
    assert_eq!(
        versions,
        [(2, State::Available as i32), (1, State::Available as i32)]
    );
    let labelled = GetModelStatusRequest {
        model_spec: Some(ModelSpec {
            name: "two".into(),
            signature_name: String::new(),
            version_choice: Some(model_spec::VersionChoice::VersionLabel("stable".into())),
        }),
    };
    let status = models
        .get_model_status(labelled)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status.model_version_status[0].version, 1);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_dtype_round_trips() {
    tf::ensure_runtime();
    let base = tempfile::tempdir().unwrap();
    tf::write_identity_model(&base.path().join("1"));
    let server = start(config(vec![ModelSource::new("identity", base.path())])).await;
    let mut client = PredictionServiceClient::new(channel(server.grpc_addr().unwrap()).await);
    for dtype in tf::ALL_DTYPES {
        let tensor = tf::sample_tensor(dtype);
        let signature = format!("identity_{}", dtype.python_name());
        for content in [false, true] {
            let proto = if content {
                tensor_to_proto_content(&tensor)
            } else {
                tensor_to_proto(&tensor)
            };
            let request = PredictRequest {
                model_spec: spec("identity", &signature),
                inputs: [("x".to_string(), proto)].into(),
                ..Default::default()
            };
            let response = client
                .predict(request)
                .await
                .unwrap_or_else(|status| panic!("{dtype}: {status}"));
            let got = tensor_from_proto(&response.into_inner().outputs["y"]).unwrap();
            assert_eq!(got, tensor, "{dtype} (tensor_content: {content})");
        }
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_and_status() {
    let (server, channel) = seedlike_server().await;
    let mut client = PredictionServiceClient::new(channel.clone());

    let metadata = client
        .get_model_metadata(GetModelMetadataRequest {
            model_spec: spec("resnet", ""),
            metadata_field: vec!["signature_def".into()],
        })
        .await
        .unwrap()
        .into_inner();
    let any = &metadata.metadata["signature_def"];
    assert_eq!(
        any.type_url,
        "type.googleapis.com/tensorflow.serving.SignatureDefMap"
    );
    let map = SignatureDefMap::decode(any.value.as_slice()).unwrap();
    assert_eq!(
        map.signature_def["serving_default"].inputs["image_bytes"].dtype,
        7
    );
    assert!(map.signature_def.contains_key("predict"));
    assert_eq!(
        metadata.model_spec.unwrap().version_choice,
        Some(model_spec::VersionChoice::Version(1_538_687_457))
    );

    let mut models = ModelServiceClient::new(channel.clone());
    let status = models
        .get_model_status(GetModelStatusRequest {
            model_spec: spec("resnet", ""),
        })
        .await
        .unwrap();
    let status = &status.get_ref().model_version_status[0];
    assert_eq!(
        (status.version, status.state),
        (1_538_687_457, State::Available as i32)
    );
    assert_eq!(status.status.as_ref().unwrap().error_code, 0);

    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_reflection_answer() {
    let (server, channel) = seedlike_server().await;

    use tonic_health::pb::health_client::HealthClient;
    use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus};
    let mut health = HealthClient::new(channel.clone());
    for service in [
        "",
        "tensorflow.serving.PredictionService",
        "tensorflow.serving.ModelService",
    ] {
        let reply = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(reply.status, ServingStatus::Serving as i32, "{service:?}");
    }

    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    let mut reflection = ServerReflectionClient::new(channel);
    let requests = tokio_stream_once(ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    });
    let mut replies = reflection
        .server_reflection_info(requests)
        .await
        .unwrap()
        .into_inner();
    let reply = replies.message().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = reply.message_response else {
        panic!("{reply:?}")
    };
    let names: Vec<String> = list
        .service
        .into_iter()
        .map(|service| service.name)
        .collect();
    for wanted in [
        "tensorflow.serving.PredictionService",
        "tensorflow.serving.ModelService",
    ] {
        assert!(names.iter().any(|name| name == wanted), "{names:?}");
    }
    server.shutdown().await;
}

/// A one-item request stream.
fn tokio_stream_once<T: Send + 'static>(
    item: T,
) -> impl tonic::codegen::tokio_stream::Stream<Item = T> {
    tonic::codegen::tokio_stream::iter(vec![item])
}
