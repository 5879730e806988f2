//! The chart of `docs/benchmarks.md`: wall time against concurrency, one
//! panel per added latency, the two baselines as horizontal lines. Plain SVG
//! written by hand (no dependency, a few kilobytes, diff-friendly).

use std::fmt::Write;

use crate::report::Report;
use crate::{Client, Series};

const PANEL_WIDTH: f64 = 380.0;
const PANEL_HEIGHT: f64 = 300.0;
const LEGEND: f64 = 36.0;
const LEFT: f64 = 58.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 34.0;
const BOTTOM: f64 = 46.0;

const OURS: &str = "#1f77b4";
const PLAIN: &str = "#d62728";
const FLOOR: &str = "#555555";

/// The chart as an SVG document.
pub fn svg(report: &Report) -> String {
    let panels = report.latencies.len().max(1);
    let width = PANEL_WIDTH * panels as f64;
    let height = LEGEND + PANEL_HEIGHT;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        out,
        r#"<rect width="{width}" height="{height}" fill="white"/>"#
    );
    legend(&mut out);
    for (index, &latency) in report.latencies.iter().enumerate() {
        let x0 = PANEL_WIDTH * index as f64;
        panel(&mut out, report, latency, x0, LEGEND);
    }
    out.push_str("</svg>\n");
    out
}

fn legend(out: &mut String) {
    let items = [
        (OURS, "", "activitylog (median, min–max)"),
        (PLAIN, "6 4", "plain sequential client"),
        (FLOOR, "2 3", "transfer floor"),
    ];
    let mut x = LEFT;
    for (color, dash, label) in items {
        let y = LEGEND / 2.0;
        let _ = writeln!(
            out,
            r#"<line x1="{x}" y1="{y}" x2="{}" y2="{y}" stroke="{color}" stroke-width="2" stroke-dasharray="{dash}"/>"#,
            x + 24.0
        );
        let _ = writeln!(
            out,
            r#"<text x="{}" y="{}">{}</text>"#,
            x + 30.0,
            y + 4.0,
            escape(label)
        );
        x += 36.0 + 7.0 * label.chars().count() as f64;
    }
}

