//! The bad-input suite, part 3: every bad gRPC request (through tonic's client,
//! and as raw HTTP/2 frames no client would send), resource limits (huge
//! claimed shapes refused before allocating, the batch size limit, message
//! sizes). After each bad request a good one must succeed on the same channel,
//! and no thread may panic (full queues: tests/it/reliability_queue.rs). Part 1
//! (model files) is tests/it/reliability_models.rs, part 2 (REST)
//! tests/it/reliability_inputs.rs; docs/reliability.md lists every case.

use crate::support::fixture;
use crate::support::grpc::{
    assert_status, channel, floats, good_predict_succeeds, good_request, predict_x, spec,
    status_mismatch,
};
use crate::support::panics::PanicWatch;
use crate::support::server::{config, start};
use crate::support::tf;
use http_body_util::{BodyExt, Full};
use prost::Message;
use std::net::SocketAddr;
use tfprobe::pb::convert::shape_to_proto;
use tfprobe::pb::tensorflow::serving::model_service_client::ModelServiceClient;
use tfprobe::pb::tensorflow::serving::prediction_service_client::PredictionServiceClient;
use tfprobe::pb::tensorflow::serving::{
    ClassificationRequest, GetModelMetadataRequest, GetModelStatusRequest, ModelSpec,
    PredictRequest, model_spec,
};
use tfprobe::pb::tensorflow::{DataType, TensorProto, TensorShapeProto, tensor_shape_proto};
use tfprobe::server::{ModelSource, ServerHandle};
use tonic::transport::Channel;
use tonic::{Code, Status};
use tower::ServiceExt;

