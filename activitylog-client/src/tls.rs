//! Which server certificates the client accepts: the platform's roots plus
//! extra CAs (`certificateAuthData`), a pinned certificate
//! (`IONOS_PINNED_CERT`), or anything (`skipTlsVerify`). Handshake
//! signatures are verified in every case.

use std::fmt;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};

use crate::error::{Error, Result};

/// Environment variable: the SHA-256 of a certificate in the server's chain
/// to trust (hex, any case; colons and spaces are ignored).
pub const ENV_PINNED_CERT: &str = "IONOS_PINNED_CERT";

/// The SHA-256 of a DER certificate, as 64 lowercase hex digits (the form
/// `IONOS_PINNED_CERT` takes).
///
/// ```
/// let hex = activitylog_client::certificate_sha256(b"not really a certificate");
/// assert_eq!(hex.len(), 64);
/// ```
pub fn certificate_sha256(der: &[u8]) -> String {
    hex(&sha256(der))
}

fn sha256(der: &[u8]) -> [u8; 32] {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    let mut out = [0; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Makes *ring* the process's rustls provider unless one is installed
/// already (an application's own choice stands). `reqwest` is built without
/// a provider of its own, so a client it builds (the generated
/// `Client::new`, or one of yours) needs one: every way into the SDK
/// ([`crate::Hooks::new`], and so [`crate::ActivityLog::new`]) calls this first.
pub(crate) fn ensure_crypto_provider() {
    if CryptoProvider::get_default().is_none() {
        // Losing a race to another thread's install is fine: one is set.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

/// Parses a pin: 64 hex digits, any case, colons and whitespace ignored.
pub(crate) fn parse_pin(text: &str) -> Result<[u8; 32]> {
    let digits: Vec<u8> = text
        .bytes()
        .filter(|b| *b != b':' && !b.is_ascii_whitespace())
        .collect();
    let bad = || {
        Error::Config(format!(
            "the pinned certificate `{}` is not a SHA-256 in hex (64 hex digits; colons and \
             spaces are ignored): check {ENV_PINNED_CERT}",
            text.trim()
        ))
    };
    if digits.len() != 64 {
        return Err(bad());
    }
    let mut pin = [0; 32];
    for (slot, pair) in pin.iter_mut().zip(digits.chunks(2)) {
        let pair = std::str::from_utf8(pair).map_err(|_| bad())?;
        *slot = u8::from_str_radix(pair, 16).map_err(|_| bad())?;
    }
    Ok(pin)
}

/// The certificates of a PEM text; an error if it holds none or one does not parse.
pub(crate) fn parse_pem(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>> {
    let certificates = CertificateDer::pem_slice_iter(pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::Config(format!("a CA certificate is not valid PEM: {e}")))?;
    if certificates.is_empty() {
        return Err(Error::Config(
            "a CA certificate holds no `-----BEGIN CERTIFICATE-----` block".to_string(),
        ));
    }
    Ok(certificates)
}

/// The PEM in a `certificateAuthData` (base64 of a PEM), checked; the
/// error completes "the certificateAuthData of ...".
pub(crate) fn decode_authority(data: &str) -> std::result::Result<String, String> {
    use base64::Engine;
    let compact: String = data.split_whitespace().collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .map_err(|e| {
            format!(
                "is not base64 ({e}): write the PEM file base64-encoded, e.g. `base64 -w0 ca.pem`"
            )
        })?;
    parse_pem(&bytes).map_err(|e| {
        format!(
            "is not the base64 of a PEM certificate ({}): write the PEM file base64-encoded, e.g. `base64 -w0 ca.pem`",
            e.to_string().trim_start_matches("configuration: ")
        )
    })?;
    String::from_utf8(bytes).map_err(|_| "is not the base64 of a PEM text".to_string())
}

/// What the client trusts, as set on [`Config`](crate::Config).
#[derive(Clone, Debug, Default)]
pub(crate) struct Trust {
    /// Extra root certificates, PEM.
    pub roots_pem: Vec<Vec<u8>>,
    /// Pinned certificates, as given.
    pub pins: Vec<String>,
    /// Accept any certificate (signatures are still checked).
    pub accept_invalid: bool,
}

impl Trust {
    /// Whether anything differs from the machine's roots alone.
    pub(crate) fn is_set(&self) -> bool {
        !self.roots_pem.is_empty() || !self.pins.is_empty() || self.accept_invalid
    }

    /// The rustls configuration for this trust.
    pub(crate) fn client_config(&self) -> Result<rustls::ClientConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = Vec::new();
        for pem in &self.roots_pem {
            roots.extend(parse_pem(pem)?);
        }
        let pins = self
            .pins
            .iter()
            .map(|pin| parse_pin(pin))
            .collect::<Result<Vec<_>>>()?;
        let platform = if roots.is_empty() {
            rustls_platform_verifier::Verifier::new(provider.clone())
        } else {
            rustls_platform_verifier::Verifier::new_with_extra_roots(roots, provider.clone())
        }
        .map_err(|e| Error::Config(format!("could not load the trusted certificates: {e}")))?;
        let verifier = Verifier {
            roots: Arc::new(platform),
            pins,
            accept_invalid: self.accept_invalid,
            has_extra_roots: !self.roots_pem.is_empty(),
            provider: provider.clone(),
        };
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Config(format!("could not set up TLS: {e}")))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(config)
    }
}

/// Decides on the server's certificate: a pin, when set, is the only thing
/// that counts; else skip-verify accepts anything; else the roots decide.
#[derive(Debug)]
struct Verifier {
    roots: Arc<dyn ServerCertVerifier>,
    pins: Vec<[u8; 32]>,
    accept_invalid: bool,
    has_extra_roots: bool,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        let leaf = certificate_sha256(end_entity);
        if !self.pins.is_empty() {
            let pinned = std::iter::once(end_entity)
                .chain(intermediates)
                .any(|cert| self.pins.contains(&sha256(cert)) && !is_ca(cert));
            return if pinned {
                Ok(ServerCertVerified::assertion())
            } else {
                Err(refused(Refusal::NotPinned { leaf }))
            };
        }
        if self.accept_invalid {
            return Ok(ServerCertVerified::assertion());
        }
        self.roots
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            .map_err(|error| match error {
                rustls::Error::InvalidCertificate(problem) => refused(Refusal::Untrusted {
                    problem,
                    leaf,
                    extra_roots: self.has_extra_roots,
                }),
                other => other,
            })
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Why a server certificate was refused, with the setting that would fix it.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// No certificate of the chain matches the pin.
    NotPinned { leaf: String },
    /// The roots do not vouch for the chain.
    Untrusted {
        problem: CertificateError,
        leaf: String,
        extra_roots: bool,
    },
}

fn refused(refusal: Refusal) -> rustls::Error {
    rustls::Error::InvalidCertificate(CertificateError::Other(rustls::OtherError(Arc::new(
        refusal,
    ))))
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::NotPinned { leaf } => write!(
                f,
                "no certificate of the server's chain matches {ENV_PINNED_CERT} (the server \
                 presented a certificate with SHA-256 {leaf}); if you trust it, set \
                 {ENV_PINNED_CERT}={leaf}"
            ),
            Refusal::Untrusted {
                problem,
                leaf,
                extra_roots,
            } => {
                let ca = if *extra_roots {
                    "the certificateAuthData of the config file does not vouch for it either"
                } else {
                    "or add its CA as certificateAuthData (base64 of the PEM) to the config \
                     file's environment"
                };
                write!(
                    f,
                    "{} (its SHA-256 is {leaf}); if you trust it, set {ENV_PINNED_CERT}={leaf}, {ca}",
                    describe(problem)
                )
            }
        }
    }
}

impl std::error::Error for Refusal {}

/// A certificate problem in words.
pub(crate) fn describe(problem: &CertificateError) -> String {
    match problem {
        CertificateError::UnknownIssuer => "issued by a CA this machine does not trust".into(),
        CertificateError::BadSignature => "its signature is invalid".into(),
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => "expired".into(),
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            "not valid yet".into()
        }
        CertificateError::Revoked => "revoked".into(),
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            "issued for another host name".into()
        }
        CertificateError::Other(other) => other.to_string(),
        other => format!("{other:?}"),
    }
}

