//! Certificates made at test time with rcgen: a CA, a server certificate for
//! localhost and 127.0.0.1, a client certificate, and strangers to them.

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use std::path::PathBuf;
use tfprobe::server::TlsSettings;

/// PEM files in a temporary folder.
pub struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap()
    }

    /// Server settings that require a client certificate signed by ca.pem.
    pub fn mutual_tls(&self) -> TlsSettings {
        let settings = TlsSettings::from_pem(
            &self.read("server.pem"),
            &self.read("server.key"),
            Some(&self.read("ca.pem")),
        )
        .unwrap();
        assert!(settings.client_verify());
        settings
    }
}

pub fn ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

/// A client certificate (`NAME.pem`, `NAME.key`) signed by `issuer`.
pub fn write_client_cert(pki: &Pki, name: &str, issuer: &CertifiedIssuer<'static, KeyPair>) {
    let mut client = CertificateParams::new(Vec::<String>::new()).unwrap();
    client
        .distinguished_name
        .push(DnType::CommonName, "tfprobe test client");
    client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let key = KeyPair::generate().unwrap();
    let cert = client.signed_by(&key, issuer).unwrap();
    std::fs::write(pki.path(&format!("{name}.pem")), cert.pem()).unwrap();
    std::fs::write(pki.path(&format!("{name}.key")), key.serialize_pem()).unwrap();
}

/// ca.pem, server.pem/server.key (localhost, 127.0.0.1), client.pem/client.key,
/// other-ca.pem (a CA that signed nothing here) and other.key (a key of nothing).
pub fn pki() -> Pki {
    let pki = Pki {
        dir: tempfile::tempdir().unwrap(),
    };
    let write = |name: &str, text: &str| std::fs::write(pki.path(name), text).unwrap();
    let authority = ca("tfprobe test CA");
    write("ca.pem", &authority.pem());
    write("other-ca.pem", &ca("someone else's CA").pem());
    write("other.key", &KeyPair::generate().unwrap().serialize_pem());

    let mut server =
        CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server_key = KeyPair::generate().unwrap();
    write(
        "server.pem",
        &server.signed_by(&server_key, &authority).unwrap().pem(),
    );
    write("server.key", &server_key.serialize_pem());
    write_client_cert(&pki, "client", &authority);
    pki
}
