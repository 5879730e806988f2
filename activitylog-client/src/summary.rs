//! Counting events by keys as they stream by: who, what, where, when.
//!
//! [`Summary`] takes events one at a time ([`Summary::add`]) and keeps one
//! [`Group`] per distinct combination of its [`Key`]s' values, so memory
//! grows with the number of groups, never with the number of events. Each
//! group has its count, how many of them failed (`event.status` is
//! `FAILED`), and the earliest and latest `meta.time`.
//!
//! Events are read leniently ([`Facts::of`]): a field that is missing, or
//! is not text where text was expected, is a `None` value (shown as `null`),
//! and no event is ever refused.
//!
//! `resource-type` and `action` come from `event.resources`, an array: an
//! event with two resources counts once under each of them (and once per
//! action of each), so with those keys the counts of all groups can add up
//! to more than the events counted. Both keys together pair each action
//! with its own resource's type.
//!
//! ```
//! use activitylog_client::RawEvent;
//! use activitylog_client::summary::{Key, Summary};
//!
//! let mut summary = Summary::new([Key::User, Key::Day]);
//! for json in [
//!     r#"{"principal":{"identity":{"username":"a@example.com"}},"meta":{"time":"2024-05-01T10:00:00Z"}}"#,
//!     r#"{"principal":{"identity":{"username":"a@example.com"}},"meta":{"time":"2024-05-01T11:00:00Z"},"event":{"status":"FAILED"}}"#,
//!     r#"{"meta":{"time":"2024-05-02T09:00:00Z"}}"#,
//! ] {
//!     summary.add_event(&RawEvent::parse(json).unwrap());
//! }
//! let groups = summary.groups();
//! assert_eq!(summary.events(), 3);
//! assert_eq!(groups[0].values, [Some("a@example.com".into()), Some("2024-05-01".into())]);
//! assert_eq!((groups[0].count, groups[0].failed), (2, 1));
//! assert_eq!(groups[1].values, [None, Some("2024-05-02".into())]);
//! ```

use std::cmp::Ordering;
use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use serde_json::Value;

use crate::event::RawEvent;
use lenient::Lenient;

/// What events are grouped by; `--by` names in [`Key::name`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Key {
    /// `principal.identity.username`.
    User,
    /// `event.type` (`RequestAccepted`, `Provision`, ...).
    Type,
    /// `event.status` (`DONE`, `FAILED`, ...).
    Status,
    /// `event.param.action`, the HTTP method (`POST`, `DELETE`, ...).
    Method,
    /// `event.resources[].type`: one value per resource.
    ResourceType,
    /// `event.resources[].action[]`: one value per action of each resource.
    Action,
    /// `principal.sourceIP`.
    SourceIp,
    /// `principal.sourceService`, the IONOS service the principal used
    /// (`PUBLIC_REST_V6`, `DCD`, ...).
    Service,
    /// The day of `meta.time` in the summary's zone: `2024-05-01`.
    Day,
    /// The hour of `meta.time` in the summary's zone: `2024-05-01T13:00`.
    Hour,
}

impl Key {
    /// Every key, in the order the help lists them.
    pub const ALL: [Key; 10] = [
        Key::User,
        Key::Type,
        Key::Status,
        Key::Method,
        Key::ResourceType,
        Key::Action,
        Key::SourceIp,
        Key::Service,
        Key::Day,
        Key::Hour,
    ];