/// The message for a certificate error from anywhere in an error's chain.
pub(crate) fn refusal_message(problem: &CertificateError) -> String {
    match problem {
        CertificateError::Other(other) => other.to_string(),
        problem => format!(
            "{}; if you trust it, set {ENV_PINNED_CERT} to its SHA-256, or add its CA as \
             certificateAuthData to the config file's environment",
            describe(problem)
        ),
    }
}

/// Whether a DER certificate says it is a CA (basicConstraints `cA: TRUE`).
/// Anything that does not parse counts as a CA, so it is never trusted by a pin alone.
fn is_ca(der: &[u8]) -> bool {
    basic_constraints_ca(der).unwrap_or(true)
}

/// OID 2.5.29.19 (basicConstraints), DER-encoded content.
const BASIC_CONSTRAINTS: &[u8] = &[0x55, 0x1d, 0x13];

fn basic_constraints_ca(der: &[u8]) -> Option<bool> {
    let (_, certificate, _) = tlv(der)?;
    let (_, tbs, _) = tlv(certificate)?;
    let mut rest = tbs;
    while !rest.is_empty() {
        let (tag, value, next) = tlv(rest)?;
        rest = next;
        // extensions: [3] EXPLICIT SEQUENCE OF Extension
        if tag != 0xa3 {
            continue;
        }
        let (_, mut extensions, _) = tlv(value)?;
        while !extensions.is_empty() {
            let (_, extension, next) = tlv(extensions)?;
            extensions = next;
            let (_, oid, mut fields) = tlv(extension)?;
            if oid != BASIC_CONSTRAINTS {
                continue;
            }
            let (mut tag, mut value, after) = tlv(fields)?;
            if tag == 0x01 {
                // critical BOOLEAN
                fields = after;
                (tag, value, _) = tlv(fields)?;
            }
            if tag != 0x04 {
                return None;
            }
            let (_, constraints, _) = tlv(value)?;
            return Some(match tlv(constraints) {
                Some((0x01, flag, _)) => flag.first().is_some_and(|b| *b != 0),
                _ => false,
            });
        }
        return Some(false);
    }
    Some(false)
}

