//! Failures: one line for stderr, and the exit code that goes with it.

use std::fmt;
use std::io;

/// Exit code of usage errors: flags, dates, ranges, contract numbers.
pub const EXIT_USAGE: u8 = 2;
/// Exit code of every other failure (signals aside: 130 for SIGINT, 143
/// for SIGTERM, see [`crate::signals`]).
pub const EXIT_FAILURE: u8 = 1;

/// Why a command failed: a one-line message saying what went wrong and what
/// to do, and the exit code.
#[derive(Debug)]
pub struct Failure {
    message: String,
    code: u8,
}

impl Failure {
    /// A usage error (exit code 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            code: EXIT_USAGE,
        }
    }

    /// Any other failure (exit code 1).
    pub fn other(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            code: EXIT_FAILURE,
        }
    }

    /// A failure with its own exit code (signals: 130, 143).
    pub fn with_code(message: impl Into<String>, code: u8) -> Self {
        Failure {
            message: message.into(),
            code,
        }
    }

    /// Not a failure: stdout was closed by its reader (`| head`), so the
    /// run stops early, quietly (no message) and successfully (exit code 0).
    pub fn quiet_stop() -> Self {
        Failure {
            message: String::new(),
            code: 0,
        }
    }

    /// Whether this is the [`Failure::quiet_stop`] of a closed stdout.
    pub fn is_quiet_stop(&self) -> bool {
        self.code == 0
    }

    /// The exit code.
    pub fn code(&self) -> u8 {
        self.code
    }

    /// The message, flattened to one line.
    pub fn message(&self) -> String {
        one_line(&self.message)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl From<activitylog_client::Error> for Failure {
    /// The SDK's message, with the hint of the command that helps where
    /// there is one (the SDK speaks of itself, the CLI of its commands).
    fn from(error: activitylog_client::Error) -> Self {
        use activitylog_client::Error;
        let message = match hint(&error) {
            Some(hint) => format!("{error} ({hint})"),
            None => error.to_string(),
        };
        match error {
            Error::InvalidRange(_) | Error::ConfigFile { .. } | Error::ContractNumber { .. } => {
                Failure::usage(message)
            }
            _ => Failure::other(message),
        }
    }
}

impl From<activitylog_archive::Error> for Failure {
    /// An archive's error: a bad URL is a usage error; a download's failure
    /// is said as the SDK's.
    fn from(error: activitylog_archive::Error) -> Self {
        match error {
            activitylog_archive::Error::Url(_) => Failure::usage(error.to_string()),
            activitylog_archive::Error::Download(error) => Failure::from(error),
            other => Failure::other(other.to_string()),
        }
    }
}

/// An I/O error on stdout, as a failure (a closed pipe is the
/// [`Failure::quiet_stop`]).
pub fn stdout_failure(error: io::Error) -> Failure {
    if error.kind() == io::ErrorKind::BrokenPipe {
        Failure::quiet_stop()
    } else {
        Failure::other(format!("could not write to stdout: {error}"))
    }
}

/// The command that shows a user what an SDK error is about.
fn hint(error: &activitylog_client::Error) -> Option<&'static str> {
    use activitylog_client::Error;
    match error {
        Error::Unauthorized => Some("`activitylog config` shows which credentials are used"),
        Error::Forbidden { .. } | Error::ContractNumber { .. } => {
            Some("`activitylog contracts` lists the contracts you can read")
        }
        Error::NoCredentials { .. } => Some("or pipe a token to --token-stdin, or try --sandbox"),
        _ => None,
    }
}

/// Joins the lines of `text` with `; ` (an error is always one line).
pub fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

/// One line for clap's own errors: the error and its tip, without the usage
/// block (`--help` shows that).
pub fn clap_message(error: &clap::Error) -> String {
    let rendered = error.render().to_string();
    let mut parts = Vec::new();
    for line in rendered.lines().map(str::trim) {
        if line.starts_with("Usage:") || line.starts_with("For more information") {
            break;
        }
        if !line.is_empty() {
            parts.push(line.trim_start_matches("error:").trim().to_string());
        }
    }
    let mut message = String::new();
    for part in parts {
        if !message.is_empty() {
            message.push_str(if message.ends_with(':') { " " } else { "; " });
        }
        message.push_str(&part);
    }
    format!("{message}; see `activitylog --help`")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn the_sdk_range_error_is_a_usage_error() {
        let range = activitylog_client::Error::InvalidRange("the start is after the end".into());
        assert_eq!(Failure::from(range).code(), EXIT_USAGE);
        assert_eq!(
            Failure::from(activitylog_client::Error::Unauthorized).code(),
            EXIT_FAILURE
        );
    }

    #[test]
    fn sdk_errors_gain_the_command_that_helps() {
        let forbidden = activitylog_client::Error::Forbidden {
            contract: Some(98765432),
        };
        let message = Failure::from(forbidden).message();
        assert!(
            message.contains("for contract 98765432")
                && message.contains("`activitylog contracts`"),
            "{message}"
        );
        let unauthorized = Failure::from(activitylog_client::Error::Unauthorized).message();
        assert!(
            unauthorized.contains("`activitylog config`"),
            "{unauthorized}"
        );
        let none = activitylog_client::Error::NoCredentials {
            looked_in: vec!["IONOS_TOKEN".into()],
        };
        let message = Failure::from(none).message();
        assert_eq!(
            message,
            "no credentials: set IONOS_TOKEN (or pipe a token to --token-stdin, or try --sandbox)"
        );
    }

    #[test]
    fn messages_are_one_line() {
        assert_eq!(Failure::other("a\n\n  b\n").message(), "a; b");
    }

    #[test]
    fn clap_errors_become_one_line_with_their_tip() {
        let error = crate::args::Cli::try_parse_from(["activitylog", "entries", "1", "--nope"])
            .unwrap_err();
        let message = clap_message(&error);
        assert!(!message.contains('\n'), "{message}");
        assert!(message.contains("--nope"), "{message}");
        assert!(!message.starts_with("error"), "{message}");
        let error = crate::args::Cli::try_parse_from(["activitylog", "entries", "1", "--resume"])
            .unwrap_err();
        let message = clap_message(&error);
        assert!(message.contains("provided: --out <FILE>"), "{message}");
    }
}
