//! Events as the server sent them, and helpers on the generated event types.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::error::{Error, Result};
use crate::generated::types::{Activity, EventStatus, HttpMethod};

/// One event's `_source`, byte for byte as the server sent it: every field
/// and value is kept, including those the spec does not know.
///
/// Events of one page share that page's text (cloning one is cheap), so a
/// download makes no copy and no allocation per event.
///
/// ```
/// use activitylog_client::RawEvent;
/// let event = RawEvent::parse(r#"{"@uuid":"u-1","meta":{"time":"2024-01-01T00:00:00Z"},"new":1}"#).unwrap();
/// assert_eq!(event.uuid().as_deref(), Some("u-1"));
/// assert!(event.json().contains(r#""new":1"#));
/// assert_eq!(event.decode().unwrap().uuid.as_deref(), Some("u-1"));
/// ```
#[derive(Clone)]
pub struct RawEvent {
    /// The text the event is part of (its page, or the event alone): the
    /// page's body as received, not a copy.
    text: Arc<String>,
    /// Where in `text` the event's JSON lies.
    span: Range<usize>,
}

impl PartialEq for RawEvent {
    fn eq(&self, other: &Self) -> bool {
        self.json() == other.json()
    }
}

impl Eq for RawEvent {}

impl Serialize for RawEvent {
    /// Serializes as the JSON it is, byte for byte.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let raw: &RawValue =
            serde_json::from_str(self.json()).map_err(serde::ser::Error::custom)?;
        raw.serialize(serializer)
    }
}

impl RawEvent {
    /// The event at `span` of a page's `text`; `span` must be one JSON value
    /// on char boundaries (the page decoder takes it from serde_json).
    pub(crate) fn in_page(text: Arc<String>, span: Range<usize>) -> Self {
        debug_assert!(text.get(span.clone()).is_some());
        RawEvent { text, span }
    }

    /// Checks that `json` is one JSON value and keeps it as is.
    pub fn parse(json: &str) -> Result<Self> {
        serde_json::from_str::<&RawValue>(json)
            .map_err(|error| Error::decode("event", json.as_bytes(), &error))?;
        Ok(RawEvent {
            span: 0..json.len(),
            text: Arc::new(json.to_owned()),
        })
    }

    /// The event's JSON text, exactly as received (one line if the server sent one).
    pub fn json(&self) -> &str {
        // The span was checked when the event was made; never panics.
        self.text.get(self.span.clone()).unwrap_or_default()
    }

    /// The event's `@uuid`, if it has one as a string.
    pub fn uuid(&self) -> Option<Cow<'_, str>> {
        // The service sends `@uuid` first: read it without parsing the rest,
        // nor touching the event's end (for most events of a page, a read
        // from memory that is no longer cached).
        let from_start = self.text.get(self.span.start..).unwrap_or_default();
        if let Some(uuid) = leading_uuid(from_start) {
            let end = uuid.as_ptr() as usize - from_start.as_ptr() as usize + uuid.len();
            if end < self.span.len() {
                return Some(Cow::Borrowed(uuid));
            }
        }
        #[derive(Deserialize)]
        struct Uuid<'a> {
            #[serde(rename = "@uuid", borrow)]
            uuid: Option<Cow<'a, str>>,
        }
        serde_json::from_str::<Uuid<'_>>(self.json()).ok()?.uuid
    }

    /// The event's time (`meta.time`), if it has one in RFC 3339 form.
    ///
    /// ```
    /// use activitylog_client::RawEvent;
    /// let event = RawEvent::parse(r#"{"meta":{"time":"2024-01-01T10:00:00.5Z"}}"#).unwrap();
    /// assert_eq!(event.time().unwrap().to_rfc3339(), "2024-01-01T10:00:00.500+00:00");
    /// ```
    pub fn time(&self) -> Option<DateTime<Utc>> {
        #[derive(Deserialize)]
        struct Event<'a> {
            #[serde(borrow)]
            meta: Option<Meta<'a>>,
        }
        #[derive(Deserialize)]
        struct Meta<'a> {
            #[serde(borrow)]
            time: Option<Cow<'a, str>>,
        }
        let event = serde_json::from_str::<Event<'_>>(self.json()).ok()?;
        let time = event.meta?.time?;
        DateTime::parse_from_rfc3339(&time)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }

    /// Decodes into the generated [`Activity`] type (unknown fields land in
    /// the `extra` maps, so nothing is lost there either).
    pub fn decode(&self) -> Result<Activity> {
        serde_json::from_str(self.json())
            .map_err(|error| Error::decode("event", self.json().as_bytes(), &error))
    }
}

/// `@uuid` when it is the object's first member and needs no unescaping.
fn leading_uuid(json: &str) -> Option<&str> {
    let rest = json.trim_start().strip_prefix('{')?.trim_start();
    let rest = rest.strip_prefix("\"@uuid\"")?.trim_start();
    let rest = rest.strip_prefix(':')?.trim_start().strip_prefix('"')?;
    // Bytes, not chars: both are ASCII, so `end` is a char boundary.
    let end = rest.bytes().position(|b| b == b'"' || b == b'\\')?;
    (rest.as_bytes()[end] == b'"').then(|| &rest[..end])
}

impl fmt::Debug for RawEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.json())
    }
}

impl fmt::Display for RawEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.json())
    }
}

impl Activity {
    /// The event's time (`meta.time`) as an instant, if it has one in
    /// RFC 3339 form; the text as sent stays in `meta.time`.
    ///
    /// ```
    /// use activitylog_client::RawEvent;
    /// let event = RawEvent::parse(r#"{"meta":{"time":"2016-09-23T12:02:52.394Z"}}"#).unwrap();
    /// let activity = event.decode().unwrap();
    /// assert_eq!(activity.time().unwrap().timestamp_millis(), 1_474_632_172_394);
    /// assert_eq!(activity.meta.unwrap().time.as_deref(), Some("2016-09-23T12:02:52.394Z"));
    /// ```
    pub fn time(&self) -> Option<DateTime<Utc>> {
        let time = self.meta.as_ref()?.time.as_deref()?;
        DateTime::parse_from_rfc3339(time)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }
}

impl EventStatus {
    /// The value as the server spells it (`DONE`, or an unknown value verbatim).
    pub fn as_str(&self) -> Cow<'_, str> {
        match self {
            EventStatus::Known(known) => Cow::Owned(known.to_string()),
            EventStatus::Other(other) => Cow::Borrowed(other),
        }
    }
}

impl fmt::Display for EventStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_str())
    }
}

impl HttpMethod {
    /// The value as the server spells it (`POST`, or an unknown value verbatim).
    pub fn as_str(&self) -> Cow<'_, str> {
        match self {
            HttpMethod::Known(known) => Cow::Owned(known.to_string()),
            HttpMethod::Other(other) => Cow::Borrowed(other),
        }
    }
}

impl fmt::Display for HttpMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_uuid_is_read_fast_when_first_and_parsed_otherwise() {
        for (json, uuid) in [
            (r#"{"@uuid":"a-1","x":1}"#, Some("a-1")),
            (r#" { "@uuid" : "a-2" }"#, Some("a-2")),
            (r#"{"x":{"@uuid":"inner"},"@uuid":"outer"}"#, Some("outer")),
            (r#"{"@uuid":"with\"quote"}"#, Some("with\"quote")),
            (r#"{"@uuid":7}"#, None),
            (r#"{"x":"{\"@uuid\":\"not-me\"}"}"#, None),
        ] {
            let event = RawEvent::parse(json).unwrap();
            assert_eq!(event.uuid().as_deref(), uuid, "{json}");
        }
    }
}