    /// The key's name (`user`, `resource-type`, `source-ip`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Key::User => "user",
            Key::Type => "type",
            Key::Status => "status",
            Key::Method => "method",
            Key::ResourceType => "resource-type",
            Key::Action => "action",
            Key::SourceIp => "source-ip",
            Key::Service => "service",
            Key::Day => "day",
            Key::Hour => "hour",
        }
    }

    /// Whether the key is a time bucket (`day`, `hour`).
    pub fn is_time(self) -> bool {
        matches!(self, Key::Day | Key::Hour)
    }

    /// Parses a comma-separated list of key names (`user,day`); blanks
    /// between commas are skipped, repeats kept once.
    ///
    /// ```
    /// use activitylog_client::summary::Key;
    /// assert_eq!(Key::list("user, day").unwrap(), [Key::User, Key::Day]);
    /// assert!(Key::list("colour").unwrap_err().contains("user, type, status"));
    /// ```
    pub fn list(text: &str) -> Result<Vec<Key>, String> {
        let mut keys = Vec::new();
        for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let key: Key = name.parse()?;
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
        if keys.is_empty() {
            return Err(format!(
                "no key in `{text}`: use one or more of {}",
                names()
            ));
        }
        Ok(keys)
    }
}

fn names() -> String {
    Key::ALL.map(Key::name).join(", ")
}

impl FromStr for Key {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let name = text.trim();
        Key::ALL
            .into_iter()
            .find(|key| key.name().eq_ignore_ascii_case(name))
            .ok_or_else(|| format!("`{name}` is not a key: use one or more of {}", names()))
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a summary reads of one event, decoded leniently: a field that is
/// missing or not text is `None`, numbers and booleans become their text.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Facts {
    /// `principal.identity.username`.
    pub user: Option<String>,
    /// `event.type`.
    pub event_type: Option<String>,
    /// `event.status`.
    pub status: Option<String>,
    /// `event.param.action`.
    pub method: Option<String>,
    /// `principal.sourceIP`.
    pub source_ip: Option<String>,
    /// `principal.sourceService`.
    pub service: Option<String>,
    /// `event.resources`: each resource's type and actions.
    pub resources: Vec<(Option<String>, Vec<String>)>,
    /// `meta.time`, when it is an RFC 3339 instant.
    pub time: Option<DateTime<Utc>>,
}

impl Facts {
    /// Reads what a summary needs of `event`; never fails.
    pub fn of(event: &RawEvent) -> Facts {
        match serde_json::from_str::<Lenient<lenient::Doc>>(event.json()) {
            Ok(Lenient(doc)) => doc.unwrap_or_default().facts(),
            // Only odd documents (a key twice) get here: read them as a tree.
            Err(_) => Facts::of_value(event),
        }
    }

    /// [`Facts::of`] through a `serde_json::Value`: slower, and takes anything.
    fn of_value(event: &RawEvent) -> Facts {
        // A RawEvent is one JSON value by construction; anything else reads as empty.
        let value: Value = serde_json::from_str(event.json()).unwrap_or(Value::Null);
        let text = |pointer: &str| value.pointer(pointer).and_then(scalar);
        let resources = value
            .pointer("/event/resources")
            .and_then(Value::as_array)
            .map(|resources| {
                resources
                    .iter()
                    .map(|resource| {
                        let actions = resource
                            .get("action")
                            .and_then(Value::as_array)
                            .map(|actions| actions.iter().filter_map(scalar).collect())
                            .unwrap_or_default();
                        (resource.get("type").and_then(scalar), actions)
                    })
                    .collect()
            })
            .unwrap_or_default();
        Facts {
            user: text("/principal/identity/username"),
            event_type: text("/event/type"),
            status: text("/event/status"),
            method: text("/event/param/action"),
            source_ip: text("/principal/sourceIP"),
            service: text("/principal/sourceService"),
            resources,
            time: value
                .pointer("/meta/time")
                .and_then(Value::as_str)
                .and_then(parse_time),
        }
    }

    /// Whether the event failed (`event.status` is `FAILED`, any case).
    pub fn failed(&self) -> bool {
        self.status
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case("FAILED"))
    }
}

fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// A JSON scalar as text: strings as they are, numbers and booleans written
/// out; `null`, arrays and objects are no value.
fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

/// One group of a [`Summary`]: its key values and what it counted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    /// The values of the summary's keys, in their order; `None` where the
    /// events have no such value.
    pub values: Vec<Option<String>>,
    /// Events in the group.
    pub count: u64,
    /// Of them, those whose status is `FAILED`.
    pub failed: u64,
    /// The earliest `meta.time` in the group (`None` if no event had one).
    pub first: Option<DateTime<Utc>>,
    /// The latest `meta.time` in the group.
    pub last: Option<DateTime<Utc>>,
}