/// One DER tag-length-value: (tag, value, what follows).
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (length, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let length = rest[..count]
            .iter()
            .fold(0usize, |n, b| (n << 8) | usize::from(*b));
        (length, &rest[count..])
    };
    (rest.len() >= length).then(|| (tag, &rest[..length], &rest[length..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_take_any_case_with_colons_and_spaces() {
        let plain = "ab".repeat(32);
        let fancy = ["AB"; 32].join(":");
        assert_eq!(parse_pin(&plain).unwrap(), [0xab; 32]);
        assert_eq!(parse_pin(&fancy).unwrap(), [0xab; 32]);
        assert_eq!(
            parse_pin(&format!(" {} ", ["aB"; 32].join(" "))).unwrap(),
            [0xab; 32]
        );
        for bad in ["", "abc", &"zz".repeat(32), &"ab".repeat(33), "é"] {
            let error = parse_pin(bad).unwrap_err().to_string();
            assert!(error.contains(ENV_PINNED_CERT), "{error}");
        }
    }

    #[test]
    fn garbage_is_never_a_non_ca_certificate() {
        for input in [
            &b""[..],
            b"\x30",
            b"\x30\x84\xff\xff\xff\xff",
            b"\x30\x03\x30\x01",
        ] {
            assert!(is_ca(input));
        }
    }

    #[test]
    fn pem_without_certificates_is_refused() {
        assert!(parse_pem(b"hello").is_err());
    }
}
