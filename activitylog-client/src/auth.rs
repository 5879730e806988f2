//! Credentials: a Bearer token or Basic username/password, held as secrets.

use std::fmt;

use reqwest::header::HeaderValue;
use secrecy::{ExposeSecret, SecretString};

use crate::error::{Error, Result};

/// How requests authenticate. `Debug` never shows the secret.
#[derive(Clone)]
pub enum Credentials {
    /// `Authorization: Bearer <token>`: works with 2-factor authentication.
    Token(SecretString),
    /// `Authorization: Basic base64(username:password)`: not for 2FA accounts.
    Basic {
        /// The IONOS user name (an e-mail address).
        username: String,
        /// The password.
        password: SecretString,
    },
}

impl Credentials {
    /// A Bearer token.
    pub fn token(token: impl Into<String>) -> Self {
        Credentials::Token(SecretString::from(token.into()))
    }

    /// Basic username and password.
    pub fn basic(username: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials::Basic {
            username: username.into(),
            password: SecretString::from(password.into()),
        }
    }

    /// The `Authorization` header value, marked sensitive so that reqwest and
    /// its logging never print it.
    pub(crate) fn header_value(&self) -> Result<HeaderValue> {
        let raw = match self {
            Credentials::Token(token) => format!("Bearer {}", token.expose_secret().trim()),
            Credentials::Basic { username, password } => {
                let pair = format!("{username}:{}", password.expose_secret());
                format!("Basic {}", base64_encode(pair.as_bytes()))
            }
        };
        let mut value = HeaderValue::from_str(&raw).map_err(|_| {
            Error::Config(
                "the credentials contain characters that cannot be sent in an HTTP header"
                    .to_string(),
            )
        })?;
        value.set_sensitive(true);
        Ok(value)
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::Token(_) => f.write_str("Token([REDACTED])"),
            Credentials::Basic { username, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .field("password", &"[REDACTED]")
                .finish(),
        }
    }
}

/// Standard base64 with padding (RFC 4648), as Basic auth wants.
fn base64_encode(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_header_is_base64_of_user_colon_password() {
        let value = Credentials::basic("Aladdin", "open sesame")
            .header_value()
            .unwrap();
        assert_eq!(
            value.to_str().unwrap(),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
        assert!(value.is_sensitive());
    }

    #[test]
    fn bearer_header_carries_the_token() {
        let value = Credentials::token("t0k3n").header_value().unwrap();
        assert_eq!(value.to_str().unwrap(), "Bearer t0k3n");
    }

    #[test]
    fn base64_pads_like_rfc_4648() {
        assert_eq!(base64_encode(b"f"), "Zg==");
        assert_eq!(base64_encode(b"fo"), "Zm8=");
        assert_eq!(base64_encode(b"foo"), "Zm9v");
    }

    #[test]
    fn debug_never_shows_secrets() {
        let shown = format!(
            "{:?} {:?}",
            Credentials::token("s3cr3t-token"),
            Credentials::basic("me@example.com", "hunter2")
        );
        assert!(
            !shown.contains("s3cr3t") && !shown.contains("hunter2"),
            "{shown}"
        );
        assert!(shown.contains("me@example.com"));
    }
}
