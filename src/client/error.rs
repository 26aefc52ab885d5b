//! What can go wrong talking to a model server, named the way a person debugging
//! a connection thinks about it: nothing there, refused, too slow, something that
//! is not TF Serving, or TF Serving saying no (with its own code and message).

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Bad settings (address, header, CA file, ...) before anything was sent.
    #[error("{0}")]
    Config(String),
    /// Nothing listens on the port.
    #[error(
        "connection refused by {target}: nothing is listening there (is the server running, and on this port?)"
    )]
    Refused { target: String },
    /// Name resolution, routing or TLS set-up failed.
    #[error("{target} is unreachable: {detail}")]
    Unreachable { target: String, detail: String },
    /// No complete answer within the timeout.
    #[error("timed out after {} waiting for {target} ({phase})", fmt_duration(*.after))]
    TimedOut {
        target: String,
        after: Duration,
        /// `connecting` or `waiting for the response`.
        phase: &'static str,
    },
    /// A TLS handshake failed (certificate not trusted, wrong name, not TLS).
    #[error("TLS with {target} failed: {detail}")]
    Tls { target: String, detail: String },
    /// Something answered, but not as TF Serving would.
    #[error("{target} does not look like TF Serving: {detail}")]
    NotTfServing { target: String, detail: String },
    /// TF Serving answered with an error: its status code and message, kept as sent.
    #[error("server error {code}{}: {message}", http_status.map(|status| format!(" (HTTP {status})")).unwrap_or_default())]
    Server {
        /// TensorFlow's status name (`INVALID_ARGUMENT`, `NOT_FOUND`, ...).
        code: String,
        /// The HTTP status of a REST reply.
        http_status: Option<u16>,
        message: String,
    },
    /// The answer could not be read into tensors.
    #[error("could not read the server's response: {0}")]
    Decode(String),
    /// Any other transport failure.
    #[error("request to {target} failed: {detail}")]
    Transport { target: String, detail: String },
}

impl ClientError {
    /// The TF status name of a server error, if the server sent one.
    pub fn server_code(&self) -> Option<&str> {
        match self {
            ClientError::Server { code, .. } => Some(code),
            _ => None,
        }
    }

    /// A short name of the kind (`refused`, `timed_out`, ...) for tables and JSON.
    pub fn kind(&self) -> &'static str {
        match self {
            ClientError::Config(_) => "config",
            ClientError::Refused { .. } => "refused",
            ClientError::Unreachable { .. } => "unreachable",
            ClientError::TimedOut { .. } => "timed_out",
            ClientError::Tls { .. } => "tls",
            ClientError::NotTfServing { .. } => "not_tf_serving",
            ClientError::Server { .. } => "server",
            ClientError::Decode(_) => "decode",
            ClientError::Transport { .. } => "transport",
        }
    }
}

fn fmt_duration(duration: Duration) -> String {
    if duration.as_millis() < 1000 {
        format!("{} ms", duration.as_millis())
    } else {
        format!("{:.1} s", duration.as_secs_f64())
    }
}

/// TensorFlow's status name for an HTTP status TF Serving sends (its own mapping, reversed).
pub fn code_for_http_status(status: u16) -> &'static str {
    match status {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ALREADY_EXISTS",
        429 => "RESOURCE_EXHAUSTED",
        499 => "CANCELLED",
        501 => "UNIMPLEMENTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => "INTERNAL",
    }
}

const NEEDS_CERT: &str = "the server requires a client certificate (mutual TLS): give one with \
     --client-cert FILE --client-key FILE (in the app: Client certificate and Client key)";
const CERT_REFUSED: &str = "the server did not accept the client certificate \
     (is it signed by a CA the server trusts, and made for client use?)";

/// A failed TLS connection, with a hint when the server's alert says what it thought of
/// the client's certificate (rustls: `received fatal alert: CertificateRequired`).
pub(crate) fn tls_error(target: String, detail: String, presented_cert: bool) -> ClientError {
    let alert = |name: &str| detail.contains(&format!("fatal alert: {name}"));
    let hint = if alert("CertificateRequired") && !presented_cert {
        Some(NEEDS_CERT)
    } else if presented_cert
        && [
            "BadCertificate",
            "UnknownCA",
            "CertificateUnknown",
            "AccessDenied",
        ]
        .iter()
        .any(|name| alert(name))
    {
        Some(CERT_REFUSED)
    } else {
        None
    };
    ClientError::Tls {
        detail: match hint {
            Some(hint) => format!("{detail}; {hint}"),
            None => detail,
        },
        target,
    }
}

