//! The files `summary` writes beside its output: an SVG timeline
//! ([`svg`], `--chart`) and a one-file HTML report ([`html`], `--html`).

pub mod html;
pub mod svg;

use activitylog_client::DateRange;
use activitylog_client::summary::{Facts, Group, Key, Summary, bucket};
use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeDelta, Utc};

use crate::output::zone::Zone;

/// Ranges up to this long get hourly charts when `--by` has no time key.
const HOURLY_UP_TO: TimeDelta = TimeDelta::hours(72);

/// At most this many buckets are filled in between the first and the last.
const MOST_SLOTS: usize = 5_000;

/// The time bucket of the chart and the report: `hour` when `--by` has it,
/// `day` when it has that, else `hour` for ranges up to 72 hours and `day`
/// beyond.
pub fn bucket_for(keys: &[Key], range: &DateRange) -> Key {
    if keys.contains(&Key::Hour) {
        Key::Hour
    } else if keys.contains(&Key::Day) {
        Key::Day
    } else if range.until() - range.since() <= HOURLY_UP_TO {
        Key::Hour
    } else {
        Key::Day
    }
}

/// A summary by `keys` with days and hours in `zone`.
pub fn summary_in(keys: impl IntoIterator<Item = Key>, zone: Zone) -> Summary {
    let summary = Summary::new(keys);
    match zone {
        Zone::Utc => summary,
        Zone::Named(tz) => summary.zone(tz),
        Zone::Local => summary.zone(chrono::Local),
    }
}

/// What a report says about its run.
#[derive(Clone, Debug)]
pub struct Meta {
    /// The contracts counted, in the order they were read.
    pub contracts: Vec<u64>,
    /// Start of the range, inclusive.
    pub since: DateTime<Utc>,
    /// End of the range, exclusive.
    pub until: DateTime<Utc>,
    /// The zone of days, hours and shown times.
    pub zone: Zone,
    /// Entries counted.
    pub entries: u64,
    /// Of them, FAILED.
    pub failed: u64,
}

impl Meta {
    /// `contract 31721060`, or `contracts 111, 222` for several.
    pub fn contracts_label(&self) -> String {
        let numbers: Vec<String> = self.contracts.iter().map(u64::to_string).collect();
        match numbers.as_slice() {
            [one] => format!("contract {one}"),
            several => format!("contracts {}", several.join(", ")),
        }
    }
}

/// Entries per day or hour, by status, with the empty buckets in between.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timeline {
    /// [`Key::Day`] or [`Key::Hour`].
    pub bucket: Key,
    /// The zone of the buckets.
    pub zone: Zone,
    /// The statuses, in stacking order (DONE, FAILED, RUNNING, QUEUED,
    /// others by name, none last).
    pub statuses: Vec<Option<String>>,
    /// The buckets in time order.
    pub slots: Vec<Slot>,
}

/// One bucket of a [`Timeline`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slot {
    /// `2024-05-01` or `2024-05-01T13:00`.
    pub label: String,
    /// Entries per status, in the order of [`Timeline::statuses`].
    pub counts: Vec<u64>,
}

impl Slot {
    /// All entries of the bucket.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }
}

impl Timeline {
    /// The timeline of a summary by `[bucket, Key::Status]`.
    pub fn of(summary: &Summary, bucket: Key, zone: Zone) -> Timeline {
        let groups = summary.groups();
        let mut statuses: Vec<Option<String>> = Vec::new();
        for group in &groups {
            let status = group.values.get(1).cloned().flatten();
            if !statuses.contains(&status) {
                statuses.push(status);
            }
        }
        statuses.sort_by_key(|s| status_rank(s.as_deref()));
        let mut labels: Vec<String> = groups
            .iter()
            .filter_map(|g| g.values.first().cloned().flatten())
            .collect();
        labels.sort();
        labels.dedup();
        let labels = fill(bucket, labels);
        let mut slots: Vec<Slot> = labels
            .into_iter()
            .map(|label| Slot {
                label,
                counts: vec![0; statuses.len()],
            })
            .collect();
        for group in &groups {
            let Some(label) = group.values.first().cloned().flatten() else {
                continue; // entries without a time have no place on a timeline
            };
            let status = group.values.get(1).cloned().flatten();
            let column = statuses.iter().position(|s| *s == status);
            let row = slots.binary_search_by(|slot| slot.label.cmp(&label));
            if let (Some(column), Ok(row)) = (column, row) {
                slots[row].counts[column] += group.count;
            }
        }
        Timeline {
            bucket,
            zone,
            statuses,
            slots,
        }
    }

    /// Each bucket's label and total.
    pub fn totals(&self) -> Vec<(String, u64)> {
        self.slots
            .iter()
            .map(|slot| (slot.label.clone(), slot.total()))
            .collect()
    }

    /// Entries of each status over the whole timeline.
    pub fn status_totals(&self) -> Vec<u64> {
        (0..self.statuses.len())
            .map(|i| self.slots.iter().map(|s| s.counts[i]).sum())
            .collect()
    }
}

/// Stacking order: the usual statuses first, unknown ones by name, none last.
fn status_rank(status: Option<&str>) -> (usize, String) {
    let known = ["DONE", "FAILED", "RUNNING", "QUEUED"];
    match status {
        Some(s) => match known.iter().position(|k| k.eq_ignore_ascii_case(s)) {
            Some(i) => (i, String::new()),
            None => (known.len(), s.to_string()),
        },
        None => (known.len() + 1, String::new()),
    }
}

