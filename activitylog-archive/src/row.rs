//! The indexed columns of one entry, read from its JSON without decoding
//! the rest (unknown fields skipped).

use std::borrow::Cow;

use activitylog_client::{Columns, RawEvent};
use chrono::{DateTime, SecondsFormat, Utc};

/// One entry as the archive stores it; owns its data, so that a page's rows
/// can be prepared while the page before is being written.
#[derive(Debug)]
pub(crate) struct Row {
    /// `@uuid`, or a key made from the JSON when the entry has none.
    pub key: String,
    /// `meta.time`, when it is an RFC 3339 instant.
    pub time: Option<DateTime<Utc>>,
    pub user: Option<String>,
    pub kind: Option<String>,
    pub status: Option<String>,
    pub method: Option<String>,
    pub source_ip: Option<String>,
    /// `meta.requestId`.
    pub request_id: Option<String>,
    /// The SDK cannot decode the entry ([`RawEvent::decode`] fails): a
    /// filter cannot check it, so filtered reads always return it (the
    /// columns come from a lenient reading).
    pub undecodable: bool,
    /// The entry, whose JSON is stored exactly as received.
    pub event: RawEvent,
    /// `(type, id, action)` of each resource and action the entry names.
    pub resources: Vec<Resource>,
}

/// One action on one resource.
#[derive(Debug)]
pub(crate) struct Resource {
    pub kind: Option<String>,
    pub id: Option<String>,
    pub action: Option<String>,
}

/// Prefix of the key of an entry without a string `@uuid`.
const KEYLESS: &str = "json:";

impl Row {
    /// The row of `event`: its columns are what the SDK reads of it
    /// ([`Columns::of`]: the decoded entry, or a lenient reading of one
    /// that does not decode); the JSON is kept whole either way.
    pub fn of(event: &RawEvent) -> Row {
        let columns = Columns::of(event);
        let key = match columns.uuid {
            Some(uuid) => column(Cow::Owned(uuid)),
            // Deterministic, so that a rerun finds the same row.
            None => format!("{KEYLESS}{}", event.json()),
        };
        let text = |value: Option<String>| value.map(owned);
        Row {
            key,
            time: columns.time,
            user: text(columns.user),
            kind: text(columns.kind),
            status: text(columns.status),
            method: text(columns.method),
            source_ip: text(columns.source_ip),
            request_id: text(columns.request_id),
            undecodable: columns.undecodable,
            event: event.clone(),
            resources: columns
                .resources
                .into_iter()
                .map(|r| Resource {
                    kind: text(r.kind),
                    id: text(r.id),
                    action: text(r.action),
                })
                .collect(),
        }
    }
}

/// What an archive holds of an entry beside its JSON, as read back to
/// check it (see [`Stale::differs`]).
#[derive(Debug)]
pub(crate) struct Stale {
    pub entry: i64,
    pub username: Option<String>,
    pub kind: Option<String>,
    pub status: Option<String>,
    pub method: Option<String>,
    pub source_ip: Option<String>,
    pub request_id: Option<String>,
    pub undecodable: bool,
    /// How many rows of `resources` it has.
    pub resources: i64,
    pub json: String,
}

impl Stale {
    /// A row of the columns [`stale_columns`] names.
    pub(crate) fn read<'r, R>(row: &'r R) -> sqlx::Result<Stale>
    where
        R: sqlx::Row,
        usize: sqlx::ColumnIndex<R>,
        i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
        bool: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
        String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    {
        Ok(Stale {
            entry: row.try_get(0)?,
            username: row.try_get(1)?,
            kind: row.try_get(2)?,
            status: row.try_get(3)?,
            method: row.try_get(4)?,
            source_ip: row.try_get(5)?,
            request_id: row.try_get(6)?,
            undecodable: row.try_get(7)?,
            resources: row.try_get(8)?,
            json: row.try_get(9)?,
        })
    }

    /// The entry's row as this version makes it, when it differs from what
    /// is stored (an archive of an older version).
    pub(crate) fn differs(&self) -> Option<Row> {
        let event = RawEvent::parse(&self.json).ok()?;
        let row = Row::of(&event);
        let same = self.username == row.user
            && self.kind == row.kind
            && self.status == row.status
            && self.method == row.method
            && self.source_ip == row.source_ip
            && self.request_id == row.request_id
            && self.undecodable == row.undecodable
            && usize::try_from(self.resources).ok() == Some(row.resources.len());
        (!same).then_some(row)
    }
}

