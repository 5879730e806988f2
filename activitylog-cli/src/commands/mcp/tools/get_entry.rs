//! `get_entry`: one entry, whole and as received, by its `@uuid`.

use activitylog_archive::Query;
use activitylog_client::{DateBound, DateRange, RawEvent};
use chrono::{TimeDelta, Utc};
use futures::StreamExt;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::commands::mcp::budget::json;
use crate::commands::mcp::read;
use crate::commands::mcp::scope;
use crate::commands::mcp::state::State;
use crate::reader::Reader;
use crate::text::rfc3339;
use crate::when::When;

/// The tool's name.
pub const NAME: &str = "get_entry";
/// What it does, for the model.
pub const DESCRIPTION: &str = "One activity log entry, whole and as received, by its `uuid` \
    (a search_entries row's `uuid`). From the API, give its `time` too (a row's `time`): the \
    entry is looked for within a day of it; an archive finds the uuid alone.";

/// How far from `time` the entry is looked for.
const AROUND: TimeDelta = TimeDelta::days(1);

/// The arguments.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct Args {
    /// The entry's `@uuid`.
    pub uuid: String,
    /// The contract number (list_contracts); optional when there is only one.
    pub contract: Option<u64>,
    /// When the entry happened, roughly (an RFC 3339 instant or a date): required from the API,
    /// not needed from an archive (which finds the uuid directly).
    pub time: Option<String>,
}

/// The answer.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Answer {
    /// The contract read.
    pub contract: u64,
    /// The entry, as the service sent it.
    pub entry: Value,
}

/// Finds the entry.
pub async fn run(state: &State, args: Args) -> Result<Value, String> {
    let uuid = args.uuid.trim();
    if uuid.is_empty() {
        return Err("uuid is empty: give a row's `uuid` from search_entries".to_string());
    }
    let contract = scope::contract(&state.reader, &state.contracts, args.contract)?;
    let event = match &state.reader {
        // By the archive's (contract, @uuid) key: the time is not needed.
        Reader::Archive(archive) => archive
            .entry(contract, uuid)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| {
                let kind = archive.kind();
                format!(
                    "the {kind} {} holds no entry {uuid} of contract {contract}: check the uuid \
                     (search_entries shows it), or run `activitylog sync {contract} --db {}` if \
                     the entry is newer than the {kind}",
                    archive.location(),
                    archive.location()
                )
            })?,
        Reader::Api(_) => {
            let Some(text) = args.time.as_deref() else {
                return Err(
                    "give the entry's `time` too (a search_entries row's `time`): the API is \
                     searched by time"
                        .to_string(),
                );
            };
            let when: When = text.parse().map_err(|e| format!("time: {e}"))?;
            let center = when
                .resolve(Utc::now())
                .map_err(|e| format!("time: {e}"))?
                .instant();
            let range = DateRange::new(
                DateBound::Instant(center - AROUND),
                DateBound::Instant(center + AROUND),
            )
            .map_err(|e| e.to_string())?;
            find(&state.reader, contract, &range, uuid)
                .await?
                .ok_or_else(|| {
                    format!(
                        "no entry {uuid} in contract {contract} from {} to {}: check the uuid and \
                         the time (search_entries shows both)",
                        rfc3339(range.since()),
                        rfc3339(range.until())
                    )
                })?
        }
    };
    let entry: Value = serde_json::from_str(event.json()).unwrap_or(Value::Null);
    let answer = json(&Answer { contract, entry });
    if !state.budget.fits(&answer) {
        return Err(format!(
            "entry {uuid} is longer than the answer size ({} bytes): read it with `activitylog \
             entries --format json`, or start the server with a larger --max-answer-bytes",
            state.budget.bytes()
        ));
    }
    Ok(answer)
}

/// The entry `uuid` in `range`; the download stops once it is found.
async fn find(
    reader: &Reader,
    contract: u64,
    range: &DateRange,
    uuid: &str,
) -> Result<Option<RawEvent>, String> {
    let mut pages = read::pages(read::read(reader, contract, range, &Query::default()).updates);
    while let Some(page) = pages.next().await {
        if let Some(event) = page?
            .into_iter()
            .find(|e| e.uuid().is_some_and(|u| u == uuid))
        {
            return Ok(Some(event));
        }
    }
    Ok(None)
}
