//! The fields of an entry that stores index and readers filter on, read
//! once here for every store (the archive's SQL columns, the lake's Parquet
//! columns), so that each holds the same values for the same entry.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::event::RawEvent;
use crate::generated::types::{Activity, ContractNumber};

mod scan;
mod strict;

/// The filterable fields of one entry, owned.
///
/// They are what the SDK decodes of the entry ([`RawEvent::decode`]), so
/// that a store narrowed by them keeps every entry a filter on the decoded
/// entry keeps. An entry the SDK cannot decode is marked
/// [`undecodable`](Self::undecodable) and its fields read leniently (fields
/// of an unexpected shape left empty); its JSON stays whole in the store.
///
/// ```
/// use activitylog_client::{Columns, RawEvent};
/// let event = RawEvent::parse(
///     r#"{"@uuid":"u-1","principal":{"identity":{"contractNumber":"31721060","username":"a@b"}},
///        "event":{"resources":[{"type":"server","id":"s1","action":["vr.server.create"]}]}}"#,
/// ).unwrap();
/// let columns = Columns::of(&event);
/// assert_eq!(columns.contract, Some(31721060));
/// assert_eq!(columns.user.as_deref(), Some("a@b"));
/// assert_eq!(columns.resources[0].action.as_deref(), Some("vr.server.create"));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Columns {
    /// `@uuid`, when it is a string.
    pub uuid: Option<String>,
    /// `meta.time`, when it is an RFC 3339 instant.
    pub time: Option<DateTime<Utc>>,
    /// `meta.requestId`.
    pub request_id: Option<String>,
    /// `principal.identity.contractNumber`, sent as a number or as a
    /// string of digits.
    pub contract: Option<i64>,
    /// `principal.identity.username`.
    pub user: Option<String>,
    /// `principal.sourceIP`.
    pub source_ip: Option<String>,
    /// `principal.sourceService`.
    pub source_service: Option<String>,
    /// `event.type`.
    pub kind: Option<String>,
    /// `event.status`.
    pub status: Option<String>,
    /// `event.param.action`: the HTTP method.
    pub method: Option<String>,
    /// One per action of each resource in `event.resources` (one without an
    /// action for a resource that names none), in order.
    pub resources: Vec<ResourceAction>,
    /// The SDK cannot decode the entry: a filter on the decoded entry cannot
    /// check it, and the fields come from a lenient reading.
    pub undecodable: bool,
}

/// One action on one resource of an entry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResourceAction {
    /// `type` of the resource.
    pub kind: Option<String>,
    /// `id` of the resource.
    pub id: Option<String>,
    /// One of its `action`s.
    pub action: Option<String>,
}

/// The filterable fields of one entry, borrowed from its JSON where they
/// need no unescaping: [`Columns`] without a copy of each string, for a
/// writer that copies them into its own buffers anyway.
///
/// ```
/// use activitylog_client::{BorrowedColumns, Columns, RawEvent};
/// let event = RawEvent::parse(r#"{"@uuid":"u-1","principal":{"identity":{"contractNumber":7}}}"#).unwrap();
/// let columns = BorrowedColumns::of(&event);
/// assert_eq!(columns.uuid.as_deref(), Some("u-1"));
/// assert_eq!(columns.into_owned(), Columns::of(&event));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BorrowedColumns<'a> {
    /// [`Columns::uuid`].
    pub uuid: Option<Cow<'a, str>>,
    /// [`Columns::time`].
    pub time: Option<DateTime<Utc>>,
    /// [`Columns::request_id`].
    pub request_id: Option<Cow<'a, str>>,
    /// [`Columns::contract`].
    pub contract: Option<i64>,
    /// [`Columns::user`].
    pub user: Option<Cow<'a, str>>,
    /// [`Columns::source_ip`].
    pub source_ip: Option<Cow<'a, str>>,
    /// [`Columns::source_service`].
    pub source_service: Option<Cow<'a, str>>,
    /// [`Columns::kind`].
    pub kind: Option<Cow<'a, str>>,
    /// [`Columns::status`].
    pub status: Option<Cow<'a, str>>,
    /// [`Columns::method`].
    pub method: Option<Cow<'a, str>>,
    /// [`Columns::resources`].
    pub resources: Vec<BorrowedResource<'a>>,
    /// [`Columns::undecodable`].
    pub undecodable: bool,
}

