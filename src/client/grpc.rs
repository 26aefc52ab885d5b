//! The gRPC client (tonic): `tensorflow.serving.PredictionService/{Predict,
//! GetModelMetadata}` and `ModelService/GetModelStatus`, plain or over rustls.

use super::error::{
    ClientError, chain_text, closed_after_cert_request, io_kind, looks_closed, tls_error,
};
use super::metadata::{decode_error, model_info_from_signature_defs, states_from_proto};
use super::{
    ClientConfig, ModelClient, PredictResult, PreparedRequest, VersionSelector, VersionState, tls,
};
use crate::model::SavedModelInfo;
use crate::pb::tensorflow::serving::model_service_client::ModelServiceClient;
use crate::pb::tensorflow::serving::prediction_service_client::PredictionServiceClient;
use crate::pb::tensorflow::serving::{
    GetModelMetadataRequest, GetModelStatusRequest, ModelSpec, PredictRequest, SignatureDefMap,
    model_spec,
};
use crate::tensor::NamedTensors;
use crate::tensor::proto::{tensor_from_proto, tensor_to_proto_content};
use prost::Message;
use std::sync::Arc;
use tonic::metadata::{
    AsciiMetadataKey, AsciiMetadataValue, BinaryMetadataKey, BinaryMetadataValue, MetadataMap,
};
use tonic::transport::{Channel, Endpoint};

/// Largest message sent or received: TF Serving's default limit is far lower, but
/// big image batches happen.
const MAX_MESSAGE_BYTES: usize = 256 * 1024 * 1024;

/// A TF Serving gRPC client for one model. Cloning shares the HTTP/2 connection.
#[derive(Clone, Debug)]
pub struct GrpcClient {
    config: ClientConfig,
    channel: Channel,
    metadata: MetadataMap,
    /// TLS alerts and certificate requests, which tonic's statuses leave out.
    tls_evidence: tls::TlsEvidence,
}

fn metadata_map(headers: &[(String, String)]) -> Result<MetadataMap, ClientError> {
    let mut map = MetadataMap::new();
    for (name, value) in headers {
        let name = name.trim().to_ascii_lowercase();
        let bad = || ClientError::Config(format!("bad gRPC metadata '{name}'"));
        if name.ends_with("-bin") {
            let key = BinaryMetadataKey::from_bytes(name.as_bytes()).map_err(|_| bad())?;
            map.append_bin(key, BinaryMetadataValue::from_bytes(value.as_bytes()));
        } else {
            let key = AsciiMetadataKey::from_bytes(name.as_bytes()).map_err(|_| bad())?;
            let value = AsciiMetadataValue::try_from(value.trim()).map_err(|_| bad())?;
            map.append(key, value);
        }
    }
    Ok(map)
}

/// The `ModelSpec` of every call.
pub(crate) fn model_spec(config: &ClientConfig, with_signature: bool) -> ModelSpec {
    ModelSpec {
        name: config.model_name.clone(),
        version_choice: match &config.version {
            VersionSelector::Latest => None,
            VersionSelector::Version(version) => Some(model_spec::VersionChoice::Version(*version)),
            VersionSelector::Label(label) => {
                Some(model_spec::VersionChoice::VersionLabel(label.clone()))
            }
        },
        signature_name: if with_signature {
            config.signature_or_empty().to_string()
        } else {
            String::new()
        },
    }
}

