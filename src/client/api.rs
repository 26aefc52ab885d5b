//! What a client call returns and the trait every client implements, apart from
//! the `client` facade so that the REST and gRPC clients need not reach back into it.

use super::error::ClientError;
use super::metadata::VersionState;
use crate::model::SavedModelInfo;
use crate::tensor::NamedTensors;
use std::future::Future;

/// The outputs of one predict call and what the server said it ran.
#[derive(Clone, Debug, PartialEq)]
pub struct PredictResult {
    pub outputs: NamedTensors,
    /// The version that answered (gRPC says; REST does not).
    pub model_version: Option<i64>,
    /// The signature that ran, when the server says.
    pub signature_name: Option<String>,
}

/// A request encoded once and sent many times (benchmarks, repeated runs).
#[derive(Clone, Debug)]
pub enum PreparedRequest {
    /// The JSON body of `POST .../models/NAME:predict`.
    Rest { url: String, body: bytes::Bytes },
    /// A gRPC `PredictRequest`.
    Grpc(Box<crate::pb::tensorflow::serving::PredictRequest>),
}

/// The three calls every TF Serving client makes. Futures are `Send`, so calls can
/// run on any tokio runtime thread.
pub trait ModelClient: Send + Sync {
    /// `GetModelStatus` / `GET /v1/models/NAME`: the versions and their states.
    fn status(&self) -> impl Future<Output = Result<Vec<VersionState>, ClientError>> + Send;

    /// `GetModelMetadata` / `GET .../metadata`, as tfprobe's signature tree: one
    /// MetaGraph tagged `serve` holding the signatures, and the version served.
    fn metadata(&self) -> impl Future<Output = Result<SavedModelInfo, ClientError>> + Send;

    /// `Predict` / `POST ...:predict` with named inputs; `output_filter` selects
    /// outputs (empty: all).
    fn predict(
        &self,
        inputs: NamedTensors,
        output_filter: &[String],
    ) -> impl Future<Output = Result<PredictResult, ClientError>> + Send;

    /// Encodes a predict request once, for [`ModelClient::send_prepared`].
    fn prepare(&self, inputs: &NamedTensors) -> Result<PreparedRequest, ClientError>;

    /// Sends a prepared request and checks that the server answered with success;
    /// returns the response size in bytes (the body is not decoded).
    fn send_prepared(
        &self,
        request: &PreparedRequest,
    ) -> impl Future<Output = Result<usize, ClientError>> + Send;
}
