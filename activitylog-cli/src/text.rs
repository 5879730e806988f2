//! How messages and outputs write instants and lists of contracts, so that
//! every command says them the same way.

use chrono::{DateTime, SecondsFormat, Utc};

/// An instant as messages, JSON and CSV write it: RFC 3339 UTC, with
/// fractions of a second only where there are some.
pub fn rfc3339(instant: DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// `1, 2, 3`.
pub fn list(numbers: &[u64]) -> String {
    numbers
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
