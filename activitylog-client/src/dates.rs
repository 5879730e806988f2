//! Date bounds of a query: a calendar date or an instant, as the API takes them.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};

use crate::error::{Error, Result};

/// One end of a date range: `2016-07-01` (midnight UTC) or an instant
/// (`2021-09-23T11:43:51Z`).
///
/// ```
/// use activitylog_client::DateBound;
/// let day: DateBound = "2016-07-01".parse().unwrap();
/// let instant: DateBound = "2021-09-23T13:43:51+02:00".parse().unwrap();
/// assert_eq!(day.to_string(), "2016-07-01");
/// assert_eq!(instant.to_string(), "2021-09-23T11:43:51Z");
/// assert!(day.instant() < instant.instant());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DateBound {
    /// A calendar day, meaning its midnight in UTC.
    Date(NaiveDate),
    /// An exact instant.
    Instant(DateTime<Utc>),
}

impl DateBound {
    /// The instant this bound stands for (a date is its midnight UTC).
    pub fn instant(&self) -> DateTime<Utc> {
        match self {
            DateBound::Date(date) => date.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc(),
            DateBound::Instant(instant) => *instant,
        }
    }
}

impl From<DateTime<Utc>> for DateBound {
    fn from(instant: DateTime<Utc>) -> Self {
        DateBound::Instant(instant)
    }
}

impl From<NaiveDate> for DateBound {
    fn from(date: NaiveDate) -> Self {
        DateBound::Date(date)
    }
}

impl FromStr for DateBound {
    type Err = Error;

    /// Parses `YYYY-MM-DD` or an RFC 3339 instant (any offset; kept in UTC).
    fn from_str(input: &str) -> Result<Self> {
        let input = input.trim();
        if let Ok(date) = NaiveDate::parse_from_str(input, "%Y-%m-%d") {
            return Ok(DateBound::Date(date));
        }
        DateTime::parse_from_rfc3339(input)
            .map(|instant| DateBound::Instant(instant.with_timezone(&Utc)))
            .map_err(|_| {
                Error::InvalidRange(format!(
                    "`{input}` is not a date: use YYYY-MM-DD (2016-07-01) or an RFC 3339 \
                     instant with a zone (2021-09-23T11:43:51Z)"
                ))
            })
    }
}

impl fmt::Display for DateBound {
    /// The form the API takes: `YYYY-MM-DD`, or `YYYY-MM-DDTHH:MM:SSZ` with
    /// milliseconds only when the instant has a fraction of a second.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DateBound::Date(date) => write!(f, "{}", date.format("%Y-%m-%d")),
            DateBound::Instant(instant) => f.write_str(&render_instant(*instant)),
        }
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ`, with milliseconds when the instant has them.
pub(crate) fn render_instant(instant: DateTime<Utc>) -> String {
    let format = if instant.timestamp_subsec_nanos() == 0 {
        SecondsFormat::Secs
    } else {
        SecondsFormat::Millis
    };
    instant.to_rfc3339_opts(format, true)
}

/// A checked half-open range `[since, until)`; `since` must come first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DateRange {
    since: DateTime<Utc>,
    until: DateTime<Utc>,
}

impl DateRange {
    /// Checks that `since` is before `until`.
    ///
    /// ```
    /// use activitylog_client::{DateBound, DateRange};
    /// let since: DateBound = "2024-02-01".parse().unwrap();
    /// let until: DateBound = "2024-01-01".parse().unwrap();
    /// assert!(DateRange::new(since, until).is_err());
    /// ```
    pub fn new(since: impl Into<DateBound>, until: impl Into<DateBound>) -> Result<Self> {
        let (since, until) = (since.into(), until.into());
        if since.instant() >= until.instant() {
            return Err(Error::InvalidRange(format!(
                "the start {since} is not before the end {until}: swap them, or move the start back"
            )));
        }
        Ok(DateRange {
            since: since.instant(),
            until: until.instant(),
        })
    }

    /// Start, inclusive.
    pub fn since(&self) -> DateTime<Utc> {
        self.since
    }

    /// End, exclusive.
    pub fn until(&self) -> DateTime<Utc> {
        self.until
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_documented_forms() {
        let date: DateBound = "2016-07-01".parse().unwrap();
        assert_eq!(date.to_string(), "2016-07-01");
        let instant: DateBound = "2021-09-23T11:43:51Z".parse().unwrap();
        assert_eq!(instant.to_string(), "2021-09-23T11:43:51Z");
    }

    #[test]
    fn keeps_milliseconds_when_present() {
        let instant: DateBound = "2016-09-23T12:02:52.394Z".parse().unwrap();
        assert_eq!(instant.to_string(), "2016-09-23T12:02:52.394Z");
    }

    #[test]
    fn rejects_garbage_with_a_hint() {
        for bad in ["2021-13-01", "yesterday", "2021-09-23T11:43:51", ""] {
            let error = bad.parse::<DateBound>().unwrap_err().to_string();
            assert!(error.contains("YYYY-MM-DD"), "{bad}: {error}");
        }
    }

    #[test]
    fn reversed_and_empty_ranges_are_refused() {
        let a: DateBound = "2024-01-01".parse().unwrap();
        let b: DateBound = "2024-01-02".parse().unwrap();
        assert!(DateRange::new(a, b).is_ok());
        assert!(
            DateRange::new(b, a)
                .unwrap_err()
                .to_string()
                .contains("not before")
        );
        assert!(DateRange::new(a, a).is_err());
    }

    #[test]
    fn a_date_is_its_midnight_utc() {
        let date: DateBound = "2024-01-02".parse().unwrap();
        let instant: DateBound = "2024-01-02T00:00:00Z".parse().unwrap();
        assert_eq!(date.instant(), instant.instant());
    }
}
