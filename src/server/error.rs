//! The server's one error type. Every variant knows its TensorFlow status
//! code, which maps to an HTTP status (TF Serving's table) for REST and to a
//! `tonic::Status` for gRPC. Messages keep TF Serving's wording where users
//! search for it, and add what TF Serving leaves out (the valid choices).

use crate::pb::tensorflow::error::Code;
use crate::runtime::RuntimeError;
use crate::tensor::proto::ConvertError;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// No loaded version answers the request (TF Serving's wording, plus the
    /// versions or models that do exist).
    #[error("Servable not found for request: {request}{hint}")]
    ServableNotFound { request: String, hint: String },

    /// Status request for a model or version this server does not know.
    #[error("{message}")]
    NotFound { message: String },

    #[error("Unrecognized servable version label: {label}{hint}")]
    UnknownLabel { label: String, hint: String },

    /// A request that cannot be understood (bad JSON, wrong shapes, ...).
    #[error("{message}")]
    InvalidArgument { message: String },

    #[error(transparent)]
    Runtime(#[from] RuntimeError),

    #[error("{0}")]
    Tensor(#[from] ConvertError),

    #[error("{message}")]
    Unimplemented { message: String },

    #[error(
        "request body is larger than {limit} bytes; start the server with a larger --max_request_bytes"
    )]
    BodyTooLarge { limit: usize },

    #[error("{message}")]
    Internal { message: String },

    /// Invalid server configuration (flags, model config file).
    #[error("{message}")]
    Config { message: String },

    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },

    /// TLS settings that cannot be used (missing key, not PEM, key not matching).
    #[error(transparent)]
    Tls(#[from] super::tls::TlsError),

    #[error("cannot read {}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl ServeError {
    pub fn invalid(message: impl Into<String>) -> Self {
        ServeError::InvalidArgument {
            message: message.into(),
        }
    }

    pub fn internal(message: impl Into<String>) -> Self {
        ServeError::Internal {
            message: message.into(),
        }
    }

    pub fn config(message: impl Into<String>) -> Self {
        ServeError::Config {
            message: message.into(),
        }
    }

    /// The TensorFlow status code this error stands for.
    pub fn code(&self) -> Code {
        match self {
            ServeError::ServableNotFound { .. } | ServeError::NotFound { .. } => Code::NotFound,
            ServeError::UnknownLabel { .. }
            | ServeError::InvalidArgument { .. }
            | ServeError::Tensor(_)
            | ServeError::Config { .. }
            | ServeError::Tls(_) => Code::InvalidArgument,
            ServeError::Runtime(err) => err.code(),
            ServeError::Unimplemented { .. } => Code::Unimplemented,
            ServeError::BodyTooLarge { .. } => Code::ResourceExhausted,
            ServeError::Internal { .. } | ServeError::Io { .. } => Code::Internal,
            ServeError::Bind { .. } => Code::Unavailable,
        }
    }

    /// HTTP status as TF Serving maps status codes (a body over the size
    /// limit is 413, which says more than TF Serving's 429 would).
    pub fn http_status(&self) -> u16 {
        if let ServeError::BodyTooLarge { .. } = self {
            return 413;
        }
        http_status_for(self.code())
    }

    pub fn to_status(&self) -> tonic::Status {
        tonic::Status::new(grpc_code(self.code()), self.to_string())
    }

    /// `{"error": "..."}` as TF Serving's REST API writes it.
    pub fn rest_body(&self) -> String {
        error_json(&self.to_string())
    }
}

/// TF Serving's status -> HTTP mapping.
pub fn http_status_for(code: Code) -> u16 {
    match code {
        Code::Ok => 200,
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => 400,
        Code::Unauthenticated => 401,
        Code::PermissionDenied => 403,
        Code::NotFound => 404,
        Code::AlreadyExists | Code::Aborted => 409,
        Code::ResourceExhausted => 429,
        Code::Cancelled => 499,
        Code::Unimplemented => 501,
        Code::Unavailable => 503,
        Code::DeadlineExceeded => 504,
        _ => 500,
    }
}

/// TensorFlow and gRPC share status code numbers.
pub fn grpc_code(code: Code) -> tonic::Code {
    tonic::Code::from_i32(code as i32)
}

/// `{ "error": "<message>" }`, pretty-printed like TF Serving's rapidjson writer.
pub fn error_json(message: &str) -> String {
    let mut out = String::with_capacity(message.len() + 24);
    out.push_str("{\n    \"error\": ");
    super::json::write_json_string(&mut out, message);
    out.push_str("\n}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_http_like_tf_serving() {
        assert_eq!(http_status_for(Code::InvalidArgument), 400);
        assert_eq!(http_status_for(Code::FailedPrecondition), 400);
        assert_eq!(http_status_for(Code::OutOfRange), 400);
        assert_eq!(http_status_for(Code::NotFound), 404);
        assert_eq!(http_status_for(Code::Unimplemented), 501);
        assert_eq!(http_status_for(Code::Unavailable), 503);
        assert_eq!(http_status_for(Code::DeadlineExceeded), 504);
        assert_eq!(http_status_for(Code::ResourceExhausted), 429);
        assert_eq!(http_status_for(Code::Internal), 500);
        assert_eq!(http_status_for(Code::Unknown), 500);
    }

    #[test]
    fn errors_carry_messages_and_codes() {
        let err = ServeError::ServableNotFound {
            request: "Latest(resnet)".into(),
            hint: String::new(),
        };
        assert_eq!(
            err.to_string(),
            "Servable not found for request: Latest(resnet)"
        );
        assert_eq!(err.http_status(), 404);
        let status = err.to_status();
        assert_eq!(status.code(), tonic::Code::NotFound);
        assert_eq!(
            status.message(),
            "Servable not found for request: Latest(resnet)"
        );
        assert_eq!(
            ServeError::invalid("Missing 'inputs' or 'instances' key").rest_body(),
            "{\n    \"error\": \"Missing 'inputs' or 'instances' key\"\n}"
        );
        assert_eq!(ServeError::BodyTooLarge { limit: 10 }.http_status(), 413);
        let timeout: ServeError = RuntimeError::Timeout { timeout_ms: 5 }.into();
        assert_eq!(timeout.http_status(), 504);
        assert_eq!(timeout.to_status().code(), tonic::Code::DeadlineExceeded);
    }
}
