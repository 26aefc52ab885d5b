//! TLS for the embedded server in the app: the certificate and key files of the
//! server settings (checked before a start), the https URLs and curl commands the
//! panel shows, and the client side (Try it, latency) trusting the certificate.
//!
//! Clients trust the server's certificate file itself as their CA (`--cacert CERT`
//! for curl, `ca_file` for tfprobe's client). That is right for a self-signed
//! certificate, the usual choice for a local test server, and for a chain file that
//! ends with its CA; it needs no second file to keep in step with the first. A
//! certificate whose CA is not in the file is not trusted this way: the field's
//! hover text says to append the CA.

use super::command::Commands;
use super::state::{ConnectFile, ServerSettings};
use super::widgets;
use crate::client::TlsOptions;
use crate::server::TlsSettings;
use egui::Ui;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// A PEM file field that the file picker fills in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PemFile {
    Connect(ConnectFile),
    Server(ServerFile),
}

/// The embedded server's TLS file fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerFile {
    Cert,
    Key,
}

impl PemFile {
    pub fn picker_title(self) -> &'static str {
        match self {
            PemFile::Connect(ConnectFile::CaFile) => "Choose the CA certificate (PEM)",
            PemFile::Connect(ConnectFile::ClientCert) => "Choose the client certificate (PEM)",
            PemFile::Connect(ConnectFile::ClientKey) => "Choose the client private key (PEM)",
            PemFile::Server(ServerFile::Cert) => "Choose the server certificate (PEM)",
            PemFile::Server(ServerFile::Key) => "Choose the server private key (PEM)",
        }
    }
}

/// The certificate and key files a server is started with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

impl TlsFiles {
    /// Reads and checks both files: a key that does not match its certificate fails
    /// here, naming both files, instead of at the first handshake.
    pub fn settings(&self) -> Result<TlsSettings, String> {
        TlsSettings::from_pem_files(&self.cert_file, &self.key_file).map_err(|err| err.to_string())
    }
}

impl ServerSettings {
    pub fn file_mut(&mut self, which: ServerFile) -> &mut String {
        match which {
            ServerFile::Cert => &mut self.tls_cert_file,
            ServerFile::Key => &mut self.tls_key_file,
        }
    }

    /// The TLS files to start with (`None`: plain), or what to fix first.
    pub fn tls_files(&self) -> Result<Option<TlsFiles>, String> {
        if !self.tls {
            return Ok(None);
        }
        Ok(Some(TlsFiles {
            cert_file: existing_file(&self.tls_cert_file, "certificate")?,
            key_file: existing_file(&self.tls_key_file, "private key")?,
        }))
    }
}

fn existing_file(text: &str, what: &str) -> Result<PathBuf, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err(format!("TLS needs a {what} file (PEM)"));
    }
    let path = PathBuf::from(text);
    if !path.is_file() {
        return Err(format!("the {what} file {} does not exist", path.display()));
    }
    Ok(path)
}

/// How clients of the embedded server reach it over TLS (see the module comment).
pub fn client_tls(cert_file: &Path) -> TlsOptions {
    TlsOptions {
        ca_file: Some(cert_file.to_path_buf()),
        accept_invalid_certs: false,
        server_name: None,
        client_identity: None,
    }
}

/// `https://127.0.0.1:8501` (or http) for a REST listener.
pub fn rest_base_url(addr: SocketAddr, tls: bool) -> String {
    let scheme = if tls { "https" } else { "http" };
    format!("{scheme}://{}", super::server_ui::reachable(addr))
}

/// The server's address for the status line: its REST URL, else its gRPC one.
pub fn server_url(rest: Option<SocketAddr>, grpc: Option<SocketAddr>, tls: bool) -> String {
    match (rest, grpc) {
        (Some(rest), _) => rest_base_url(rest, tls),
        (None, Some(grpc)) => {
            let scheme = if tls { "grpcs" } else { "grpc" };
            format!("{scheme}://{}", super::server_ui::reachable(grpc))
        }
        (None, None) => String::new(),
    }
}

/// `curl [--cacert CERT] URL`, to copy from the panel.
pub fn curl_get(url: &str, tls_cert: Option<&Path>) -> String {
    let quote = crate::client::snippets::shell_quote;
    match tls_cert {
        Some(cert) => format!(
            "curl --cacert {} {}",
            quote(&cert.display().to_string()),
            quote(url)
        ),
        None => format!("curl {}", quote(url)),
    }
}

/// The TLS rows of the server settings grid (the panel shows what `tls_files` refuses).
pub fn settings_rows(ui: &mut Ui, settings: &mut ServerSettings, commands: &mut Commands) {
    let label = ui.label("TLS");
    ui.checkbox(&mut settings.tls, "serve https and gRPC over TLS")
        .labelled_by(label.id);
    ui.end_row();
    if !settings.tls {
        return;
    }
    let rows = [
        (ServerFile::Cert, "Certificate (PEM)", "server.pem"),
        (ServerFile::Key, "Private key (PEM)", "server.key"),
    ];
    for (which, name, hint) in rows {
        let label = ui.label(name);
        let field = PemFile::Server(which);
        let response = widgets::file_field(ui, settings.file_mut(which), hint, field, commands)
            .labelled_by(label.id);
        if which == ServerFile::Cert {
            response.on_hover_text(
                "Try it and the curl commands trust this file as the CA: use a self-signed \
                 certificate, or append the CA that issued it",
            );
        }
        ui.end_row();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_files_are_checked_before_a_start() {
        let mut settings = ServerSettings::default();
        assert_eq!(settings.tls_files(), Ok(None));
        settings.tls = true;
        assert_eq!(
            settings.tls_files(),
            Err("TLS needs a certificate file (PEM)".into())
        );
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("server.pem");
        std::fs::write(&cert, "x").unwrap();
        settings.tls_cert_file = cert.display().to_string();
        settings.tls_key_file = dir.path().join("missing.key").display().to_string();
        let err = settings.tls_files().unwrap_err();
        assert!(err.contains("missing.key does not exist"), "{err}");
    }

    #[test]
    fn old_saved_settings_load_without_tls() {
        let old: ServerSettings = serde_json::from_str(
            r#"{"model_name":"m","host":"127.0.0.1","grpc_port":1,"rest_port":2}"#,
        )
        .unwrap();
        assert!(!old.tls);
        assert!(old.tls_cert_file.is_empty());
    }

    #[test]
    fn urls_and_curl_say_https_with_tls() {
        let addr: SocketAddr = "0.0.0.0:8501".parse().unwrap();
        assert_eq!(rest_base_url(addr, true), "https://127.0.0.1:8501");
        assert_eq!(server_url(None, Some(addr), true), "grpcs://127.0.0.1:8501");
        let cert = Path::new("/tmp/my certs/server.pem");
        assert_eq!(
            curl_get("https://127.0.0.1:8501/v1/models/m", Some(cert)),
            "curl --cacert '/tmp/my certs/server.pem' https://127.0.0.1:8501/v1/models/m"
        );
        assert_eq!(
            curl_get("http://127.0.0.1:8501/v1/models/m", None),
            "curl http://127.0.0.1:8501/v1/models/m"
        );
    }
}
