//! `summarize`: counts of a range's entries by keys (user, action, day,
//! ...), with failures and first and last times: the `summary` command's
//! counting.

use activitylog_client::summary::{Group, Key, Summary};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::commands::mcp::budget::json;
use crate::commands::mcp::filters::{Filters, Values};
use crate::commands::mcp::read;
use crate::commands::mcp::scope::{Asked, Span};
use crate::commands::mcp::state::State;
use crate::commands::mcp::tools::counts::Counts;

/// The tool's name.
pub const NAME: &str = "summarize";
/// What it does, for the model.
pub const DESCRIPTION: &str = "Count activity log entries in a time range by one or more keys \
    (user, type, status, method, resource-type, action, source-ip, service, day, hour): each \
    group's count, failures, first and last time, largest groups first (by time for day and \
    hour). Exact over any range. Use it for 'how many', 'who most', 'which days'.";

/// The arguments.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct Args {
    /// The contract and range.
    #[serde(flatten)]
    pub scope: Asked,
    /// What to group by: one key or several, of user, type, status, method, resource-type,
    /// action, source-ip, service, day, hour (days and hours in UTC).
    pub by: Values,
    /// Keep only the N largest groups.
    pub top: Option<u32>,
    /// Which entries count.
    #[serde(flatten)]
    pub filters: Filters,
}

/// One group.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Count {
    /// The group's value of each key (null: the entries have none).
    pub values: Map<String, Value>,
    /// Its counts.
    #[serde(flatten)]
    pub counts: Counts,
}

/// The answer.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Answer {
    /// The contract read.
    pub contract: u64,
    /// The range counted.
    pub range: Span,
    /// The keys, in order.
    pub by: Vec<String>,
    /// Entries counted.
    pub entries: u64,
    /// Of them, with status FAILED.
    pub failed: u64,
    /// Groups in all.
    pub groups_total: usize,
    /// The groups shown.
    pub groups: Vec<Count>,
    /// What was left out and why (top, answer size).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// HTTP requests this answer sent to the API (0 from an archive).
    pub requests: u64,
}

/// The keys `by` names.
fn keys(by: &Values) -> Result<Vec<Key>, String> {
    let text = match by {
        Values::One(one) => one.clone(),
        Values::Many(many) => many.join(","),
    };
    Key::list(&text).map_err(|e| format!("by: {e}"))
}

/// Counts.
pub async fn run(state: &State, args: Args) -> Result<Value, String> {
    let keys = keys(&args.by)?;
    if args.top == Some(0) {
        return Err("top 0 keeps nothing: give 1 or more, or leave it out".to_string());
    }
    let filter = args.filters.to_filter()?;
    let contract = args.scope.contract(state)?;
    let range = args.scope.range(state, contract).await?;
    let mut summary = Summary::new(keys.iter().copied());
    let requests = read::count(
        &state.reader,
        contract,
        &range,
        &filter,
        &mut [&mut summary],
    )
    .await?;

    let (entries, failed) = (summary.events(), summary.failed());
    let order = summary.order();
    let mut groups = summary.into_groups();
    let groups_total = groups.len();
    let notes: Vec<String> = Vec::new();
    // The largest groups first, so that a cut keeps them; shown in the
    // summary's order.
    groups.sort_by(Group::rank);
    if let Some(top) = args.top {
        groups.truncate(usize::try_from(top).unwrap_or(usize::MAX));
    }
    let names: Vec<String> = keys.iter().map(|k| k.name().to_string()).collect();
    let build = |n: usize| {
        let mut shown: Vec<&Group> = groups[..n].iter().collect();
        shown.sort_by(|a, b| order(a, b));
        let mut notes = notes.clone();
        if n < groups_total {
            notes.push(format!(
                "{n} of {groups_total} groups shown (the largest){}: narrow the range or the \
                 filters, or group by fewer keys",
                if n < groups.len() {
                    format!(
                        ", cut to fit the answer size ({} bytes)",
                        state.budget.bytes()
                    )
                } else {
                    String::new()
                }
            ));
        }
        json(&Answer {
            contract,
            range: Span::of(&range),
            by: names.clone(),
            entries,
            failed,
            groups_total,
            groups: shown.into_iter().map(|g| group(&names, g)).collect(),
            notes,
            requests,
        })
    };
    Ok(state.budget.largest(groups.len(), build).0)
}

/// A group as the answer shows it.
fn group(names: &[String], group: &Group) -> Count {
    Count {
        values: names
            .iter()
            .zip(&group.values)
            .map(|(name, value)| {
                (
                    name.clone(),
                    value.clone().map_or(Value::Null, Value::String),
                )
            })
            .collect(),
        counts: Counts::of(group),
    }
}
