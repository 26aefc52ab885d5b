//! gRPC helpers of the reliability tests: Predicts of the two_versions fixture
//! (served as `half`), status checks that name the case, and the good request
//! that must succeed after every bad one.

use std::net::SocketAddr;
use tfprobe::pb::convert::{shape_to_proto, tensor_to_proto};
use tfprobe::pb::tensorflow::serving::prediction_service_client::PredictionServiceClient;
use tfprobe::pb::tensorflow::serving::{ModelSpec, PredictRequest};
use tfprobe::pb::tensorflow::{DataType, TensorProto};
use tfprobe::tensor::{Tensor, TensorData};
use tonic::transport::Channel;
use tonic::{Code, Status};

pub fn spec(name: &str) -> Option<ModelSpec> {
    Some(ModelSpec {
        name: name.into(),
        ..Default::default()
    })
}

/// A Predict of `half` (two_versions: x float (-1) -> y) with this `x`.
pub fn predict_x(x: TensorProto) -> PredictRequest {
    PredictRequest {
        model_spec: spec("half"),
        inputs: [("x".to_string(), x)].into(),
        ..Default::default()
    }
}

pub fn floats(shape: &[u64], values: Vec<f32>) -> TensorProto {
    TensorProto {
        dtype: DataType::DtFloat as i32,
        tensor_shape: Some(shape_to_proto(shape)),
        float_val: values,
        ..Default::default()
    }
}

pub fn good_request() -> PredictRequest {
    predict_x(tensor_to_proto(
        &Tensor::new(vec![2], TensorData::Float(vec![1.0, 2.0])).unwrap(),
    ))
}

/// What is wrong with a result that should have been this error, if anything.
pub fn status_mismatch<T: std::fmt::Debug>(
    what: &str,
    result: Result<T, Status>,
    code: Code,
    needle: &str,
) -> Option<String> {
    match result {
        Err(status) if status.code() == code && status.message().contains(needle) => None,
        other => Some(format!(
            "{what}: expected {code:?} with {needle:?}, got {other:?}"
        )),
    }
}

pub fn assert_status<T: std::fmt::Debug>(
    what: &str,
    result: Result<T, Status>,
    code: Code,
    needle: &str,
) {
    if let Some(mismatch) = status_mismatch(what, result, code, needle) {
        panic!("{mismatch}");
    }
}

pub async fn channel(addr: SocketAddr) -> Channel {
    Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .expect("gRPC connect")
}

/// A good Predict succeeds on `channel` (the bad request before it left the
/// channel and the server usable).
pub async fn good_predict_succeeds(channel: &Channel, after: &str) {
    let response = PredictionServiceClient::new(channel.clone())
        .predict(good_request())
        .await
        .unwrap_or_else(|status| panic!("after {after}: {status}"));
    let y = &response.get_ref().outputs["y"];
    assert_eq!(y.float_val.len(), 2, "after {after}: {y:?}");
}