fn panel(out: &mut String, report: &Report, latency: u64, x0: f64, y0: f64) {
    let exports: Vec<&Series> = report
        .concurrency
        .iter()
        .filter_map(|&c| report.find(Client::Export { concurrency: c }, latency))
        .collect();
    let plain = report.find(Client::Plain, latency);
    let floor = report.find(Client::Floor, latency);
    let highest = exports
        .iter()
        .map(|s| s.wall_range().1)
        .chain(plain.map(Series::wall))
        .chain(floor.map(Series::wall))
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    let (step, top) = axis(highest * 1.05);

    let left = x0 + LEFT;
    let right = x0 + PANEL_WIDTH - RIGHT;
    let upper = y0 + TOP;
    let lower = y0 + PANEL_HEIGHT - BOTTOM;
    let y_of = |seconds: f64| lower - (lower - upper) * seconds / top;
    let count = report.concurrency.len().max(1) as f64;
    let x_of = |index: usize| left + (right - left) * (index as f64 + 0.5) / count;

    let _ = writeln!(
        out,
        r#"<text x="{}" y="{}" text-anchor="middle" font-weight="bold">{} events, {latency} ms added latency</text>"#,
        (left + right) / 2.0,
        y0 + 18.0,
        thousands(report.events)
    );
    // Grid and y axis.
    let mut tick = 0.0;
    while tick <= top + step / 1000.0 {
        let y = y_of(tick);
        let _ = writeln!(
            out,
            r##"<line x1="{left}" y1="{y:.1}" x2="{right}" y2="{y:.1}" stroke="#e0e0e0"/>"##
        );
        let _ = writeln!(
            out,
            r#"<text x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
            left - 6.0,
            y + 4.0,
            tick_label(tick, step)
        );
        tick += step;
    }
    let _ = writeln!(
        out,
        r#"<text transform="translate({},{}) rotate(-90)" text-anchor="middle">wall time (s)</text>"#,
        x0 + 16.0,
        (upper + lower) / 2.0
    );
    // X axis.
    let _ = writeln!(
        out,
        r##"<line x1="{left}" y1="{lower}" x2="{right}" y2="{lower}" stroke="#333333"/>"##
    );
    for (index, concurrency) in report.concurrency.iter().enumerate() {
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{}" text-anchor="middle">{concurrency}</text>"#,
            x_of(index),
            lower + 16.0
        );
    }
    let _ = writeln!(
        out,
        r#"<text x="{}" y="{}" text-anchor="middle">concurrency (pages in flight)</text>"#,
        (left + right) / 2.0,
        lower + 34.0
    );
    // Baselines.
    for (series, color, dash) in [(plain, PLAIN, "6 4"), (floor, FLOOR, "2 3")] {
        if let Some(series) = series {
            let y = y_of(series.wall());
            let _ = writeln!(
                out,
                r#"<line x1="{left}" y1="{y:.1}" x2="{right}" y2="{y:.1}" stroke="{color}" stroke-width="2" stroke-dasharray="{dash}"/>"#
            );
            let _ = writeln!(
                out,
                r#"<text x="{}" y="{:.1}" text-anchor="end" font-size="10" fill="{color}">{}</text>"#,
                right - 2.0,
                y - 4.0,
                crate::seconds(series.wall())
            );
        }
    }
    // Our exports.
    let points: Vec<String> = report
        .concurrency
        .iter()
        .enumerate()
        .filter_map(|(index, &c)| {
            let series = report.find(Client::Export { concurrency: c }, latency)?;
            Some(format!("{:.1},{:.1}", x_of(index), y_of(series.wall())))
        })
        .collect();
    let _ = writeln!(
        out,
        r#"<polyline points="{}" fill="none" stroke="{OURS}" stroke-width="2"/>"#,
        points.join(" ")
    );
    for (index, &c) in report.concurrency.iter().enumerate() {
        let Some(series) = report.find(Client::Export { concurrency: c }, latency) else {
            continue;
        };
        let x = x_of(index);
        let (fastest, slowest) = series.wall_range();
        let _ = writeln!(
            out,
            r#"<line x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{:.1}" stroke="{OURS}"/>"#,
            y_of(fastest),
            y_of(slowest)
        );
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{:.1}" font-size="10" fill="{OURS}">{}</text>"#,
            x + 7.0,
            y_of(series.wall()) - 6.0,
            crate::seconds(series.wall())
        );
        let _ = writeln!(
            out,
            r#"<circle cx="{x:.1}" cy="{:.1}" r="4" fill="{OURS}"><title>{}</title></circle>"#,
            y_of(series.wall()),
            escape(&format!(
                "concurrency {c}: median {}",
                crate::seconds(series.wall())
            ))
        );
    }
}

/// A tick step of 1, 2 or 5 times a power of ten giving about five ticks,
/// and the axis top (a multiple of the step at or above `highest`).
pub fn axis(highest: f64) -> (f64, f64) {
    let highest = if highest.is_finite() && highest > 0.0 {
        highest
    } else {
        1.0
    };
    let rough = highest / 5.0;
    let power = 10f64.powf(rough.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|step| *step >= rough)
        .unwrap_or(10.0 * power);
    (step, (highest / step).ceil() * step)
}

fn tick_label(tick: f64, step: f64) -> String {
    let decimals = if step >= 1.0 {
        0
    } else {
        (-step.log10().floor()) as usize
    };
    format!("{tick:.decimals$}")
}

/// `200000` as `200,000`.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_end_on_round_numbers() {
        assert_eq!(axis(4.3), (1.0, 5.0));
        assert_eq!(axis(17.0), (5.0, 20.0));
        let (step, top) = axis(0.42);
        assert!((step - 0.1).abs() < 1e-12 && (top - 0.5).abs() < 1e-9);
        assert_eq!(axis(0.0), (0.2, 1.0));
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(200_000), "200,000");
        assert_eq!(thousands(1_000_000), "1,000,000");
    }
}
