//! Field access shared by the `table` and `csv` formats.

use activitylog_client::types::{Activity, Resource};

/// The event's resources (none when absent or `null`).
pub fn resources(activity: &Activity) -> &[Resource] {
    activity
        .event
        .as_ref()
        .and_then(|e| e.resources.as_deref())
        .unwrap_or_default()
}

/// Every action of every resource, in order.
pub fn actions(activity: &Activity) -> impl Iterator<Item = &str> {
    resources(activity)
        .iter()
        .flat_map(|r| r.action.as_deref().unwrap_or_default())
        .map(String::as_str)
}

/// The acting user's name.
pub fn user(activity: &Activity) -> Option<&str> {
    activity
        .principal
        .as_ref()?
        .identity
        .as_ref()?
        .username
        .as_deref()
}
