//! TF Serving's gRPC API (tonic): `PredictionService` (Predict, Classify,
//! Regress, GetModelMetadata; MultiInference answers UNIMPLEMENTED)
//! and `ModelService` (GetModelStatus), plus the standard health service and
//! server reflection so that `grpcurl` works without proto files.

use super::Shared;
use super::classify::{Api, ExamplesRequest, Outcome};
use super::error::ServeError;
use super::metrics::Protocol;
use super::predict::{RequestLimits, prepare_inputs, run, signature_key_or_default};
use super::versions::VersionRequest;
use crate::pb::tensorflow::error::Code;
use crate::pb::tensorflow::serving::model_service_server::{ModelService, ModelServiceServer};
use crate::pb::tensorflow::serving::prediction_service_server::{
    PredictionService, PredictionServiceServer,
};
use crate::pb::tensorflow::serving::{
    ClassificationRequest, ClassificationResponse, GetModelMetadataRequest,
    GetModelMetadataResponse, GetModelStatusRequest, GetModelStatusResponse, Input, ModelSpec,
    MultiInferenceRequest, MultiInferenceResponse, PredictRequest, PredictResponse,
    RegressionRequest, RegressionResponse, ReloadConfigRequest, ReloadConfigResponse, model_spec,
};
use crate::tensor::proto::tensor_into_proto;
use prost::Message;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Instant;
use tonic::codegen::{BoxFuture, Context, Poll, Service, http};
use tonic::server::NamedService;
use tonic::{Request, Response, Status};

const SIGNATURE_DEF_FIELD: &str = "signature_def";
const SIGNATURE_DEF_MAP_TYPE_URL: &str = "type.googleapis.com/tensorflow.serving.SignatureDefMap";

/// Implements both TF Serving services over the shared server state.
#[derive(Clone)]
pub struct TfServing {
    shared: Arc<Shared>,
    /// The most a request's input tensors may take once decoded: the message
    /// size limit, so that a shape the fill rule would expand (a few bytes on
    /// the wire claiming terabytes) is refused before anything is allocated.
    max_decoded_bytes: u64,
}

impl TfServing {
    pub fn new(shared: Arc<Shared>, max_message_bytes: usize) -> Self {
        TfServing {
            shared,
            max_decoded_bytes: max_message_bytes as u64,
        }
    }

    /// Runs a Predict; `signature_label` gets the signature once it is known to exist.
    async fn predict_inner(
        &self,
        request: PredictRequest,
        signature_label: &mut String,
    ) -> Result<PredictResponse, ServeError> {
        let spec = request
            .model_spec
            .ok_or_else(|| ServeError::invalid("Missing ModelSpec"))?;
        if spec.name.is_empty() {
            return Err(ServeError::invalid("ModelSpec has no name specified."));
        }
        let servable = self
            .shared
            .manager
            .resolve(&spec.name, &VersionRequest::from_spec(&spec))?;
        let signature_key = signature_key_or_default(&spec.signature_name);
        let signature = servable.signature(&signature_key)?;
        signature_label.push_str(&signature.key);
        let limits = RequestLimits {
            max_decoded_bytes: self.max_decoded_bytes,
            max_batch_size: self.shared.max_batch_size,
        };
        let (inputs, output_keys) =
            prepare_inputs(signature, &request.inputs, &request.output_filter, &limits)?;
        let outputs = run(&servable, &signature_key, inputs, &output_keys, None).await?;
        Ok(PredictResponse {
            outputs: outputs
                .into_iter()
                .map(|(key, tensor)| (key, tensor_into_proto(tensor)))
                .collect(),
            model_spec: Some(ModelSpec {
                name: spec.name,
                version_choice: Some(model_spec::VersionChoice::Version(servable.version)),
                signature_name: signature_key,
            }),
        })
    }

    /// Runs a Classify or Regress; `signature_label` gets the signature once it is known to exist.
    /// Classify and Regress: run the examples, shape the answer with `respond`, and
    /// record the call's metrics.
    async fn answer_examples<R>(
        &self,
        api: Api,
        spec: Option<ModelSpec>,
        input: Option<Input>,
        respond: impl FnOnce(ModelSpec, Outcome) -> Result<R, ServeError>,
    ) -> Result<Response<R>, Status> {
        let started = Instant::now();
        let name = spec_name(&spec);
        let mut signature = String::new();
        let result = self
            .examples_inner(api, spec, input, &mut signature)
            .await
            .and_then(|(spec, outcome)| respond(spec, outcome));
        self.record(&name, &signature, api.name(), &result, started);
        result.map(Response::new).map_err(|err| err.to_status())
    }

