//! `--html FILE.html`: a one-file report that opens in any browser with no
//! network access: inline CSS and the inline SVG timeline, no scripts,
//! fonts or images. The markup is well-formed XML (XHTML-compatible), and
//! every value from the server is escaped.
//!
//! Tables (each `<table id=...>`): `top-users`, `top-actions`, `failed`
//! (FAILED entries by user and action) and `source-ips` (each user's source
//! addresses with when each was first seen).

use std::fmt::Write;

use activitylog_client::summary::Group;
use chrono::{DateTime, Utc};

use super::{Meta, Sections, Timeline, escape, svg};
use crate::output::zone::Zone;
use crate::text::rfc3339;

/// Rows of the top users and top actions.
pub const TOP: usize = 20;
/// Rows of the failed requests and of the source IPs per user.
pub const MOST_ROWS: usize = 200;

const STYLE: &str = "
body { font-family: system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; margin: 24px auto;
       max-width: 1040px; color: #212121; background: #fafafa; }
h1 { font-size: 22px; margin-bottom: 4px; }
h2 { font-size: 17px; margin: 28px 0 8px; }
p.meta { color: #555; margin-top: 0; }
section { background: #fff; border: 1px solid #e0e0e0; border-radius: 6px; padding: 8px 16px 16px; margin-bottom: 16px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #eee; overflow-wrap: anywhere; }
th { background: #f5f5f5; white-space: nowrap; }
td.t { white-space: nowrap; }
td.n, th.n { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
td.failed { color: #c62828; }
p.note { color: #777; font-size: 12px; }
svg { max-width: 100%; height: auto; }
";

/// The report.
pub fn render(timeline: &Timeline, sections: &Sections, meta: &Meta) -> String {
    let zone = meta.zone;
    let mut html = String::new();
    let title = format!("Activity log summary: {}", meta.contracts_label());
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n\
         <meta charset=\"utf-8\"/>\n<meta name=\"viewport\" content=\"width=device-width\"/>\n\
         <title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{title}</h1>\n"
    );
    let _ = writeln!(
        html,
        "<p class=\"meta\">From <time>{}</time> to <time>{}</time> ({}): \
         <strong id=\"entries\">{}</strong> entries, <strong id=\"failed-count\">{}</strong> failed.</p>",
        escape(&zone.short(&rfc3339(meta.since))),
        escape(&zone.short(&rfc3339(meta.until))),
        escape(&zone.label()),
        meta.entries,
        meta.failed
    );
    let _ = writeln!(
        html,
        "<section id=\"timeline\">\n{}</section>",
        svg::element(timeline, meta)
    );

    let users = sections.users.groups();
    table(
        &mut html,
        "top-users",
        "Top users",
        &["user", "entries", "failed", "first seen", "last seen"],
        &users,
        TOP,
        zone,
        |group| {
            vec![
                Cell::Text(value(group, 0)),
                Cell::Count(group.count),
                Cell::Failed(group.failed),
                Cell::Time(group.first),
                Cell::Time(group.last),
            ]
        },
    );
    let actions = sections.actions.groups();
    table(
        &mut html,
        "top-actions",
        "Top actions",
        &["action", "entries", "failed", "last seen"],
        &actions,
        TOP,
        zone,
        |group| {
            vec![
                Cell::Text(value(group, 0)),
                Cell::Count(group.count),
                Cell::Failed(group.failed),
                Cell::Time(group.last),
            ]
        },
    );

    let failed = sections.failed.groups();
    table(
        &mut html,
        "failed",
        "Failed requests",
        &["user", "action", "failed", "first", "last"],
        &failed,
        MOST_ROWS,
        zone,
        |group| {
            vec![
                Cell::Text(value(group, 0)),
                Cell::Text(value(group, 1)),
                Cell::Failed(group.count),
                Cell::Time(group.first),
                Cell::Time(group.last),
            ]
        },
    );
    let addresses = sections.addresses_by_user();
    table(
        &mut html,
        "source-ips",
        "Source IPs per user",
        &["user", "source IP", "entries", "first seen"],
        &addresses,
        MOST_ROWS,
        zone,
        |group| {
            vec![
                Cell::Text(value(group, 0)),
                Cell::Text(value(group, 1)),
                Cell::Count(group.count),
                Cell::Time(group.first),
            ]
        },
    );
    let _ = writeln!(
        html,
        "<p class=\"note\">Times in {}. An entry with several resource actions counts once under \
         each. Made by activitylog summary.</p>\n</body>\n</html>",
        escape(&zone.label())
    );
    html
}

/// A cell of a report table.
enum Cell {
    Text(String),
    Count(u64),
    Failed(u64),
    Time(Option<DateTime<Utc>>),
}

fn value(group: &Group, index: usize) -> String {
    group
        .values
        .get(index)
        .cloned()
        .flatten()
        .unwrap_or_else(|| "(none)".to_string())
}

#[allow(clippy::too_many_arguments)]
fn table(
    html: &mut String,
    id: &str,
    title: &str,
    headers: &[&str],
    groups: &[Group],
    most: usize,
    zone: Zone,
    cells: impl Fn(&Group) -> Vec<Cell>,
) {
    let _ = write!(
        html,
        "<section>\n<h2>{title}</h2>\n<table id=\"{id}\">\n<thead><tr>"
    );
    for header in headers {
        let class = match *header {
            "entries" | "failed" => " class=\"n\"",
            _ => "",
        };
        let _ = write!(html, "<th{class}>{}</th>", escape(header));
    }
    html.push_str("</tr></thead>\n<tbody>\n");
    for group in groups.iter().take(most) {
        html.push_str("<tr>");
        for cell in cells(group) {
            let _ = match cell {
                Cell::Text(text) => write!(html, "<td>{}</td>", escape(&text)),
                Cell::Count(n) => write!(html, "<td class=\"n\">{n}</td>"),
                Cell::Failed(0) => write!(html, "<td class=\"n\">0</td>"),
                Cell::Failed(n) => write!(html, "<td class=\"n failed\">{n}</td>"),
                Cell::Time(time) => write!(
                    html,
                    "<td class=\"t\">{}</td>",
                    escape(&time.map(|t| zone.short(&rfc3339(t))).unwrap_or_default())
                ),
            };
        }
        html.push_str("</tr>\n");
    }
    html.push_str("</tbody>\n</table>\n");
    if groups.is_empty() {
        html.push_str("<p class=\"note\">None.</p>\n");
    } else if groups.len() > most {
        let _ = writeln!(
            html,
            "<p class=\"note\">The first {most} of {} rows.</p>",
            groups.len()
        );
    }
    html.push_str("</section>\n");
}

#[cfg(test)]
mod tests {
    use activitylog_client::RawEvent;
    use activitylog_client::summary::{Facts, Key};

    use super::*;
    use crate::report::summary_in;

    #[test]
    fn everything_from_the_server_is_escaped() {
        let hostile = r#"{"principal":{"identity":{"username":"<script>alert('x')</script>&\""},"sourceIP":"<img src=x>"},
            "event":{"status":"FAILED","resources":[{"type":"<b>","action":["</td><td>"]}]},
            "meta":{"time":"2024-05-01T10:00:00Z"}}"#;
        let facts = Facts::of(&RawEvent::parse(hostile).unwrap());
        let mut sections = Sections::new(Zone::Utc);
        sections.add(&facts);
        let mut timeline = summary_in([Key::Day, Key::Status], Zone::Utc);
        timeline.add(&facts);
        let timeline = Timeline::of(&timeline, Key::Day, Zone::Utc);
        let meta = Meta {
            contracts: vec![1],
            since: "2024-05-01T00:00:00Z".parse().unwrap(),
            until: "2024-05-02T00:00:00Z".parse().unwrap(),
            zone: Zone::Utc,
            entries: 1,
            failed: 1,
        };
        let html = render(&timeline, &sections, &meta);
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("<td></td><td>"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;"));
        assert!(html.contains("&lt;/td&gt;&lt;td&gt;"));
    }
}
