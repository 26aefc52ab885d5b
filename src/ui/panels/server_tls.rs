//! The TLS rows of the embedded server's settings, and the curl commands the server
//! panel shows.
//!
//! Clients trust the server's certificate file itself as their CA (`--cacert CERT`
//! for curl, `ca_file` for tfprobe's client; see
//! [`crate::workflow::target::trust_certificate`]). A certificate whose CA is not in
//! the file is not trusted this way: the field's hover text says to append the CA.

use super::widgets;
use crate::ui::command::Commands;
use crate::ui::state::{PemFile, ServerFile, ServerSettings};
use egui::Ui;
use std::path::Path;

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
    fn curl_says_cacert_with_tls() {
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