    async fn examples_inner(
        &self,
        api: Api,
        spec: Option<ModelSpec>,
        input: Option<Input>,
        signature_label: &mut String,
    ) -> Result<(ModelSpec, Outcome), ServeError> {
        let spec = spec.ok_or_else(|| ServeError::invalid("Missing ModelSpec"))?;
        if spec.name.is_empty() {
            return Err(ServeError::invalid("ModelSpec has no name specified."));
        }
        let request = ExamplesRequest {
            api,
            model: &spec.name,
            version: &VersionRequest::from_spec(&spec),
            signature_name: &spec.signature_name,
            input: &input.unwrap_or_default(),
            max_bytes: self.max_decoded_bytes,
            timeout: None,
        };
        let outcome = super::classify::handle(&self.shared, request, signature_label).await?;
        let spec = ModelSpec {
            name: spec.name,
            version_choice: Some(model_spec::VersionChoice::Version(outcome.servable.version)),
            signature_name: outcome.signature_key.clone(),
        };
        Ok((spec, outcome))
    }

    /// Counts a request in the metrics. Labels only name models and
    /// signatures that exist (bounded cardinality).
    fn record<T>(
        &self,
        name: &str,
        signature: &str,
        api: &'static str,
        result: &Result<T, ServeError>,
        started: Instant,
    ) {
        let code = result.as_ref().map_or_else(ServeError::code, |_| Code::Ok);
        let model = if self.shared.manager.knows(name) {
            name
        } else {
            ""
        };
        self.shared.metrics.record_request(
            model,
            signature,
            api,
            Protocol::Grpc,
            code,
            started.elapsed(),
        );
    }

    fn metadata_inner(
        &self,
        request: GetModelMetadataRequest,
    ) -> Result<GetModelMetadataResponse, ServeError> {
        let spec = request
            .model_spec
            .ok_or_else(|| ServeError::invalid("Missing ModelSpec"))?;
        if request.metadata_field.is_empty() {
            return Err(ServeError::invalid(
                "GetModelMetadataRequest must specify at least one metadata_field",
            ));
        }
        if let Some(field) = request
            .metadata_field
            .iter()
            .find(|field| *field != SIGNATURE_DEF_FIELD)
        {
            return Err(ServeError::invalid(format!(
                "Metadata field {field} is not supported (supported: {SIGNATURE_DEF_FIELD})"
            )));
        }
        if spec.name.is_empty() {
            return Err(ServeError::invalid("ModelSpec has no name specified."));
        }
        let servable = self
            .shared
            .manager
            .resolve(&spec.name, &VersionRequest::from_spec(&spec))?;
        let any = prost_types::Any {
            type_url: SIGNATURE_DEF_MAP_TYPE_URL.to_string(),
            value: servable.signature_defs().encode_to_vec(),
        };
        Ok(GetModelMetadataResponse {
            model_spec: Some(ModelSpec {
                name: servable.model.clone(),
                version_choice: Some(model_spec::VersionChoice::Version(servable.version)),
                signature_name: String::new(),
            }),
            metadata: [(SIGNATURE_DEF_FIELD.to_string(), any)]
                .into_iter()
                .collect(),
        })
    }
}

fn spec_name(spec: &Option<ModelSpec>) -> String {
    spec.as_ref()
        .map(|spec| spec.name.clone())
        .unwrap_or_default()
}

fn unimplemented(what: &str, instead: &str) -> Status {
    ServeError::Unimplemented {
        message: format!("tfprobe does not implement {what}; {instead}"),
    }
    .to_status()
}

#[tonic::async_trait]
impl PredictionService for TfServing {
    async fn classify(
        &self,
        request: Request<ClassificationRequest>,
    ) -> Result<Response<ClassificationResponse>, Status> {
        let request = request.into_inner();
        self.answer_examples(
            Api::Classify,
            request.model_spec,
            request.input,
            |spec, outcome| {
                Ok(ClassificationResponse {
                    model_spec: Some(spec),
                    result: Some(outcome.classification()?),
                })
            },
        )
        .await
    }

