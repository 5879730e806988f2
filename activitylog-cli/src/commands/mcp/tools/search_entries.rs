//! `search_entries`: the entries that match, as compact rows, a page at a
//! time; the download stops as soon as the page is full.

use std::hash::{DefaultHasher, Hash, Hasher};

use activitylog_client::{DateBound, DateRange};
use futures::StreamExt;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::commands::mcp::budget::json;
use crate::commands::mcp::filters::Filters;
use crate::commands::mcp::read::{self, Tally};
use crate::commands::mcp::scope::{self, Span};
use crate::commands::mcp::state::State;
use crate::commands::mcp::tools::row::Row;

/// The tool's name.
pub const NAME: &str = "search_entries";
/// What it does, for the model.
pub const DESCRIPTION: &str = "Find activity log entries (who did what, when, from where) in \
    a time range, with filters; answers compact rows, at most `limit` of them, and a `cursor` \
    when more match. Exact over any range (the whole range is searched, not a sample). \
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
    /// The contract number (list_contracts); optional when there is only one.
    pub contract: Option<u64>,
    /// Start, inclusive: a date (2024-05-01), an RFC 3339 instant, or a duration back from now
    /// (7d, 12h, 2w). Default: 90 days before now (the API), the start of the archive.
    pub since: Option<String>,
    /// End, exclusive, in the same forms, or `now`. Default: now minus 2 minutes (the API), where
    /// the archive is complete.
    pub until: Option<String>,
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
    /// The matching entries, in time order.
    pub rows: Vec<Row>,
    /// Whether more entries match after these.
    pub more: bool,
    /// Continues after these rows: pass it with the same arguments.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// What was left out and why (noise, answer size).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Pages read (each one request to the API).
    pub pages: u64,
}

/// Where an answer goes on: the question's fingerprint, its range as first
/// resolved, and the matches already shown.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Cursor {
    question: u64,
    since: DateBoundText,
    until: DateBoundText,
    skip: u64,
}

type DateBoundText = String;

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
}

/// A fingerprint of everything but the cursor and the limit.
fn question(contract: u64, args: &Args) -> u64 {
    let mut hasher = DefaultHasher::new();
    (
        contract,
        &args.since,
        &args.until,
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
    let contract = scope::contract(&state.reader, &state.contracts, args.contract)?;
    let fingerprint = question(contract, &args);
    let (range, skip) = match args.cursor.as_deref() {
        None => (
            scope::range(
                &state.reader,
                contract,
                args.since.as_deref(),
                args.until.as_deref(),
            )
            .await?,
            0,
        ),
        Some(text) => match Cursor::decode(text) {
            Some(cursor) if cursor.question == fingerprint => {
                let instant = |t: &str| {
                    t.parse()
                        .map(DateBound::Instant)
                        .map_err(|_| "the cursor is damaged: ask again without it".to_string())
                };
                let range = DateRange::new(instant(&cursor.since)?, instant(&cursor.until)?)
                    .map_err(|e| e.to_string())?;
                (range, cursor.skip)
            }
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

    let mut pages = read::pages(&state.reader, contract, &range, &filter.query());
    let mut tally = Tally::default();
    let mut matched = 0u64;
    let mut undecodable = 0u64;
    let mut rows = Vec::new();
    let wanted = usize::try_from(limit).unwrap_or(usize::MAX);
    'pages: while let Some(page) = pages.next().await {
        let page = page?;
        tally.add(&page);
        for event in &page {
            match event.decode() {
                Ok(activity) if filter.matches(&activity) => {}
                Ok(_) => continue,
                Err(_) => {
                    undecodable += 1;
                    continue;
                }
            }
            matched += 1;
            if matched <= skip {
                continue;
            }
            rows.push(Row::of(event));
            // One more than asked says whether more match.
            if rows.len() > wanted {
                break 'pages;
            }
        }
    }
    drop(pages); // stops the download
    let more = rows.len() > wanted;
    rows.truncate(wanted);
    if undecodable > 0 {
        notes.push(format!(
            "{undecodable} entries could not be read and were left out (get them with \
             `activitylog entries --format json`)"
        ));
    }

    let span = Span::of(&range);
    let cursor_after = |shown: usize| {
        Cursor {
            question: fingerprint,
            since: span.since.clone(),
            until: span.until.clone(),
            skip: skip + shown as u64,
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
        let mut shown: Vec<Row> = rows[..n].to_vec();
        shown.sort_by(|a, b| a.time.cmp(&b.time));
        json(&Answer {
            contract,
            range: span.clone(),
            rows: shown,
            more: more || cut,
            cursor: (more || cut).then(|| cursor_after(n)),
            notes,
            pages: tally.pages,
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
            skip: 50,
        };
        assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
        assert_eq!(Cursor::decode("zz"), None);
        assert_eq!(Cursor::decode("7b"), None);
    }
}
