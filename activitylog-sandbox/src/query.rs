//! Parsing and validation of the `getByContract` query parameters.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

use crate::config::DEFAULT_LIMIT;

/// A rejected request parameter; answered with 400 and the IONOS error shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ParamError {
    /// IONOS-style error code.
    pub error_code: &'static str,
    /// Human-readable explanation.
    pub message: String,
}

/// Error code for an unparseable or out-of-range parameter.
pub const ERR_INVALID_PARAMETER: &str = "100";
/// Error code for `dateStart >= dateEnd` or a date range longer than allowed.
pub const ERR_INVALID_RANGE: &str = "101";
/// Error code for `offset + limit` beyond the result window.
pub const ERR_RESULT_WINDOW: &str = "102";

fn invalid(message: String) -> ParamError {
    ParamError {
        error_code: ERR_INVALID_PARAMETER,
        message,
    }
}

/// Server-side limits applied to every page request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    pub max_limit: Option<usize>,
    pub result_window: Option<usize>,
    /// Refuse past the result window without saying where it is.
    pub result_window_unstated: bool,
    pub max_range: Option<TimeDelta>,
}

/// A validated page request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PageQuery {
    /// Inclusive lower bound.
    pub start: Option<DateTime<Utc>>,
    /// Exclusive upper bound.
    pub end: Option<DateTime<Utc>>,
    /// Hits to skip.
    pub offset: usize,
    /// Hits to return, after capping at `max_limit`.
    pub limit: usize,
}

impl PageQuery {
    /// Parses and validates a raw query string (without the leading `?`).
    pub(crate) fn parse(raw: Option<&str>, limits: Limits) -> Result<Self, ParamError> {
        let params = query_pairs(raw.unwrap_or(""))?;
        let get = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
                .filter(|v| !v.is_empty())
        };
        let start = get("dateStart")
            .map(|v| parse_date("dateStart", v))
            .transpose()?;
        let end = get("dateEnd")
            .map(|v| parse_date("dateEnd", v))
            .transpose()?;
        let offset = get("offset")
            .map(|v| parse_count("offset", v))
            .transpose()?
            .unwrap_or(0);
        let requested = get("limit")
            .map(|v| parse_count("limit", v))
            .transpose()?
            .unwrap_or(DEFAULT_LIMIT);
        let limit = limits.max_limit.map_or(requested, |m| requested.min(m));

        if let (Some(s), Some(e)) = (start, end) {
            if s >= e {
                return Err(ParamError {
                    error_code: ERR_INVALID_RANGE,
                    message: format!(
                        "dateStart ({}) must be before dateEnd ({})",
                        s.to_rfc3339(),
                        e.to_rfc3339()
                    ),
                });
            }
            if let Some(max) = limits.max_range
                && e - s > max
            {
                return Err(ParamError {
                    error_code: ERR_INVALID_RANGE,
                    message: format!(
                        "The date range is too long: dateEnd - dateStart must not exceed {} days ({} seconds)",
                        max.num_days(),
                        max.num_seconds()
                    ),
                });
            }
        }
        if let Some(window) = limits.result_window {
            let requested_window = offset.saturating_add(limit);
            if requested_window > window && limits.result_window_unstated {
                return Err(ParamError {
                    error_code: ERR_RESULT_WINDOW,
                    message: "Result window is too large: from + size is deeper than the index's \
                              max_result_window. See the scroll api for a more efficient way \
                              to request large data sets."
                        .to_owned(),
                });
            }
            if requested_window > window {
                return Err(ParamError {
                    error_code: ERR_RESULT_WINDOW,
                    message: format!(
                        "Result window is too large, from + size must be less than or equal to: [{window}] but was [{requested_window}]. \
                         See the scroll api for a more efficient way to request large data sets. \
                         This limit can be set by changing the [index.max_result_window] index level setting."
                    ),
                });
            }
        }
        Ok(Self {
            start,
            end,
            offset,
            limit,
        })
    }
}

/// Splits `a=b&c=d`, percent-decoding names and values (`+` means space).
///
/// A query whose decoded bytes are not UTF-8 is rejected.
pub(crate) fn query_pairs(raw: &str) -> Result<Vec<(String, String)>, ParamError> {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(raw.as_bytes())
        .into_owned()
        .collect();
    // form_urlencoded replaces bytes that are not UTF-8 with U+FFFD. Every U+FFFD that
    // was sent (literally or as `%EF%BF%BD`, which always decodes to one) comes out
    // once, and each invalid sequence adds at least one more.
    let replacements = |text: &str| text.matches('\u{FFFD}').count();
    let sent = replacements(raw) + raw.to_ascii_uppercase().matches("%EF%BF%BD").count();
    let decoded: usize = pairs
        .iter()
        .map(|(k, v)| replacements(k) + replacements(v))
        .sum();
    if decoded > sent {
        return Err(invalid("Query string is not valid UTF-8".to_owned()));
    }
    Ok(pairs)
}

