//! `search_entries`: the entries that match, as compact rows in time
//! order, a page at a time, each page going on from the position (time,
//! `@uuid`) of the last row before it; the download stops as soon as the
//! page is known complete.

use std::hash::{DefaultHasher, Hash, Hasher};

use activitylog_client::{DateBound, DateRange, RawEvent};
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::commands::mcp::budget::json;
use crate::commands::mcp::filters::Filters;
use crate::commands::mcp::position::{self, Position};
use crate::commands::mcp::scope::{Asked, Span};
use crate::commands::mcp::state::State;
use crate::commands::mcp::tools::row::Row;

/// The tool's name.
pub const NAME: &str = "search_entries";
/// What it does, for the model.
pub const DESCRIPTION: &str = "Find activity log entries (who did what, when, from where) in \
    a time range, with filters; answers compact rows in time order, at most `limit` of them, \
    and a `cursor` that continues after the last row when more match. Exact over any range (the whole range is searched, not a sample). \
    RequestStatusUpdate entries (progress noise, more than half of all entries) are left out \
    unless `include_status_updates` is true or `type` asks for them. To count entries, use \
    summarize instead.";

/// Rows per answer by default.
const DEFAULT_LIMIT: u32 = 50;
/// The most rows one answer holds.
const MAX_LIMIT: u32 = 500;
/// The noise left out by default.
const NOISE: &str = "RequestStatusUpdate";

/// The arguments.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct Args {
    /// The contract and range.
    #[serde(flatten)]
    pub scope: Asked,
    /// Which entries match.
    #[serde(flatten)]
    pub filters: Filters,
    /// Also show RequestStatusUpdate entries (left out by default).
    #[serde(default)]
    pub include_status_updates: bool,
    /// Rows per answer, 1 to 500 (default 50).
    pub limit: Option<u32>,
    /// The `cursor` of the previous answer to this same question: continues after its rows.
    pub cursor: Option<String>,
}

/// The answer.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Answer {
    /// The contract read.
    pub contract: u64,
    /// The range searched.
    pub range: Span,
    /// The matching entries, in time order (entries of the same time in `uuid` order).
    pub rows: Vec<Row>,
    /// Whether more entries match after these.
    pub more: bool,
    /// Continues after these rows: pass it with the same arguments.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// What was left out and why (noise, answer size).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// HTTP requests this answer sent to the API (0 from an archive).
    pub requests: u64,
}

/// Where an answer goes on: the question's fingerprint, its range as first
/// resolved, and the position (time, `@uuid`) of the last row shown.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Cursor {
    question: u64,
    since: String,
    until: String,
    /// The last row shown: its time (RFC 3339) and `@uuid`; none when no
    /// row was shown yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    after: Option<(String, String)>,
}

impl Cursor {
    fn encode(&self) -> String {
        let text = serde_json::to_string(self).unwrap_or_default();
        text.bytes().map(|b| format!("{b:02x}")).collect()
    }

    fn decode(text: &str) -> Option<Cursor> {
        let bytes = (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
            .collect::<Option<Vec<u8>>>()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// The range and the position it holds.
    fn read(&self) -> Option<(DateRange, Option<Position>)> {
        let instant = |t: &str| t.parse::<DateTime<Utc>>().ok();
        let range = DateRange::new(
            DateBound::Instant(instant(&self.since)?),
            DateBound::Instant(instant(&self.until)?),
        )
        .ok()?;
        let after = match &self.after {
            None => None,
            Some((time, uuid)) => Some(Position {
                time: instant(time)?,
                uuid: uuid.clone(),
            }),
        };
        Some((range, after))
    }
}

/// A fingerprint of everything but the cursor and the limit.
fn question(contract: u64, args: &Args) -> u64 {
    let mut hasher = DefaultHasher::new();
    (
        contract,
        &args.scope.since,
        &args.scope.until,
        args.include_status_updates,
    )
        .hash(&mut hasher);
    format!("{:?}", args.filters.to_filter()).hash(&mut hasher);
    hasher.finish()
}

/// Searches.
pub async fn run(state: &State, args: Args) -> Result<Value, String> {
    let limit = args.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(format!(
            "limit {limit} is outside 1 to {MAX_LIMIT}: ask for at most {MAX_LIMIT} rows and go on \
             with the cursor, or count with summarize"
        ));
    }
    let contract = args.scope.contract(state)?;
    let fingerprint = question(contract, &args);
    let (range, after) = match args.cursor.as_deref() {
        None => (args.scope.range(state, contract).await?, None),
        Some(text) => match Cursor::decode(text) {
            Some(cursor) if cursor.question == fingerprint => cursor
                .read()
                .ok_or("the cursor is damaged: ask again without it")?,
            Some(_) => {
                return Err(
                    "this cursor belongs to another question (other contract, range or \
                            filters): repeat the arguments of the answer that gave it, or ask \
                            again without a cursor"
                        .to_string(),
                );
            }
            None => return Err("the cursor is damaged: ask again without it".to_string()),
        },
    };
    let mut filter = args.filters.to_filter()?;
    let mut notes = Vec::new();
    let noise_asked = filter.types.iter().any(|t| t.eq_ignore_ascii_case(NOISE));
    if !args.include_status_updates && !noise_asked {
        filter.exclude_types.push(NOISE.to_string());
        notes.push(format!(
            "{NOISE} entries are left out; set include_status_updates to see them"
        ));
    }

    let wanted = usize::try_from(limit).unwrap_or(usize::MAX);
    let matches = |event: &RawEvent| event.decode().ok().map(|a| filter.matches(&a));
    let found = position::first_after(
        &state.reader,
        contract,
        &range,
        &filter.query(),
        after.as_ref(),
        wanted,
        &matches,
    )
    .await?;
    if found.unreadable > 0 {
        notes.push(format!(
            "{} entries could not be read and were left out (get them with \
             `activitylog entries --format json`)",
            found.unreadable
        ));
    }
    let rows: Vec<Row> = found.rows.iter().map(|(_, event)| Row::of(event)).collect();

    let span = Span::of(&range);
    // The cursor after the first `shown` rows.
    let cursor_after = |shown: usize| {
        let last = match shown {
            0 => after.as_ref(),
            n => Some(&found.rows[n - 1].0),
        };
        Cursor {
            question: fingerprint,
            since: span.since.clone(),
            until: span.until.clone(),
            after: last.map(|p| (p.time_text(), p.uuid.clone())),
        }
        .encode()
    };
    let build = |n: usize| {
        let cut = n < rows.len();
        let mut notes = notes.clone();
        if cut {
            notes.push(format!(
                "cut to {n} rows to fit the answer size ({} bytes): continue with the cursor, or \
                 narrow the question (a shorter range, a user, a type)",
                state.budget.bytes()
            ));
        }
        let more = found.more || cut;
        json(&Answer {
            contract,
            range: span.clone(),
            rows: rows[..n].to_vec(),
            more,
            cursor: more.then(|| cursor_after(n)),
            notes,
            requests: found.requests,
        })
    };
    Ok(state.budget.largest(rows.len(), build).0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_as_written_and_rejects_damage() {
        let cursor = Cursor {
            question: 7,
            since: "2024-05-01T00:00:00Z".into(),
            until: "2024-05-02T00:00:00Z".into(),
            after: Some(("2024-05-01T10:00:00.123Z".into(), "u-1".into())),
        };
        assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
        assert_eq!(Cursor::decode("zz"), None);
        assert_eq!(Cursor::decode("7b"), None);
    }
}