impl Group {
    /// The order of [`Summary::groups`]: larger counts first, then by
    /// values (missing values last), so ties keep a stable order.
    pub fn rank(&self, other: &Group) -> Ordering {
        other
            .count
            .cmp(&self.count)
            .then_with(|| compare_values(&self.values, &other.values))
    }

    /// The order of a timeline (groups keyed by `day` or `hour` alone): by
    /// values, so in time order (bucket labels sort as their times do),
    /// groups without a time last.
    pub fn chronological(&self, other: &Group) -> Ordering {
        compare_values(&self.values, &other.values)
    }
}

fn compare_values(a: &[Option<String>], b: &[Option<String>]) -> Ordering {
    for (a, b) in a.iter().zip(b) {
        let order = match (a, b) {
            (Some(a), Some(b)) => a.cmp(b),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        };
        if order != Ordering::Equal {
            return order;
        }
    }
    a.len().cmp(&b.len())
}

/// What a group has counted (its values are its key in the map).
#[derive(Clone, Copy, Debug, Default)]
struct Counts {
    count: u64,
    failed: u64,
    first: Option<DateTime<Utc>>,
    last: Option<DateTime<Utc>>,
}

impl Counts {
    fn add(&mut self, failed: bool, time: Option<DateTime<Utc>>) {
        self.count += 1;
        self.failed += u64::from(failed);
        if let Some(time) = time {
            self.first = Some(self.first.map_or(time, |first| first.min(time)));
            self.last = Some(self.last.map_or(time, |last| last.max(time)));
        }
    }

    fn group(self, values: Vec<Option<String>>) -> Group {
        Group {
            values,
            count: self.count,
            failed: self.failed,
            first: self.first,
            last: self.last,
        }
    }
}

/// The local time of an instant in a summary's zone.
type Local = Arc<dyn Fn(DateTime<Utc>) -> NaiveDateTime + Send + Sync>;

/// Counts events by [`Key`]s as they come; see the [module docs](self).
#[derive(Clone)]
pub struct Summary {
    keys: Vec<Key>,
    local: Local,
    zone: String,
    groups: HashMap<Vec<Option<String>>, Counts>,
    events: u64,
    failed: u64,
}

impl fmt::Debug for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Summary")
            .field("keys", &self.keys)
            .field("zone", &self.zone)
            .field("groups", &self.groups.len())
            .field("events", &self.events)
            .finish()
    }
}

impl Summary {
    /// A summary by `keys` (repeats are kept once), with days and hours in UTC.
    pub fn new(keys: impl IntoIterator<Item = Key>) -> Self {
        let mut unique = Vec::new();
        for key in keys {
            if !unique.contains(&key) {
                unique.push(key);
            }
        }
        Summary {
            keys: unique,
            local: Arc::new(|instant| instant.naive_utc()),
            zone: "UTC".to_string(),
            groups: HashMap::new(),
            events: 0,
            failed: 0,
        }
    }

    /// Days and hours in `zone` instead of UTC (`chrono_tz::Europe::Berlin`,
    /// `chrono::Local`, a `FixedOffset`): an hour is the zone's wall-clock
    /// hour, so the hour daylight saving time repeats is one group.
    pub fn zone<Z>(mut self, zone: Z) -> Self
    where
        Z: TimeZone + fmt::Debug + Send + Sync + 'static,
    {
        self.zone = format!("{zone:?}");
        self.local = Arc::new(move |instant| instant.with_timezone(&zone).naive_local());
        self
    }

    /// The keys, in order.
    pub fn keys(&self) -> &[Key] {
        &self.keys
    }

    /// Events counted.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// Of them, those whose status is `FAILED`.
    pub fn failed(&self) -> u64 {
        self.failed
    }

