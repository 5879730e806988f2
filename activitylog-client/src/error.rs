//! The one error type of the SDK.
//!
//! Every message is one line, says what to do, and never contains a secret:
//! request headers are never part of an error.

use std::time::Duration;

/// Anything that can go wrong talking to the Activity Log API.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server rejected the credentials (HTTP 401).
    #[error(
        "unauthorized (HTTP 401): check IONOS_TOKEN, or IONOS_USERNAME and IONOS_PASSWORD, \
         or the credentials of the config file's profile; Basic auth does not work for \
         accounts with 2-factor authentication: use a token"
    )]
    Unauthorized,

    /// The credentials are valid but may not read this contract (HTTP 403).
    #[error(
        "forbidden (HTTP 403){}: the user needs the \"access activity log\" privilege \
         for it, and the contract must be one the account can see \
         (`GET /contracts` lists them)",
        contract.map(|c| format!(" for contract {c}")).unwrap_or_default()
    )]
    Forbidden {
        /// The contract asked for, if the request named one.
        contract: Option<u64>,
    },

    /// The server refused the request (HTTP 400, or another 4xx that
    /// retrying cannot change, such as 409 or 422).
    #[error("bad request (HTTP {status}): {}", messages.join("; "))]
    BadRequest {
        /// The HTTP status the server answered with.
        status: u16,
        /// The server's messages, as sent (or the raw body if it had none).
        messages: Vec<String>,
    },

    /// The server kept failing (5xx, 429) or the network did, after retrying.
    #[error(
        "{operation} failed after {attempts} attempt(s) over {waited:?}: {reason}; \
         the service may be unavailable, try again later"
    )]
    Server {
        /// The operation (`getByContract`, ...).
        operation: &'static str,
        /// HTTP status of the last answer, if there was one.
        status: Option<u16>,
        /// How many attempts were made.
        attempts: u32,
        /// How long the retries waited in total.
        waited: Duration,
        /// What the last attempt ran into.
        reason: String,
    },

    /// A response could not be decoded.
    #[error("could not decode the {operation} response at {position}: {reason} (near `{snippet}`)")]
    Decode {
        /// The operation whose response failed.
        operation: &'static str,
        /// Where: byte offset, line/column, or event position.
        position: String,
        /// What the decoder said.
        reason: String,
        /// A short excerpt of the offending input.
        snippet: String,
    },

    /// The server's TLS certificate was not accepted. Permanent: not retried.
    #[error("the server's TLS certificate was not accepted: {reason}")]
    Certificate {
        /// What is wrong with the certificate, and the setting that would
        /// make it trusted (`IONOS_PINNED_CERT`, `certificateAuthData`).
        reason: String,
    },

    /// No credentials were found: neither in the environment nor, where it was
    /// read, in the IONOS config file.
    #[error("no credentials: set {}", looked_in.join(", or "))]
    NoCredentials {
        /// Each place that could have held them, as a user would set it
        /// (`IONOS_TOKEN`, `IONOS_USERNAME and IONOS_PASSWORD`, the config file).
        looked_in: Vec<String>,
    },

    /// The configuration is incomplete or inconsistent.
    #[error("configuration: {0}")]
    Config(String),

    /// The IONOS config file does not parse, or lacks the profile or
    /// environment asked for. The reason never contains a secret.
    #[error("config file {}: {reason}", path.display())]
    ConfigFile {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong, with the line where the YAML is at fault.
        reason: String,
    },

    /// `IONOS_CONTRACT_NUMBER` is set to something that is not a contract number.
    #[error(
        "IONOS_CONTRACT_NUMBER=`{value}` is not a contract number: set it to a positive number \
         such as 31721060, or unset it"
    )]
    ContractNumber {
        /// The value as set.
        value: String,
    },

    /// A date range that cannot be asked for.
    #[error("invalid date range: {0}")]
    InvalidRange(String),

    /// More entries fall into one second than the service lets anyone page
    /// through: they cannot be downloaded completely. Permanent: retrying
    /// cannot help, only a larger result window on the service's side.
    #[error(
        "incomplete download: contract {contract} has {}{count} entries in the one second \
         from {}, more than the service's result window of {result_window} lets anyone page \
         through; entries of that second were not fetched",
        if *at_least { "at least " } else { "" },
        crate::dates::render_instant(*second)
    )]
    CrowdedSecond {
        /// The contract.
        contract: u64,
        /// Start of the crowded second.
        second: chrono::DateTime<chrono::Utc>,
        /// The count the service reported for that second.
        count: u64,
        /// Whether that count is only a lower bound (capped by the service).
        at_least: bool,
        /// The result window the download worked with.
        result_window: u64,
    },

    /// A fault of this SDK itself: a download task that panicked, a
    /// download that stalled. Permanent: retrying the same call meets the
    /// same bug, so it is never [`Error::is_transient`].
    #[error("{0} (a bug: please report it)")]
    Bug(String),

    /// A download could not be made complete; names what was not fetched.
    #[error("incomplete download: {missing} not fetched: {reason}")]
    Incomplete {
        /// What is missing: contract, time window, offsets.
        missing: String,
        /// Why, in one line.
        reason: String,
        /// The error that stopped the download, if one did.
        #[source]
        cause: Option<Box<Error>>,
    },
}

