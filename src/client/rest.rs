//! The REST client (reqwest over rustls): `GET /v1/models/NAME[...]`,
//! `GET .../metadata`, `POST ...:predict`.

use super::error::{
    ClientError, chain_text, closed_after_cert_request, code_for_http_status, io_kind,
    looks_closed, tls_error,
};
use super::metadata::{
    decode_error, model_info_from_signature_defs, signature_defs_from_json, states_from_json,
};
use super::rest_json::{decode_predict_response, encode_predict_request, parse_lenient};
use super::{
    ClientConfig, ModelClient, PredictResult, PreparedRequest, VersionSelector, VersionState, tls,
};
use crate::model::{SavedModelInfo, SignatureInfo};
use crate::tensor::NamedTensors;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;
use std::net::ToSocketAddrs;
use std::sync::Arc;

/// A TF Serving REST client for one model.
#[derive(Clone, Debug)]
pub struct RestClient {
    config: ClientConfig,
    http: reqwest::Client,
    /// `http://host:port/v1/models/NAME[/versions/V|/labels/L]`.
    model_url: String,
    /// Whether the server asked for a client certificate (for error messages).
    tls_evidence: tls::TlsEvidence,
    /// Metadata fetched once to type predict outputs (`None`: not available).
    signatures: Arc<tokio::sync::OnceCell<Option<SavedModelInfo>>>,
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
pub(crate) fn encode_path_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The model's URL for `config` (shared with the "copy as curl" snippets).
pub(crate) fn model_url(config: &ClientConfig, base: &str) -> String {
    let mut url = format!(
        "{base}/v1/models/{}",
        encode_path_segment(&config.model_name)
    );
    match &config.version {
        VersionSelector::Latest => {}
        VersionSelector::Version(version) => url.push_str(&format!("/versions/{version}")),
        VersionSelector::Label(label) => {
            url.push_str(&format!("/labels/{}", encode_path_segment(label)))
        }
    }
    url
}

pub(crate) fn header_map(headers: &[(String, String)]) -> Result<HeaderMap, ClientError> {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        let name = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| ClientError::Config(format!("bad header name '{name}'")))?;
        let value = HeaderValue::from_str(value.trim())
            .map_err(|_| ClientError::Config(format!("bad value for header '{name}'")))?;
        map.append(name, value);
    }
    Ok(map)
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|address| address.is_loopback())
}

impl RestClient {
    pub fn new(config: &ClientConfig) -> Result<RestClient, ClientError> {
        let mut builder = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .tcp_nodelay(true)
            .http1_only()
            .default_headers(header_map(&config.headers)?);
        if is_loopback(&config.host) {
            builder = builder.no_proxy();
        }
        let mut base = config.base_url();
        let tls_evidence = tls::TlsEvidence::default();
        let tls_config = match &config.tls {
            Some(options) => {
                if let Some(name) = &options.server_name {
                    // Verify against `name` while connecting to the given host.
                    let address = (config.host.as_str(), config.port)
                        .to_socket_addrs()
                        .ok()
                        .and_then(|mut addresses| addresses.next())
                        .ok_or_else(|| ClientError::Unreachable {
                            target: config.authority(),
                            detail: "the host name does not resolve".into(),
                        })?;
                    builder = builder.resolve(name, address);
                    base = format!("https://{name}:{}", config.port);
                }
                tls::client_config(options, &[b"http/1.1"], &tls_evidence)?
            }
            None => tls::unused_config()?,
        };
        let http = builder
            .tls_backend_preconfigured(tls_config)
            .build()
            .map_err(|err| ClientError::Config(format!("HTTP client: {}", chain_text(&err))))?;
        Ok(RestClient {
            model_url: model_url(config, &base),
            config: config.clone(),
            http,
            tls_evidence,
            signatures: Arc::default(),
        })
    }

    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// Which signature later calls name (clones share the connection).
    pub(crate) fn set_signature(&mut self, signature: Option<String>) {
        self.config.signature = signature;
    }

    /// The URL of `:predict`.
    pub fn predict_url(&self) -> String {
        format!("{}:predict", self.model_url)
    }

