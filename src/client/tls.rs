//! rustls client configuration (ring provider): the system's roots plus an optional
//! CA file, or — only when asked for explicitly — no verification at all.

use super::TlsOptions;
use super::error::ClientError;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::sync::Arc;

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A client config for `options`, offering `alpn` (e.g. `h2` for gRPC).
pub(crate) fn client_config(
    options: &TlsOptions,
    alpn: &[&[u8]],
) -> Result<ClientConfig, ClientError> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|err| ClientError::Config(format!("TLS set-up: {err}")))?;
    let mut config = if options.accept_invalid_certs {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCert(
                provider.signature_verification_algorithms,
            )))
            .with_no_client_auth()
    } else {
        builder
            .with_root_certificates(roots(options)?)
            .with_no_client_auth()
    };
    config.alpn_protocols = alpn.iter().map(|protocol| protocol.to_vec()).collect();
    Ok(config)
}

/// A config for plain-HTTP clients, which never use it (reqwest wants one under
/// `rustls-no-provider`): no roots, so nothing is read from the system.
pub(crate) fn unused_config() -> Result<ClientConfig, ClientError> {
    Ok(ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|err| ClientError::Config(format!("TLS set-up: {err}")))?
        .with_root_certificates(RootCertStore::empty())
        .with_no_client_auth())
}

fn roots(options: &TlsOptions) -> Result<RootCertStore, ClientError> {
    let mut store = RootCertStore::empty();
    // The system's roots; a missing or partly unreadable store is not fatal.
    let native = rustls_native_certs::load_native_certs();
    let _ = store.add_parsable_certificates(native.certs);
    if let Some(path) = &options.ca_file {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
            .map_err(|err| {
                ClientError::Config(format!("reading CA file {}: {err}", path.display()))
            })?
            .collect::<Result<_, _>>()
            .map_err(|err| {
                ClientError::Config(format!("CA file {} is not PEM: {err}", path.display()))
            })?;
        if certs.is_empty() {
            return Err(ClientError::Config(format!(
                "CA file {} holds no certificate",
                path.display()
            )));
        }
        for cert in certs {
            store
                .add(cert)
                .map_err(|err| ClientError::Config(format!("CA file {}: {err}", path.display())))?;
        }
    }
    Ok(store)
}

/// The name the certificate must carry.
pub(crate) fn server_name(
    host: &str,
    options: &TlsOptions,
) -> Result<ServerName<'static>, ClientError> {
    let name = options.server_name.as_deref().unwrap_or(host);
    ServerName::try_from(name.to_string())
        .map_err(|err| ClientError::Config(format!("bad TLS server name '{name}': {err}")))
}

/// `--insecure`: any certificate is accepted (signatures are still checked).
#[derive(Debug)]
struct AcceptAnyCert(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for AcceptAnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}