/// Parses a non-negative integer parameter.
fn parse_count(name: &str, value: &str) -> Result<usize, ParamError> {
    let shown: String = value.chars().take(40).collect();
    let digits = value.strip_prefix('+').unwrap_or(value);
    if let Some(rest) = value.strip_prefix('-')
        && !rest.is_empty()
        && rest.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(invalid(format!(
            "Parameter '{name}' must not be negative, got '{shown}'"
        )));
    }
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(format!(
            "Parameter '{name}' must be an integer, got '{shown}'"
        )));
    }
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| usize::try_from(n).ok())
        .filter(|&n| n <= i64::MAX as usize)
        .ok_or_else(|| invalid(format!("Parameter '{name}' is out of range: '{shown}'")))
}

/// Parses `YYYY-MM-DD` (midnight UTC) or an RFC 3339 instant.
///
/// A space where an offset's `+` belongs (an unencoded `+` in the query string)
/// is accepted as `+`.
pub(crate) fn parse_date(name: &str, value: &str) -> Result<DateTime<Utc>, ParamError> {
    let shown: String = value.chars().take(60).collect();
    let error = || {
        invalid(format!(
            "Parameter '{name}' must be a date (YYYY-MM-DD) or an RFC 3339 date-time, got '{shown}'"
        ))
    };
    let b = value.as_bytes();
    if b.len() == 10 {
        let digits_at = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
        if digits_at(0..4) && b[4] == b'-' && digits_at(5..7) && b[7] == b'-' && digits_at(8..10) {
            return NaiveDate::parse_from_str(value, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|d| d.and_utc())
                .ok_or_else(error);
        }
        return Err(error());
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Ok(t.with_timezone(&Utc));
    }
    if value.contains(' ') {
        let repaired = value.replace(' ', "+");
        if let Ok(t) = DateTime::parse_from_rfc3339(&repaired) {
            return Ok(t.with_timezone(&Utc));
        }
    }
    Err(error())
}

/// Milliseconds since the epoch, rounded up: the first whole millisecond at or after `t`.
pub(crate) fn ceil_millis(t: DateTime<Utc>) -> i64 {
    let floor = t.timestamp_millis();
    if t.timestamp_subsec_nanos().is_multiple_of(1_000_000) {
        floor
    } else {
        floor.saturating_add(1)
    }
}

