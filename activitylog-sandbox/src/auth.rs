//! `Authorization` header checks: HTTP Basic and Bearer token.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use crate::config::Credentials;

/// Whether the raw `Authorization` header value matches the credentials.
pub(crate) fn is_authorized(header: Option<&[u8]>, credentials: &Credentials) -> bool {
    let Some(value) = header.and_then(|h| std::str::from_utf8(h).ok()) else {
        return false;
    };
    let value = value.trim();
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("basic") {
        decode_base64(rest)
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .and_then(|pair| {
                pair.split_once(':')
                    .map(|(u, p)| u == credentials.user && p == credentials.password)
            })
            .unwrap_or(false)
    } else if scheme.eq_ignore_ascii_case("bearer") {
        !rest.is_empty() && rest == credentials.token
    } else {
        false
    }
}

/// Standard base64 that accepts input with or without padding.
const BASIC: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Decodes standard base64; padding is optional. `None` on any invalid input.
pub(crate) fn decode_base64(text: &str) -> Option<Vec<u8>> {
    BASIC.decode(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips_known_values() {
        assert_eq!(decode_base64("").unwrap(), b"");
        assert_eq!(decode_base64("Zg==").unwrap(), b"f");
        assert_eq!(decode_base64("Zm8=").unwrap(), b"fo");
        assert_eq!(decode_base64("Zm9v").unwrap(), b"foo");
        assert_eq!(decode_base64("Zm9vYg").unwrap(), b"foob");
        assert!(decode_base64("Z").is_none());
        assert!(decode_base64("Zm9v!").is_none());
        assert!(decode_base64("Zg===").is_none());
    }

    #[test]
    fn basic_and_bearer() {
        let c = Credentials::default();
        // base64("sandbox@example.com:sandbox")
        let basic = b"Basic c2FuZGJveEBleGFtcGxlLmNvbTpzYW5kYm94";
        assert!(is_authorized(Some(basic), &c));
        assert!(is_authorized(
            Some(b"basic c2FuZGJveEBleGFtcGxlLmNvbTpzYW5kYm94"),
            &c
        ));
        assert!(is_authorized(Some(b"Bearer sandbox-token"), &c));
        assert!(!is_authorized(Some(b"Bearer wrong"), &c));
        assert!(!is_authorized(Some(b"Bearer "), &c));
        assert!(!is_authorized(Some(b"Basic Zm9vOmJhcg=="), &c));
        assert!(!is_authorized(Some(b"Basic !!!"), &c));
        assert!(!is_authorized(Some(b"\xff\xfe"), &c));
        assert!(!is_authorized(Some(b"Digest abc"), &c));
        assert!(!is_authorized(None, &c));
    }
}
