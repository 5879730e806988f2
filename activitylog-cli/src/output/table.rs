//! `table`: aligned columns for people, fitted to the terminal width.
//!
//! Rows are written as events arrive, so the column widths are fixed up
//! front from the width available; long values are cut with `…`. Widths are
//! terminal columns ([`width`]), so CJK text and emoji (two columns each)
//! keep the table aligned.

use std::io::{self, Write};

use activitylog_client::types::Activity;
use chrono::{DateTime, SecondsFormat, Utc};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use super::fields;

/// Width used when the output is not a terminal and `COLUMNS` is not set.
pub const DEFAULT_WIDTH: usize = 120;

/// Columns: header, preferred width, narrowest width.
const TIME: (&str, usize, usize) = ("TIME (UTC)", 20, 20);
const USER: (&str, usize, usize) = ("USER", 24, 8);
const SOURCE_IP: (&str, usize, usize) = ("SOURCE IP", 15, 9);
const TYPE: (&str, usize, usize) = ("TYPE", 19, 8);
const STATUS: (&str, usize, usize) = ("STATUS", 7, 6);
const RESOURCES: (&str, usize, usize) = ("RESOURCES / ACTIONS", 40, 14);
const GAP: &str = "  ";

/// A table layout for one terminal width.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    widths: [usize; 6],
}

impl Table {
    /// Fits the columns into `width` terminal columns: the resources column takes
    /// what is left, and shrinks first, then user, type and source IP.
    pub fn fit(width: usize) -> Self {
        let columns = [TIME, USER, SOURCE_IP, TYPE, STATUS, RESOURCES];
        let mut widths = columns.map(|(_, preferred, _)| preferred);
        let used = |widths: &[usize; 6]| widths.iter().sum::<usize>() + GAP.len() * 5;
        if used(&widths) <= width {
            widths[5] += width - used(&widths);
        }
        for index in [5, 1, 3, 2, 4] {
            let over = used(&widths).saturating_sub(width);
            let room = widths[index] - columns[index].2;
            widths[index] -= over.min(room);
        }
        Table { widths }
    }

    /// The width of the terminal on stdout, else `COLUMNS`, else [`DEFAULT_WIDTH`].
    pub fn terminal_width() -> usize {
        terminal_size::terminal_size_of(std::io::stdout())
            .map(|(w, _)| usize::from(w.0))
            .or_else(|| std::env::var("COLUMNS").ok()?.trim().parse().ok())
            .filter(|w| *w >= 20)
            .unwrap_or(DEFAULT_WIDTH)
    }

    /// Writes the header line.
    pub fn write_header(&self, out: &mut impl Write) -> io::Result<()> {
        let names = [TIME, USER, SOURCE_IP, TYPE, STATUS, RESOURCES].map(|(name, _, _)| name);
        self.write_cells(out, names.map(String::from))
    }

    /// Writes one event's line.
    pub fn write_row(&self, out: &mut impl Write, activity: &Activity) -> io::Result<()> {
        let meta = activity.meta.as_ref();
        let principal = activity.principal.as_ref();
        let event = activity.event.as_ref();
        let cells = [
            meta.and_then(|m| m.time.as_deref())
                .map(short_time)
                .unwrap_or_default(),
            fields::user(activity).unwrap_or_default().to_string(),
            principal
                .and_then(|p| p.source_ip.clone())
                .unwrap_or_default(),
            event.and_then(|e| e.type_.clone()).unwrap_or_default(),
            event
                .and_then(|e| e.status.as_ref())
                .map(ToString::to_string)
                .unwrap_or_default(),
            resources_cell(activity),
        ];
        self.write_cells(out, cells)
    }

    fn write_cells(&self, out: &mut impl Write, cells: [String; 6]) -> io::Result<()> {
        let mut line = String::new();
        for (i, (cell, width)) in cells.iter().zip(self.widths).enumerate() {
            let cell = fit(cell, width);
            line.push_str(&cell);
            if i + 1 < cells.len() {
                pad(&mut line, width.saturating_sub(cell.width()));
                line.push_str(GAP);
            }
        }
        line.truncate(line.trim_end().len()); // no trailing spaces
        line.push('\n');
        out.write_all(line.as_bytes())
    }
}

/// `2024-05-01T12:00:00.123Z` → `2024-05-01T12:00:00Z`; other text as is.
fn short_time(time: &str) -> String {
    DateTime::parse_from_rfc3339(time)
        .map(|t| {
            t.with_timezone(&Utc)
                .to_rfc3339_opts(SecondsFormat::Secs, true)
        })
        .unwrap_or_else(|_| time.to_string())
}

