//! Which contract and which range a question is about: the contract given
//! (or the only one), and `since`/`until` as the CLI reads them (`7d`,
//! `2024-05-01`, RFC 3339), closed as `entries` closes them: by the
//! service's clock for the API, at the completeness mark for an archive.

use activitylog_client::{DEFAULT_SETTLE, DateBound, DateRange, Error, RangeRule};
use chrono::{DateTime, SubsecRound, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::commands::mcp::state::State;
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

/// The contract and range a question names, as tool arguments (the
/// range's default from the API: the last 90 days).
#[derive(Debug, Deserialize, JsonSchema)]
pub struct Asked {
    /// The contract number (list_contracts); optional when there is only one.
    pub contract: Option<u64>,
    /// Start, inclusive: a date (2024-05-01), an RFC 3339 instant, or a duration back from now
    /// (7d, 12h, 2w). Default: 90 days before now (the API), the start of the archive.
    pub since: Option<String>,
    /// End, exclusive, in the same forms, or `now`. Default: now minus 2 minutes (the API), where
    /// the archive is complete.
    pub until: Option<String>,
}

impl Asked {
    /// The contract asked, or the only one; see [`contract`].
    pub fn contract(&self, state: &State) -> Result<u64, String> {
        contract(&state.reader, &state.contracts, self.contract)
    }

    /// The range asked of `contract`; see [`range`].
    pub async fn range(&self, state: &State, contract: u64) -> Result<DateRange, String> {
        range(
            &state.reader,
            contract,
            self.since.as_deref(),
            self.until.as_deref(),
        )
        .await
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
                "the {} {} holds nothing of contract {number} (it holds {list}): run \
                 `activitylog sync {number} --db {}` to fill it in",
                archive.kind(),
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
        .replace("; or add --partial to read what the lake holds", "")
        .replace("--since", "since")
        .replace("--until", "until")
        .replace("--settle", "the settle time")
}
