//! HTTPS for the sandbox: a CA and a server certificate for `127.0.0.1` and
//! `localhost`, generated at start and trusted by nothing until a client
//! is told (the CA's PEM, or the server certificate's SHA-256 pin).

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::sandbox::SandboxError;

/// The certificates a TLS sandbox serves with.
#[derive(Clone, Debug)]
pub struct SandboxTls {
    ca_pem: String,
    ca_sha256: String,
    server_sha256: String,
}

impl SandboxTls {
    /// The CA that issued the server certificate, PEM (what the IONOS
    /// config file's `certificateAuthData` takes, base64-encoded).
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The SHA-256 of the server certificate (DER), 64 lowercase hex
    /// digits: the pin `IONOS_PINNED_CERT` takes.
    pub fn pin(&self) -> &str {
        &self.server_sha256
    }

    /// The SHA-256 of the CA certificate (DER), 64 lowercase hex digits.
    /// A pin names a server certificate: this one, a CA, never works as one.
    pub fn ca_sha256(&self) -> &str {
        &self.ca_sha256
    }
}

/// Generates the certificates and the acceptor that serves them.
pub(crate) fn generate() -> Result<(SandboxTls, TlsAcceptor), SandboxError> {
    let failed = |e: rcgen::Error| SandboxError::Tls(e.to_string());
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(failed)?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "activitylog sandbox CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().map_err(failed)?)
        .map_err(failed)?;

    let mut params = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .map_err(failed)?;
    params.is_ca = IsCa::ExplicitNoCa;
    params
        .distinguished_name
        .push(DnType::CommonName, "activitylog sandbox");
    let key = KeyPair::generate().map_err(failed)?;
    let server = params.signed_by(&key, &ca).map_err(failed)?;

    let chain = vec![server.der().clone(), ca.der().clone()];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|builder| builder.with_no_client_auth().with_single_cert(chain, key))
        .map_err(|e| SandboxError::Tls(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let tls = SandboxTls {
        ca_pem: ca.pem(),
        ca_sha256: sha256_hex(ca.der()),
        server_sha256: sha256_hex(server.der()),
    };
    Ok((tls, TlsAcceptor::from(Arc::new(config))))
}

fn sha256_hex(der: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, der)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