/// `server vr.server.create,vr.nic.create; datacenter vr.datacenter.update`.
fn resources_cell(activity: &Activity) -> String {
    fields::resources(activity)
        .iter()
        .map(|resource| {
            let kind = resource.type_.as_deref().unwrap_or("?");
            match resource.action.as_deref() {
                Some(actions) if !actions.is_empty() => format!("{kind} {}", actions.join(",")),
                _ => kind.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The terminal columns `text` takes (CJK and emoji take two, combining
/// marks none).
pub fn width(text: &str) -> usize {
    text.width()
}

/// Appends `count` spaces.
pub fn pad(line: &mut String, count: usize) {
    line.extend(std::iter::repeat_n(' ', count));
}

/// Cuts `text` to at most `width` terminal columns, marking the cut with
/// `…`, always between characters; control characters become spaces so a
/// row stays one line.
fn fit(text: &str, width: usize) -> String {
    let clean: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if clean.width() <= width {
        return clean;
    }
    let room = width.saturating_sub(1); // for the `…`
    let mut end = 0;
    let mut used = 0;
    for (at, c) in clean.char_indices() {
        used += c.width().unwrap_or(0);
        if used > room {
            break;
        }
        end = at + c.len_utf8();
    }
    let mut cut = clean[..end].to_string();
    // Sequences (emoji with selectors, joined emoji) can measure wider than
    // their characters: shorten until the whole fits, and never end on a joiner.
    while cut.width() > room || cut.ends_with('\u{200d}') {
        cut.pop();
    }
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    fn activity() -> Activity {
        serde_json::from_str(
            r#"{"meta":{"time":"2024-05-01T12:00:00.123Z"},
                "principal":{"sourceIP":"192.0.2.1","identity":{"username":"alice@example.com"}},
                "event":{"type":"RequestAccepted","status":"DONE",
                         "resources":[{"type":"server","action":["vr.server.create","vr.nic.create"]},
                                      {"type":"datacenter","action":["vr.datacenter.update"]}]}}"#,
        )
        .unwrap()
    }

    fn render(width: usize) -> String {
        let table = Table::fit(width);
        let mut out = Vec::new();
        table.write_header(&mut out).unwrap();
        table.write_row(&mut out, &activity()).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn rows_fit_the_width() {
        for width in [80, 100, 120, 200] {
            for line in render(width).lines() {
                assert!(super::width(line) <= width, "{width}: {line}");
            }
        }
    }

    #[test]
    fn a_wide_terminal_shows_everything() {
        let text = render(200);
        assert!(text.starts_with("TIME (UTC)"));
        assert!(text.contains(
            "2024-05-01T12:00:00Z  alice@example.com         192.0.2.1        RequestAccepted      DONE     \
             server vr.server.create,vr.nic.create; datacenter vr.datacenter.update"
        ), "{text}");
    }

    #[test]
    fn a_narrow_terminal_cuts_with_an_ellipsis() {
        let text = render(80);
        assert!(text.contains('…'), "{text}");
        assert!(text.contains("2024-05-01T12:00:00Z"));
    }

    #[test]
    fn too_narrow_keeps_the_minimum_widths() {
        let table = Table::fit(10);
        assert_eq!(table.widths, [20, 8, 9, 8, 6, 14]);
    }

    #[test]
    fn control_characters_never_break_a_row() {
        assert_eq!(fit("a\nb", 10), "a b");
        assert_eq!(fit("abcdef", 4), "abc…");
    }

    #[test]
    fn wide_characters_are_cut_by_terminal_columns_between_characters() {
        assert_eq!(width("日本語"), 6);
        assert_eq!(fit("日本語", 6), "日本語");
        // 3 columns of room before the `…`: one wide character fits, two do not.
        assert_eq!(fit("日本語", 4), "日…");
        assert_eq!(width(&fit("日本語", 4)), 3);
        assert_eq!(fit("🦀🦀🦀", 5), "🦀🦀…");
        assert_eq!(fit("a日", 2), "a…");
        for text in [
            "日本語テキスト",
            "🦀 rust 🦀",
            "e\u{301}e\u{301}e\u{301}xyz",
            "👩‍🔬👩‍🔬👩‍🔬",
        ] {
            for limit in 1..12 {
                let cut = fit(text, limit);
                assert!(width(&cut) <= limit, "{text} at {limit}: {cut}");
            }
        }
    }

    fn wide_user_activity(user: &str) -> Activity {
        serde_json::from_str(&format!(
            r#"{{"meta":{{"time":"2024-05-01T12:00:00Z"}},
                "principal":{{"sourceIP":"192.0.2.1","identity":{{"username":"{user}"}}}},
                "event":{{"type":"RequestAccepted","status":"DONE"}}}}"#
        ))
        .unwrap()
    }

    #[test]
    fn cjk_and_emoji_users_keep_the_columns_aligned() {
        let table = Table::fit(120);
        let mut out = Vec::new();
        table.write_header(&mut out).unwrap();
        for user in [
            "alice@example.com",
            "张伟@example.com",
            "🦀crab🦀@example.com",
            "山田太郎やまだたろうの長いアカウント名@example.jp",
        ] {
            table
                .write_row(&mut out, &wide_user_activity(user))
                .unwrap();
        }
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let column_of = |line: &str, needle: &str| width(&line[..line.find(needle).unwrap()]);
        let ip_column = column_of(lines[0], "SOURCE IP");
        for line in &lines[1..] {
            assert_eq!(column_of(line, "192.0.2.1"), ip_column, "{text}");
            assert_eq!(
                column_of(line, "RequestAccepted"),
                column_of(lines[0], "TYPE")
            );
        }
        assert!(lines[4].contains('…'), "the long name is cut: {}", lines[4]);
    }
}
