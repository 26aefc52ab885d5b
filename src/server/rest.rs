//! TF Serving's REST API (axum): model status, model metadata, predict,
//! classify and regress under `/v1/models/...`, and Prometheus metrics. Paths are matched like TF
//! Serving's regular expressions (case-insensitive, `:predict` suffix) by a
//! small hand-written parser; any Content-Type is accepted (the seed's client
//! sends none).

use super::Shared;
use super::classify::{self, Api, ExamplesRequest};
use super::error::ServeError;
use super::json::{
    ExamplesBody, PredictBody, classification_json, metadata_json, outputs_json, regression_json,
    status_json, stream_predict,
};
use super::metrics::Protocol;
use super::predict::{check_inputs, run};
use super::versions::VersionRequest;
use crate::pb::tensorflow::error::Code;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::sync::Arc;
use std::time::Instant;

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/monitoring/prometheus/metrics", get(metrics))
        .fallback(dispatch)
        .with_state(shared)
}

async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    let mut response = Response::new(Body::from(shared.metrics.render()));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

fn json_response(status: u16, body: String) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn error_response(err: &ServeError) -> Response {
    json_response(err.http_status(), err.rest_body())
}

/// A request path under `/v1/models`, as TF Serving's regexes split it.
#[derive(Debug, Default, PartialEq, Eq)]
struct ModelPath {
    name: String,
    version: Option<String>,
    label: Option<String>,
    /// `predict`, `classify` or `regress` (POST) / `metadata` (GET), lower-cased.
    tail: Option<String>,
}

fn strip_prefix_ci<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

/// Percent-decoding like curl_easy_unescape (invalid escapes stay as they are).
fn unescape(text: &str) -> Result<String, ()> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[index] == b'%'
            && let (Some(high), Some(low)) = (
                bytes.get(index + 1).copied().and_then(hex),
                bytes.get(index + 2).copied().and_then(hex),
            )
        {
            out.push((high * 16 + low) as u8);
            index += 3;
            continue;
        }
        out.push(bytes[index]);
        index += 1;
    }
    String::from_utf8(out).map_err(|_| ())
}

/// `(?i)/v1/models(/NAME)?((/versions/\d+)|(/labels/LABEL))?(/metadata)?` (GET) or
/// `(?i)/v1/models/NAME((/versions/\d+)|(/labels/LABEL))?:(classify|regress|predict)` (POST).
fn parse_path(path: &str, post: bool) -> Option<ModelPath> {
    let mut rest = strip_prefix_ci(path, "/v1/models")?;
    let mut parsed = ModelPath::default();
    let segment_end = |text: &str| text.find(['/', ':']).unwrap_or(text.len());
    if let Some(after) = rest.strip_prefix('/') {
        let end = segment_end(after);
        if end == 0 {
            return None;
        }
        parsed.name = after[..end].to_string();
        rest = &after[end..];
    } else if post {
        return None;
    }
    if let Some(after) = strip_prefix_ci(rest, "/versions/") {
        let end = after
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(after.len());
        if end == 0 {
            return None;
        }
        parsed.version = Some(after[..end].to_string());
        rest = &after[end..];
    } else if let Some(after) = strip_prefix_ci(rest, "/labels/") {
        let end = segment_end(after);
        if end == 0 {
            return None;
        }
        parsed.label = Some(after[..end].to_string());
        rest = &after[end..];
    }
    if post {
        let method = rest.strip_prefix(':')?.to_ascii_lowercase();
        matches!(method.as_str(), "predict" | "classify" | "regress").then_some(())?;
        parsed.tail = Some(method);
    } else if !rest.is_empty() {
        let tail = strip_prefix_ci(rest, "/metadata")?;
        if !tail.is_empty() {
            return None;
        }
        parsed.tail = Some("metadata".to_string());
    }
    Some(parsed)
}

impl ModelPath {
    fn decode(&self) -> Result<(String, VersionRequest), ServeError> {
        let name = unescape(&self.name).map_err(|()| {
            ServeError::invalid(format!("Failed to decode model name:{}", self.name))
        })?;
        let request = match (&self.version, &self.label) {
            (Some(version), None) => VersionRequest::Specific(version.parse().map_err(|_| {
                ServeError::invalid(format!("Failed to convert version: {version} to numeric."))
            })?),
            (None, Some(label)) => VersionRequest::Label(unescape(label).map_err(|()| {
                ServeError::invalid(format!("Failed to decode model version label:{label}"))
            })?),
            _ => VersionRequest::Latest,
        };
        Ok((name, request))
    }
}