    fn transport_error(&self, err: &reqwest::Error) -> ClientError {
        let target = self.config.authority();
        let detail = chain_text(err);
        if err.is_timeout() {
            let (after, phase) = if err.is_connect() {
                (self.config.connect_timeout, "connecting")
            } else {
                (self.config.timeout, "waiting for the response")
            };
            return ClientError::TimedOut {
                target,
                after,
                phase,
            };
        }
        let lower = detail.to_ascii_lowercase();
        let tls_words = ["certificate", "tls", "handshake", "alert"];
        if is_tls_failure(err)
            || (err.is_connect() && tls_words.iter().any(|word| lower.contains(word)))
        {
            return tls_error(target, detail, self.config.presents_client_cert());
        }
        if self.tls_evidence.cert_requested()
            && io_kind(err) != Some(std::io::ErrorKind::ConnectionRefused)
            && looks_closed(&lower)
        {
            return closed_after_cert_request(target, detail, self.config.presents_client_cert());
        }
        if err.is_connect() {
            return match io_kind(err) {
                Some(std::io::ErrorKind::ConnectionRefused) => ClientError::Refused { target },
                Some(std::io::ErrorKind::TimedOut) => ClientError::TimedOut {
                    target,
                    after: self.config.connect_timeout,
                    phase: "connecting",
                },
                _ => ClientError::Unreachable { target, detail },
            };
        }
        if err.is_request() || err.is_body() || err.is_decode() {
            // The peer closed or sent something that is not HTTP.
            if detail.contains("invalid HTTP") || detail.contains("parse") {
                return ClientError::NotTfServing {
                    target,
                    detail: format!("the reply is not HTTP ({detail})"),
                };
            }
        }
        ClientError::Transport { target, detail }
    }

    async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<(u16, String, bytes::Bytes), ClientError> {
        let response = request
            .send()
            .await
            .map_err(|err| self.transport_error(&err))?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("")
            .to_string();
        let body = response
            .bytes()
            .await
            .map_err(|err| self.transport_error(&err))?;
        Ok((status, content_type, body))
    }

    /// An error reply as TF Serving's code and message, or "not TF Serving".
    fn error_reply(&self, status: u16, content_type: &str, body: &[u8]) -> ClientError {
        match parse_lenient(body) {
            Ok(doc) => match doc.get("error").and_then(Value::as_str) {
                Some(message) => ClientError::Server {
                    code: code_for_http_status(status).to_string(),
                    http_status: Some(status),
                    message: message.to_string(),
                },
                None => self.not_tf_serving(status, content_type, body),
            },
            Err(_) => self.not_tf_serving(status, content_type, body),
        }
    }

    fn not_tf_serving(&self, status: u16, content_type: &str, body: &[u8]) -> ClientError {
        let snippet: String = String::from_utf8_lossy(&body[..body.len().min(120)])
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let kind = if content_type.is_empty() {
            "no content type".to_string()
        } else {
            content_type.to_string()
        };
        ClientError::NotTfServing {
            target: self.config.authority(),
            detail: format!(
                "HTTP {status} ({kind}) without TF Serving's JSON: {}",
                snippet.trim()
            ),
        }
    }

    async fn get_json(&self, url: &str, expect: &str) -> Result<Value, ClientError> {
        let (status, content_type, body) = self.send(self.http.get(url)).await?;
        if !(200..300).contains(&status) {
            return Err(self.error_reply(status, &content_type, &body));
        }
        match parse_lenient(&body) {
            Ok(doc) if doc.get(expect).is_some() => Ok(doc),
            _ => Err(self.not_tf_serving(status, &content_type, &body)),
        }
    }

    /// The signature a predict call runs, from cached metadata.
    async fn signature_info(&self) -> Option<SignatureInfo> {
        let info = self
            .signatures
            .get_or_init(|| async { self.metadata().await.ok() })
            .await
            .as_ref()?;
        let key = self
            .config
            .signature
            .as_deref()
            .unwrap_or("serving_default");
        info.serving_meta_graph()?.signature(key).cloned()
    }
}

