//! The windows both baselines page, planned once (untimed) and shared
//! through a plan file, so the transfer floor and the plain sequential
//! client send the very same requests.
//!
//! A plan file holds one window a line: `START END ENTRIES`, the bounds as
//! RFC 3339 instants (`[START, END)`), `ENTRIES` the entries it holds.

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};

/// Entries asked for per request (`limit`), the API's largest page.
pub const PAGE: u64 = 1000;

/// The most entries a window may hold: the server's result window
/// (`offset + limit` may not exceed it).
pub const RESULT_WINDOW: u64 = 10_000;

/// The longest range the API accepts between `dateStart` and `dateEnd`.
pub fn max_range() -> TimeDelta {
    TimeDelta::days(90)
}

/// `[start, end)` and how many entries it holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// Inclusive start.
    pub start: DateTime<Utc>,
    /// Exclusive end.
    pub end: DateTime<Utc>,
    /// Entries in the window.
    pub entries: u64,
}

impl Window {
    /// Requests of [`PAGE`] entries that page through the window.
    pub fn requests(&self) -> u64 {
        self.entries.div_ceil(PAGE)
    }
}

/// Requests needed to page through every window.
pub fn requests(windows: &[Window]) -> u64 {
    windows.iter().map(Window::requests).sum()
}

/// Entries in all the windows.
pub fn entries(windows: &[Window]) -> u64 {
    windows.iter().map(|w| w.entries).sum()
}

/// Merges consecutive windows while the merged one still fits the result
/// window and the API's longest range; drops the empty ones.
pub fn merge(counted: &[Window]) -> Vec<Window> {
    let mut merged: Vec<Window> = Vec::new();
    for &window in counted {
        match merged.last_mut() {
            Some(last)
                if last.end == window.start
                    && last.entries + window.entries <= RESULT_WINDOW
                    && window.end - last.start <= max_range() =>
            {
                last.end = window.end;
                last.entries += window.entries;
            }
            _ => merged.push(window),
        }
    }
    merged.retain(|w| w.entries > 0);
    merged
}

/// An instant as the query string and the plan file write it.
pub fn instant(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// The plan file's text.
pub fn to_text(windows: &[Window]) -> String {
    windows
        .iter()
        .map(|w| format!("{} {} {}\n", instant(w.start), instant(w.end), w.entries))
        .collect()
}

/// Reads a plan file's text.
pub fn parse(text: &str) -> Result<Vec<Window>, String> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(index, line)| parse_line(line).map_err(|e| format!("plan line {}: {e}", index + 1)))
        .collect()
}

fn parse_line(line: &str) -> Result<Window, String> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let [start, end, entries] = fields[..] else {
        return Err(format!("`{line}` is not `START END ENTRIES`"));
    };
    let time = |text: &str| {
        text.parse::<DateTime<Utc>>()
            .map_err(|e| format!("`{text}`: {e}"))
    };
    let window = Window {
        start: time(start)?,
        end: time(end)?,
        entries: entries
            .parse()
            .map_err(|_| format!("`{entries}` is not a count"))?,
    };
    if window.start >= window.end || window.entries > RESULT_WINDOW {
        return Err(format!(
            "`{line}` is empty or holds more than {RESULT_WINDOW}"
        ));
    }
    Ok(window)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(start: &str, end: &str, entries: u64) -> Window {
        Window {
            start: start.parse().unwrap(),
            end: end.parse().unwrap(),
            entries,
        }
    }

    #[test]
    fn merging_keeps_windows_within_the_result_window_and_90_days() {
        let counted = [
            window("2020-01-01T00:00:00Z", "2020-03-31T00:00:00Z", 0),
            window("2020-03-31T00:00:00Z", "2020-04-01T00:00:00Z", 6_000),
            window("2020-04-01T00:00:00Z", "2020-04-02T00:00:00Z", 4_000),
            window("2020-04-02T00:00:00Z", "2020-04-03T00:00:00Z", 1),
            window("2020-04-03T00:00:00Z", "2020-05-01T00:00:00Z", 0),
            window("2020-05-01T00:00:00Z", "2020-05-02T00:00:00Z", 5),
            window("2020-05-02T00:00:00Z", "2020-07-05T00:00:00Z", 0),
            window("2020-07-05T00:00:00Z", "2020-07-06T00:00:00Z", 3),
        ];
        assert_eq!(
            merge(&counted),
            [
                window("2020-03-31T00:00:00Z", "2020-04-02T00:00:00Z", 10_000),
                window("2020-04-02T00:00:00Z", "2020-05-02T00:00:00Z", 6),
                window("2020-05-02T00:00:00Z", "2020-07-06T00:00:00Z", 3),
            ]
        );
    }

    #[test]
    fn the_plan_file_round_trips_and_counts_requests() {
        let windows = [
            window("2021-01-01T00:00:00Z", "2021-01-19T00:00:00Z", 9_001),
            window("2021-01-19T00:00:00Z", "2021-01-19T05:00:00.5Z", 1_000),
        ];
        let text = to_text(&windows);
        assert_eq!(
            text.lines().next(),
            Some("2021-01-01T00:00:00Z 2021-01-19T00:00:00Z 9001")
        );
        assert_eq!(parse(&text).unwrap(), windows);
        assert_eq!((requests(&windows), entries(&windows)), (11, 10_001));
    }

    #[test]
    fn bad_plan_lines_are_errors() {
        for bad in [
            "2021-01-01T00:00:00Z 2021-01-02T00:00:00Z",
            "2021-01-01 2021-01-02 5",
            "2021-01-02T00:00:00Z 2021-01-01T00:00:00Z 5",
            "2021-01-01T00:00:00Z 2021-01-02T00:00:00Z 10001",
            "2021-01-01T00:00:00Z 2021-01-02T00:00:00Z many",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