    async fn regress(
        &self,
        request: Request<RegressionRequest>,
    ) -> Result<Response<RegressionResponse>, Status> {
        let request = request.into_inner();
        self.answer_examples(
            Api::Regress,
            request.model_spec,
            request.input,
            |spec, outcome| {
                Ok(RegressionResponse {
                    model_spec: Some(spec),
                    result: Some(outcome.regression()?),
                })
            },
        )
        .await
    }

    async fn predict(
        &self,
        request: Request<PredictRequest>,
    ) -> Result<Response<PredictResponse>, Status> {
        let started = Instant::now();
        let request = request.into_inner();
        let name = spec_name(&request.model_spec);
        let mut signature = String::new();
        let result = self.predict_inner(request, &mut signature).await;
        self.record(&name, &signature, "predict", &result, started);
        result.map(Response::new).map_err(|err| err.to_status())
    }

    async fn multi_inference(
        &self,
        _: Request<MultiInferenceRequest>,
    ) -> Result<Response<MultiInferenceResponse>, Status> {
        Err(unimplemented(
            "MultiInference",
            "call Predict once per signature instead",
        ))
    }

    async fn get_model_metadata(
        &self,
        request: Request<GetModelMetadataRequest>,
    ) -> Result<Response<GetModelMetadataResponse>, Status> {
        self.metadata_inner(request.into_inner())
            .map(Response::new)
            .map_err(|err| err.to_status())
    }
}

#[tonic::async_trait]
impl ModelService for TfServing {
    async fn get_model_status(
        &self,
        request: Request<GetModelStatusRequest>,
    ) -> Result<Response<GetModelStatusResponse>, Status> {
        let spec = request
            .into_inner()
            .model_spec
            .ok_or_else(|| ServeError::invalid("Missing ModelSpec").to_status())?;
        if spec.name.is_empty() {
            return Err(ServeError::invalid("ModelSpec has no name specified.").to_status());
        }
        self.shared
            .manager
            .status(&spec.name, &VersionRequest::from_spec(&spec))
            .map(Response::new)
            .map_err(|err| err.to_status())
    }

    async fn handle_reload_config_request(
        &self,
        _: Request<ReloadConfigRequest>,
    ) -> Result<Response<ReloadConfigResponse>, Status> {
        Err(unimplemented(
            "HandleReloadConfigRequest",
            "new versions under a model's base path are picked up by polling; restart the server to change the model list",
        ))
    }
}

/// The gRPC services with message size limits applied.
pub fn services(shared: &Arc<Shared>, max_message_bytes: usize) -> tonic::service::Routes {
    let service = TfServing::new(Arc::clone(shared), max_message_bytes);
    let prediction = PredictionServiceServer::new(service.clone())
        .max_decoding_message_size(max_message_bytes)
        .max_encoding_message_size(max_message_bytes);
    let model = ModelServiceServer::new(service)
        .max_decoding_message_size(max_message_bytes)
        .max_encoding_message_size(max_message_bytes);
    tonic::service::Routes::new(LimitHint(prediction)).add_service(LimitHint(model))
}

/// Adds how to raise the limit to tonic's "message length too large" errors.
#[derive(Clone)]
pub struct LimitHint<S>(pub S);

impl<S: NamedService> NamedService for LimitHint<S> {
    const NAME: &'static str = S::NAME;
}

impl<S, B> Service<http::Request<B>> for LimitHint<S>
where
    S: Service<http::Request<B>, Response = http::Response<tonic::body::Body>, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Infallible>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let future = self.0.call(request);
        Box::pin(async move {
            let mut response = future.await?;
            if let Some(status) = Status::from_header_map(response.headers())
                && status.code() == tonic::Code::OutOfRange
                && status.message().contains("message length too large")
            {
                let hint = Status::new(
                    tonic::Code::ResourceExhausted,
                    format!(
                        "{}; start the server with a larger --max_request_bytes (and raise the client's limit too)",
                        status.message()
                    ),
                );
                let headers = response.headers_mut();
                headers.remove("grpc-status");
                headers.remove("grpc-message");
                let _ = hint.add_header(headers);
            }
            Ok(response)
        })
    }
}
