//! `WHEN`: the moments `--since` and `--until` take.
//!
//! A calendar date (`2024-05-01`, midnight UTC), an RFC 3339 instant
//! (`2024-05-01T12:00:00Z`, any offset), a duration back from now (`7d`,
//! `12h`, `30m`, `2w`, `1h30m`), or `now`.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use activitylog_client::DateBound;
use chrono::{DateTime, Datelike, TimeDelta, Utc};

/// What `WHEN` arguments accept, for help texts and error messages.
pub const WHEN_FORMS: &str = "a date (2024-05-01), an RFC 3339 instant (2024-05-01T12:00:00Z) \
     or a duration back from now (7d, 12h, 30m, 2w)";

/// One `WHEN` argument, kept as written (a checkpoint compares the text) and
/// parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct When {
    text: String,
    kind: Kind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// A fixed date or instant.
    Fixed(DateBound),
    /// This long before now.
    Ago(Duration),
    /// The moment the command started.
    Now,
}

impl When {
    /// The argument as the user wrote it.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether this is a date or an instant, the same whenever it is read
    /// (not a duration before now, nor `now`).
    pub fn is_fixed(&self) -> bool {
        matches!(self.kind, Kind::Fixed(_))
    }

    /// The bound this argument stands for, relative durations counted back
    /// from `now` (one `now` per command, so `--since` and `--until` agree).
    /// A duration may reach back to the year 0000, the first the API's dates
    /// can write.
    pub fn resolve(&self, now: DateTime<Utc>) -> Result<DateBound, String> {
        match self.kind {
            Kind::Fixed(bound) => Ok(bound),
            Kind::Now => Ok(DateBound::Instant(now)),
            Kind::Ago(duration) => TimeDelta::from_std(duration)
                .ok()
                .and_then(|delta| now.checked_sub_signed(delta))
                .filter(|instant| instant.year() >= 0)
                .map(DateBound::Instant)
                .ok_or_else(|| {
                    format!(
                        "`{}` reaches back too far: the earliest moment is 0000-01-01",
                        self.text
                    )
                }),
        }
    }
}

impl FromStr for When {
    type Err = String;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let text = input.trim();
        let kind = if text.eq_ignore_ascii_case("now") {
            Kind::Now
        } else if looks_like_a_date(text) {
            Kind::Fixed(text.parse::<DateBound>().map_err(|_| {
                format!("`{text}` is not a valid date or instant: use {WHEN_FORMS}")
            })?)
        } else {
            let duration = humantime::parse_duration(text)
                .map_err(|_| format!("`{text}` is not a moment: use {WHEN_FORMS}"))?;
            if duration.is_zero() {
                Kind::Now
            } else {
                Kind::Ago(duration)
            }
        };
        Ok(When {
            text: text.to_string(),
            kind,
        })
    }
}

impl fmt::Display for When {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Dates and instants start with four digits and a dash; durations never do.
fn looks_like_a_date(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() >= 5 && bytes[..4].iter().all(u8::is_ascii_digit) && bytes[4] == b'-'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2024-05-10T12:00:00Z".parse().unwrap()
    }

    fn resolve(text: &str) -> String {
        text.parse::<When>()
            .unwrap()
            .resolve(now())
            .unwrap()
            .to_string()
    }

    #[test]
    fn dates_and_instants_are_fixed() {
        assert_eq!(resolve("2024-05-01"), "2024-05-01");
        assert_eq!(resolve("2024-05-01T12:00:00Z"), "2024-05-01T12:00:00Z");
        assert_eq!(resolve("2024-05-01T14:00:00+02:00"), "2024-05-01T12:00:00Z");
        assert_eq!(
            resolve("2024-05-01T12:00:00.250Z"),
            "2024-05-01T12:00:00.250Z"
        );
    }

    #[test]
    fn durations_count_back_from_now() {
        assert_eq!(resolve("7d"), "2024-05-03T12:00:00Z");
        assert_eq!(resolve("12h"), "2024-05-10T00:00:00Z");
        assert_eq!(resolve("30m"), "2024-05-10T11:30:00Z");
        assert_eq!(resolve("2w"), "2024-04-26T12:00:00Z");
        assert_eq!(resolve("1h 30m"), "2024-05-10T10:30:00Z");
        assert_eq!(resolve(" 1d "), "2024-05-09T12:00:00Z");
    }

    #[test]
    fn now_is_now() {
        assert_eq!(resolve("now"), "2024-05-10T12:00:00Z");
        assert_eq!(resolve("NOW"), "2024-05-10T12:00:00Z");
    }

    #[test]
    fn the_text_is_kept_for_checkpoints() {
        assert_eq!("30d".parse::<When>().unwrap().text(), "30d");
    }

    #[test]
    fn garbage_is_refused_with_the_accepted_forms() {
        for bad in [
            "",
            "yesterday",
            "7 parsecs",
            "2024-13-01",
            "2024-05-01T12:00:00",
            "-7d",
            "d7",
        ] {
            let error = bad.parse::<When>().unwrap_err();
            assert!(
                error.contains("2024-05-01") && error.contains("7d"),
                "{bad}: {error}"
            );
        }
    }

    #[test]
    fn too_far_back_is_an_error_not_a_panic() {
        let when: When = "100000000000d".parse().unwrap();
        assert!(when.resolve(now()).is_err());
    }

    /// Found by `fuzz/fuzz_targets/when.rs`: durations that reach before the
    /// year 0000 resolved to instants such as `-0714-06-13T12:00:00Z`, which
    /// no RFC 3339 parser (the API's included) reads; near chrono's first day
    /// the 90-day default start would then overflow.
    #[test]
    fn reaching_before_the_year_0000_is_refused() {
        for far in [
            "900000d",
            "1000000d",
            "3000y",
            "262143y",
            "100000years0020262years09d",
            "1922337220ns85477580h30m",
        ] {
            let when: When = far.parse().unwrap();
            let error = when.resolve(now()).unwrap_err();
            assert!(error.contains("reaches back too far"), "{far}: {error}");
        }
        // 2024-05-10T12:00:00Z back to the first second of the year 0000.
        let days = chrono::NaiveDate::from_ymd_opt(2024, 5, 10)
            .unwrap()
            .signed_duration_since(chrono::NaiveDate::from_ymd_opt(0, 1, 1).unwrap())
            .num_days();
        assert_eq!(resolve(&format!("{days}d 12h")), "0000-01-01T00:00:00Z");
        assert!(
            format!("{days}d 12h 1s")
                .parse::<When>()
                .unwrap()
                .resolve(now())
                .is_err()
        );
    }
}
