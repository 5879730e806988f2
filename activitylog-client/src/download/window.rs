//! Time windows: the half-open ranges a download asks the server for.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use crate::dates::render_instant;

/// A half-open time range `[start, end)` of one contract's log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// Inclusive start.
    pub start: DateTime<Utc>,
    /// Exclusive end.
    pub end: DateTime<Utc>,
}

impl Window {
    /// The window's length.
    pub fn span(&self) -> TimeDelta {
        self.end - self.start
    }

    /// Whether `instant` lies in `[start, end)`.
    pub fn contains(&self, instant: DateTime<Utc>) -> bool {
        self.start <= instant && instant < self.end
    }

    /// The smallest window of whole seconds that covers `self`: the start
    /// rounded down, the end rounded up. Services that take only whole
    /// seconds then see exactly the bounds the engine means.
    pub fn whole_seconds(&self) -> Window {
        let floor = |t: DateTime<Utc>| DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t);
        let end = floor(self.end);
        let end = if end < self.end {
            end.checked_add_signed(TimeDelta::seconds(1))
                .unwrap_or(self.end)
        } else {
            end
        };
        Window {
            start: floor(self.start),
            end,
        }
    }

    /// Consecutive windows covering `self`, none longer than `max_span`.
    pub fn cut(&self, max_span: Duration) -> Vec<Window> {
        let step = TimeDelta::from_std(max_span)
            .unwrap_or(TimeDelta::MAX)
            .max(TimeDelta::seconds(1));
        let mut windows = Vec::new();
        let mut start = self.start;
        while start < self.end {
            let end = start
                .checked_add_signed(step)
                .map_or(self.end, |e| e.min(self.end));
            windows.push(Window { start, end });
            start = end;
        }
        windows
    }

    /// Splits into up to `parts` consecutive windows of about equal length,
    /// cut at whole seconds (the finest the API's dates reliably take).
    /// A window of one second or less cannot be split: it comes back alone.
    pub fn split(&self, parts: u32) -> Vec<Window> {
        let length = self.span().num_milliseconds().max(0);
        let parts = i64::from(parts.max(2));
        let mut cuts: Vec<DateTime<Utc>> = (1..parts)
            .filter_map(|i| {
                let offset = TimeDelta::milliseconds(length / parts * i);
                let cut = self.start.checked_add_signed(offset)?;
                DateTime::from_timestamp(cut.timestamp(), 0)
            })
            .filter(|cut| *cut > self.start && *cut < self.end)
            .collect();
        cuts.dedup();
        let mut windows = Vec::with_capacity(cuts.len() + 1);
        let mut start = self.start;
        for cut in cuts {
            windows.push(Window { start, end: cut });
            start = cut;
        }
        windows.push(Window {
            start,
            end: self.end,
        });
        windows
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} to {}",
            render_instant(self.start),
            render_instant(self.end)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn cut_covers_the_range_with_windows_no_longer_than_the_span() {
        let year = Window {
            start: at("2024-01-01T00:00:00Z"),
            end: at("2025-01-01T00:00:00Z"),
        };
        let windows = year.cut(Duration::from_secs(90 * 86_400));
        assert_eq!(windows.len(), 5);
        assert_eq!(windows[0].start, year.start);
        assert_eq!(windows.last().unwrap().end, year.end);
        for pair in windows.windows(2) {
            assert_eq!(pair[0].end, pair[1].start);
        }
        assert!(windows.iter().all(|w| w.span() <= TimeDelta::days(90)));
    }

    #[test]
    fn split_cuts_at_whole_seconds_and_covers_everything() {
        let window = Window {
            start: at("2024-01-01T00:00:00.500Z"),
            end: at("2024-01-01T00:00:10Z"),
        };
        let parts = window.split(4);
        assert_eq!(parts.len(), 4);
        assert_eq!(parts[0].start, window.start);
        assert_eq!(parts[3].end, window.end);
        for pair in parts.windows(2) {
            assert_eq!(pair[0].end, pair[1].start);
            assert_eq!(pair[0].end.timestamp_subsec_nanos(), 0);
        }
    }

    #[test]
    fn whole_seconds_cover_fractional_bounds() {
        let window = Window {
            start: at("2024-01-01T00:00:00.500Z"),
            end: at("2024-01-01T00:00:10.001Z"),
        };
        let whole = window.whole_seconds();
        assert_eq!(whole.start, at("2024-01-01T00:00:00Z"));
        assert_eq!(whole.end, at("2024-01-01T00:00:11Z"));
        assert_eq!(whole.whole_seconds(), whole);
        assert!(window.contains(at("2024-01-01T00:00:00.500Z")));
        assert!(!window.contains(at("2024-01-01T00:00:00.499Z")));
        assert!(!window.contains(at("2024-01-01T00:00:10.001Z")));
    }

    #[test]
    fn a_one_second_window_cannot_be_split() {
        let window = Window {
            start: at("2024-01-01T00:00:00Z"),
            end: at("2024-01-01T00:00:01Z"),
        };
        assert_eq!(window.split(8), vec![window]);
    }
}
