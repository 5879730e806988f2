//! Date bounds of a query: a calendar date or an instant, as the API takes them.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Datelike, NaiveDate, SecondsFormat, SubsecRound, TimeDelta, Utc};

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

    /// Parses `YYYY-MM-DD` or an RFC 3339 instant (any offset; kept in UTC),
    /// in the years 0000 to 9999 (all that RFC 3339, and so the API, can write).
    fn from_str(input: &str) -> Result<Self> {
        let input = input.trim();
        let bound = if let Ok(date) = NaiveDate::parse_from_str(input, "%Y-%m-%d") {
            DateBound::Date(date)
        } else {
            DateTime::parse_from_rfc3339(input)
                .map(|instant| DateBound::Instant(instant.with_timezone(&Utc)))
                .map_err(|_| {
                    Error::InvalidRange(format!(
                        "`{input}` is not a date: use YYYY-MM-DD (2016-07-01) or an RFC 3339 \
                         instant with a zone (2021-09-23T11:43:51Z)"
                    ))
                })?
        };
        // chrono also reads signed years (`+10000-01-01`), and an offset can
        // move an instant out of year 0000 or 9999; neither can be sent.
        if !(0..=9999).contains(&bound.instant().year()) {
            return Err(Error::InvalidRange(format!(
                "`{input}` is outside the years 0000 to 9999 the API takes \
                 (YYYY-MM-DD or an RFC 3339 instant, in UTC)"
            )));
        }
        Ok(bound)
    }
}

impl fmt::Display for DateBound {
    /// The form the API takes: `YYYY-MM-DD`, or `YYYY-MM-DDTHH:MM:SSZ` with
    /// a fraction only when the instant has one (3, 6 or 9 digits, exact).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DateBound::Date(date) => write!(f, "{}", date.format("%Y-%m-%d")),
            DateBound::Instant(instant) => f.write_str(&render_instant(*instant)),
        }
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ`, with as many fraction digits as the instant needs:
/// none, milliseconds, microseconds or nanoseconds (exact, so that a bound
/// means on the wire what it means here).
pub(crate) fn render_instant(instant: DateTime<Utc>) -> String {
    // Leap seconds keep their extra second in the fraction (`..:60`), hence `%`.
    let nanos = instant.timestamp_subsec_nanos() % 1_000_000_000;
    let format = if nanos == 0 {
        SecondsFormat::Secs
    } else if nanos.is_multiple_of(1_000_000) {
        SecondsFormat::Millis
    } else if nanos.is_multiple_of(1_000) {
        SecondsFormat::Micros
    } else {
        SecondsFormat::Nanos
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

/// The one rule that closes the open ends of a range: an open end is
/// `now − settle` (whole seconds), an open start `lookback` before the end.
///
/// `now` should be the service's time ([`ActivityLog::now`](crate::ActivityLog::now)):
/// an end the service has not reached yet would claim entries it has not
/// finished writing. Every range of the SDK, the CLI and the archive is
/// resolved here.
///
/// ```
/// use std::time::Duration;
/// use activitylog_client::{DateBound, RangeError, RangeRule};
/// let rule = RangeRule::new(Duration::from_secs(120));
/// let now = "2024-05-01T12:00:00.700Z".parse().unwrap();
///
/// // Both ends open: the 90 days up to two minutes ago.
/// let range = rule.resolve(None, None, now).unwrap();
/// assert_eq!(range.until().to_rfc3339(), "2024-05-01T11:58:00+00:00");
/// assert_eq!(range.since().to_rfc3339(), "2024-02-01T11:58:00+00:00");
///
/// // A start younger than the settle time is not final yet.
/// let young: DateBound = "2024-05-01T11:59:00Z".parse().unwrap();
/// assert!(matches!(
///     rule.resolve(Some(young), None, now),
///     Err(RangeError::NotSettled { .. })
/// ));
///
/// // An end given is honoured as given; a start after it is refused.
/// let until: DateBound = "2024-01-01".parse().unwrap();
/// let since: DateBound = "2024-02-01".parse().unwrap();
/// assert!(matches!(
///     rule.resolve(Some(since), Some(until), now),
///     Err(RangeError::Reversed { .. })
/// ));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RangeRule {
    settle: Duration,
    lookback: Duration,
}

impl RangeRule {
    /// The rule for a settle time, reaching back [`DEFAULT_LOOKBACK`](crate::DEFAULT_LOOKBACK)
    /// when no start is given.
    pub fn new(settle: Duration) -> Self {
        RangeRule {
            settle,
            lookback: crate::DEFAULT_LOOKBACK,
        }
    }

    /// How far before the end an open start lies.
    pub fn lookback(mut self, lookback: Duration) -> Self {
        self.lookback = lookback;
        self
    }

    /// The settle time.
    pub fn settle(&self) -> Duration {
        self.settle
    }