    /// Counts one event.
    pub fn add_event(&mut self, event: &RawEvent) {
        self.add(&Facts::of(event));
    }

    /// Counts one event, read already (one [`Facts`] can feed several summaries).
    pub fn add(&mut self, facts: &Facts) {
        self.events += 1;
        let failed = facts.failed();
        self.failed += u64::from(failed);
        for values in self.values(facts) {
            self.groups
                .entry(values)
                .or_default()
                .add(failed, facts.time);
        }
    }

    /// The distinct key values `facts` counts under: one combination,
    /// or one per resource (and action) with the resource keys.
    fn values(&self, facts: &Facts) -> Vec<Vec<Option<String>>> {
        let by_resource = self
            .keys
            .iter()
            .any(|k| matches!(k, Key::ResourceType | Key::Action));
        let mut pairs: Vec<(Option<&str>, Option<&str>)> = Vec::new();
        if by_resource {
            for (kind, actions) in &facts.resources {
                if actions.is_empty() {
                    pairs.push((kind.as_deref(), None));
                }
                for action in actions {
                    pairs.push((kind.as_deref(), Some(action)));
                }
            }
        }
        if pairs.is_empty() {
            pairs.push((None, None));
        }
        let mut all: Vec<Vec<Option<String>>> = Vec::with_capacity(pairs.len());
        for (kind, action) in pairs {
            let values: Vec<Option<String>> = self
                .keys
                .iter()
                .map(|key| match key {
                    Key::User => facts.user.clone(),
                    Key::Type => facts.event_type.clone(),
                    Key::Status => facts.status.clone(),
                    Key::Method => facts.method.clone(),
                    Key::SourceIp => facts.source_ip.clone(),
                    Key::Service => facts.service.clone(),
                    Key::ResourceType => kind.map(str::to_string),
                    Key::Action => action.map(str::to_string),
                    Key::Day | Key::Hour => facts.time.map(|t| bucket(*key, (self.local)(t))),
                })
                .collect();
            if !all.contains(&values) {
                all.push(values);
            }
        }
        all
    }

    /// The groups, largest first (ties by their values, so the order is
    /// stable: days and hours in time order). Keyed by `day` and `hour`
    /// alone, they are a timeline: in time order.
    pub fn groups(&self) -> Vec<Group> {
        let mut groups: Vec<Group> = self
            .groups
            .iter()
            .map(|(values, counts)| counts.group(values.clone()))
            .collect();
        groups.sort_by(self.order());
        groups
    }

    /// The groups as [`Summary::groups`] orders them, without copying them.
    pub fn into_groups(self) -> Vec<Group> {
        let order = self.order();
        let mut groups: Vec<Group> = self
            .groups
            .into_iter()
            .map(|(values, counts)| counts.group(values))
            .collect();
        groups.sort_by(order);
        groups
    }

    /// Whether every key is a time bucket (`day`, `hour`): the groups are a timeline.
    pub fn is_timeline(&self) -> bool {
        self.keys.iter().all(|key| key.is_time())
    }

    /// The order of [`Summary::groups`]: [`Group::chronological`] for a
    /// timeline, else [`Group::rank`].
    pub fn order(&self) -> fn(&Group, &Group) -> Ordering {
        if self.is_timeline() {
            Group::chronological
        } else {
            Group::rank
        }
    }

    /// How many groups there are so far.
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    /// Whether no event was counted yet.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }
}

/// The label of a time bucket: `2024-05-01` for [`Key::Day`],
/// `2024-05-01T13:00` for [`Key::Hour`] (other keys: the instant to the minute).
pub fn bucket(key: Key, local: NaiveDateTime) -> String {
    match key {
        Key::Day => local.format("%Y-%m-%d").to_string(),
        _ => local.format("%Y-%m-%dT%H:00").to_string(),
    }
}

/// The fields [`Facts`] reads, deserialized straight from the text:
/// every field optional, a value of an unexpected kind read as absent.
mod lenient {
    use std::fmt;
    use std::marker::PhantomData;

