//! A group's counts as answers show them: how many entries, how many
//! failed, the first and the last time.

use activitylog_client::summary::Group;
use schemars::JsonSchema;
use serde::Serialize;

use crate::text::rfc3339;

/// A group's counts.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Counts {
    /// Entries in the group.
    pub count: u64,
    /// Of them, with status FAILED.
    pub failed: u64,
    /// The earliest entry's time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first: Option<String>,
    /// The latest entry's time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last: Option<String>,
}

impl Counts {
    /// The counts of `group`.
    pub fn of(group: &Group) -> Counts {
        Counts {
            count: group.count,
            failed: group.failed,
            first: group.first.map(rfc3339),
            last: group.last.map(rfc3339),
        }
    }
}