/// Sorted bucket labels with the empty buckets between them added (unless
/// that would make more than [`MOST_SLOTS`]).
fn fill(key: Key, labels: Vec<String>) -> Vec<String> {
    let (Some(first), Some(last)) = (labels.first(), labels.last()) else {
        return labels;
    };
    let parse = |label: &str| -> Option<NaiveDateTime> {
        match key {
            Key::Day => NaiveDate::parse_from_str(label, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0)),
            _ => NaiveDateTime::parse_from_str(label, "%Y-%m-%dT%H:%M").ok(),
        }
    };
    let (Some(start), Some(end)) = (parse(first), parse(last)) else {
        return labels;
    };
    let step = match key {
        Key::Day => TimeDelta::days(1),
        _ => TimeDelta::hours(1),
    };
    let slots = (end - start).num_seconds() / step.num_seconds() + 1;
    if slots > MOST_SLOTS as i64 {
        return labels;
    }
    let mut filled = Vec::with_capacity(slots as usize);
    let mut at = start;
    while at <= end {
        filled.push(bucket(key, at));
        at += step;
    }
    filled
}

/// `text` with the characters that mean something in XML and HTML escaped.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters are not allowed in XML 1.0.
            c if c.is_control() && !matches!(c, '\n' | '\t') => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// What the HTML report's tables count, besides the timeline.
#[derive(Debug)]
pub struct Sections {
    /// By user.
    pub users: Summary,
    /// By resource action.
    pub actions: Summary,
    /// FAILED entries by user and action.
    pub failed: Summary,
    /// By user and source IP (their first-seen dates).
    pub addresses: Summary,
}

impl Sections {
    /// Empty tallies, days in `zone`.
    pub fn new(zone: Zone) -> Sections {
        Sections {
            users: summary_in([Key::User], zone),
            actions: summary_in([Key::Action], zone),
            failed: summary_in([Key::User, Key::Action], zone),
            addresses: summary_in([Key::User, Key::SourceIp], zone),
        }
    }

    /// Counts one entry.
    pub fn add(&mut self, facts: &Facts) {
        self.users.add(facts);
        self.actions.add(facts);
        self.addresses.add(facts);
        if facts.failed() {
            self.failed.add(facts);
        }
    }

    /// The source IPs per user: by user, then first seen.
    pub fn addresses_by_user(&self) -> Vec<Group> {
        let mut groups = self.addresses.groups();
        groups.sort_by(|a, b| {
            let user = |g: &Group| g.values[0].clone();
            (user(a).is_none(), user(a), a.first).cmp(&(user(b).is_none(), user(b), b.first))
        });
        groups
    }
}

#[cfg(test)]
mod tests {
    use activitylog_client::RawEvent;

    use activitylog_client::DateBound;

    use super::*;

    fn range(since: &str, until: &str) -> DateRange {
        DateRange::new(
            DateBound::Instant(since.parse().unwrap()),
            DateBound::Instant(until.parse().unwrap()),
        )
        .unwrap()
    }

    #[test]
    fn the_chart_bucket_follows_the_keys_else_the_range() {
        let week = range("2024-05-01T00:00:00Z", "2024-05-08T00:00:00Z");
        let days = range("2024-05-01T00:00:00Z", "2024-05-04T00:00:00Z");
        assert_eq!(bucket_for(&[Key::User, Key::Hour], &week), Key::Hour);
        assert_eq!(bucket_for(&[Key::Day], &days), Key::Day);
        assert_eq!(bucket_for(&[Key::User], &week), Key::Day);
        assert_eq!(bucket_for(&[Key::User], &days), Key::Hour);
    }

    fn timeline(bucket: Key, events: &[&str]) -> Timeline {
        let mut summary = Summary::new([bucket, Key::Status]);
        for json in events {
            summary.add_event(&RawEvent::parse(json).unwrap());
        }
        Timeline::of(&summary, bucket, Zone::Utc)
    }

    #[test]
    fn buckets_are_filled_in_and_stacked_by_status() {
        let line = timeline(
            Key::Day,
            &[
                r#"{"meta":{"time":"2024-05-01T10:00:00Z"},"event":{"status":"FAILED"}}"#,
                r#"{"meta":{"time":"2024-05-01T11:00:00Z"},"event":{"status":"DONE"}}"#,
                r#"{"meta":{"time":"2024-05-03T11:00:00Z"}}"#,
                r#"{"event":{"status":"ODD"}}"#,
            ],
        );
        assert_eq!(
            line.statuses,
            [
                Some("DONE".to_string()),
                Some("FAILED".to_string()),
                Some("ODD".to_string()),
                None
            ]
        );
        assert_eq!(
            line.totals(),
            [
                ("2024-05-01".to_string(), 2),
                ("2024-05-02".to_string(), 0),
                ("2024-05-03".to_string(), 1)
            ]
        );
        assert_eq!(line.slots[0].counts, [1, 1, 0, 0]);
        assert_eq!(line.status_totals(), [1, 1, 0, 1]);
    }

    #[test]
    fn hours_are_filled_in_too() {
        let line = timeline(
            Key::Hour,
            &[
                r#"{"meta":{"time":"2024-05-01T22:10:00Z"}}"#,
                r#"{"meta":{"time":"2024-05-02T01:10:00Z"}}"#,
            ],
        );
        let labels: Vec<_> = line.slots.iter().map(|s| s.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "2024-05-01T22:00",
                "2024-05-01T23:00",
                "2024-05-02T00:00",
                "2024-05-02T01:00"
            ]
        );
    }
}
