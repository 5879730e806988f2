//! One entry as a compact row: who did what to which resources, when,
//! from where, and its `@uuid` (which `get_entry` takes).

use activitylog_client::RawEvent;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

/// An entry in brief; a field the entry lacks is left out.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct Row {
    /// `meta.time` (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    /// `principal.identity.username`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// `event.type` (RequestAccepted, Provision, ...).
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub event_type: Option<String>,
    /// `event.status` (DONE, FAILED, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// `event.param.action`, the HTTP method, and `event.param.uri`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
    /// `event.resources`: `TYPE ID: ACTION, ...` each.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<String>,
    /// `principal.sourceIP`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<String>,
    /// `meta.requestId`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// `@uuid`: the entry's id (get_entry takes it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
}

impl Row {
    /// The row of `event`, read leniently (never fails).
    pub fn of(event: &RawEvent) -> Row {
        let value: Value = serde_json::from_str(event.json()).unwrap_or(Value::Null);
        let text = |pointer: &str| value.pointer(pointer).and_then(scalar);
        let request = match (text("/event/param/action"), text("/event/param/uri")) {
            (Some(method), Some(uri)) => Some(format!("{method} {uri}")),
            (one, other) => one.or(other),
        };
        let resources = value
            .pointer("/event/resources")
            .and_then(Value::as_array)
            .map(|resources| resources.iter().map(resource).collect())
            .unwrap_or_default();
        Row {
            time: text("/meta/time"),
            user: text("/principal/identity/username"),
            event_type: text("/event/type"),
            status: text("/event/status"),
            request,
            resources,
            source_ip: text("/principal/sourceIP"),
            request_id: text("/meta/requestId"),
            uuid: event.uuid().map(|u| u.into_owned()),
        }
    }
}

/// `server 1f2e…: vr.server.delete`.
fn resource(resource: &Value) -> String {
    let field = |name: &str| resource.get(name).and_then(scalar);
    let mut text = [field("type"), field("id")]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let actions: Vec<String> = resource
        .get("action")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(scalar).collect())
        .unwrap_or_default();
    if !actions.is_empty() {
        text.push_str(": ");
        text.push_str(&actions.join(", "));
    }
    text
}

/// Text of a string, number or boolean.
fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}