fn is_tls_failure(err: &reqwest::Error) -> bool {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(err);
    for _ in 0..16 {
        let Some(error) = current else { break };
        if error.downcast_ref::<rustls::Error>().is_some() {
            return true;
        }
        if let Some(io) = error.downcast_ref::<std::io::Error>()
            && io
                .get_ref()
                .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some())
        {
            return true;
        }
        current = error.source();
    }
    false
}

impl ModelClient for RestClient {
    async fn status(&self) -> Result<Vec<VersionState>, ClientError> {
        let doc = self
            .get_json(&self.model_url, "model_version_status")
            .await?;
        states_from_json(&doc).map_err(|err| decode_error("model status", err))
    }

    async fn metadata(&self) -> Result<SavedModelInfo, ClientError> {
        let doc = self
            .get_json(&format!("{}/metadata", self.model_url), "metadata")
            .await?;
        let (version, map) =
            signature_defs_from_json(&doc).map_err(|err| decode_error("model metadata", err))?;
        let info = model_info_from_signature_defs(version, &map);
        // Later predict calls type their outputs with it (no second request).
        let _ = self.signatures.set(Some(info.clone()));
        Ok(info)
    }

    async fn predict(
        &self,
        inputs: NamedTensors,
        output_filter: &[String],
    ) -> Result<PredictResult, ClientError> {
        let signature = self.signature_info().await;
        let body = encode_predict_request(&inputs, self.config.signature.as_deref());
        let (status, content_type, reply) = self
            .send(self.http.post(self.predict_url()).body(body))
            .await?;
        if !(200..300).contains(&status) {
            return Err(self.error_reply(status, &content_type, &reply));
        }
        let mut outputs = decode_predict_response(&reply, signature.as_ref()).map_err(|err| {
            if parse_lenient(&reply).is_err() {
                self.not_tf_serving(status, &content_type, &reply)
            } else {
                decode_error("predict response", err)
            }
        })?;
        if !output_filter.is_empty() {
            for key in output_filter {
                if !outputs.contains_key(key) {
                    let known: Vec<&str> = outputs.keys().map(String::as_str).collect();
                    return Err(ClientError::Decode(format!(
                        "output '{key}' is not in the response (it has: {})",
                        known.join(", ")
                    )));
                }
            }
            outputs.retain(|key, _| output_filter.contains(key));
        }
        Ok(PredictResult {
            outputs,
            model_version: None,
            signature_name: self.config.signature.clone(),
        })
    }

    fn prepare(&self, inputs: &NamedTensors) -> Result<PreparedRequest, ClientError> {
        let body = encode_predict_request(inputs, self.config.signature.as_deref());
        Ok(PreparedRequest::Rest {
            url: self.predict_url(),
            body: bytes::Bytes::from(body),
        })
    }

    async fn send_prepared(&self, request: &PreparedRequest) -> Result<usize, ClientError> {
        let PreparedRequest::Rest { url, body } = request else {
            return Err(ClientError::Config(
                "a gRPC request cannot be sent over REST".into(),
            ));
        };
        let (status, content_type, reply) = self
            .send(self.http.post(url.as_str()).body(body.clone()))
            .await?;
        if !(200..300).contains(&status) {
            return Err(self.error_reply(status, &content_type, &reply));
        }
        Ok(reply.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::Protocol;

    #[test]
    fn urls_follow_tf_servings_paths() {
        let mut config = ClientConfig::new("localhost", 8501, Protocol::Rest).with_model("res net");
        assert_eq!(
            model_url(&config, "http://h:1"),
            "http://h:1/v1/models/res%20net"
        );
        config.version = VersionSelector::Version(3);
        assert_eq!(
            model_url(&config, "http://h:1"),
            "http://h:1/v1/models/res%20net/versions/3"
        );
        config.version = VersionSelector::Label("stable".into());
        assert_eq!(
            model_url(&config, "http://h:1"),
            "http://h:1/v1/models/res%20net/labels/stable"
        );
        assert!(header_map(&[("x-api-key".into(), "k".into())]).is_ok());
        assert!(header_map(&[("bad header".into(), "k".into())]).is_err());
    }
}
