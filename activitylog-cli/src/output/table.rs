//! `table`: aligned columns for people, fitted to the terminal width.
//!
//! Rows are written as events arrive, so the column widths are fixed up
//! front from the width available; long values are cut with `…`. Widths are
//! terminal columns ([`width`]), so CJK text and emoji (two columns each)
//! keep the table aligned.

use std::io::{self, Write};

use activitylog_client::types::Activity;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use super::columns::Columns;
use super::zone::Zone;
use super::{csv, fields};

/// Width used when the output is not a terminal and `COLUMNS` is not set.
pub const DEFAULT_WIDTH: usize = 120;

const GAP: &str = "  ";

/// What a column shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cell {
    /// `meta.time`, to the second, in the table's zone.
    Time,
    /// The acting user.
    User,
    /// `principal.sourceIP`.
    SourceIp,
    /// `event.type`.
    Type,
    /// `event.status`.
    Status,
    /// Each resource's type with its actions.
    Resources,
    /// The CSV column of this index (`--columns`).
    Csv(usize),
}

/// One column: what it shows, its header, preferred and narrowest width.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Column {
    cell: Cell,
    header: String,
    preferred: usize,
    narrowest: usize,
}

impl Column {
    fn new(cell: Cell, header: &str, preferred: usize, narrowest: usize) -> Self {
        Column {
            cell,
            header: header.to_string(),
            preferred,
            narrowest,
        }
    }
}

/// Preferred and narrowest widths of each CSV column shown in a table.
fn csv_widths(name: &str) -> (usize, usize) {
    match name {
        "uuid" | "resource_ids" | "request_id" => (36, 8),
        "contract" => (8, 8),
        "user" => (24, 8),
        "source_ip" => (15, 9),
        "source_service" => (14, 6),
        "type" => (19, 8),
        "status" | "method" => (7, 6),
        "uri" | "actions" => (40, 10),
        "resource_types" => (16, 6),
        "error_code" => (10, 6),
        _ => (30, 8),
    }
}

/// A table layout for one terminal width.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    columns: Vec<Column>,
    widths: Vec<usize>,
    zone: Zone,
}

impl Table {
    /// A table of the `columns` picked (else the usual ones) with times in
    /// `zone`, fitted into `width` terminal columns: the last column takes
    /// what is left, and shrinks first; the time column never shrinks.
    /// `contract` adds a CONTRACT column after the time to the usual
    /// columns (a run over several contracts).
    pub fn view(width: usize, columns: Option<&Columns>, zone: Zone, contract: bool) -> Self {
        let time = zone.short_width();
        let time_header = format!("TIME ({})", zone.label());
        let (columns, shrink) = match columns {
            None => {
                let mut usual = vec![
                    Column::new(Cell::Time, &time_header, time, time),
                    Column::new(Cell::User, "USER", 24, 8),
                    Column::new(Cell::SourceIp, "SOURCE IP", 15, 9),
                    Column::new(Cell::Type, "TYPE", 19, 8),
                    Column::new(Cell::Status, "STATUS", 7, 6),
                    Column::new(Cell::Resources, "RESOURCES / ACTIONS", 40, 14),
                ];
                let mut shrink = vec![5, 1, 3, 2, 4];
                let index = super::columns::COLUMNS
                    .iter()
                    .position(|(name, _)| *name == "contract");
                if let (true, Some(index)) = (contract, index) {
                    let (preferred, narrowest) = csv_widths("contract");
                    let column = Column::new(Cell::Csv(index), "CONTRACT", preferred, narrowest);
                    usual.insert(1, column);
                    shrink = vec![6, 2, 4, 3, 5, 1];
                }
                (usual, shrink)
            }
            Some(picked) => {
                let columns: Vec<Column> = picked
                    .indexes()
                    .iter()
                    .zip(picked.names())
                    .map(|(&index, name)| {
                        if index == 0 {
                            Column::new(Cell::Time, &time_header, time, time)
                        } else {
                            let (preferred, narrowest) = csv_widths(name);
                            let header = name.replace('_', " ").to_ascii_uppercase();
                            Column::new(Cell::Csv(index), &header, preferred, narrowest)
                        }
                    })
                    .collect();
                let shrink = (0..columns.len()).rev().collect();
                (columns, shrink)
            }
        };
        let mut widths: Vec<usize> = columns.iter().map(|c| c.preferred).collect();
        let gaps = GAP.len() * columns.len().saturating_sub(1);
        let used = |widths: &[usize]| widths.iter().sum::<usize>() + gaps;
        if let Some(last) = widths.len().checked_sub(1)
            && used(&widths) <= width
        {
            widths[last] += width - used(&widths);
        }
        for index in shrink {
            let over = used(&widths).saturating_sub(width);
            let room = widths[index].saturating_sub(columns[index].narrowest);
            widths[index] -= over.min(room);
        }
        Table {
            columns,
            widths,
            zone,
        }
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
        let names: Vec<String> = self.columns.iter().map(|c| c.header.clone()).collect();
        self.write_cells(out, &names)
    }