/// A connection closed for no stated reason by a server that had asked for a client
/// certificate: the server's alert saying why lost the race with the closing
/// connection (hyper reports "connection closed" or "connection was not ready").
pub(crate) fn closed_after_cert_request(
    target: String,
    detail: String,
    presented_cert: bool,
) -> ClientError {
    let hint = if presented_cert {
        CERT_REFUSED
    } else {
        NEEDS_CERT
    };
    ClientError::Tls {
        target,
        detail: format!(
            "{detail}; the server asked for a client certificate, then closed the connection, so probably {hint}"
        ),
    }
}

/// Whether an error's text (lower case) describes a connection that ended under a
/// request, which is how hyper reports one that a TLS alert ended.
pub(crate) fn looks_closed(lower: &str) -> bool {
    [
        "connection closed",
        "not ready",
        "broken pipe",
        "connection reset",
        "unexpected eof",
        "canceled",
    ]
    .iter()
    .any(|symptom| lower.contains(symptom))
}

/// Walks an error's sources for an I/O error.
pub(crate) fn io_kind(err: &(dyn std::error::Error + 'static)) -> Option<std::io::ErrorKind> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(err);
    let mut depth = 0;
    while let Some(error) = current {
        if let Some(io) = error.downcast_ref::<std::io::Error>() {
            return Some(io.kind());
        }
        depth += 1;
        if depth > 16 {
            break;
        }
        current = error.source();
    }
    None
}

/// All messages of an error chain joined with `: ` (deduplicated).
pub(crate) fn chain_text(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(error) = current {
        let text = error.to_string();
        if !parts.iter().any(|part| part.contains(&text)) {
            parts.push(text);
        }
        if parts.len() > 16 {
            break;
        }
        current = error.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_problem() {
        let refused = ClientError::Refused {
            target: "127.0.0.1:9".into(),
        };
        assert!(refused.to_string().contains("connection refused"));
        let slow = ClientError::TimedOut {
            target: "h:1".into(),
            after: Duration::from_millis(250),
            phase: "connecting",
        };
        assert_eq!(
            slow.to_string(),
            "timed out after 250 ms waiting for h:1 (connecting)"
        );
        let server = ClientError::Server {
            code: "NOT_FOUND".into(),
            http_status: Some(404),
            message: "Servable not found".into(),
        };
        assert_eq!(
            server.to_string(),
            "server error NOT_FOUND (HTTP 404): Servable not found"
        );
        assert_eq!(server.server_code(), Some("NOT_FOUND"));
        assert_eq!(code_for_http_status(400), "INVALID_ARGUMENT");
        assert_eq!(code_for_http_status(500), "INTERNAL");
    }

    #[test]
    fn client_certificate_refusals_get_a_hint() {
        let text = |err: ClientError| err.to_string();
        let missing = "connection error: received fatal alert: CertificateRequired";
        let hinted = text(tls_error("h:1".into(), missing.into(), false));
        assert!(hinted.contains("requires a client certificate"), "{hinted}");
        assert!(
            hinted.contains("--client-cert FILE --client-key FILE"),
            "{hinted}"
        );
        let refused = "received fatal alert: UnknownCA";
        let hinted = text(tls_error("h:1".into(), refused.into(), true));
        assert!(
            hinted.contains("did not accept the client certificate"),
            "{hinted}"
        );
        // Other TLS failures are left as they are.
        let untrusted = "invalid peer certificate: UnknownIssuer";
        assert_eq!(
            text(tls_error("h:1".into(), untrusted.into(), false)),
            format!("TLS with h:1 failed: {untrusted}")
        );
        // The alert lost to a closed connection: the certificate request tells.
        let closed = "client error (Canceled): operation was canceled: connection was not ready";
        assert!(looks_closed(&closed.to_ascii_lowercase()));
        let hinted = text(closed_after_cert_request(
            "h:1".into(),
            closed.into(),
            false,
        ));
        assert!(
            hinted.contains("then closed the connection, so probably the server requires"),
            "{hinted}"
        );
        let hinted = text(closed_after_cert_request("h:1".into(), closed.into(), true));
        assert!(
            hinted.contains("did not accept the client certificate"),
            "{hinted}"
        );
    }
}
