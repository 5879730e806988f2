//! The indexed columns of one entry, read from its JSON without decoding
//! the rest (unknown fields skipped).

use std::borrow::Cow;

use activitylog_client::RawEvent;
use activitylog_client::types::Activity;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;

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

#[derive(Deserialize, Default)]
#[serde(default)]
struct Entry<'a> {
    #[serde(rename = "@uuid", borrow)]
    uuid: Option<Cow<'a, str>>,
    #[serde(borrow)]
    meta: Meta<'a>,
    #[serde(borrow)]
    principal: Principal<'a>,
    #[serde(borrow)]
    event: Event<'a>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Meta<'a> {
    #[serde(borrow)]
    time: Option<Cow<'a, str>>,
    #[serde(rename = "requestId", borrow)]
    request_id: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Principal<'a> {
    #[serde(rename = "sourceIP", borrow)]
    source_ip: Option<Cow<'a, str>>,
    #[serde(borrow)]
    identity: Identity<'a>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Identity<'a> {
    #[serde(borrow)]
    username: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Event<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    status: Option<Cow<'a, str>>,
    #[serde(borrow)]
    param: Param<'a>,
    #[serde(borrow)]
    resources: Option<Vec<EventResource<'a>>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Param<'a> {
    #[serde(borrow)]
    action: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct EventResource<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    action: Option<Vec<Cow<'a, str>>>,
}

/// Prefix of the key of an entry without a string `@uuid`.
const KEYLESS: &str = "json:";

impl Row {
    /// The row of `event`: its columns are what the SDK decodes of it, so
    /// that a read narrowed by them keeps every entry a filter on the
    /// decoded entry keeps. An entry the SDK cannot decode is marked so, and
    /// its columns read leniently (fields of an unexpected shape left
    /// empty); the JSON is kept whole either way.
    pub fn of(event: &RawEvent) -> Row {
        match event.decode() {
            Ok(activity) => Row::decoded(event, activity),
            Err(_) => Row::lenient(event),
        }
    }

    fn decoded(event: &RawEvent, activity: Activity) -> Row {
        let json = event.json();
        let Activity {
            uuid,
            meta,
            principal,
            event: details,
            ..
        } = activity;
        let key = match uuid {
            Some(uuid) => column(Cow::Owned(uuid)),
            None => format!("{KEYLESS}{json}"),
        };
        let (time, request_id) = meta.map_or((None, None), |m| (m.time, m.request_id));
        let (source_ip, identity) = principal.map_or((None, None), |p| (p.source_ip, p.identity));
        let user = identity.and_then(|i| i.username);
        let mut resources = Vec::new();
        let (mut kind, mut status, mut method) = (None, None, None);
        if let Some(details) = details {
            kind = details.type_;
            status = details.status.map(|s| s.as_str().into_owned());
            method = details
                .param
                .and_then(|p| p.action)
                .map(|a| a.as_str().into_owned());
            for resource in details.resources.unwrap_or_default() {
                let kind = resource.type_.map(owned);
                let id = resource.id.map(owned);
                push_actions(
                    &mut resources,
                    kind,
                    id,
                    resource.action.unwrap_or_default().into_iter().map(owned),
                );
            }
        }
        Row {
            key,
            time: parse_time(time.as_deref()),
            user: user.map(owned),
            kind: kind.map(owned),
            status: status.map(owned),
            method: method.map(owned),
            source_ip: source_ip.map(owned),
            request_id: request_id.map(owned),
            undecodable: false,
            event: event.clone(),
            resources,
        }
    }

    fn lenient(event: &RawEvent) -> Row {
        let json = event.json();
        let entry: Entry<'_> = serde_json::from_str(json)
            .or_else(|_| lenient(json))
            .unwrap_or_default();
        let key = match entry.uuid {
            Some(uuid) => column(uuid),
            // Deterministic, so that a rerun finds the same row.
            None => format!("{KEYLESS}{json}"),
        };
        let time = parse_time(entry.meta.time.as_deref());
        let mut resources = Vec::new();
        for resource in entry.event.resources.unwrap_or_default() {
            let kind = resource.kind.map(column);
            let id = resource.id.map(column);
            let actions = resource.action.unwrap_or_default();
            push_actions(&mut resources, kind, id, actions.into_iter().map(column));
        }
        Row {
            key,
            time,
            user: entry.principal.identity.username.map(column),
            kind: entry.event.kind.map(column),
            status: entry.event.status.map(column),
            method: entry.event.param.action.map(column),
            source_ip: entry.principal.source_ip.map(column),
            request_id: entry.meta.request_id.map(column),
            undecodable: true,
            event: event.clone(),
            resources,
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

/// `meta.time`, when it is an RFC 3339 instant.
fn parse_time(time: Option<&str>) -> Option<DateTime<Utc>> {
    time.and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// One row per action of a resource, or one without an action when it has none.
fn push_actions(
    resources: &mut Vec<Resource>,
    kind: Option<String>,
    id: Option<String>,
    actions: impl Iterator<Item = String>,
) {
    let before = resources.len();
    for action in actions {
        resources.push(Resource {
            kind: kind.clone(),
            id: id.clone(),
            action: Some(action),
        });
    }
    if resources.len() == before {
        resources.push(Resource {
            kind,
            id,
            action: None,
        });
    }
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

/// An entry whose fields have unexpected types: only `@uuid` and the time, if they are strings.
fn lenient(json: &str) -> serde_json::Result<Entry<'_>> {
    let value: serde_json::Value = serde_json::from_str(json)?;
    let text = |v: Option<&serde_json::Value>| {
        v.and_then(serde_json::Value::as_str)
            .map(|s| Cow::Owned(s.to_string()))
    };
    Ok(Entry {
        uuid: text(value.get("@uuid")),
        meta: Meta {
            time: text(value.get("meta").and_then(|m| m.get("time"))),
            request_id: text(value.get("meta").and_then(|m| m.get("requestId"))),
        },
        ..Entry::default()
    })
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