    /// Writes one event's line.
    pub fn write_row(&self, out: &mut impl Write, activity: &Activity) -> io::Result<()> {
        let meta = activity.meta.as_ref();
        let principal = activity.principal.as_ref();
        let event = activity.event.as_ref();
        // The CSV cells, only when a picked column needs them.
        let csv_cells = self
            .columns
            .iter()
            .any(|c| matches!(c.cell, Cell::Csv(_)))
            .then(|| csv::row(activity));
        let cells: Vec<String> = self
            .columns
            .iter()
            .map(|column| match column.cell {
                Cell::Time => meta
                    .and_then(|m| m.time.as_deref())
                    .map(|t| self.zone.short(t))
                    .unwrap_or_default(),
                Cell::User => fields::user(activity).unwrap_or_default().to_string(),
                Cell::SourceIp => principal
                    .and_then(|p| p.source_ip.clone())
                    .unwrap_or_default(),
                Cell::Type => event.and_then(|e| e.type_.clone()).unwrap_or_default(),
                Cell::Status => event
                    .and_then(|e| e.status.as_ref())
                    .map(ToString::to_string)
                    .unwrap_or_default(),
                Cell::Resources => resources_cell(activity),
                Cell::Csv(index) => csv_cells
                    .as_ref()
                    .and_then(|cells| cells.get(index))
                    .cloned()
                    .unwrap_or_default(),
            })
            .collect();
        self.write_cells(out, &cells)
    }

    fn write_cells(&self, out: &mut impl Write, cells: &[String]) -> io::Result<()> {
        let mut line = String::new();
        for (i, (cell, width)) in cells.iter().zip(&self.widths).enumerate() {
            let cell = fit(cell, *width);
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
        let table = Table::view(width, None, Zone::Utc, false);
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
        let table = Table::view(10, None, Zone::Utc, false);
        assert_eq!(table.widths, [20, 8, 9, 8, 6, 14]);
        let columns: Columns = "uri,time".parse().unwrap();
        let table = Table::view(10, Some(&columns), Zone::Utc, false);
        assert_eq!(table.widths, [10, 20]);
    }

    #[test]
    fn a_zone_shifts_the_times_and_names_itself_in_the_header() {
        let zone = Zone::named("Asia/Tokyo").unwrap();
        let table = Table::view(200, None, zone, false);
        let mut out = Vec::new();
        table.write_header(&mut out).unwrap();
        table.write_row(&mut out, &activity()).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("TIME (Asia/Tokyo)"), "{text}");
        assert!(
            text.contains("\n2024-05-01T21:00:00+09:00  alice@example.com"),
            "{text}"
        );
    }

    #[test]
    fn a_run_over_several_contracts_adds_a_contract_column_to_the_usual_ones() {
        let mut header = Vec::new();
        Table::view(160, None, Zone::Utc, true)
            .write_header(&mut header)
            .unwrap();
        let header = String::from_utf8(header).unwrap();
        let names: Vec<&str> = header.split_whitespace().collect();
        assert_eq!(
            names[..4],
            ["TIME", "(UTC)", "CONTRACT", "USER"],
            "{header}"
        );
        let mut usual = Vec::new();
        Table::view(160, None, Zone::Utc, false)
            .write_header(&mut usual)
            .unwrap();
        assert!(!String::from_utf8(usual).unwrap().contains("CONTRACT"));
    }

    #[test]
    fn picked_columns_show_csv_values_under_upper_case_headers() {
        let columns: Columns = "status,source_ip,time,actions".parse().unwrap();
        let table = Table::view(200, Some(&columns), Zone::Utc, false);
        let mut out = Vec::new();
        table.write_header(&mut out).unwrap();
        table.write_row(&mut out, &activity()).unwrap();
        let text = String::from_utf8(out).unwrap();
        let mut lines = text.lines();
        let header = lines.next().unwrap();
        assert!(
            header.starts_with("STATUS   SOURCE IP        TIME (UTC)"),
            "{header}"
        );
        assert!(header.ends_with("ACTIONS"), "{header}");
        let row = lines.next().unwrap();
        assert!(
            row.starts_with("DONE     192.0.2.1        2024-05-01T12:00:00Z  vr.server.create;"),
            "{row}"
        );
        for width in [20, 60, 120] {
            let table = Table::view(width, Some(&columns), Zone::Utc, false);
            let mut out = Vec::new();
            table.write_row(&mut out, &activity()).unwrap();
            let line = String::from_utf8(out).unwrap();
            assert!(
                super::width(line.trim_end()) <= width.max(60),
                "{width}: {line}"
            );
        }
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
        let table = Table::view(120, None, Zone::Utc, false);
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