/// The columns [`Stale`] reads, of `entries e` and its JSON `json`.
pub(crate) fn stale_columns(json: &str) -> String {
    format!(
        "e.entry, e.username, e.type, e.status, e.method, e.source_ip, e.request_id, \
         e.undecodable, (SELECT count(*) FROM resources r WHERE r.entry = e.entry) AS resources, \
         {json} AS json"
    )
}

/// [`column`] of an owned string.
fn owned(text: String) -> String {
    column(Cow::Owned(text))
}

/// A column's value: the text, with any NUL character (JSON's `\u0000`)
/// replaced by U+FFFD, which PostgreSQL's text cannot hold. The entry's
/// JSON keeps the original.
fn column(text: Cow<'_, str>) -> String {
    if text.contains('\0') {
        text.replace('\0', "\u{FFFD}")
    } else {
        text.into_owned()
    }
}

/// The text form of an instant in SQLite: fixed width, so that text order is time order.
pub(crate) fn sortable(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Micros, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_indexed_columns_come_from_the_entry() {
        let event = RawEvent::parse(
            r#"{"@uuid":"u-1","meta":{"time":"2024-01-01T10:00:00.5Z"},
               "principal":{"sourceIP":"192.0.2.1","identity":{"username":"a@b"}},
               "event":{"type":"RequestAccepted","status":"DONE","param":{"action":"POST"},
               "resources":[{"type":"server","id":"s1","action":["vr.server.create","vr.x"]}]}}"#,
        )
        .unwrap();
        let row = Row::of(&event);
        assert_eq!(row.key, "u-1");
        assert_eq!(sortable(row.time.unwrap()), "2024-01-01T10:00:00.500000Z");
        assert_eq!(row.user.as_deref(), Some("a@b"));
        assert_eq!(row.kind.as_deref(), Some("RequestAccepted"));
        assert_eq!(row.status.as_deref(), Some("DONE"));
        assert_eq!(row.method.as_deref(), Some("POST"));
        assert_eq!(row.source_ip.as_deref(), Some("192.0.2.1"));
        assert_eq!(row.resources.len(), 2);
        assert_eq!(row.resources[1].action.as_deref(), Some("vr.x"));
        assert_eq!(row.event.json(), event.json());
        assert!(!row.undecodable);
    }

    #[test]
    fn columns_are_what_the_sdk_decodes_even_beside_a_null_object() {
        let event = RawEvent::parse(
            r#"{"@uuid":"u-4","meta":null,"principal":{"identity":{"username":"a@b"}},
               "event":{"param":null,"type":"Provision","resources":[{"id":"s1","action":null}]}}"#,
        )
        .unwrap();
        let row = Row::of(&event);
        assert!(!row.undecodable);
        assert_eq!(row.user.as_deref(), Some("a@b"));
        assert_eq!(row.kind.as_deref(), Some("Provision"));
        assert_eq!(row.resources.len(), 1);
        assert_eq!(row.resources[0].id.as_deref(), Some("s1"));
        let numeric = RawEvent::parse(r#"{"@uuid":"u-5","meta":{"requestId":5}}"#).unwrap();
        assert!(
            Row::of(&numeric).undecodable,
            "requestId is text in the spec"
        );
    }

    #[test]
    fn odd_shapes_keep_the_entry_with_empty_columns() {
        let event = RawEvent::parse(
            r#"{"@uuid":"u-2","event":{"status":7},"meta":{"time":"2024-01-01T00:00:00Z"}}"#,
        )
        .unwrap();
        let row = Row::of(&event);
        assert_eq!(row.key, "u-2");
        assert!(row.time.is_some());
        assert!(row.status.is_none());
        assert!(row.undecodable, "a numeric status does not decode");
        let nul = RawEvent::parse(
            r#"{"@uuid":"u-3","principal":{"identity":{"username":"a\u0000b"}},
               "event":{"resources":[{"type":"server","id":"s\u0000"}]}}"#,
        )
        .unwrap();
        let row = Row::of(&nul);
        assert_eq!(row.user.as_deref(), Some("a\u{FFFD}b"));
        assert_eq!(row.resources[0].id.as_deref(), Some("s\u{FFFD}"));
        assert!(
            row.event.json().contains(r"a\u0000b"),
            "the JSON keeps the NUL"
        );
        let keyless = RawEvent::parse(r#"{"x":1}"#).unwrap();
        assert_eq!(Row::of(&keyless).key, r#"json:{"x":1}"#);
    }
}