impl GrpcClient {
    /// Builds the channel; it connects on the first call. Needs a tokio runtime.
    pub fn new(config: &ClientConfig) -> Result<GrpcClient, ClientError> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(ClientError::Config(
                "the gRPC client must be created inside a tokio runtime".into(),
            ));
        }
        let scheme = if config.tls.is_some() {
            "https"
        } else {
            "http"
        };
        let endpoint = Endpoint::from_shared(format!("{scheme}://{}", config.authority()))
            .map_err(|err| {
                ClientError::Config(format!("bad address {}: {err}", config.authority()))
            })?
            .connect_timeout(config.connect_timeout)
            .timeout(config.timeout)
            .tcp_nodelay(true);
        let tls_evidence = tls::TlsEvidence::default();
        let channel = match &config.tls {
            None => endpoint.connect_lazy(),
            Some(options) => {
                let connector = tokio_rustls::TlsConnector::from(Arc::new(tls::client_config(
                    options,
                    &[b"h2"],
                    &tls_evidence,
                )?));
                let name = tls::server_name(&config.host, options)?;
                let address = config.authority();
                let connect_timeout = config.connect_timeout;
                let evidence = tls_evidence.clone();
                let service = tower::service_fn(move |_uri: http::Uri| {
                    let (connector, name, address, evidence) = (
                        connector.clone(),
                        name.clone(),
                        address.clone(),
                        evidence.clone(),
                    );
                    async move {
                        let connect = async {
                            let tcp = tokio::net::TcpStream::connect(address.as_str()).await?;
                            tcp.set_nodelay(true)?;
                            connector.connect(name, tcp).await
                        };
                        let stream = tokio::time::timeout(connect_timeout, connect)
                            .await
                            .map_err(|_| {
                                std::io::Error::new(
                                    std::io::ErrorKind::TimedOut,
                                    "connect timed out",
                                )
                            })??;
                        let stream = tls::Recorded {
                            inner: stream,
                            evidence,
                        };
                        Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(stream))
                    }
                });
                endpoint.connect_with_connector_lazy(service)
            }
        };
        Ok(GrpcClient {
            config: config.clone(),
            channel,
            metadata: metadata_map(&config.headers)?,
            tls_evidence,
        })
    }

    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// Which signature later calls name (clones share the connection).
    pub(crate) fn set_signature(&mut self, signature: Option<String>) {
        self.config.signature = signature;
    }

    fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        *request.metadata_mut() = self.metadata.clone();
        request.set_timeout(self.config.timeout);
        request
    }

    fn prediction(&self) -> PredictionServiceClient<Channel> {
        PredictionServiceClient::new(self.channel.clone())
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES)
    }

    /// A failed call as a named error.
    fn status_error(&self, status: &tonic::Status) -> ClientError {
        let target = self.config.authority();
        let message = status.message().to_string();
        let mut detail = match std::error::Error::source(status) {
            Some(source) => format!("{message}: {}", chain_text(source)),
            None => message.clone(),
        };
        if std::error::Error::source(status).is_some()
            && let Some(failure) = self.tls_evidence.take_failure()
        {
            // A transport failure after a TLS alert: the alert is the reason (tonic
            // passes it on only sometimes, depending on which side noticed first).
            if !detail.contains(&failure) {
                detail = format!("{detail}: {failure}");
            }
            return tls_error(target, detail, self.config.presents_client_cert());
        }
        let lower = detail.to_ascii_lowercase();
        if let Some(source) = std::error::Error::source(status) {
            match io_kind(source) {
                Some(std::io::ErrorKind::ConnectionRefused) => {
                    return ClientError::Refused { target };
                }
                Some(std::io::ErrorKind::TimedOut) => {
                    return ClientError::TimedOut {
                        target,
                        after: self.config.connect_timeout,
                        phase: "connecting",
                    };
                }
                _ => {}
            }
            if lower.contains("certificate") || lower.contains("tls") || lower.contains("handshake")
            {
                return tls_error(target, detail, self.config.presents_client_cert());
            }
            if self.tls_evidence.cert_requested() && looks_closed(&lower) {
                return closed_after_cert_request(
                    target,
                    detail,
                    self.config.presents_client_cert(),
                );
            }
            if lower.contains("h2 protocol error")
                || lower.contains("frame")
                || lower.contains("http2 error")
            {
                return ClientError::NotTfServing {
                    target,
                    detail: format!("it does not speak gRPC over HTTP/2 ({detail})"),
                };
            }
            if lower.contains("timed out") || lower.contains("elapsed") {
                return ClientError::TimedOut {
                    target,
                    after: self.config.connect_timeout,
                    phase: "connecting",
                };
            }
            if lower.contains("dns") || lower.contains("resolve") || lower.contains("unreachable") {
                return ClientError::Unreachable { target, detail };
            }
        }
        match status.code() {
            tonic::Code::DeadlineExceeded => ClientError::TimedOut {
                target,
                after: self.config.timeout,
                phase: "waiting for the response",
            },
            tonic::Code::Cancelled if lower.contains("timeout expired") => ClientError::TimedOut {
                target,
                after: self.config.timeout,
                phase: "waiting for the response",
            },
            tonic::Code::Unimplemented
                if message.is_empty() || lower.contains("unknown service") =>
            {
                ClientError::NotTfServing {
                    target,
                    detail: format!(
                        "it does not offer TF Serving's gRPC services ({})",
                        if message.is_empty() {
                            "UNIMPLEMENTED"
                        } else {
                            &message
                        }
                    ),
                }
            }
            tonic::Code::Unknown | tonic::Code::Internal
                if [
                    "grpc-status header missing",
                    "content-type",
                    "while receiving response with status",
                    "invalid compression flag",
                ]
                .iter()
                .any(|words| lower.contains(words)) =>
            {
                ClientError::NotTfServing {
                    target,
                    detail: format!("it answers HTTP/2 but not gRPC ({detail})"),
                }
            }
            tonic::Code::Unavailable if std::error::Error::source(status).is_some() => {
                ClientError::Unreachable { target, detail }
            }
            code => ClientError::Server {
                code: crate::pb::tensorflow::error::Code::try_from(code as i32)
                    .map(|code| code.as_str_name().to_string())
                    .unwrap_or_else(|_| format!("{code:?}")),
                http_status: None,
                message,
            },
        }
    }

    fn predict_request(&self, inputs: &NamedTensors, output_filter: &[String]) -> PredictRequest {
        PredictRequest {
            model_spec: Some(model_spec(&self.config, true)),
            inputs: inputs
                .iter()
                .map(|(key, tensor)| (key.clone(), tensor_to_proto_content(tensor)))
                .collect(),
            output_filter: output_filter.to_vec(),
            ..Default::default()
        }
    }
}

