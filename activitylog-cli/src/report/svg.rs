//! `--chart FILE.svg`: a standalone SVG timeline of the entries per day or
//! hour, stacked by status, with labelled axes and a legend.
//!
//! Every bar segment is a `<rect class="bar">` carrying its bucket, status
//! and count (`data-bucket`, `data-status`, `data-count`) and a tooltip.

use std::fmt::Write;

use super::{Meta, Timeline, escape};

const WIDTH: f64 = 1000.0;
const HEIGHT: f64 = 420.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 190.0;
const TOP: f64 = 50.0;
const BOTTOM: f64 = 100.0;

/// The SVG document, XML declaration included.
pub fn render(timeline: &Timeline, meta: &Meta) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{}",
        element(timeline, meta)
    )
}

/// The `<svg>` element alone (to inline in HTML).
pub fn element(timeline: &Timeline, meta: &Meta) -> String {
    let plot_width = WIDTH - LEFT - RIGHT;
    let plot_height = HEIGHT - TOP - BOTTOM;
    let bottom = TOP + plot_height;
    let unit = timeline.bucket.name();
    let zone = meta.zone.label();
    let most = timeline.slots.iter().map(|s| s.total()).max().unwrap_or(0);
    let scale_max = nice_ceiling(most);
    let y = |value: u64| bottom - value as f64 / scale_max as f64 * plot_height;

    let mut svg = String::new();
    let _ = writeln!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{HEIGHT}\" \
         viewBox=\"0 0 {WIDTH} {HEIGHT}\" font-family=\"sans-serif\" font-size=\"11\" role=\"img\">"
    );
    let _ = writeln!(
        svg,
        "<title>Entries per {unit} ({}), {}</title>",
        escape(&zone),
        meta.contracts_label()
    );
    let _ = writeln!(
        svg,
        "<rect x=\"0\" y=\"0\" width=\"{WIDTH}\" height=\"{HEIGHT}\" fill=\"#ffffff\"/>"
    );
    let _ = writeln!(
        svg,
        "<text x=\"{LEFT}\" y=\"28\" font-size=\"15\" font-weight=\"bold\">Entries per {unit} \
         ({}), {}</text>",
        escape(&zone),
        meta.contracts_label()
    );

    // The y axis: gridlines and counts.
    for step in 0..=5u64 {
        let value = scale_max * step / 5;
        let at = y(value);
        let _ = writeln!(
            svg,
            "<line x1=\"{LEFT}\" y1=\"{at:.1}\" x2=\"{:.1}\" y2=\"{at:.1}\" stroke=\"#e0e0e0\"/>\
             <text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{value}</text>",
            LEFT + plot_width,
            LEFT - 6.0,
            at + 4.0
        );
    }

    // The bars.
    let count = timeline.slots.len().max(1);
    let slot_width = plot_width / count as f64;
    let bar_width = (slot_width * 0.8).max(0.5);
    let label_every = count.div_ceil(12);
    for (i, slot) in timeline.slots.iter().enumerate() {
        let x = LEFT + i as f64 * slot_width + (slot_width - bar_width) / 2.0;
        let mut stacked = 0;
        for (status, &n) in timeline.statuses.iter().zip(&slot.counts) {
            if n == 0 {
                continue;
            }
            let (top, base) = (y(stacked + n), y(stacked));
            stacked += n;
            let name = status.as_deref().unwrap_or("none");
            let _ = writeln!(
                svg,
                "<rect class=\"bar\" x=\"{x:.2}\" y=\"{top:.2}\" width=\"{bar_width:.2}\" \
                 height=\"{:.2}\" fill=\"{}\" data-bucket=\"{}\" data-status=\"{}\" \
                 data-count=\"{n}\"><title>{} {}: {n}</title></rect>",
                base - top,
                color(status.as_deref(), &timeline.statuses),
                escape(&slot.label),
                escape(name),
                escape(&slot.label),
                escape(name)
            );
        }
        if i % label_every == 0 {
            let center = LEFT + (i as f64 + 0.5) * slot_width;
            let _ = writeln!(
                svg,
                "<text class=\"label\" x=\"{center:.1}\" y=\"{:.1}\" text-anchor=\"end\" \
                 transform=\"rotate(-40 {center:.1} {:.1})\">{}</text>",
                bottom + 14.0,
                bottom + 14.0,
                escape(&slot.label)
            );
        }
    }

    // The axes and their titles.
    let _ = writeln!(
        svg,
        "<line x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{LEFT}\" y2=\"{bottom}\" stroke=\"#333\"/>\
         <line x1=\"{LEFT}\" y1=\"{bottom}\" x2=\"{:.1}\" y2=\"{bottom}\" stroke=\"#333\"/>",
        LEFT + plot_width
    );
    let _ = writeln!(
        svg,
        "<text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"12\">{unit} ({})</text>",
        LEFT + plot_width / 2.0,
        HEIGHT - 8.0,
        escape(&zone)
    );
    let _ = writeln!(
        svg,
        "<text class=\"axis\" x=\"18\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"12\" \
         transform=\"rotate(-90 18 {:.1})\">entries</text>",
        TOP + plot_height / 2.0,
        TOP + plot_height / 2.0
    );

    // The legend.
    let legend_x = LEFT + plot_width + 24.0;
    let _ = writeln!(
        svg,
        "<text x=\"{legend_x:.1}\" y=\"{:.1}\" font-weight=\"bold\">status</text>",
        TOP + 4.0
    );
    for (i, (status, total)) in timeline
        .statuses
        .iter()
        .zip(timeline.status_totals())
        .enumerate()
    {
        let at = TOP + 16.0 + i as f64 * 20.0;
        let _ = writeln!(
            svg,
            "<g class=\"legend\"><rect x=\"{legend_x:.1}\" y=\"{at:.1}\" width=\"12\" height=\"12\" fill=\"{}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\">{} ({total})</text></g>",
            color(status.as_deref(), &timeline.statuses),
            legend_x + 18.0,
            at + 10.0,
            escape(status.as_deref().unwrap_or("none"))
        );
    }
    svg.push_str("</svg>\n");
    svg
}

