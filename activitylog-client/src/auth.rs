//! Credentials: a Bearer token or Basic username/password, held as secrets.

use std::fmt;

use base64::prelude::{BASE64_STANDARD, Engine as _};
use reqwest::header::HeaderValue;
use secrecy::{ExposeSecret, SecretString};

use crate::error::{Error, Result};

/// How requests authenticate. `Debug` never shows the secret. More ways
/// may come (profiles of the IONOS config file), hence `non_exhaustive`.
#[derive(Clone)]
#[non_exhaustive]
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
                format!("Basic {}", BASE64_STANDARD.encode(pair))
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