impl Error {
    /// Whether retrying the same call later might succeed: the service or
    /// the network failed, never a bug of this SDK ([`Error::Bug`]), nor an
    /// answer that retrying cannot change.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Server { .. } => true,
            Error::Incomplete { cause, .. } => cause.as_ref().is_none_or(|c| c.is_transient()),
            _ => false,
        }
    }

    /// The error for a final (non-retried or retried-out) HTTP answer.
    pub(crate) fn from_status(status: u16, body: &[u8], context: &Context) -> Self {
        match status {
            401 => Error::Unauthorized,
            403 => Error::Forbidden {
                contract: context.contract,
            },
            404 => Error::Config(format!(
                "HTTP 404 for {}: check the API URL (IONOS_API_URL)",
                context.operation
            )),
            400..=499 if status != 429 => Error::BadRequest {
                status,
                messages: server_messages(body),
            },
            _ => Error::Server {
                operation: context.operation,
                status: Some(status),
                attempts: context.attempts,
                waited: context.waited,
                reason: format!("HTTP {status}"),
            },
        }
    }

    /// Builds a [`Error::Decode`] from a serde_json error on `input`.
    pub(crate) fn decode(operation: &'static str, input: &[u8], error: &serde_json::Error) -> Self {
        let (line, column) = (error.line(), error.column());
        let offset = byte_offset(input, line, column);
        let start = offset.saturating_sub(40);
        let end = (offset + 40).min(input.len());
        let snippet = String::from_utf8_lossy(&input[start.min(end)..end])
            .chars()
            .filter(|c| !c.is_control())
            .collect();
        Error::Decode {
            operation,
            position: format!("line {line}, column {column}"),
            reason: error.to_string(),
            snippet,
        }
    }
}

/// Where an HTTP answer came from, for the error built from it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Context {
    pub operation: &'static str,
    pub contract: Option<u64>,
    pub attempts: u32,
    pub waited: Duration,
}

/// The messages of an IONOS error body (`{"messages": [{"errorCode", "message"}]}`),
/// or the start of the body as text.
fn server_messages(body: &[u8]) -> Vec<String> {
    #[derive(serde::Deserialize)]
    struct Body {
        #[serde(default)]
        messages: Vec<Message>,
    }
    #[derive(serde::Deserialize)]
    struct Message {
        #[serde(rename = "errorCode", default)]
        code: Option<serde_json::Value>,
        #[serde(default)]
        message: Option<String>,
    }
    let parsed = serde_json::from_slice::<Body>(body)
        .ok()
        .map(|b| b.messages);
    let messages: Vec<String> = parsed
        .unwrap_or_default()
        .into_iter()
        .filter_map(|m| match (m.code, m.message) {
            (Some(code), Some(text)) => Some(format!(
                "{}: {text}",
                code.as_str().map_or(code.to_string(), str::to_string)
            )),
            (None, Some(text)) => Some(text),
            (Some(code), None) => Some(code.to_string()),
            (None, None) => None,
        })
        .collect();
    if !messages.is_empty() {
        return messages;
    }
    let text: String = String::from_utf8_lossy(body)
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    vec![if text.trim().is_empty() {
        "no details given".to_string()
    } else {
        text
    }]
}

/// The byte offset of a 1-based (line, column) position, clamped to `input`.
fn byte_offset(input: &[u8], line: usize, column: usize) -> usize {
    let line_start = input
        .split_inclusive(|b| *b == b'\n')
        .take(line.saturating_sub(1))
        .map(<[u8]>::len)
        .sum::<usize>();
    (line_start + column.saturating_sub(1)).min(input.len())
}

/// Result with the SDK's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_error_points_near_the_fault() {
        let input = br#"{"hits": {"total": 1, "hits": [ {"_source": nope } ] }}"#;
        let error = serde_json::from_slice::<serde_json::Value>(input).unwrap_err();
        let message = Error::decode("getByContract", input, &error).to_string();
        assert!(message.contains("getByContract"), "{message}");
        assert!(message.contains("nope"), "{message}");
    }

    #[test]
    fn bad_request_carries_the_server_messages() {
        let body = br#"{"httpStatus":400,"messages":[{"errorCode":"123","message":"dateStart is invalid"}]}"#;
        let context = Context {
            operation: "getByContract",
            contract: None,
            attempts: 1,
            waited: Duration::ZERO,
        };
        let message = Error::from_status(400, body, &context).to_string();
        assert_eq!(message, "bad request (HTTP 400): 123: dateStart is invalid");
        let message = Error::from_status(400, b"plain words", &context).to_string();
        assert!(message.ends_with("plain words"), "{message}");
        let message = Error::from_status(409, b"conflict", &context).to_string();
        assert_eq!(message, "bad request (HTTP 409): conflict");
    }

    #[test]
    fn a_bug_is_not_transient() {
        let bug = Error::Incomplete {
            missing: "the rest of the range".into(),
            reason: "a page task failed: panicked (a bug: please report it)".into(),
            cause: Some(Box::new(Error::Bug("a page task failed".into()))),
        };
        assert!(!bug.is_transient());
        let outage = Error::Incomplete {
            missing: "the rest of the range".into(),
            reason: "HTTP 503".into(),
            cause: None,
        };
        assert!(outage.is_transient());
    }

    #[test]
    fn forbidden_names_the_contract() {
        let message = Error::Forbidden {
            contract: Some(98765432),
        }
        .to_string();
        assert!(message.contains("98765432") && message.contains("access activity log"));
    }
}