async fn dispatch(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let started = Instant::now();
    let (parts, body) = request.into_parts();
    let (method, path) = (parts.method, parts.uri.path().to_string());
    // Read the whole body before answering, errors included: a response sent
    // before its request's body was read makes the connection unusable for
    // keep-alive clients.
    let length = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse::<usize>().ok());
    let body = match read_body(body, shared.max_request_bytes, length).await {
        Ok(body) => body,
        Err(_) => {
            return error_response(&ServeError::BodyTooLarge {
                limit: shared.max_request_bytes,
            });
        }
    };
    let malformed = || ServeError::invalid(format!("Malformed request: {method} {path}"));
    if strip_prefix_ci(&path, "/v1/").is_none() && !path.eq_ignore_ascii_case("/v1") {
        let message = format!(
            "Not found: {method} {path}. tfprobe serves TF Serving's REST API under /v1/models/<name> \
             (status), /v1/models/<name>/metadata and POST /v1/models/<name>:predict (:classify, :regress), and metrics at \
             /monitoring/prometheus/metrics"
        );
        return json_response(404, super::error::error_json(&message));
    }
    let post = method == Method::POST;
    if !post && method != Method::GET {
        return error_response(&malformed());
    }
    let Some(parsed) = parse_path(&path, post) else {
        return error_response(&malformed());
    };
    let (name, version) = match parsed.decode() {
        Ok(decoded) => decoded,
        Err(err) => return error_response(&err),
    };
    if !post {
        if name.is_empty() {
            return error_response(&ServeError::invalid("Missing model name in request."));
        }
        let result = if parsed.tail.as_deref() == Some("metadata") {
            shared.manager.resolve(&name, &version).map(|servable| {
                metadata_json(&servable.model, servable.version, servable.signature_defs())
            })
        } else {
            shared
                .manager
                .status(&name, &version)
                .map(|status| status_json(&status))
        };
        return match result {
            Ok(body) => json_response(200, body),
            Err(err) => error_response(&err),
        };
    }
    let mut signature = String::new();
    let (api, result) = match parsed.tail.as_deref() {
        Some("classify") => (
            "classify",
            examples(
                &shared,
                Api::Classify,
                &name,
                &version,
                &body,
                &mut signature,
            )
            .await,
        ),
        Some("regress") => (
            "regress",
            examples(
                &shared,
                Api::Regress,
                &name,
                &version,
                &body,
                &mut signature,
            )
            .await,
        ),
        _ => (
            "predict",
            predict(&shared, &name, &version, body, &mut signature).await,
        ),
    };
    let code = result.as_ref().map_or_else(ServeError::code, |_| Code::Ok);
    // Labels only name models and signatures that exist (bounded cardinality).
    let model = if shared.manager.knows(&name) {
        name.as_str()
    } else {
        ""
    };
    shared.metrics.record_request(
        model,
        &signature,
        api,
        Protocol::Rest,
        code,
        started.elapsed(),
    );
    match result {
        Ok(body) => json_response(200, body),
        Err(err) => error_response(&err),
    }
}

async fn predict(
    shared: &Shared,
    name: &str,
    version: &VersionRequest,
    body: Bytes,
    signature_out: &mut String,
) -> Result<String, ServeError> {
    // The one-pass reader first (issue 18); a body it does not take — every
    // error among them — goes the tree path, which words errors like TF Serving
    // (the JSON's own errors before the model's).
    let servable = match shared.manager.resolve(name, version) {
        Ok(servable) => servable,
        Err(err) => {
            PredictBody::parse(&body)?;
            return Err(err);
        }
    };
    let streamed = shared
        .rest_one_pass_json
        .then(|| stream_predict(&body, |key| servable.signature(key).ok()))
        .flatten();
    if let Some(streamed) = streamed {
        // The text is not needed any more: free it before the run copies the tensors.
        drop(body);
        let signature = servable.signature(&streamed.signature_key)?;
        signature_out.push_str(&signature.key);
        check_inputs(signature, &streamed.inputs, shared.max_batch_size)?;
        let outputs = run(
            &servable,
            &streamed.signature_key,
            streamed.inputs,
            &[],
            shared.rest_timeout,
        )
        .await?;
        return outputs_json(&outputs, streamed.format);
    }
    let parsed = PredictBody::parse(&body)?;
    let signature = servable.signature(parsed.signature_key())?;
    signature_out.push_str(&signature.key);
    let (format, inputs) = parsed.inputs(signature)?;
    check_inputs(signature, &inputs, shared.max_batch_size)?;
    let signature_key = parsed.signature_key().to_string();
    drop(parsed);
    drop(body);
    let outputs = run(&servable, &signature_key, inputs, &[], shared.rest_timeout).await?;
    outputs_json(&outputs, format)
}

