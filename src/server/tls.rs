//! TLS for both listeners (rustls, ring provider): the certificate and key come
//! from PEM files (`--ssl_cert_file` / `--ssl_key_file`) or from TF Serving's
//! text-format `SSLConfig` (`--ssl_config_file`, PEM text inside the file), which
//! may also ask for client certificates signed by `custom_ca` (mutual TLS).
//! Everything is checked when the settings are built, so a bad file fails at
//! start with its name, never at the first handshake.

use crate::pb::tensorflow::serving::SslConfig;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why TLS settings could not be built. Each message names the file (or the
/// `SSLConfig` field) and what was expected in it.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    // The I/O error is part of the message, not a `source`: shown with its chain
    // (`{:#}`), it would otherwise be printed twice.
    #[error("cannot read {}: {error}", .path.display())]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },

    #[error("{} is not a valid text-format SSLConfig (fields: server_key, server_cert, custom_ca, client_verify): {message}", .path.display())]
    BadSslConfig { path: PathBuf, message: String },

    #[error("{origin} is empty; expected {expected}")]
    Empty {
        origin: String,
        expected: &'static str,
    },

    #[error("{origin} is not PEM; expected {expected}")]
    NotPem {
        origin: String,
        expected: &'static str,
    },

    #[error("{origin} holds no {what}; expected {expected}")]
    Missing {
        origin: String,
        what: &'static str,
        expected: &'static str,
    },

    #[error("{origin}: {message}")]
    Invalid { origin: String, message: String },

    #[error("the private key in {key_origin} does not match the certificate in {cert_origin}")]
    KeyMismatch {
        cert_origin: String,
        key_origin: String,
    },

    #[error(
        "{} sets client_verify: true but no custom_ca: client certificates need a CA to be checked against",
        .path.display()
    )]
    ClientVerifyWithoutCa { path: PathBuf },
}

const CERT_EXPECTED: &str = "a PEM certificate (-----BEGIN CERTIFICATE-----)";
const KEY_EXPECTED: &str =
    "a PEM private key (-----BEGIN PRIVATE KEY-----, RSA PRIVATE KEY or EC PRIVATE KEY)";

/// PEM text and where it came from (for messages).
struct Pem<'a> {
    text: &'a str,
    origin: String,
}

/// TLS settings of a server: one rustls configuration shared by the REST and
/// gRPC listeners (each adds its own ALPN protocols).
#[derive(Clone)]
pub struct TlsSettings {
    config: Arc<ServerConfig>,
    client_verify: bool,
    source: String,
}

impl std::fmt::Debug for TlsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsSettings")
            .field("source", &self.source)
            .field("client_verify", &self.client_verify)
            .finish_non_exhaustive()
    }
}

impl TlsSettings {
    /// A certificate (chain) and its private key, both PEM files.
    pub fn from_pem_files(cert_file: &Path, key_file: &Path) -> Result<TlsSettings, TlsError> {
        let cert = read(cert_file)?;
        let key = read(key_file)?;
        build(
            Pem {
                text: &cert,
                origin: format!("certificate file {}", cert_file.display()),
            },
            Pem {
                text: &key,
                origin: format!("key file {}", key_file.display()),
            },
            None,
            format!("{} and {}", cert_file.display(), key_file.display()),
        )
    }

    /// TF Serving's `--ssl_config_file`: a text-format `SSLConfig`.
    pub fn from_ssl_config_file(path: &Path) -> Result<TlsSettings, TlsError> {
        let text = read(path)?;
        let config = parse_ssl_config(&text).map_err(|message| TlsError::BadSslConfig {
            path: path.to_path_buf(),
            message,
        })?;
        let field = |name: &str| format!("{name} in {}", path.display());
        let client_ca = if config.client_verify {
            if config.custom_ca.trim().is_empty() {
                return Err(TlsError::ClientVerifyWithoutCa {
                    path: path.to_path_buf(),
                });
            }
            Some(Pem {
                text: &config.custom_ca,
                origin: field("custom_ca"),
            })
        } else {
            // TF Serving reads custom_ca only to check client certificates.
            None
        };
        build(
            Pem {
                text: &config.server_cert,
                origin: field("server_cert"),
            },
            Pem {
                text: &config.server_key,
                origin: field("server_key"),
            },
            client_ca,
            path.display().to_string(),
        )
    }

    /// From PEM text held in memory (a UI that stores its own certificates).
    pub fn from_pem(
        cert_pem: &str,
        key_pem: &str,
        client_ca_pem: Option<&str>,
    ) -> Result<TlsSettings, TlsError> {
        let pem = |text, origin: &str| Pem {
            text,
            origin: origin.to_string(),
        };
        build(
            pem(cert_pem, "the certificate"),
            pem(key_pem, "the private key"),
            client_ca_pem.map(|text| pem(text, "the client CA")),
            "PEM text".to_string(),
        )
    }

    /// Whether clients must present a certificate signed by the custom CA.
    pub fn client_verify(&self) -> bool {
        self.client_verify
    }

    /// Where the certificate came from (files), for log lines.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The rustls configuration offering `alpn` (`h2` for gRPC, `http/1.1` for REST).
    pub(crate) fn rustls_config(&self, alpn: &[&[u8]]) -> Arc<ServerConfig> {
        let mut config = (*self.config).clone();
        config.alpn_protocols = alpn.iter().map(|protocol| protocol.to_vec()).collect();
        Arc::new(config)
    }
}

fn read(path: &Path) -> Result<String, TlsError> {
    std::fs::read_to_string(path).map_err(|error| TlsError::Read {
        path: path.to_path_buf(),
        error,
    })
}

