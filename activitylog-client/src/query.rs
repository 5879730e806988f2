//! What a read of stored entries asks beyond its range ([`Query`]): the
//! hints the SQL archive and the Parquet lake narrow a read by, on the
//! fields of [`Columns`](crate::Columns).

/// Hints that let a read of stored entries (the archive's
/// `pages_where`, the lake's `pages`) skip entries. Each is a narrowing
/// hint, not an exact filter: the read returns every entry that matches all
/// of them, and may return others, which the caller's own filter drops.
/// Empty lists ask nothing.
///
/// Matches compare as the `activitylog` CLI's filters do: ASCII letters
/// in either case are equal. Values of one list are alternatives; lists
/// must all match. Entries the SDK cannot decode
/// ([`RawEvent::decode`](crate::RawEvent::decode) fails) are always
/// returned: a filter cannot check them, and a caller that decodes learns
/// of them.
///
/// ```
/// let query = activitylog_client::Query {
///     users: vec!["alice@example.com".into()],
///     ..Default::default()
/// };
/// assert!(!query.is_empty());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query {
    /// Entries by one of these users (`principal.identity.username`).
    pub users: Vec<String>,
    /// Entries by none of these users (an entry without a user passes).
    pub exclude_users: Vec<String>,
    /// Entries whose `event.type` is one of these.
    pub types: Vec<String>,
    /// Entries whose `event.type` is none of these (one without passes).
    pub exclude_types: Vec<String>,
    /// Entries whose `event.status` is one of these.
    pub statuses: Vec<String>,
    /// Entries with a resource of one of these types (`event.resources[].type`).
    pub resource_types: Vec<String>,
    /// Entries with a resource of one of these ids (`event.resources[].id`).
    pub resource_ids: Vec<String>,
    /// Entries with a resource action that starts with one of these
    /// (`event.resources[].action[]`).
    pub action_prefixes: Vec<String>,
    /// Entries whose `meta.requestId` is one of these.
    pub request_ids: Vec<String>,
}

impl Query {
    /// True when the query asks nothing: a read returns the whole range.
    pub fn is_empty(&self) -> bool {
        [
            &self.users,
            &self.exclude_users,
            &self.types,
            &self.exclude_types,
            &self.statuses,
            &self.resource_types,
            &self.resource_ids,
            &self.action_prefixes,
            &self.request_ids,
        ]
        .iter()
        .all(|list| list.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_query_is_empty_and_any_list_is_not() {
        assert!(Query::default().is_empty());
        let query = Query {
            action_prefixes: vec!["vr.".into()],
            ..Query::default()
        };
        assert!(!query.is_empty());
    }
}