/// [`ResourceAction`], borrowed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BorrowedResource<'a> {
    /// [`ResourceAction::kind`].
    pub kind: Option<Cow<'a, str>>,
    /// [`ResourceAction::id`].
    pub id: Option<Cow<'a, str>>,
    /// [`ResourceAction::action`].
    pub action: Option<Cow<'a, str>>,
}

impl<'a> BorrowedColumns<'a> {
    /// The fields of `event`, the same as [`Columns::of`]'s: read in one
    /// pass over the JSON when it is plain (nearly always), else straight
    /// from it when it has the shapes the SDK's types have, else from the
    /// full decode or the lenient reading.
    pub fn of(event: &'a RawEvent) -> BorrowedColumns<'a> {
        let json = event.json();
        scan::read(json)
            .or_else(|| strict::read(json).ok())
            .unwrap_or_else(|| Columns::decoded_or_lenient(json).into())
    }

    /// The same fields, owned.
    pub fn into_owned(self) -> Columns {
        let owned = |text: Option<Cow<'_, str>>| text.map(Cow::into_owned);
        Columns {
            uuid: owned(self.uuid),
            time: self.time,
            request_id: owned(self.request_id),
            contract: self.contract,
            user: owned(self.user),
            source_ip: owned(self.source_ip),
            source_service: owned(self.source_service),
            kind: owned(self.kind),
            status: owned(self.status),
            method: owned(self.method),
            resources: self
                .resources
                .into_iter()
                .map(|r| ResourceAction {
                    kind: owned(r.kind),
                    id: owned(r.id),
                    action: owned(r.action),
                })
                .collect(),
            undecodable: self.undecodable,
        }
    }
}

impl From<Columns> for BorrowedColumns<'_> {
    fn from(columns: Columns) -> Self {
        let owned = |text: Option<String>| text.map(Cow::Owned);
        BorrowedColumns {
            uuid: owned(columns.uuid),
            time: columns.time,
            request_id: owned(columns.request_id),
            contract: columns.contract,
            user: owned(columns.user),
            source_ip: owned(columns.source_ip),
            source_service: owned(columns.source_service),
            kind: owned(columns.kind),
            status: owned(columns.status),
            method: owned(columns.method),
            resources: columns
                .resources
                .into_iter()
                .map(|r| BorrowedResource {
                    kind: owned(r.kind),
                    id: owned(r.id),
                    action: owned(r.action),
                })
                .collect(),
            undecodable: columns.undecodable,
        }
    }
}

impl Columns {
    /// The fields of `event` (see the type's docs).
    pub fn of(event: &RawEvent) -> Columns {
        BorrowedColumns::of(event).into_owned()
    }

    /// The fields of `event` read the long way: the SDK's full decode, or
    /// the lenient reading when it fails. [`BorrowedColumns::of`] gives the
    /// same, faster.
    fn decoded_or_lenient(json: &str) -> Columns {
        match serde_json::from_str::<Activity>(json) {
            Ok(activity) => Columns::decoded(activity),
            Err(_) => Columns::lenient(json),
        }
    }

    fn decoded(activity: Activity) -> Columns {
        let Activity {
            uuid,
            meta,
            principal,
            event: details,
            ..
        } = activity;
        let (time, request_id) = meta.map_or((None, None), |m| (m.time, m.request_id));
        let (source_ip, source_service, identity) = principal.map_or((None, None, None), |p| {
            (p.source_ip, p.source_service, p.identity)
        });
        let (contract, user) = identity.map_or((None, None), |i| (i.contract_number, i.username));
        let mut columns = Columns {
            uuid,
            time: parse_time(time.as_deref()),
            request_id,
            contract: contract.and_then(|c| match c {
                ContractNumber::Number(number) => Some(number),
                ContractNumber::Text(text) => contract_of_text(&text),
            }),
            user,
            source_ip,
            source_service,
            ..Columns::default()
        };
        if let Some(details) = details {
            columns.kind = details.type_;
            columns.status = details.status.map(|s| s.as_str().into_owned());
            columns.method = details
                .param
                .and_then(|p| p.action)
                .map(|a| a.as_str().into_owned());
            for resource in details.resources.unwrap_or_default() {
                push_actions(
                    &mut columns.resources,
                    resource.type_,
                    resource.id,
                    resource.action.unwrap_or_default().into_iter(),
                );
            }
        }
        columns
    }