/// The whole request body, at most `limit` bytes, in one buffer sized from
/// `Content-Length` when the client sent one (so that a large body is not
/// collected in pieces and then copied whole).
async fn read_body(body: Body, limit: usize, length: Option<usize>) -> Result<Bytes, ()> {
    use tokio_stream::StreamExt;
    let mut chunks = body.into_data_stream();
    let mut out = Vec::with_capacity(length.unwrap_or(0).min(limit));
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|_| ())?;
        if out.len() + chunk.len() > limit {
            return Err(());
        }
        out.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(out))
}

/// A `:classify` or `:regress` request: tf.Examples in, TF Serving's `results` out.
async fn examples(
    shared: &Shared,
    api: Api,
    name: &str,
    version: &VersionRequest,
    body: &Bytes,
    signature_out: &mut String,
) -> Result<String, ServeError> {
    let parsed = ExamplesBody::parse(body, api.name())?;
    let request = ExamplesRequest {
        api,
        model: name,
        version,
        signature_name: &parsed.signature_name,
        input: &parsed.input,
        max_bytes: shared.max_request_bytes as u64,
        timeout: shared.rest_timeout,
    };
    let outcome = classify::handle(shared, request, signature_out).await?;
    Ok(match api {
        Api::Classify => classification_json(&outcome.classification()?),
        Api::Regress => regression_json(&outcome.regression()?),
    })
}

impl IntoResponse for ServeError {
    fn into_response(self) -> Response {
        error_response(&self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(
        name: &str,
        version: Option<&str>,
        label: Option<&str>,
        tail: Option<&str>,
    ) -> Option<ModelPath> {
        Some(ModelPath {
            name: name.into(),
            version: version.map(Into::into),
            label: label.map(Into::into),
            tail: tail.map(Into::into),
        })
    }

    #[test]
    fn paths_parse_like_tf_serving() {
        assert_eq!(
            parse_path("/v1/models/resnet", false),
            path("resnet", None, None, None)
        );
        assert_eq!(
            parse_path("/V1/Models/resnet/VERSIONS/12", false),
            path("resnet", Some("12"), None, None)
        );
        assert_eq!(
            parse_path("/v1/models/resnet/labels/stable/metadata", false),
            path("resnet", None, Some("stable"), Some("metadata"))
        );
        assert_eq!(
            parse_path("/v1/models/resnet/metadata", false),
            path("resnet", None, None, Some("metadata"))
        );
        assert_eq!(parse_path("/v1/models", false), path("", None, None, None));
        assert_eq!(
            parse_path("/v1/models/resnet:predict", true),
            path("resnet", None, None, Some("predict"))
        );
        assert_eq!(
            parse_path("/v1/models/resnet/versions/3:PREDICT", true),
            path("resnet", Some("3"), None, Some("predict"))
        );
        assert_eq!(
            parse_path("/v1/models/resnet/labels/canary:classify", true),
            path("resnet", None, Some("canary"), Some("classify"))
        );
        assert_eq!(parse_path("/v1/models/resnet:explode", true), None);
        assert_eq!(parse_path("/v1/models/resnet", true), None);
        assert_eq!(parse_path("/v1/models/resnet/versions/x", false), None);
        assert_eq!(parse_path("/v1/models/resnet/", false), None);
        assert_eq!(parse_path("/v1/models/resnet/metadata/x", false), None);
    }

    #[test]
    fn names_are_percent_decoded() {
        assert_eq!(unescape("my%20model").unwrap(), "my model");
        assert_eq!(unescape("100%").unwrap(), "100%");
        let (name, version) = ModelPath {
            name: "a%2Fb".into(),
            version: Some("7".into()),
            ..Default::default()
        }
        .decode()
        .unwrap();
        assert_eq!(
            (name.as_str(), version),
            ("a/b", VersionRequest::Specific(7))
        );
        let err = ModelPath {
            name: "m".into(),
            version: Some("99999999999999999999".into()),
            ..Default::default()
        }
        .decode()
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Failed to convert version: 99999999999999999999 to numeric."
        );
    }
}