    /// `now − settle`, whole seconds: the end of the stretch that is final at `now`.
    pub fn open_end(&self, now: DateTime<Utc>) -> Result<DateTime<Utc>, RangeError> {
        TimeDelta::from_std(self.settle)
            .ok()
            .and_then(|settle| now.trunc_subsecs(0).checked_sub_signed(settle))
            .filter(|end| end.year() >= 0)
            .ok_or(RangeError::SettleTooFar {
                settle: self.settle,
            })
    }

    /// The range `[since, until)` with open ends closed at `now`.
    pub fn resolve(
        &self,
        since: Option<DateBound>,
        until: Option<DateBound>,
        now: DateTime<Utc>,
    ) -> Result<DateRange, RangeError> {
        let end = match until {
            Some(until) => until,
            None => DateBound::Instant(self.open_end(now)?),
        };
        let start = since.unwrap_or_else(|| {
            // Never before 0000-01-01, the first instant the API can be sent.
            let first = NaiveDate::from_ymd_opt(0, 1, 1)
                .and_then(|day| day.and_hms_opt(0, 0, 0))
                .map_or(DateTime::<Utc>::MIN_UTC, |midnight| midnight.and_utc());
            let start = TimeDelta::from_std(self.lookback)
                .ok()
                .and_then(|lookback| end.instant().checked_sub_signed(lookback))
                .map_or(first, |start| start.max(first));
            DateBound::Instant(start)
        });
        if start.instant() >= end.instant() {
            return Err(match until {
                Some(until) => RangeError::Reversed {
                    since: start,
                    until,
                },
                None => RangeError::NotSettled {
                    since: start,
                    end: end.instant(),
                    settle: self.settle,
                },
            });
        }
        DateRange::new(start, end).map_err(|_| RangeError::Reversed {
            since: start,
            until: end,
        })
    }
}

/// A range [`RangeRule::resolve`] cannot make.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RangeError {
    /// The start is not before the end given.
    #[error("the start {since} is not before the end {until}: swap them, or move the start back")]
    Reversed {
        /// The start.
        since: DateBound,
        /// The end given.
        until: DateBound,
    },
    /// No end was given, and the start is not before `now − settle`:
    /// entries that young may not be visible yet.
    #[error(
        "the start {since} is less than the settle time ({settle:?}) before now, and entries \
         that young may not be visible yet: use an earlier start, a shorter settle time, or an end"
    )]
    NotSettled {
        /// The start.
        since: DateBound,
        /// The open end, `now − settle`.
        end: DateTime<Utc>,
        /// The settle time.
        settle: Duration,
    },
    /// `now − settle` lies before 0000-01-01.
    #[error("the settle time ({settle:?}) reaches back too far: the earliest moment is 0000-01-01")]
    SettleTooFar {
        /// The settle time.
        settle: Duration,
    },
}

impl From<RangeError> for Error {
    fn from(error: RangeError) -> Self {
        Error::InvalidRange(error.to_string())
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

    /// Found by `fuzz/fuzz_targets/date_bound.rs`: sub-millisecond fractions
    /// were cut to milliseconds when rendered, so the bound sent was earlier
    /// than the bound asked for.
    #[test]
    fn renders_every_fraction_exactly() {
        for (text, rendered) in [
            (
                "1970-01-01T00:00:00.123456789Z",
                "1970-01-01T00:00:00.123456789Z",
            ),
            ("2024-01-01T00:00:00.0001Z", "2024-01-01T00:00:00.000100Z"),
            ("2024-01-01T00:00:00.5Z", "2024-01-01T00:00:00.500Z"),
            (
                "2024-01-01T00:00:00.000000001Z",
                "2024-01-01T00:00:00.000000001Z",
            ),
            ("2016-12-31T23:59:60Z", "2016-12-31T23:59:60Z"),
            ("2016-12-31T23:59:60.5Z", "2016-12-31T23:59:60.500Z"),
        ] {
            let bound: DateBound = text.parse().unwrap();
            assert_eq!(bound.to_string(), rendered, "{text}");
            let again: DateBound = rendered.parse().unwrap();
            assert_eq!(again.instant(), bound.instant(), "{text}");
        }
    }

    /// Seen while writing `fuzz/fuzz_targets/date_bound.rs`: signed years
    /// and offsets past the ends of 0000..=9999 parsed, then rendered to text
    /// that no RFC 3339 parser (ours or the API's) reads; `-262143-01-01`
    /// also made a download's default start (90 days earlier) overflow and
    /// panic.
    #[test]
    fn refuses_years_rfc_3339_cannot_write() {
        for bad in [
            "+10000-01-01",
            "-0001-12-31",
            "-262143-01-01",
            "+262142-12-31",
            "0000-01-01T00:00:00+00:01",
            "9999-12-31T23:59:59-00:01",
        ] {
            let error = bad.parse::<DateBound>().unwrap_err().to_string();
            assert!(error.contains("0000 to 9999"), "{bad}: {error}");
        }
        for good in [
            "0000-01-01",
            "9999-12-31",
            "0000-01-01T00:00:00Z",
            "9999-12-31T23:59:59.999999999Z",
        ] {
            let bound: DateBound = good.parse().unwrap();
            assert_eq!(bound.to_string(), good);
        }
    }
}
