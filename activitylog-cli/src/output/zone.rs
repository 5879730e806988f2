//! `--tz ZONE` and `--local`: the time zone the table and CSV show times in.
//!
//! NDJSON and JSON are never touched: they stay exactly as received.

use std::fmt;

use chrono::{DateTime, FixedOffset, Local, SecondsFormat, TimeZone, Utc};
use chrono_tz::Tz;

/// Where shown times are.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Zone {
    /// UTC, as the API sends them (the default).
    #[default]
    Utc,
    /// An IANA zone (`Europe/Berlin`), daylight saving time included.
    Named(Tz),
    /// The machine's zone (`TZ`, else `/etc/localtime`).
    Local,
}

impl Zone {
    /// Parses an IANA zone name (`Europe/Berlin`, `UTC`), spelled exactly.
    pub fn named(text: &str) -> Result<Zone, String> {
        let name = text.trim();
        name.parse::<Tz>().map(Zone::Named).map_err(|_| {
            format!(
                "`{text}` is not a time zone: use an IANA name such as Europe/Berlin, \
                     America/New_York or UTC, or --local"
            )
        })
    }

    /// The zone's name for headers (`UTC`, `Asia/Tokyo`, `local`).
    pub fn label(&self) -> String {
        match self {
            Zone::Utc => "UTC".to_string(),
            Zone::Named(tz) => tz.name().to_string(),
            Zone::Local => "local".to_string(),
        }
    }

    /// Whether times are shown as sent (UTC, with `Z`).
    pub fn is_utc(&self) -> bool {
        *self == Zone::Utc
    }

    /// Terminal columns a [`short`](Self::short) time takes.
    pub fn short_width(&self) -> usize {
        if self.is_utc() { 20 } else { 25 }
    }

    /// A time for the table, to the second: `2024-05-01T12:00:00Z` in UTC,
    /// `2024-05-01T21:00:00+09:00` elsewhere. Text that is no RFC 3339
    /// time is shown as is.
    pub fn short(&self, time: &str) -> String {
        self.convert(time, SecondsFormat::Secs)
            .unwrap_or_else(|| time.to_string())
    }

    /// A time for CSV: exactly as sent in UTC; elsewhere converted, with
    /// the fraction of a second kept. Text that is no RFC 3339 time is kept.
    pub fn full(&self, time: &str) -> String {
        if self.is_utc() {
            return time.to_string();
        }
        self.convert(time, SecondsFormat::AutoSi)
            .unwrap_or_else(|| time.to_string())
    }

    fn convert(&self, time: &str, format: SecondsFormat) -> Option<String> {
        let instant = DateTime::parse_from_rfc3339(time.trim()).ok()?;
        Some(match self {
            Zone::Utc => instant.with_timezone(&Utc).to_rfc3339_opts(format, true),
            Zone::Named(tz) => in_zone(instant, tz, format),
            Zone::Local => in_zone(instant, &Local, format),
        })
    }
}

fn in_zone<Z: TimeZone>(instant: DateTime<FixedOffset>, zone: &Z, format: SecondsFormat) -> String
where
    Z::Offset: fmt::Display,
{
    instant.with_timezone(zone).to_rfc3339_opts(format, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_is_shown_as_sent_and_zones_with_their_offset() {
        let sent = "2024-05-01T12:00:00.123Z";
        assert_eq!(Zone::Utc.short(sent), "2024-05-01T12:00:00Z");
        assert_eq!(Zone::Utc.full(sent), sent);
        let tokyo = Zone::named("Asia/Tokyo").unwrap();
        assert_eq!(tokyo.short(sent), "2024-05-01T21:00:00+09:00");
        assert_eq!(tokyo.full(sent), "2024-05-01T21:00:00.123+09:00");
        assert_eq!(tokyo.label(), "Asia/Tokyo");
        assert_eq!(tokyo.short(sent).len(), tokyo.short_width());
    }

    #[test]
    fn daylight_saving_time_is_applied() {
        let berlin = Zone::named("Europe/Berlin").unwrap();
        assert_eq!(
            berlin.short("2024-01-15T12:00:00Z"),
            "2024-01-15T13:00:00+01:00"
        );
        assert_eq!(
            berlin.short("2024-07-15T12:00:00Z"),
            "2024-07-15T14:00:00+02:00"
        );
    }

    #[test]
    fn text_that_is_no_time_is_kept() {
        let tokyo = Zone::named("Asia/Tokyo").unwrap();
        assert_eq!(tokyo.short("yesterday"), "yesterday");
        assert_eq!(tokyo.full(""), "");
    }

    #[test]
    fn unknown_zones_are_refused_with_a_hint() {
        for bad in ["Mars/Olympus", "", "+09:00", "Europe/", "europe/berlin"] {
            let error = Zone::named(bad).unwrap_err();
            assert!(error.contains("IANA"), "{bad}: {error}");
        }
    }
}