    use serde::de::value::MapAccessDeserializer;
    use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

    use super::{Facts, parse_time};

    /// A string, number or boolean as text; anything else is `None`.
    #[derive(Debug, Default)]
    pub struct Text(pub Option<String>);

    /// An object of type `T`; anything else is `None`.
    #[derive(Debug)]
    pub struct Lenient<T>(pub Option<T>);

    impl<T> Default for Lenient<T> {
        fn default() -> Self {
            Lenient(None)
        }
    }

    /// An array of `T`; anything else is empty.
    #[derive(Debug)]
    pub struct List<T>(pub Vec<T>);

    impl<T> Default for List<T> {
        fn default() -> Self {
            List(Vec::new())
        }
    }

    #[derive(Debug, Default, serde::Deserialize)]
    #[serde(default)]
    pub struct Doc {
        principal: Lenient<Principal>,
        event: Lenient<Event>,
        meta: Lenient<Meta>,
    }

    #[derive(Debug, Default, serde::Deserialize)]
    #[serde(default)]
    struct Principal {
        identity: Lenient<Identity>,
        #[serde(rename = "sourceIP")]
        source_ip: Text,
        #[serde(rename = "sourceService")]
        source_service: Text,
    }

    #[derive(Debug, Default, serde::Deserialize)]
    #[serde(default)]
    struct Identity {
        username: Text,
    }

    #[derive(Debug, Default, serde::Deserialize)]
    #[serde(default)]
    struct Event {
        #[serde(rename = "type")]
        kind: Text,
        status: Text,
        param: Lenient<Param>,
        resources: List<Lenient<Resource>>,
    }

    #[derive(Debug, Default, serde::Deserialize)]
    #[serde(default)]
    struct Param {
        action: Text,
    }

    #[derive(Debug, Default, serde::Deserialize)]
    #[serde(default)]
    struct Resource {
        #[serde(rename = "type")]
        kind: Text,
        action: List<Text>,
    }

    #[derive(Debug, Default, serde::Deserialize)]
    #[serde(default)]
    struct Meta {
        time: Text,
    }

    impl Doc {
        pub fn facts(self) -> Facts {
            let principal = self.principal.0.unwrap_or_default();
            let event = self.event.0.unwrap_or_default();
            let identity = principal.identity.0.unwrap_or_default();
            Facts {
                user: identity.username.0,
                event_type: event.kind.0,
                status: event.status.0,
                method: event.param.0.and_then(|p| p.action.0),
                source_ip: principal.source_ip.0,
                service: principal.source_service.0,
                resources: event
                    .resources
                    .0
                    .into_iter()
                    .map(|resource| {
                        let resource = resource.0.unwrap_or_default();
                        let actions = resource.action.0.into_iter().filter_map(|a| a.0).collect();
                        (resource.kind.0, actions)
                    })
                    .collect(),
                time: self
                    .meta
                    .0
                    .and_then(|m| m.time.0)
                    .as_deref()
                    .and_then(parse_time),
            }
        }
    }

