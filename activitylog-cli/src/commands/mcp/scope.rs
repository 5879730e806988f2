//! Which contract and which range a question is about: the contract given
//! (or the only one), and `since`/`until` as the CLI reads them (`7d`,
//! `2024-05-01`, RFC 3339), closed as `entries` closes them: by the
//! service's clock for the API, at the completeness mark for an archive.

use activitylog_client::{DEFAULT_SETTLE, DateBound, DateRange, Error, RangeRule};
use chrono::{DateTime, SubsecRound, Utc};
use schemars::JsonSchema;
use serde::Serialize;

use crate::reader::Reader;
use crate::text::{list, rfc3339};
use crate::when::When;

/// A range as an answer states it.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct Span {
    /// Start, inclusive (RFC 3339).
    pub since: String,
    /// End, exclusive (RFC 3339).
    pub until: String,
}

impl Span {
    /// The span of `range`.
    pub fn of(range: &DateRange) -> Span {
        Span {
            since: rfc3339(range.since()),
            until: rfc3339(range.until()),
        }
    }
}

/// The contract a tool reads: `asked`, which must be one of `contracts`,
/// or the only one of them.
pub fn contract(reader: &Reader, contracts: &[u64], asked: Option<u64>) -> Result<u64, String> {
    let list = list(contracts);
    match (asked, contracts) {
        (Some(number), _) if contracts.contains(&number) => Ok(number),
        (Some(number), _) => Err(match reader {
            Reader::Api(_) => format!(
                "these credentials cannot read contract {number}: they read {list} \
                 (list_contracts shows them)"
            ),
            Reader::Archive(archive) => format!(
                "the archive {} holds nothing of contract {number} (it holds {list}): run \
                 `activitylog sync {number} --db {}` to fill it in",
                archive.location(),
                archive.location()
            ),
        }),
        (None, [one]) => Ok(*one),
        (None, _) => Err(format!(
            "name a contract: these are readable: {list} (list_contracts shows them)"
        )),
    }
}

/// Parses a `since`/`until` argument.
fn when(text: Option<&str>, name: &str) -> Result<Option<When>, String> {
    text.map(|t| t.parse::<When>().map_err(|e| format!("{name}: {e}")))
        .transpose()
}

/// The range `since`/`until` name for `contract`: by default the last 90
/// days from the API, all of an archive; an open end is closed at now
/// minus the settle time (the API), or at the archive's completeness mark.
pub async fn range(
    reader: &Reader,
    contract: u64,
    since: Option<&str>,
    until: Option<&str>,
) -> Result<DateRange, String> {
    let since = when(since, "since")?;
    let until = when(until, "until")?;
    let now = match reader {
        Reader::Api(connection) => crate::clock::service_now(&connection.log).await,
        Reader::Archive(_) => Utc::now().trunc_subsecs(0),
    };
    let resolve = |w: Option<&When>| w.map(|w| w.resolve(now)).transpose();
    let mut start = resolve(since.as_ref())?;
    let end = resolve(until.as_ref())?;
    if start.is_none() && matches!(reader, Reader::Archive(_)) {
        start = Some(DateBound::Instant(DateTime::UNIX_EPOCH));
    }
    let range = RangeRule::new(DEFAULT_SETTLE)
        .resolve(start, end, now)
        .map_err(|error| in_words(Error::from(error).to_string()))?;
    match reader {
        Reader::Api(_) => Ok(range),
        Reader::Archive(archive) => crate::reader::archive_range(
            archive,
            &[contract],
            range.since(),
            range.until(),
            until.is_some(),
            false,
        )
        .await
        .map_err(|failure| in_words(failure.message())),
    }
}

/// A message of the CLI's in a tool's words: its flags are arguments here.
pub fn in_words(message: String) -> String {
    message
        .replace("; or add --partial to read what the archive holds", "")
        .replace("--since", "since")
        .replace("--until", "until")
        .replace("--settle", "the settle time")
}