/// The gRPC message limit of these servers: small, so that limits are cheap to hit.
const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// Every bad Predict, with the code and message it must get.
fn predict_cases() -> Vec<(&'static str, PredictRequest, Code, &'static str)> {
    let image = TensorProto {
        dtype: DataType::DtString as i32,
        tensor_shape: Some(shape_to_proto(&[1])),
        string_val: vec![b"not an image".to_vec()],
        ..Default::default()
    };
    let resnet = |signature: &str| PredictRequest {
        model_spec: Some(ModelSpec {
            name: "resnet".into(),
            signature_name: signature.into(),
            ..Default::default()
        }),
        inputs: [("image_bytes".to_string(), image.clone())].into(),
        ..Default::default()
    };
    let with = |change: &dyn Fn(&mut PredictRequest)| {
        let mut request = good_request();
        change(&mut request);
        request
    };
    let x_with = |change: &dyn Fn(&mut TensorProto)| {
        with(&|request| change(request.inputs.get_mut("x").unwrap()))
    };
    let shape = |dims: &[i64], unknown_rank| TensorShapeProto {
        dim: dims
            .iter()
            .map(|&size| tensor_shape_proto::Dim {
                size,
                name: String::new(),
            })
            .collect(),
        unknown_rank,
    };
    let filled = |n: u64| floats(&[n], vec![1.0]);
    vec![
        (
            "no ModelSpec",
            with(&|r| r.model_spec = None),
            Code::InvalidArgument,
            "Missing ModelSpec",
        ),
        (
            "empty model name",
            with(&|r| r.model_spec = spec("")),
            Code::InvalidArgument,
            "ModelSpec has no name specified.",
        ),
        (
            "unknown model",
            with(&|r| r.model_spec = spec("nope")),
            Code::NotFound,
            "Servable not found for request: Latest(nope)",
        ),
        (
            "unknown version",
            with(&|r| {
                r.model_spec.as_mut().unwrap().version_choice =
                    Some(model_spec::VersionChoice::Version(5))
            }),
            Code::NotFound,
            "Specific(half, 5)",
        ),
        (
            "unknown label",
            with(&|r| {
                r.model_spec.as_mut().unwrap().version_choice =
                    Some(model_spec::VersionChoice::VersionLabel("stable".into()))
            }),
            Code::InvalidArgument,
            "Unrecognized servable version label: stable",
        ),
        (
            "unknown signature",
            resnet("nope"),
            Code::InvalidArgument,
            "Serving signature name: \"nope\" not found in signature def; valid signatures: predict, serving_default",
        ),
        (
            "no inputs",
            with(&|r| r.inputs.clear()),
            Code::InvalidArgument,
            "Missing but required: {x}",
        ),
        (
            "extra input",
            with(&|r| {
                r.inputs.insert("z".into(), floats(&[1], vec![1.0]));
            }),
            Code::InvalidArgument,
            "Sent extra: {z}",
        ),
        (
            "unknown output filter",
            with(&|r| r.output_filter = vec!["logits".into()]),
            Code::InvalidArgument,
            "output tensor alias not found in signature: logits",
        ),
        (
            "wrong dtype",
            x_with(&|x| {
                x.dtype = DataType::DtInt32 as i32;
                x.int_val = vec![1, 2];
            }),
            Code::InvalidArgument,
            "input 'x' expects dtype DT_FLOAT but got DT_INT32",
        ),
        (
            "unsupported dtype",
            x_with(&|x| x.dtype = DataType::DtComplex64 as i32),
            Code::InvalidArgument,
            "tensor dtype DT_COMPLEX64 is not supported",
        ),
        (
            "unknown rank",
            x_with(&|x| x.tensor_shape = Some(shape(&[], true))),
            Code::InvalidArgument,
            "tensor shape has unknown rank",
        ),
        (
            "negative dimension",
            x_with(&|x| x.tensor_shape = Some(shape(&[-3], false))),
            Code::InvalidArgument,
            "tensor shape has a negative dimension (-3)",
        ),
        (
            "rank mismatch",
            x_with(&|x| x.tensor_shape = Some(shape(&[1, 2], false))),
            Code::InvalidArgument,
            "input 'x' expects shape (-1) but got [1, 2]",
        ),
        (
            "more values than the shape holds",
            x_with(&|x| x.float_val = vec![1.0; 5]),
            Code::InvalidArgument,
            "tensor of shape [2] (2 elements) carries 5 values in float_val",
        ),
        (
            "tensor_content of the wrong size",
            x_with(&|x| {
                x.float_val.clear();
                x.tensor_content = vec![0; 7];
            }),
            Code::InvalidArgument,
            "tensor_content holds 7 bytes but shape [2] of DT_FLOAT needs 8 bytes",
        ),
        (
            "bytes that are not an image",
            resnet(""),
            Code::InvalidArgument,
            "Unknown image file format. One of JPEG, JPEG XL, PNG, GIF, BMP, WebP required.",
        ),
        // Resource limits: nothing is allocated for what a shape claims.
        (
            "shape overflowing u64",
            x_with(&|x| x.tensor_shape = Some(shape(&[1 << 40, 1 << 40], false))),
            Code::InvalidArgument,
            "input 'x': tensor shape [1099511627776, 1099511627776] has more elements than fit in memory",
        ),
        (
            "huge shape, one value",
            predict_x(filled(1 << 40)),
            Code::InvalidArgument,
            "input 'x': tensor shape [1099511627776] of DT_FLOAT needs 4398046511104 bytes once decoded, more than the server's limit of 65536 bytes for a request's inputs",
        ),
        (
            "huge shape, small tensor_content",
            x_with(&|x| {
                x.tensor_shape = Some(shape(&[1 << 40], false));
                x.float_val.clear();
                x.tensor_content = vec![0; 4];
            }),
            Code::InvalidArgument,
            "tensor_content holds 4 bytes but shape [1099511627776] of DT_FLOAT needs 4398046511104 bytes",
        ),
        (
            "one string repeated a million times",
            resnet_strings(),
            Code::InvalidArgument,
            "once decoded, more than the server's limit of 65536 bytes for a request's inputs",
        ),
        (
            "inputs together over the limit",
            with(&|r| {
                r.inputs.insert("x".into(), filled(10_000));
                r.inputs.insert("y".into(), filled(10_000));
            }),
            Code::InvalidArgument,
            "input 'y': tensor shape [10000] of DT_FLOAT needs 40000 bytes once decoded, more than the server's limit of 65536 bytes for a request's inputs (with the 40000 bytes of the inputs before it); start the server with a larger --max_request_bytes",
        ),
        (
            "batch over the limit",
            predict_x(filled(1025)),
            Code::InvalidArgument,
            "Task size 1025 is larger than maximum input batch size 1024",
        ),
        (
            "message over the limit",
            predict_x(floats(&[20_000], vec![1.0; 20_000])),
            Code::ResourceExhausted,
            "start the server with a larger --max_request_bytes",
        ),
    ]
}

/// A seedlike request whose one 1 KiB string the fill rule would repeat 2^20 times.
fn resnet_strings() -> PredictRequest {
    PredictRequest {
        model_spec: spec("resnet"),
        inputs: [(
            "image_bytes".to_string(),
            TensorProto {
                dtype: DataType::DtString as i32,
                tensor_shape: Some(shape_to_proto(&[1 << 20])),
                string_val: vec![vec![b'x'; 1024]],
                ..Default::default()
            },
        )]
        .into(),
        ..Default::default()
    }
}