/// Parses a text-format `SSLConfig` against the descriptors the gRPC types come from,
/// so a misspelt field is an error that names it.
fn parse_ssl_config(text: &str) -> Result<SslConfig, String> {
    let pool = prost_reflect::DescriptorPool::decode(crate::pb::FILE_DESCRIPTOR_SET)
        .map_err(|err| format!("descriptor set: {err}"))?;
    let descriptor = pool
        .get_message_by_name("tensorflow.serving.SSLConfig")
        .ok_or("descriptor set lacks tensorflow.serving.SSLConfig")?;
    prost_reflect::DynamicMessage::parse_text_format(descriptor, text)
        .map_err(|err| err.to_string())?
        .transcode_to::<SslConfig>()
        .map_err(|err| err.to_string())
}

fn check_pem(pem: &Pem<'_>, expected: &'static str) -> Result<(), TlsError> {
    if pem.text.trim().is_empty() {
        return Err(TlsError::Empty {
            origin: pem.origin.clone(),
            expected,
        });
    }
    if !pem.text.contains("-----BEGIN ") {
        return Err(TlsError::NotPem {
            origin: pem.origin.clone(),
            expected,
        });
    }
    Ok(())
}

fn certificates(pem: &Pem<'_>) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    check_pem(pem, CERT_EXPECTED)?;
    let certs = CertificateDer::pem_slice_iter(pem.text.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| TlsError::Invalid {
            origin: pem.origin.clone(),
            message: format!("bad PEM: {err}"),
        })?;
    if certs.is_empty() {
        return Err(TlsError::Missing {
            origin: pem.origin.clone(),
            what: "certificate",
            expected: CERT_EXPECTED,
        });
    }
    Ok(certs)
}

fn private_key(pem: &Pem<'_>) -> Result<PrivateKeyDer<'static>, TlsError> {
    check_pem(pem, KEY_EXPECTED)?;
    PrivateKeyDer::from_pem_slice(pem.text.as_bytes()).map_err(|err| match err {
        pem::Error::NoItemsFound => TlsError::Missing {
            origin: pem.origin.clone(),
            what: "private key",
            expected: KEY_EXPECTED,
        },
        other => TlsError::Invalid {
            origin: pem.origin.clone(),
            message: format!("bad PEM: {other}"),
        },
    })
}

fn build(
    cert: Pem<'_>,
    key: Pem<'_>,
    client_ca: Option<Pem<'_>>,
    source: String,
) -> Result<TlsSettings, TlsError> {
    let chain = certificates(&cert)?;
    let private = private_key(&key)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|err| TlsError::Invalid {
            origin: "TLS set-up".into(),
            message: err.to_string(),
        })?;
    let builder = match &client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            for certificate in certificates(ca)? {
                roots.add(certificate).map_err(|err| TlsError::Invalid {
                    origin: ca.origin.clone(),
                    message: format!("not a usable CA certificate: {err}"),
                })?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|err| TlsError::Invalid {
                    origin: ca.origin.clone(),
                    message: err.to_string(),
                })?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let config = builder
        .with_single_cert(chain, private)
        .map_err(|err| match err {
            rustls::Error::InconsistentKeys(_) => TlsError::KeyMismatch {
                cert_origin: cert.origin.clone(),
                key_origin: key.origin.clone(),
            },
            other => TlsError::Invalid {
                origin: format!("{} / {}", cert.origin, key.origin),
                message: other.to_string(),
            },
        })?;
    Ok(TlsSettings {
        config: Arc::new(config),
        client_verify: client_ca.is_some(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (String, String) {
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        (certified.cert.pem(), certified.signing_key.serialize_pem())
    }

    #[test]
    fn builds_from_pem_text() {
        let (cert, key) = pair();
        let settings = TlsSettings::from_pem(&cert, &key, None).unwrap();
        assert!(!settings.client_verify());
        let with_ca = TlsSettings::from_pem(&cert, &key, Some(&cert)).unwrap();
        assert!(with_ca.client_verify());
        let config = settings.rustls_config(&[b"h2"]);
        assert_eq!(config.alpn_protocols, vec![b"h2".to_vec()]);
    }

    #[test]
    fn errors_say_what_was_expected() {
        let (cert, key) = pair();
        let (_, other_key) = pair();
        let err = TlsSettings::from_pem(&cert, &other_key, None).unwrap_err();
        assert!(matches!(err, TlsError::KeyMismatch { .. }), "{err}");
        let err = TlsSettings::from_pem(&cert, "", None).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("the private key is empty; expected {KEY_EXPECTED}")
        );
        let err = TlsSettings::from_pem("hello", &key, None).unwrap_err();
        assert!(err.to_string().contains("is not PEM"), "{err}");
        // A key where the certificate belongs: PEM, but no certificate in it.
        let err = TlsSettings::from_pem(&key, &key, None).unwrap_err();
        assert!(err.to_string().contains("holds no certificate"), "{err}");
        let err = TlsSettings::from_pem(&cert, &cert, None).unwrap_err();
        assert!(err.to_string().contains("holds no private key"), "{err}");
    }

    #[test]
    fn parses_tf_serving_ssl_config() {
        let parsed = parse_ssl_config(
            "server_key: 'K'\nserver_cert: \"C\"\ncustom_ca: 'A'\nclient_verify: true\n",
        )
        .unwrap();
        assert_eq!(parsed.server_key, "K");
        assert_eq!(parsed.server_cert, "C");
        assert_eq!(parsed.custom_ca, "A");
        assert!(parsed.client_verify);
        let err = parse_ssl_config("server_kee: 'K'").unwrap_err();
        assert!(err.contains("server_kee"), "{err}");
    }
}
