//! Clients of TF Serving-compatible servers: one [`ModelClient`] trait with a REST
//! (reqwest) and a gRPC (tonic) implementation, the connection settings they share,
//! latency statistics, a load generator (`tfprobe bench`) and "copy as code" snippets.
//!
//! Layer: depends on `pb`, `tensor` and `model` only — not on `runtime` (a client
//! runs no model), `server` or anything above.
//!
//! ```no_run
//! # async fn demo() -> Result<(), tfprobe::client::ClientError> {
//! use tfprobe::client::{Client, ClientConfig, ModelClient, Protocol};
//! let config = ClientConfig::parse_target("localhost:8501", Protocol::Rest)?.with_model("resnet");
//! let client = Client::connect(&config)?;
//! let info = client.metadata().await?;
//! println!("{:?}", info.serving_meta_graph().map(|graph| graph.signature_keys()));
//! # Ok(()) }
//! ```

mod api;
pub mod bench;
mod config;
mod error;
mod grpc;
mod metadata;
mod rest;
pub mod rest_json;
pub mod snippets;
pub mod stats;
mod tls;

pub use api::{ModelClient, PredictResult, PreparedRequest};
pub use config::{ClientConfig, ClientIdentity, Protocol, TlsOptions, VersionSelector};
pub use error::{ClientError, code_for_http_status};
pub use grpc::GrpcClient;
pub use metadata::{VersionState, model_info_from_signature_defs};
pub use rest::RestClient;
pub use rest_json::{decode_predict_response, encode_predict_request};

use crate::model::SavedModelInfo;
use crate::tensor::NamedTensors;

/// A REST or gRPC client, chosen by [`ClientConfig::protocol`].
#[derive(Clone, Debug)]
pub enum Client {
    Rest(RestClient),
    Grpc(GrpcClient),
}

impl Client {
    /// Builds the client; nothing is sent until the first call (gRPC connects lazily).
    pub fn connect(config: &ClientConfig) -> Result<Client, ClientError> {
        config.check()?;
        Ok(match config.protocol {
            Protocol::Rest => Client::Rest(RestClient::new(config)?),
            Protocol::Grpc => Client::Grpc(GrpcClient::new(config)?),
        })
    }

    pub fn config(&self) -> &ClientConfig {
        match self {
            Client::Rest(client) => client.config(),
            Client::Grpc(client) => client.config(),
        }
    }

    /// The same connection asking for another signature (`None`: the server's default).
    pub fn with_signature(&self, signature: Option<String>) -> Client {
        let mut client = self.clone();
        match &mut client {
            Client::Rest(client) => client.set_signature(signature),
            Client::Grpc(client) => client.set_signature(signature),
        }
        client
    }
}

impl ModelClient for Client {
    async fn status(&self) -> Result<Vec<VersionState>, ClientError> {
        match self {
            Client::Rest(client) => client.status().await,
            Client::Grpc(client) => client.status().await,
        }
    }

    async fn metadata(&self) -> Result<SavedModelInfo, ClientError> {
        match self {
            Client::Rest(client) => client.metadata().await,
            Client::Grpc(client) => client.metadata().await,
        }
    }

    async fn predict(
        &self,
        inputs: NamedTensors,
        output_filter: &[String],
    ) -> Result<PredictResult, ClientError> {
        match self {
            Client::Rest(client) => client.predict(inputs, output_filter).await,
            Client::Grpc(client) => client.predict(inputs, output_filter).await,
        }
    }

    fn prepare(&self, inputs: &NamedTensors) -> Result<PreparedRequest, ClientError> {
        match self {
            Client::Rest(client) => client.prepare(inputs),
            Client::Grpc(client) => client.prepare(inputs),
        }
    }

    async fn send_prepared(&self, request: &PreparedRequest) -> Result<usize, ClientError> {
        match self {
            Client::Rest(client) => client.send_prepared(request).await,
            Client::Grpc(client) => client.send_prepared(request).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_like_people_write_them() {
        let config = ClientConfig::parse_target("localhost:8501", Protocol::Rest).unwrap();
        assert_eq!(
            (config.host.as_str(), config.port, config.tls.is_none()),
            ("localhost", 8501, true)
        );
        let config = ClientConfig::parse_target("127.0.0.1", Protocol::Grpc).unwrap();
        assert_eq!(config.port, 8500);
        let config =
            ClientConfig::parse_target("https://models.example:443/v1", Protocol::Rest).unwrap();
        assert_eq!((config.port, config.tls.is_some()), (443, true));
        assert_eq!(config.base_url(), "https://models.example:443");
        let config = ClientConfig::parse_target("[::1]:9000", Protocol::Rest).unwrap();
        assert_eq!((config.host.as_str(), config.port), ("::1", 9000));
        assert_eq!(config.authority(), "[::1]:9000");
        let config = ClientConfig::parse_target("grpcs://h", Protocol::Rest).unwrap();
        assert_eq!(
            (config.protocol, config.port, config.tls.is_some()),
            (Protocol::Grpc, 8500, true)
        );
        for bad in ["", "h:notaport", "ftp://h:1", "[::1"] {
            assert!(
                ClientConfig::parse_target(bad, Protocol::Rest).is_err(),
                "{bad}"
            );
        }
        let err = Client::connect(&ClientConfig::new("h", 1, Protocol::Rest)).unwrap_err();
        assert!(err.to_string().contains("--model_name"), "{err}");
    }
}