/// The smallest 1, 2 or 5 times a power of ten at or above `value` (at least 1).
fn nice_ceiling(value: u64) -> u64 {
    let mut power = 1u64;
    loop {
        for factor in [1, 2, 5] {
            let candidate = power.saturating_mul(factor);
            if candidate >= value || candidate == u64::MAX {
                return candidate.max(1);
            }
        }
        power = power.saturating_mul(10);
    }
}

/// A status's colour: green done, red failed, blue running, grey queued,
/// others from a palette, light grey for none.
pub fn color(status: Option<&str>, all: &[Option<String>]) -> &'static str {
    const OTHERS: [&str; 4] = ["#6a1b9a", "#ef6c00", "#00838f", "#795548"];
    match status.map(str::to_ascii_uppercase).as_deref() {
        Some("DONE") => "#2e7d32",
        Some("FAILED") => "#c62828",
        Some("RUNNING") => "#1565c0",
        Some("QUEUED") => "#9e9e9e",
        None => "#bdbdbd",
        Some(_) => {
            let index = all
                .iter()
                .filter(|s| s.is_some())
                .position(|s| s.as_deref() == status)
                .unwrap_or(0);
            OTHERS[index % OTHERS.len()]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_end_at_one_two_or_five_times_a_power_of_ten() {
        let ceilings: Vec<u64> = [0, 1, 3, 7, 10, 11, 180, 501].map(nice_ceiling).to_vec();
        assert_eq!(ceilings, [1, 1, 5, 10, 10, 20, 200, 1000]);
        assert_eq!(nice_ceiling(u64::MAX), u64::MAX);
    }
}
