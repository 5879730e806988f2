//! `user_activity`: what one user did in a range, from which addresses,
//! and which addresses are new against the period before it.

use activitylog_client::summary::{Group, Key, Summary};
use activitylog_client::{DateBound, DateRange};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::commands::mcp::budget::json;
use crate::commands::mcp::read;
use crate::commands::mcp::scope::{self, Span};
use crate::commands::mcp::state::State;
use crate::commands::mcp::tools::counts::Counts;
use crate::filter::Filter;

/// The tool's name.
pub const NAME: &str = "user_activity";
/// What it does, for the model.
pub const DESCRIPTION: &str = "What one user did in a time range: their entries by resource \
    action, and the addresses they came from, each marked `new` when the user did not use it \
    in the period of the same length just before. Exact over any range (two ranges are read: \
    the range and the one before it). Use it for 'what did X do', 'did X log in from a new \
    address'.";

/// The arguments.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct Args {
    /// The user name (e-mail address; case ignored).
    pub user: String,
    /// The contract number (list_contracts); optional when there is only one.
    pub contract: Option<u64>,
    /// Start, inclusive: a date (2024-05-01), an RFC 3339 instant, or a duration back from now
    /// (7d, 12h, 2w). Default: 30 days before now.
    pub since: Option<String>,
    /// End, exclusive, in the same forms, or `now`. Default: now minus 2 minutes (the API), where
    /// the archive is complete.
    pub until: Option<String>,
}

/// A count of one value.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Tally {
    /// The value (an action, an address; null: none recorded).
    pub value: Option<String>,
    /// Its counts.
    #[serde(flatten)]
    pub counts: Counts,
    /// Addresses only: not used by this user in the period before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<bool>,
}

/// The answer.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Answer {
    /// The user.
    pub user: String,
    /// The contract read.
    pub contract: u64,
    /// The range described.
    pub range: Span,
    /// The period before it, of the same length, that addresses are compared with.
    pub previous: Span,
    /// The user's entries in the range.
    pub entries: u64,
    /// Of them, with status FAILED.
    pub failed: u64,
    /// By resource action, most first.
    pub actions: Vec<Tally>,
    /// By source address, most first.
    pub addresses: Vec<Tally>,
    /// The addresses of `addresses` marked new.
    pub new_addresses: Vec<String>,
    /// How many addresses are new in all.
    pub new_addresses_total: usize,
    /// What was left out and why (answer size).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// HTTP requests this answer sent to the API (0 from an archive).
    pub requests: u64,
}

/// Describes the user's activity.
pub async fn run(state: &State, args: Args) -> Result<Value, String> {
    let user = args.user.trim().to_string();
    if user.is_empty() {
        return Err("user is empty: give a user name (e-mail address)".to_string());
    }
    let contract = scope::contract(&state.reader, &state.contracts, args.contract)?;
    let since = args.since.as_deref().unwrap_or("30d");
    let range = scope::range(&state.reader, contract, Some(since), args.until.as_deref()).await?;
    let previous = DateRange::new(
        DateBound::Instant(range.since() - (range.until() - range.since())),
        DateBound::Instant(range.since()),
    )
    .map_err(|e| e.to_string())?;
    let filter = Filter {
        users: vec![user.clone()],
        ..Filter::default()
    };
    let mut actions = Summary::new([Key::Action]);
    let mut addresses = Summary::new([Key::SourceIp]);
    let now = read::count(
        &state.reader,
        contract,
        &range,
        &filter,
        &mut [&mut actions, &mut addresses],
    )
    .await?;
    let mut before = Summary::new([Key::SourceIp]);
    let earlier = read::count(
        &state.reader,
        contract,
        &previous,
        &filter,
        &mut [&mut before],
    )
    .await?;
    let known: Vec<Option<String>> = before
        .into_groups()
        .into_iter()
        .filter_map(|g| g.values.into_iter().next())
        .collect();

    let (entries, failed) = (addresses.events(), addresses.failed());
    let actions: Vec<Tally> = ranked(actions).map(|g| tally(g, None)).collect();
    let addresses: Vec<Tally> = ranked(addresses)
        .map(|g| {
            let new = !known.contains(&g.values[0]);
            tally(g, Some(new))
        })
        .collect();
    let new_addresses_total = addresses.iter().filter(|a| a.new == Some(true)).count();
    let build = |n: usize| {
        let mut notes = Vec::new();
        if n < actions.len().max(addresses.len()) {
            notes.push(format!(
                "only the {n} largest actions and addresses are shown, to fit the answer size \
                 ({} bytes): narrow the range, or use summarize with by action or source-ip",
                state.budget.bytes()
            ));
        }
        let mut answer = json(&Answer {
            user: user.clone(),
            contract,
            range: Span::of(&range),
            previous: Span::of(&previous),
            entries,
            failed,
            actions: Vec::new(),
            addresses: Vec::new(),
            new_addresses: addresses
                .iter()
                .take(n)
                .filter(|a| a.new == Some(true))
                .filter_map(|a| a.value.clone())
                .collect(),
            new_addresses_total,
            notes,
            requests: now + earlier,
        });
        // Kept apart from the answer above: `Vec<&Tally>` is no `Vec<Tally>`.
        answer["actions"] = json(&actions.iter().take(n).collect::<Vec<_>>());
        answer["addresses"] = json(&addresses.iter().take(n).collect::<Vec<_>>());
        answer
    };
    Ok(state
        .budget
        .largest(actions.len().max(addresses.len()), build)
        .0)
}

/// The groups of `summary`, largest first.
fn ranked(summary: Summary) -> impl Iterator<Item = Group> {
    let mut groups = summary.into_groups();
    groups.sort_by(Group::rank);
    groups.into_iter()
}

/// A group of one key as a tally.
fn tally(group: Group, new: Option<bool>) -> Tally {
    Tally {
        counts: Counts::of(&group),
        value: group.values.into_iter().next().flatten(),
        new,
    }
}