async fn grpc_server() -> ServerHandle {
    tf::ensure_runtime();
    let mut config = config(vec![
        ModelSource::new("resnet", fixture("seedlike")),
        ModelSource::new("half", fixture("two_versions")),
    ]);
    config.grpc_max_message_bytes = MAX_MESSAGE_BYTES;
    start(config).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_bad_requests_answer_tf_serving_codes_and_the_server_keeps_serving() {
    let panics = PanicWatch::install();
    let server = grpc_server().await;
    let channel = channel(server.grpc_addr().unwrap()).await;
    let mut client = PredictionServiceClient::new(channel.clone());
    let cases = predict_cases();
    let mut mismatches = Vec::new();
    for (what, request, code, needle) in cases.iter().cloned() {
        mismatches.extend(status_mismatch(
            what,
            client.predict(request).await,
            code,
            needle,
        ));
        good_predict_succeeds(&channel, what).await;
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));

    let result = client
        .classify(ClassificationRequest {
            model_spec: spec("resnet"),
            input: None,
        })
        .await;
    assert_status(
        "Classify on a predict signature",
        result,
        Code::InvalidArgument,
        "No classification inputs found in SignatureDef",
    );
    let metadata = |fields: Vec<String>| GetModelMetadataRequest {
        model_spec: spec("resnet"),
        metadata_field: fields,
    };
    let result = client.get_model_metadata(metadata(vec![])).await;
    assert_status(
        "metadata without a field",
        result,
        Code::InvalidArgument,
        "at least one metadata_field",
    );
    let result = client
        .get_model_metadata(metadata(vec!["graph".into()]))
        .await;
    assert_status(
        "unknown metadata field",
        result,
        Code::InvalidArgument,
        "Metadata field graph is not supported (supported: signature_def)",
    );
    let result = ModelServiceClient::new(channel.clone())
        .get_model_status(GetModelStatusRequest {
            model_spec: spec("nope"),
        })
        .await;
    assert_status(
        "status of an unknown model",
        result,
        Code::NotFound,
        "Could not find any versions of model nope",
    );
    good_predict_succeeds(&channel, "the metadata and status cases").await;

    // NaN and infinities are values, not errors.
    let response = client
        .predict(predict_x(floats(
            &[3],
            vec![f32::NAN, f32::INFINITY, f32::NEG_INFINITY],
        )))
        .await
        .expect("non-finite floats are served");
    let y = &response.get_ref().outputs["y"].float_val;
    assert!(
        y[0].is_nan() && y[1] == f32::INFINITY && y[2] == f32::NEG_INFINITY,
        "{y:?}"
    );
    eprintln!("{} gRPC Predict cases checked", cases.len());
    server.shutdown().await;
    panics.assert_none();
}

/// Sends `body` as a Predict's HTTP/2 body, framing and all, and returns the
/// gRPC status of the answer.
async fn raw_predict(channel: &Channel, addr: SocketAddr, body: Vec<u8>) -> Status {
    let request = http::Request::builder()
        .method("POST")
        .uri(format!(
            "http://{addr}/tensorflow.serving.PredictionService/Predict"
        ))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(tonic::body::Body::new(Full::new(bytes::Bytes::from(body))))
        .unwrap();
    let response = channel
        .clone()
        .oneshot(request)
        .await
        .expect("HTTP/2 exchange");
    assert_eq!(response.status(), 200, "gRPC answers errors in its status");
    if let Some(status) = Status::from_header_map(response.headers()) {
        return status;
    }
    let collected = response.into_body().collect().await.expect("answer body");
    let trailers = collected.trailers().expect("trailers");
    Status::from_header_map(trailers).expect("a grpc-status trailer")
}

/// gRPC's length-prefixed frame: compression flag, big-endian length, bytes.
fn frame(compressed: bool, claimed_len: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![u8::from(compressed)];
    out.extend_from_slice(&claimed_len.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_grpc_frames_are_refused_and_the_server_keeps_serving() {
    let panics = PanicWatch::install();
    let server = grpc_server().await;
    let addr = server.grpc_addr().unwrap();
    let channel = channel(addr).await;
    let good = good_request().encode_to_vec();
    let cases: Vec<(&str, Vec<u8>, Code, &str)> = vec![
        (
            "length prefix larger than the data",
            frame(false, 1000, &good[..10]),
            Code::Internal,
            "Unexpected EOF decoding stream.",
        ),
        (
            "length prefix of 4 GiB, 5 bytes sent",
            frame(false, u32::MAX, b"hello"),
            Code::ResourceExhausted,
            "start the server with a larger --max_request_bytes",
        ),
        (
            "header cut short",
            vec![0, 0, 0],
            Code::Internal,
            "Unexpected EOF decoding stream.",
        ),
        (
            "no message at all",
            vec![],
            Code::Internal,
            "Missing request message.",
        ),
        (
            "bytes that are not a PredictRequest",
            frame(false, 8, &[0xff; 8]),
            Code::Internal,
            "failed to decode Protobuf message",
        ),
        (
            "compressed without grpc-encoding",
            frame(true, good.len() as u32, &good),
            Code::Internal,
            "received message with compressed-flag but no grpc-encoding was specified",
        ),
    ];
    let mut mismatches = Vec::new();
    for (what, body, code, needle) in cases {
        let status = raw_predict(&channel, addr, body).await;
        mismatches.extend(status_mismatch(what, Err::<(), _>(status), code, needle));
        good_predict_succeeds(&channel, what).await;
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    // The good message framed by hand is answered: the frames above were refused for
    // what they are, not for being hand-made.
    let len = good.len() as u32;
    let status = raw_predict(&channel, addr, frame(false, len, &good)).await;
    assert_eq!(status.code(), Code::Ok, "{}", status.message());
    server.shutdown().await;
    panics.assert_none();
}
