//! The indexed columns of one entry, read from its JSON without decoding
//! the rest (unknown fields skipped).

use std::borrow::Cow;

use activitylog_client::RawEvent;
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
    /// The row of `event`. Fields of an unexpected shape are left empty;
    /// the JSON is kept whole either way.
    pub fn of(event: &RawEvent) -> Row {
        let json = event.json();
        let entry: Entry<'_> = serde_json::from_str(json)
            .or_else(|_| lenient(json))
            .unwrap_or_default();
        let key = match entry.uuid {
            Some(uuid) => column(uuid),
            // Deterministic, so that a rerun finds the same row.
            None => format!("{KEYLESS}{json}"),
        };
        let time = entry
            .meta
            .time
            .as_deref()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc));
        let mut resources = Vec::new();
        for resource in entry.event.resources.unwrap_or_default() {
            let kind = resource.kind.map(column);
            let id = resource.id.map(column);
            let actions = resource.action.unwrap_or_default();
            if actions.is_empty() {
                resources.push(Resource {
                    kind: kind.clone(),
                    id: id.clone(),
                    action: None,
                });
            }
            for action in actions {
                resources.push(Resource {
                    kind: kind.clone(),
                    id: id.clone(),
                    action: Some(column(action)),
                });
            }
        }
        Row {
            key,
            time,
            user: entry.principal.identity.username.map(column),
            kind: entry.event.kind.map(column),
            status: entry.event.status.map(column),
            method: entry.event.param.action.map(column),
            source_ip: entry.principal.source_ip.map(column),
            event: event.clone(),
            resources,
        }
    }
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
