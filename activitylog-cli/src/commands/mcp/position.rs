//! Positions in time order (time, then `@uuid`), and the first entries
//! that match after one. The service promises no order within a range, so
//! a read's entries are ordered here; a read stops as soon as what it holds
//! is complete up to its last wanted entry.

use std::collections::BTreeMap;

use activitylog_archive::Query;
use activitylog_client::{DateBound, DateRange, RawEvent, Update};
use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use futures::StreamExt;

use crate::commands::mcp::read;
use crate::reader::Reader;

/// Where an entry stands: its time, then its `@uuid` (its JSON text when it
/// has none), ascending.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    /// `meta.time`.
    pub time: DateTime<Utc>,
    /// `@uuid`.
    pub uuid: String,
}

impl Position {
    /// The position of `event`, if it has a readable time.
    pub fn of(event: &RawEvent) -> Option<Position> {
        let uuid = match event.uuid() {
            Some(uuid) => uuid.into_owned(),
            None => event.json().to_string(),
        };
        Some(Position {
            time: event.time()?,
            uuid,
        })
    }

    /// The time as text that reads back to the same instant.
    pub fn time_text(&self) -> String {
        self.time.to_rfc3339_opts(SecondsFormat::AutoSi, true)
    }
}

/// What a search found.
#[derive(Debug, Default)]
pub struct Found {
    /// The first matches, in order, with their positions.
    pub rows: Vec<(Position, RawEvent)>,
    /// Whether more match after them.
    pub more: bool,
    /// HTTP requests sent.
    pub requests: u64,
    /// Entries left out because they could not be read (no JSON the SDK
    /// decodes, or no time to order them by).
    pub unreadable: u64,
}

/// Whether an entry matches; `None`: it cannot be read to tell.
pub type Matches<'a> = dyn Fn(&RawEvent) -> Option<bool> + Sync + 'a;

/// The first `wanted` entries of `contract` in `range` after `after` for
/// which `matches` says yes, in position order, and whether more match.
///
/// From the API, the range is read in parts of growing length (the first
/// a 32nd of what is left, at least a minute; each next twice as long),
/// each part downloaded completely; within a part, the read stops once
/// the engine has completed the windows up to the last wanted entry. An
/// archive is read in order, in one part.
pub async fn first_after(
    reader: &Reader,
    contract: u64,
    range: &DateRange,
    query: &Query,
    after: Option<&Position>,
    wanted: usize,
    matches: &Matches<'_>,
) -> Result<Found, String> {
    let start = after.map_or(range.since(), |p| p.time.max(range.since()));
    let mut kept: BTreeMap<Position, RawEvent> = BTreeMap::new();
    let mut found = Found::default();
    // Whether `kept` holds one more than wanted, all before `through`.
    let full_before = |kept: &BTreeMap<Position, RawEvent>, through: DateTime<Utc>| {
        kept.len() > wanted && kept.last_key_value().is_some_and(|(p, _)| p.time < through)
    };
    let growing = matches!(reader, Reader::Api(_));
    for part in parts(start, range.until(), growing) {
        let read = read::read(reader, contract, &part, query);
        let mut updates = read.updates;
        let mut done = false;
        while let Some(update) = updates.next().await {
            match update? {
                Update::Events(page) => {
                    for event in page {
                        let position = match matches(&event) {
                            Some(false) => continue,
                            Some(true) => Position::of(&event),
                            None => None,
                        };
                        let Some(position) = position else {
                            found.unreadable += 1;
                            continue;
                        };
                        if after.is_none_or(|after| position > *after) {
                            kept.insert(position, event);
                            if kept.len() > wanted + 1 {
                                kept.pop_last();
                            }
                        }
                    }
                }
                Update::Completed { through } if full_before(&kept, through) => {
                    done = true;
                    break;
                }
                _ => {}
            }
        }
        drop(updates); // stops the download
        found.requests += read.requests.get();
        if done || full_before(&kept, part.until()) {
            break;
        }
    }
    found.more = kept.len() > wanted;
    found.rows = kept.into_iter().take(wanted).collect();
    Ok(found)
}

/// The parts `[start, until)` is read in: `growing` ones (from the API),
/// else the whole (an archive reads in order).
fn parts(start: DateTime<Utc>, until: DateTime<Utc>, growing: bool) -> Vec<DateRange> {
    let mut parts = Vec::new();
    let mut length = match growing {
        true => ((until - start) / 32).max(TimeDelta::minutes(1)),
        false => until - start,
    };
    let mut since = start;
    while since < until {
        let end = since.checked_add_signed(length).unwrap_or(until).min(until);
        if let Ok(part) = DateRange::new(DateBound::Instant(since), DateBound::Instant(end)) {
            parts.push(part);
        }
        since = end;
        length = length.checked_mul(2).unwrap_or(length);
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn parts_cover_the_range_end_to_end_each_twice_as_long() {
        let (start, until) = (at("2024-01-01T00:00:00Z"), at("2024-04-01T00:00:00Z"));
        let parts = parts(start, until, true);
        assert_eq!(parts[0].since(), start);
        assert_eq!(parts[0].until() - start, (until - start) / 32);
        for pair in parts.windows(2) {
            assert_eq!(pair[0].until(), pair[1].since(), "no gap, no overlap");
        }
        let lengths: Vec<TimeDelta> = parts.iter().map(|p| p.until() - p.since()).collect();
        for pair in lengths[..lengths.len() - 1].windows(2) {
            assert_eq!(pair[1], pair[0] * 2);
        }
        assert_eq!(parts.last().unwrap().until(), until);
        assert_eq!(parts.len(), 6, "1/32 + 1/16 + ... + 1/2, then the rest");
        let whole = super::parts(start, until, false);
        assert_eq!(
            (whole.len(), whole[0].since(), whole[0].until()),
            (1, start, until)
        );
        // A short range: parts of a minute at least.
        let short = super::parts(start, start + TimeDelta::seconds(90), true);
        assert_eq!(short[0].until() - start, TimeDelta::minutes(1));
        assert_eq!(short.len(), 2);
    }

    #[test]
    fn positions_order_by_time_then_uuid() {
        let event = |json: &str| RawEvent::parse(json).unwrap();
        let a = Position::of(&event(
            r#"{"@uuid":"b","meta":{"time":"2024-01-01T00:00:00Z"}}"#,
        ));
        let b = Position::of(&event(
            r#"{"@uuid":"a","meta":{"time":"2024-01-01T00:00:00.001Z"}}"#,
        ));
        let c = Position::of(&event(
            r#"{"@uuid":"c","meta":{"time":"2024-01-01T00:00:00.001Z"}}"#,
        ));
        assert!(a < b && b < c);
        assert_eq!(
            Position::of(&event(r#"{"@uuid":"x"}"#)),
            None,
            "no time, no position"
        );
        let b = b.unwrap();
        assert_eq!(b.time_text().parse::<DateTime<Utc>>().unwrap(), b.time);
    }
}