    fn lenient(json: &str) -> Columns {
        let entry: Entry<'_> = serde_json::from_str(json)
            .or_else(|_| lenient(json))
            .unwrap_or_default();
        let mut resources = Vec::new();
        for resource in entry.event.resources.unwrap_or_default() {
            let actions = resource.action.unwrap_or_default();
            push_actions(
                &mut resources,
                resource.kind.map(Cow::into_owned),
                resource.id.map(Cow::into_owned),
                actions.into_iter().map(Cow::into_owned),
            );
        }
        let owned = |text: Option<Cow<'_, str>>| text.map(Cow::into_owned);
        Columns {
            uuid: owned(entry.uuid),
            time: parse_time(entry.meta.time.as_deref()),
            request_id: owned(entry.meta.request_id),
            contract: entry
                .principal
                .identity
                .contract_number
                .and_then(|c| match c {
                    serde_json::Value::Number(number) => number.as_i64(),
                    serde_json::Value::String(text) => contract_of_text(&text),
                    _ => None,
                }),
            user: owned(entry.principal.identity.username),
            source_ip: owned(entry.principal.source_ip),
            source_service: owned(entry.principal.source_service),
            kind: owned(entry.event.kind),
            status: owned(entry.event.status),
            method: owned(entry.event.param.action),
            resources,
            undecodable: true,
        }
    }
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
    #[serde(rename = "sourceService", borrow)]
    source_service: Option<Cow<'a, str>>,
    #[serde(borrow)]
    identity: Identity<'a>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Identity<'a> {
    /// Any JSON: a value of an odd type must not hide the other fields.
    #[serde(rename = "contractNumber")]
    contract_number: Option<serde_json::Value>,
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

/// A contract number sent as a string.
fn contract_of_text(text: &str) -> Option<i64> {
    text.trim().parse().ok()
}

/// `meta.time`, when it is an RFC 3339 instant.
fn parse_time(time: Option<&str>) -> Option<DateTime<Utc>> {
    time.and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// One element per action of a resource, or one without an action when it has none.
fn push_actions(
    resources: &mut Vec<ResourceAction>,
    kind: Option<String>,
    id: Option<String>,
    actions: impl Iterator<Item = String>,
) {
    let before = resources.len();
    for action in actions {
        resources.push(ResourceAction {
            kind: kind.clone(),
            id: id.clone(),
            action: Some(action),
        });
    }
    if resources.len() == before {
        resources.push(ResourceAction {
            kind,
            id,
            action: None,
        });
    }
}

/// An entry whose fields have unexpected types: only `@uuid`, the time and
/// the request id, if they are strings.
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

#[cfg(test)]
mod tests {
    use super::*;

    fn of(json: &str) -> Columns {
        Columns::of(&RawEvent::parse(json).unwrap())
    }

    #[test]
    fn the_fields_come_from_the_decoded_entry() {
        let columns = of(
            r#"{"@uuid":"u-1","meta":{"time":"2024-01-01T10:00:00.5Z","requestId":"r"},
               "principal":{"sourceIP":"192.0.2.1","sourceService":"dcd",
                            "identity":{"contractNumber":31721060,"username":"a@b"}},
               "event":{"type":"RequestAccepted","status":"DONE","param":{"action":"POST"},
               "resources":[{"type":"server","id":"s1","action":["vr.server.create","vr.x"]}]}}"#,
        );
        assert_eq!(columns.uuid.as_deref(), Some("u-1"));
        assert_eq!(
            columns.time.unwrap().to_rfc3339(),
            "2024-01-01T10:00:00.500+00:00"
        );
        assert_eq!(columns.contract, Some(31721060));
        assert_eq!(columns.user.as_deref(), Some("a@b"));
        assert_eq!(columns.source_service.as_deref(), Some("dcd"));
        assert_eq!(columns.kind.as_deref(), Some("RequestAccepted"));
        assert_eq!(columns.status.as_deref(), Some("DONE"));
        assert_eq!(columns.method.as_deref(), Some("POST"));
        assert_eq!(columns.request_id.as_deref(), Some("r"));
        assert_eq!(columns.resources.len(), 2);
        assert_eq!(columns.resources[1].action.as_deref(), Some("vr.x"));
        assert!(!columns.undecodable);
    }

    #[test]
    fn a_contract_number_sent_as_text_is_a_number() {
        let text = of(r#"{"principal":{"identity":{"contractNumber":"31721060"}}}"#);
        assert_eq!(text.contract, Some(31721060));
        let odd = of(r#"{"principal":{"identity":{"contractNumber":"n/a"}}}"#);
        assert_eq!(odd.contract, None);
    }

    /// The fast reading and the long one give the same columns, and the
    /// fast one never takes an entry the full decode refuses.
    fn same_both_ways(json: &str) {
        let long = Columns::decoded_or_lenient(json);
        let event = RawEvent::parse(json).unwrap();
        assert_eq!(BorrowedColumns::of(&event).into_owned(), long, "{json}");
        if let Some(scanned) = scan::read(json) {
            let strict = strict::read(json).expect("what the scan reads, strict reads");
            assert_eq!(scanned, strict, "{json}");
        }
        if strict::read(json).is_ok() {
            assert!(
                !long.undecodable,
                "read fast, but the SDK refuses it: {json}"
            );
        }
    }

    /// Every value of `entry` (an object), replaced in turn by each odd
    /// value (JSON text), or with an odd member added to its object.
    fn variants(entry: &serde_json::Value) -> Vec<String> {
        const ODD: &[&str] = &[
            "null",
            "true",
            "0",
            "-1",
            "7",
            "1.5",
            "-0",
            "1e400",
            "9223372036854775807",
            "9223372036854775808",
            "18446744073709551615",
            r#""""#,
            r#""x""#,
            r#""DONE""#,
            r#""POST""#,
            r#""2024-01-01T00:00:00Z""#,
            r#""\u0041\n""#,
            r#""\ud800""#,
            r#"" 31721060 ""#,
            "[]",
            "[null]",
            r#"["a","b"]"#,
            "[{}]",
            "{}",
            r#"{"DONE":null}"#,
            r#"{"POST":null}"#,
            r#"{"a":1e400}"#,
            r#"["\udc00"]"#,
        ];
        const MARK: &str = r"\u0000odd\u0000";
        let mut paths = Vec::new();
        fn walk(value: &serde_json::Value, path: Vec<String>, paths: &mut Vec<Vec<String>>) {
            if let serde_json::Value::Object(members) = value {
                paths.push(path.iter().cloned().chain([String::new()]).collect());
                for (key, member) in members {
                    let mut next = path.clone();
                    next.push(key.clone());
                    paths.push(next.clone());
                    walk(member, next, paths);
                }
            } else if let serde_json::Value::Array(items) = value {
                for (i, item) in items.iter().enumerate() {
                    let mut next = path.clone();
                    next.push(i.to_string());
                    paths.push(next.clone());
                    walk(item, next, paths);
                }
            }
        }
        walk(entry, Vec::new(), &mut paths);
        let mut out = Vec::new();
        for path in paths {
            for odd in ODD {
                let mut copy = entry.clone();
                let mut at = &mut copy;
                let (last, parents) = path.split_last().unwrap();
                for key in parents {
                    at = match at {
                        serde_json::Value::Array(items) => {
                            &mut items[key.parse::<usize>().unwrap()]
                        }
                        other => &mut other[key.as_str()],
                    };
                }
                let mark = serde_json::Value::String("\0odd\0".into());
                match at {
                    serde_json::Value::Array(items) => items[last.parse::<usize>().unwrap()] = mark,
                    serde_json::Value::Object(members) if last.is_empty() => {
                        members.insert("unknown".into(), mark);
                    }
                    other => other[last.as_str()] = mark,
                }
                let text = serde_json::to_string(&copy).unwrap();
                let text = text.replace(&format!("\"{MARK}\""), odd);
                out.push(text.clone());
                if last.is_empty() {
                    continue;
                }
                // The same member twice (a known field twice is refused).
                let key = format!("\"{last}\":{odd}");
                if let Some(at) = text.find(&key) {
                    let mut twice = text.clone();
                    twice.insert_str(at, &format!("{key},"));
                    out.push(twice);
                }
            }
        }
        out
    }

    #[tokio::test]
    async fn the_fast_reading_equals_the_full_decode_on_every_wire_variant() {
        let sandbox = activitylog_sandbox::Sandbox::builder()
            .events(3_000)
            .wire_variants(0.5)
            .start()
            .await
            .unwrap();
        let sources = sandbox.event_sources(
            activitylog_sandbox::MAIN_CONTRACT,
            None::<DateTime<Utc>>,
            None::<DateTime<Utc>>,
        );
        assert!(sources.len() > 1_000);
        let (mut fast, mut scanned) = (0, 0);
        for json in &sources {
            same_both_ways(json);
            fast += usize::from(strict::read(json).is_ok());
            scanned += usize::from(scan::read(json).is_some());
        }
        assert_eq!(fast, sources.len(), "the sandbox's entries all read fast");
        // The wire variants with escapes go the longer way.
        assert!(
            scanned * 10 >= sources.len() * 9,
            "{scanned} of {} entries scanned",
            sources.len()
        );
        // Each deviation of the live service, and odd values everywhere in
        // a few entries of different shapes.
        let mut shapes: Vec<&String> = Vec::new();
        for json in &sources {
            let keys = |j: &str| j.matches("\":").count();
            if shapes.len() < 6 && !shapes.iter().any(|s| keys(s) == keys(json)) {
                shapes.push(json);
            }
        }
        let mut tried = 0;
        let mut refused = 0;
        for json in shapes {
            let entry: serde_json::Value = serde_json::from_str(json).unwrap();
            for variant in variants(&entry) {
                if RawEvent::parse(&variant).is_err() {
                    continue;
                }
                same_both_ways(&variant);
                tried += 1;
                refused += usize::from(Columns::decoded_or_lenient(&variant).undecodable);
            }
        }
        assert!(
            tried > 5_000 && refused > 1_000,
            "{tried} variants, {refused} undecodable"
        );
    }

    #[test]
    fn odd_entries_read_the_same_both_ways() {
        for json in [
            "{}",
            "[]",
            "[1]",
            "null",
            "7",
            r#""x""#,
            r#"{"meta":[null,null,null,null,null]}"#,
            r#"{"event":{"resources":[[null,null,null]]}}"#,
            r#"{"@uuid":"a","@uuid":"b"}"#,
            r#"{"x":1,"x":2,"@uuid":"a"}"#,
            r#"{"@uuid":"\u00e9\"q","principal":{"identity":{"username":"a\\b"}}}"#,
            r#"{"event":{"status":{"DONE":null},"type":"t"}}"#,
            r#"{"event":{"status":{"DONE":1}}}"#,
            r#"{"event":{"param":{"action":{"GET":null}}}}"#,
            r#"{"event":{"resources":[{"action":null,"id":"i"},{"action":[],"type":"t"}]}}"#,
            r#"{"principal":{"identity":{"contractNumber":-5}}}"#,
            r#"{"principal":{"identity":{"contractNumber":"\u0033"}}}"#,
            r#"{"principal":{"identity":{"contractNumber":1.0}}}"#,
            r#"{"meta":{"queueRefId":1.0}}"#,
            r#"{"meta":{"queueRefId":-3,"auditVersion":-0.5}}"#,
            r#"{"meta":{"time":"2024-01-01T00:00:00+02:00"}}"#,
            r#"{"other":"\ud800"}"#,
            r#"{"other":1e999,"@uuid":"u"}"#,
            r#"{"other":{"deep":[1,{"x":"\udfff"}]}}"#,
        ] {
            same_both_ways(json);
        }
    }

    #[test]
    fn odd_shapes_keep_what_can_be_read() {
        let columns =
            of(r#"{"@uuid":"u-2","event":{"status":7},"meta":{"time":"2024-01-01T00:00:00Z"}}"#);
        assert_eq!(columns.uuid.as_deref(), Some("u-2"));
        assert!(columns.time.is_some());
        assert!(columns.status.is_none());
        assert!(columns.undecodable, "a numeric status does not decode");
        let numeric = of(r#"{"@uuid":"u-5","meta":{"requestId":5}}"#);
        assert!(numeric.undecodable, "requestId is text in the spec");
    }
}
