//! rustls client configuration (ring provider): the system's roots plus an optional
//! CA file, or — only when asked for explicitly — no verification at all; and an
//! optional client certificate for servers that require one (mutual TLS).

use super::error::ClientError;
use super::{ClientIdentity, TlsOptions};
use rustls::client::ResolvesClientCert;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A client config for `options`, offering `alpn` (e.g. `h2` for gRPC); certificate
/// requests are noted in `evidence`.
pub(crate) fn client_config(
    options: &TlsOptions,
    alpn: &[&[u8]],
    evidence: &TlsEvidence,
) -> Result<ClientConfig, ClientError> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|err| ClientError::Config(format!("TLS set-up: {err}")))?;
    let builder = if options.accept_invalid_certs {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCert(
                provider.signature_verification_algorithms,
            )))
    } else {
        builder.with_root_certificates(roots(options)?)
    };
    let mut config = match &options.client_identity {
        None => builder.with_no_client_auth(),
        Some(identity) => {
            let (chain, key) = read_identity(identity)?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|err| identity_error(identity, err))?
        }
    };
    config.client_auth_cert_resolver = Arc::new(NoteRequests {
        inner: config.client_auth_cert_resolver.clone(),
        requested: evidence.cert_requested.clone(),
    });
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

const CERT_EXPECTED: &str = "a PEM certificate (-----BEGIN CERTIFICATE-----)";
const KEY_EXPECTED: &str =
    "a PEM private key (-----BEGIN PRIVATE KEY-----, or RSA / EC PRIVATE KEY)";

/// A PEM file's text; `what` names the file in messages ("client certificate file").
fn read_pem(path: &Path, what: &str, expected: &str) -> Result<String, ClientError> {
    let text = std::fs::read_to_string(path).map_err(|err| {
        ClientError::Config(format!("cannot read {what} {}: {err}", path.display()))
    })?;
    // rustls skips text that is not PEM, which would read as "no certificate"; a
    // file of something else entirely (DER, a typo'd path to a README) says so.
    if !text.contains("-----BEGIN ") {
        return Err(ClientError::Config(format!(
            "{what} {} is not PEM: expected {expected}",
            path.display()
        )));
    }
    Ok(text)
}

/// The certificate chain and private key of `identity`, each checked on its own.
fn read_identity(
    identity: &ClientIdentity,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), ClientError> {
    const CERT_FILE: &str = "client certificate file";
    const KEY_FILE: &str = "client key file";
    let cert_path = &identity.cert_file;
    let chain =
        CertificateDer::pem_slice_iter(read_pem(cert_path, CERT_FILE, CERT_EXPECTED)?.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|err| {
                ClientError::Config(format!(
                    "{CERT_FILE} {}: bad PEM: {err}",
                    cert_path.display()
                ))
            })?;
    if chain.is_empty() {
        return Err(ClientError::Config(format!(
            "{CERT_FILE} {} holds no certificate: expected {CERT_EXPECTED}",
            cert_path.display()
        )));
    }
    let key_path = &identity.key_file;
    let key = PrivateKeyDer::from_pem_slice(read_pem(key_path, KEY_FILE, KEY_EXPECTED)?.as_bytes())
        .map_err(|err| match err {
            pem::Error::NoItemsFound => ClientError::Config(format!(
                "{KEY_FILE} {} holds no private key: expected {KEY_EXPECTED}",
                key_path.display()
            )),
            other => ClientError::Config(format!(
                "{KEY_FILE} {}: bad PEM: {other}",
                key_path.display()
            )),
        })?;
    Ok((chain, key))
}

/// rustls refusing a certificate/key pair, named by the files.
fn identity_error(identity: &ClientIdentity, err: rustls::Error) -> ClientError {
    let (cert, key) = (identity.cert_file.display(), identity.key_file.display());
    match err {
        rustls::Error::InconsistentKeys(_) => ClientError::Config(format!(
            "the private key in client key file {key} does not match the certificate in client certificate file {cert}"
        )),
        other => ClientError::Config(format!(
            "client certificate file {cert} / client key file {key}: {other}"
        )),
    }
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

/// What the TLS layer saw that hyper's errors leave out. A connection that the server
/// ended with a TLS alert is often reported as just "connection closed" or "connection
/// was not ready", yet the alert says why: over TLS 1.3 a server refuses a missing
/// client certificate only after the handshake (`received fatal alert:
/// CertificateRequired`), and the request may already be on its way.
#[derive(Clone, Debug, Default)]
pub(crate) struct TlsEvidence {
    /// The last TLS failure on a connection after its handshake (gRPC connections only:
    /// reqwest does not let its streams be wrapped).
    last_failure: Arc<Mutex<Option<String>>>,
    /// Whether a server asked this client for a certificate (mutual TLS).
    cert_requested: Arc<AtomicBool>,
}

impl TlsEvidence {
    fn record<T>(&self, result: &Poll<std::io::Result<T>>) {
        if let Poll::Ready(Err(err)) = result
            && err
                .get_ref()
                .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some())
            && let Ok(mut last) = self.last_failure.lock()
        {
            *last = Some(err.to_string());
        }
    }

    /// The failure recorded since the last call, if any.
    pub(crate) fn take_failure(&self) -> Option<String> {
        self.last_failure
            .lock()
            .ok()
            .and_then(|mut last| last.take())
    }

    pub(crate) fn cert_requested(&self) -> bool {
        self.cert_requested.load(Ordering::Relaxed)
    }
}

/// Passes certificate requests on to rustls's resolver, noting that they happened.
#[derive(Debug)]
struct NoteRequests {
    inner: Arc<dyn ResolvesClientCert>,
    requested: Arc<AtomicBool>,
}

impl ResolvesClientCert for NoteRequests {
    fn resolve(
        &self,
        root_hint_subjects: &[&[u8]],
        sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        self.requested.store(true, Ordering::Relaxed);
        self.inner.resolve(root_hint_subjects, sigschemes)
    }

    fn has_certs(&self) -> bool {
        self.inner.has_certs()
    }
}

/// A TLS stream whose I/O failures are kept in a [`TlsEvidence`].
pub(crate) struct Recorded<S> {
    pub(crate) inner: S,
    pub(crate) evidence: TlsEvidence,
}

impl<S: AsyncRead + Unpin> AsyncRead for Recorded<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        self.evidence.record(&result);
        result
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Recorded<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.evidence.record(&result);
        result
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.evidence.record(&result);
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let result = Pin::new(&mut self.inner).poll_flush(cx);
        self.evidence.record(&result);
        result
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
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