/// A date bound in milliseconds since the epoch, as the service filters with it:
/// rounded up to the millisecond, or truncated to the whole second when the service
/// honours only second precision.
pub(crate) fn bound_millis(t: DateTime<Utc>, whole_seconds: bool) -> i64 {
    if whole_seconds {
        // `timestamp()` is the floor: chrono keeps the sub-second part non-negative.
        t.timestamp().saturating_mul(1_000)
    } else {
        ceil_millis(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        max_limit: Some(1_000),
        result_window: Some(10_000),
        result_window_unstated: false,
        max_range: Some(TimeDelta::days(90)),
    };

    fn q(raw: &str) -> Result<PageQuery, ParamError> {
        PageQuery::parse(Some(raw), LIMITS)
    }

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn dates_in_both_forms() {
        assert_eq!(
            parse_date("d", "2021-09-23").unwrap(),
            utc("2021-09-23T00:00:00Z")
        );
        assert_eq!(
            parse_date("d", "2021-09-23T11:43:51Z").unwrap(),
            utc("2021-09-23T11:43:51Z")
        );
        assert_eq!(
            parse_date("d", "2021-09-23T13:43:51.250+02:00").unwrap(),
            utc("2021-09-23T11:43:51.250Z")
        );
        assert_eq!(
            parse_date("d", "2021-09-23T13:43:51 02:00").unwrap(),
            utc("2021-09-23T11:43:51Z")
        );
        for bad in [
            "2021-9-23",
            "2021-02-30",
            "yesterday",
            "2021-09-23T11:43:51",
            "",
            "２０２１-09-23",
            "99999-01-01T00:00:00Z",
        ] {
            assert!(parse_date("d", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn defaults_and_cap() {
        let p = q("").unwrap();
        assert_eq!((p.offset, p.limit, p.start, p.end), (0, 20, None, None));
        let p = q("limit=5000&offset=3").unwrap();
        assert_eq!((p.offset, p.limit), (3, 1_000));
        let p = q("limit=0").unwrap();
        assert_eq!(p.limit, 0);
        let p = q("offset=&limit=").unwrap();
        assert_eq!((p.offset, p.limit), (0, 20));
        let p = q("dateStart=2021-09-23T11%3A43%3A51%2B02%3A00").unwrap();
        assert_eq!(p.start, Some(utc("2021-09-23T09:43:51Z")));
    }

    #[test]
    fn query_pairs_decode_and_reject_non_utf8() {
        let pairs = |raw| query_pairs(raw).map_err(|e| e.error_code);
        assert_eq!(
            pairs("a=1&&b&c=x+y%20z&d=%E2%82%AC&e=100%&f=%zz&=v&g=h=i"),
            Ok(vec![
                ("a".into(), "1".into()),
                ("b".into(), "".into()),
                ("c".into(), "x y z".into()),
                ("d".into(), "€".into()),
                ("e".into(), "100%".into()),
                ("f".into(), "%zz".into()),
                ("".into(), "v".into()),
                ("g".into(), "h=i".into()),
            ])
        );
        assert_eq!(pairs(""), Ok(vec![]));
        // U+FFFD itself is fine, sent literally or encoded.
        assert_eq!(
            pairs("a=\u{FFFD}&b=%ef%bf%bd%EF%BF%BD"),
            Ok(vec![
                ("a".into(), "\u{FFFD}".into()),
                ("b".into(), "\u{FFFD}\u{FFFD}".into()),
            ])
        );
        for bad in [
            "a=%FF",
            "%C3=1",
            "a=%E2&b=%82%AC",
            "a=%E2%82",
            "a=%F0%9F%EF%BF%BD",
            "a=\u{FFFD}%80",
            "a=%%EF%BF%BD%C0%AF",
        ] {
            assert_eq!(pairs(bad), Err(ERR_INVALID_PARAMETER), "{bad}");
        }
    }

    #[test]
    fn bad_numbers() {
        for raw in [
            "offset=-1",
            "limit=-5",
            "limit=abc",
            "offset=1.5",
            "limit=99999999999999999999999",
            "offset=%FF",
            "limit=1e3",
            "limit=-",
        ] {
            let e = q(raw).unwrap_err();
            assert_eq!(e.error_code, ERR_INVALID_PARAMETER, "{raw}");
        }
        assert!(q("offset=-1").unwrap_err().message.contains("negative"));
    }

    #[test]
    fn date_order_and_range() {
        let e = q("dateStart=2021-09-23&dateEnd=2021-09-23").unwrap_err();
        assert_eq!(e.error_code, ERR_INVALID_RANGE);
        assert!(q("dateStart=2021-09-24&dateEnd=2021-09-23").is_err());
        assert!(q("dateStart=2021-01-01&dateEnd=2021-04-01").is_ok());
        let e = q("dateStart=2021-01-01&dateEnd=2021-04-02").unwrap_err();
        assert!(e.message.contains("too long"), "{}", e.message);
        let no_range = Limits {
            max_range: None,
            ..LIMITS
        };
        assert!(
            PageQuery::parse(Some("dateStart=2000-01-01&dateEnd=2021-04-02"), no_range).is_ok()
        );
        assert!(q("dateStart=2000-01-01").is_ok());
    }

    #[test]
    fn result_window_uses_capped_limit() {
        assert!(q("offset=9000&limit=1000").is_ok());
        let e = q("offset=9001&limit=1000").unwrap_err();
        assert_eq!(e.error_code, ERR_RESULT_WINDOW);
        assert!(e.message.contains("Result window is too large"));
        assert!(
            e.message
                .contains("less than or equal to: [10000] but was [10001]"),
            "{}",
            e.message
        );
        let unstated = Limits {
            result_window_unstated: true,
            ..LIMITS
        };
        let e = PageQuery::parse(Some("offset=9001&limit=1000"), unstated).unwrap_err();
        assert_eq!(e.error_code, ERR_RESULT_WINDOW);
        assert!(e.message.starts_with("Result window is too large"));
        assert!(!e.message.contains(char::is_numeric), "{}", e.message);
        assert!(q("offset=9000&limit=5000").is_ok());
        assert!(q("offset=10000&limit=0").is_ok());
        assert!(q("offset=9223372036854775807&limit=9223372036854775807").is_err());
        let open = Limits {
            result_window: None,
            ..LIMITS
        };
        assert!(PageQuery::parse(Some("offset=50000"), open).is_ok());
    }

    #[test]
    fn ceil_millis_rounds_up_partial_millis() {
        assert_eq!(ceil_millis(utc("1970-01-01T00:00:00.001Z")), 1);
        assert_eq!(ceil_millis(utc("1970-01-01T00:00:00.0011Z")), 2);
        assert_eq!(ceil_millis(utc("1969-12-31T23:59:59.9995Z")), 0);
    }

    #[test]
    fn whole_second_bounds_truncate() {
        let t = utc("2024-05-01T10:00:00.900Z");
        assert_eq!(bound_millis(t, false), t.timestamp_millis());
        assert_eq!(
            bound_millis(t, true),
            utc("2024-05-01T10:00:00Z").timestamp_millis()
        );
        assert_eq!(
            bound_millis(utc("2024-05-01T10:00:00.0001Z"), false),
            t.timestamp_millis() - 899
        );
        assert_eq!(bound_millis(utc("1969-12-31T23:59:59.5Z"), true), -1_000);
    }
}