impl ModelClient for GrpcClient {
    async fn status(&self) -> Result<Vec<VersionState>, ClientError> {
        let request = self.request(GetModelStatusRequest {
            model_spec: Some(model_spec(&self.config, false)),
        });
        let response = ModelServiceClient::new(self.channel.clone())
            .get_model_status(request)
            .await
            .map_err(|status| self.status_error(&status))?;
        Ok(states_from_proto(response.get_ref()))
    }

    async fn metadata(&self) -> Result<SavedModelInfo, ClientError> {
        let request = self.request(GetModelMetadataRequest {
            model_spec: Some(model_spec(&self.config, false)),
            metadata_field: vec!["signature_def".to_string()],
        });
        let response = self
            .prediction()
            .get_model_metadata(request)
            .await
            .map_err(|status| self.status_error(&status))?
            .into_inner();
        let any = response
            .metadata
            .get("signature_def")
            .ok_or_else(|| ClientError::Decode("the metadata has no 'signature_def'".into()))?;
        let map = SignatureDefMap::decode(any.value.as_slice())
            .map_err(|err| decode_error("SignatureDefMap", err))?;
        let version = match response.model_spec.and_then(|spec| spec.version_choice) {
            Some(model_spec::VersionChoice::Version(version)) => Some(version),
            _ => None,
        };
        Ok(model_info_from_signature_defs(version, &map))
    }

    async fn predict(
        &self,
        inputs: NamedTensors,
        output_filter: &[String],
    ) -> Result<PredictResult, ClientError> {
        let request = self.request(self.predict_request(&inputs, output_filter));
        let response = self
            .prediction()
            .predict(request)
            .await
            .map_err(|status| self.status_error(&status))?
            .into_inner();
        let outputs = response
            .outputs
            .iter()
            .map(|(key, proto)| {
                tensor_from_proto(proto)
                    .map(|tensor| (key.clone(), tensor))
                    .map_err(|err| decode_error(&format!("output '{key}'"), err))
            })
            .collect::<Result<NamedTensors, _>>()?;
        let spec = response.model_spec.unwrap_or_default();
        let model_version = match spec.version_choice {
            Some(model_spec::VersionChoice::Version(version)) => Some(version),
            _ => None,
        };
        let signature_name = (!spec.signature_name.is_empty()).then_some(spec.signature_name);
        Ok(PredictResult {
            outputs,
            model_version,
            signature_name,
        })
    }

    fn prepare(&self, inputs: &NamedTensors) -> Result<PreparedRequest, ClientError> {
        Ok(PreparedRequest::Grpc(Box::new(
            self.predict_request(inputs, &[]),
        )))
    }

    async fn send_prepared(&self, request: &PreparedRequest) -> Result<usize, ClientError> {
        let PreparedRequest::Grpc(message) = request else {
            return Err(ClientError::Config(
                "a REST request cannot be sent over gRPC".into(),
            ));
        };
        let response = self
            .prediction()
            .predict(self.request(message.as_ref().clone()))
            .await
            .map_err(|status| self.status_error(&status))?;
        Ok(response.get_ref().encoded_len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::Protocol;

    #[test]
    fn model_spec_carries_version_or_label_and_signature() {
        let mut config = ClientConfig::new("h", 1, Protocol::Grpc).with_model("resnet");
        config.signature = Some("predict".into());
        config.version = VersionSelector::Label("canary".into());
        let spec = model_spec(&config, true);
        assert_eq!(spec.name, "resnet");
        assert_eq!(spec.signature_name, "predict");
        assert_eq!(
            spec.version_choice,
            Some(model_spec::VersionChoice::VersionLabel("canary".into()))
        );
        assert_eq!(model_spec(&config, false).signature_name, "");
        let map = metadata_map(&[
            ("Authorization".into(), "Bearer x".into()),
            ("trace-bin".into(), "\u{1}".into()),
        ])
        .unwrap();
        assert_eq!(map.get("authorization").unwrap(), "Bearer x");
        assert!(metadata_map(&[("bad key".into(), "v".into())]).is_err());
    }
}