    /// Skips the rest of an array or object.
    fn skip_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }

    fn skip_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(())
    }

    impl<'de> Deserialize<'de> for Text {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Text;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("any JSON value")
                }
                fn visit_str<E: de::Error>(self, v: &str) -> Result<Text, E> {
                    Ok(Text(Some(v.to_string())))
                }
                fn visit_string<E: de::Error>(self, v: String) -> Result<Text, E> {
                    Ok(Text(Some(v)))
                }
                fn visit_bool<E: de::Error>(self, v: bool) -> Result<Text, E> {
                    Ok(Text(Some(v.to_string())))
                }
                fn visit_i64<E: de::Error>(self, v: i64) -> Result<Text, E> {
                    Ok(Text(Some(v.to_string())))
                }
                fn visit_u64<E: de::Error>(self, v: u64) -> Result<Text, E> {
                    Ok(Text(Some(v.to_string())))
                }
                fn visit_f64<E: de::Error>(self, v: f64) -> Result<Text, E> {
                    Ok(Text(Some(
                        serde_json::Number::from_f64(v)
                            .map(|n| n.to_string())
                            .unwrap_or_default(),
                    )))
                }
                fn visit_unit<E: de::Error>(self) -> Result<Text, E> {
                    Ok(Text(None))
                }
                fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Text, A::Error> {
                    skip_seq(seq).map(|()| Text(None))
                }
                fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Text, A::Error> {
                    skip_map(map).map(|()| Text(None))
                }
            }
            deserializer.deserialize_any(V)
        }
    }

    impl<'de, T: Deserialize<'de>> Deserialize<'de> for Lenient<T> {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct V<T>(PhantomData<T>);
            impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
                type Value = Lenient<T>;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("any JSON value")
                }
                fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Lenient<T>, A::Error> {
                    T::deserialize(MapAccessDeserializer::new(map)).map(|t| Lenient(Some(t)))
                }
                fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Lenient<T>, A::Error> {
                    skip_seq(seq).map(|()| Lenient(None))
                }
                fn visit_str<E: de::Error>(self, _: &str) -> Result<Lenient<T>, E> {
                    Ok(Lenient(None))
                }
                fn visit_bool<E: de::Error>(self, _: bool) -> Result<Lenient<T>, E> {
                    Ok(Lenient(None))
                }
                fn visit_i64<E: de::Error>(self, _: i64) -> Result<Lenient<T>, E> {
                    Ok(Lenient(None))
                }
                fn visit_u64<E: de::Error>(self, _: u64) -> Result<Lenient<T>, E> {
                    Ok(Lenient(None))
                }
                fn visit_f64<E: de::Error>(self, _: f64) -> Result<Lenient<T>, E> {
                    Ok(Lenient(None))
                }
                fn visit_unit<E: de::Error>(self) -> Result<Lenient<T>, E> {
                    Ok(Lenient(None))
                }
            }
            deserializer.deserialize_any(V(PhantomData))
        }
    }

    impl<'de, T: Deserialize<'de>> Deserialize<'de> for List<T> {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct V<T>(PhantomData<T>);
            impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
                type Value = List<T>;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("any JSON value")
                }
                fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<List<T>, A::Error> {
                    let mut items = Vec::new();
                    while let Some(item) = seq.next_element::<T>()? {
                        items.push(item);
                    }
                    Ok(List(items))
                }
                fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<List<T>, A::Error> {
                    skip_map(map).map(|()| List(Vec::new()))
                }
                fn visit_str<E: de::Error>(self, _: &str) -> Result<List<T>, E> {
                    Ok(List(Vec::new()))
                }
                fn visit_bool<E: de::Error>(self, _: bool) -> Result<List<T>, E> {
                    Ok(List(Vec::new()))
                }
                fn visit_i64<E: de::Error>(self, _: i64) -> Result<List<T>, E> {
                    Ok(List(Vec::new()))
                }
                fn visit_u64<E: de::Error>(self, _: u64) -> Result<List<T>, E> {
                    Ok(List(Vec::new()))
                }
                fn visit_f64<E: de::Error>(self, _: f64) -> Result<List<T>, E> {
                    Ok(List(Vec::new()))
                }
                fn visit_unit<E: de::Error>(self) -> Result<List<T>, E> {
                    Ok(List(Vec::new()))
                }
            }
            deserializer.deserialize_any(V(PhantomData))
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::FixedOffset;

    use super::*;

    fn event(json: &str) -> RawEvent {
        RawEvent::parse(json).unwrap()
    }

    fn summed(keys: &[Key], events: &[&str]) -> Vec<Group> {
        let mut summary = Summary::new(keys.iter().copied());
        for json in events {
            summary.add_event(&event(json));
        }
        summary.groups()
    }

    fn values(group: &Group) -> Vec<Option<&str>> {
        group.values.iter().map(|v| v.as_deref()).collect()
    }

    #[test]
    fn keys_parse_by_name_and_unknown_ones_list_the_valid() {
        assert_eq!(
            Key::list("resource-type,SOURCE-IP,hour,user,user").unwrap(),
            [Key::ResourceType, Key::SourceIp, Key::Hour, Key::User]
        );
        for key in Key::ALL {
            assert_eq!(key.name().parse::<Key>(), Ok(key));
        }
        let error = Key::list("user,colour").unwrap_err();
        assert!(error.starts_with("`colour` is not a key"), "{error}");
        assert!(error.contains("service, day, hour"), "{error}");
        assert!(Key::list(" , ").is_err());
    }

    #[test]
    fn drifted_and_missing_fields_are_null_never_an_error() {
        let groups = summed(
            &[Key::User, Key::Status, Key::Method, Key::Day],
            &[
                r#"{"principal":{"identity":{"username":7}},"event":{"status":["x"],"param":{"action":true}},"meta":{"time":"not a time"}}"#,
                r#"[]"#,
                r#"{"principal":null,"event":"text"}"#,
            ],
        );
        assert_eq!(groups.len(), 2);
        assert_eq!(values(&groups[0]), [None, None, None, None]);
        assert_eq!(groups[0].count, 2);
        assert_eq!(groups[0].first, None);
        assert_eq!(values(&groups[1]), [Some("7"), None, Some("true"), None]);
    }

    #[test]
    fn the_fast_reading_agrees_with_the_tree_reading() {
        for json in [
            r#"{"principal":{"identity":{"username":"u"},"sourceIP":"192.0.2.1","sourceService":"DCD"},
                "event":{"type":"Provision","status":"DONE","param":{"action":"POST"},
                         "resources":[{"type":"server","action":["a","b"]},7,{"action":"x"}]},
                "meta":{"time":"2024-05-01T10:00:00.5Z"}}"#,
            r#"{"principal":{"identity":{"username":1.5}},"event":{"status":null,"resources":{"a":1}}}"#,
            r#"{"principal":"me","event":[1,2],"meta":{"time":12}}"#,
            r#"[{"principal":{}}]"#,
            r#""text""#,
            r#"{"event":{"status":"DONE","status":"FAILED"}}"#,
        ] {
            let event = event(json);
            assert_eq!(Facts::of(&event), Facts::of_value(&event), "{json}");
        }
    }

    #[test]
    fn an_event_counts_under_each_of_its_resources_and_actions() {
        let json = r#"{"event":{"status":"FAILED","resources":[
            {"type":"server","action":["vr.server.create","vr.server.update"]},
            {"type":"server","action":["vr.server.create"]},
            {"type":"volume"},
            {"action":["x"]}]}}"#;
        let by_type = summed(&[Key::ResourceType], &[json]);
        let types: Vec<_> = by_type.iter().map(|g| (values(g), g.count)).collect();
        assert_eq!(
            types,
            [
                (vec![Some("server")], 1),
                (vec![Some("volume")], 1),
                (vec![None], 1)
            ]
        );
        assert!(by_type.iter().all(|g| g.failed == 1));
        let pairs = summed(&[Key::ResourceType, Key::Action], &[json]);
        let pairs: Vec<_> = pairs.iter().map(values).collect();
        assert_eq!(
            pairs,
            [
                vec![Some("server"), Some("vr.server.create")],
                vec![Some("server"), Some("vr.server.update")],
                vec![Some("volume"), None],
                vec![None, Some("x")],
            ]
        );
        let none = summed(
            &[Key::Action, Key::User],
            &[r#"{"event":{"resources":[]}}"#],
        );
        assert_eq!(values(&none[0]), [None, None]);
    }

    #[test]
    fn groups_are_sorted_by_count_then_values_with_failures_and_times() {
        let at = |user: &str, time: &str, status: &str| {
            format!(
                r#"{{"principal":{{"identity":{{"username":"{user}"}}}},"meta":{{"time":"{time}"}},"event":{{"status":"{status}"}}}}"#
            )
        };
        let events = [
            at("b", "2024-05-01T10:00:00Z", "DONE"),
            at("a", "2024-05-01T12:00:00Z", "FAILED"),
            at("c", "2024-05-03T00:00:00Z", "failed"),
            at("c", "2024-05-02T00:00:00Z", "DONE"),
            at("c", "2024-05-04T00:00:00.5Z", "DONE"),
        ];
        let events: Vec<&str> = events.iter().map(String::as_str).collect();
        let groups = summed(&[Key::User], &events);
        let order: Vec<_> = groups
            .iter()
            .map(|g| (values(g)[0], g.count, g.failed))
            .collect();
        assert_eq!(
            order,
            [(Some("c"), 3, 1), (Some("a"), 1, 1), (Some("b"), 1, 0)]
        );
        assert_eq!(
            groups[0].first.unwrap().to_rfc3339(),
            "2024-05-02T00:00:00+00:00"
        );
        assert_eq!(
            groups[0].last.unwrap().to_rfc3339(),
            "2024-05-04T00:00:00.500+00:00"
        );
    }

    #[test]
    fn days_or_hours_alone_are_listed_in_time_order_and_other_keys_by_count() {
        let at = |time: &str| format!(r#"{{"meta":{{"time":"{time}"}}}}"#);
        // 2024-05-02 is the busiest day, 2024-05-01 the quietest.
        let events = [
            at("2024-05-02T10:00:00Z"),
            at("2024-05-02T11:00:00Z"),
            at("2024-05-02T11:30:00Z"),
            at("2024-05-03T09:00:00Z"),
            at("2024-05-03T09:30:00Z"),
            at("2024-05-01T23:00:00Z"),
            r#"{"meta":{}}"#.to_string(),
        ];
        let events: Vec<&str> = events.iter().map(String::as_str).collect();
        let labels = |keys: &[Key]| -> Vec<Vec<Option<String>>> {
            summed(keys, &events)
                .into_iter()
                .map(|g| g.values)
                .collect()
        };
        let day = |d: &str| Some(d.to_string());
        assert_eq!(
            labels(&[Key::Day]),
            [
                vec![day("2024-05-01")],
                vec![day("2024-05-02")],
                vec![day("2024-05-03")],
                vec![None]
            ],
            "days in time order, the entry without a time last"
        );
        let hours = labels(&[Key::Hour]);
        assert_eq!(hours.first(), Some(&vec![day("2024-05-01T23:00")]));
        assert_eq!(
            labels(&[Key::Day, Key::Hour])[0],
            [day("2024-05-01"), day("2024-05-01T23:00")]
        );
        // With another key, the largest group still comes first.
        let by_status = summed(&[Key::Status, Key::Day], &events);
        assert_eq!(values(&by_status[0]), [None, Some("2024-05-02")]);
        assert_eq!(by_status[0].count, 3);
    }

    #[test]
    fn days_and_hours_are_in_the_summary_zone() {
        let json = r#"{"meta":{"time":"2024-05-01T22:30:00Z"}}"#;
        let utc = summed(&[Key::Day, Key::Hour], &[json]);
        assert_eq!(
            values(&utc[0]),
            [Some("2024-05-01"), Some("2024-05-01T22:00")]
        );
        let mut tokyo =
            Summary::new([Key::Day, Key::Hour]).zone(FixedOffset::east_opt(9 * 3600).unwrap());
        tokyo.add_event(&event(json));
        assert_eq!(
            values(&tokyo.groups()[0]),
            [Some("2024-05-02"), Some("2024-05-02T07:00")]
        );
        assert!(format!("{tokyo:?}").contains("+09:00"));
    }

    #[test]
    fn memory_grows_with_groups_not_events() {
        let mut summary = Summary::new([Key::Status]);
        let done = event(r#"{"event":{"status":"DONE"}}"#);
        for _ in 0..10_000 {
            summary.add_event(&done);
        }
        assert_eq!(summary.events(), 10_000);
        assert_eq!(summary.len(), 1);
        assert_eq!(summary.clone().into_groups(), summary.groups());
    }
}
