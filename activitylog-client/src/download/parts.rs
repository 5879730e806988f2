//! How many parts a window that holds more than the service pages through
//! is split into.
//!
//! Each part costs its pages, the last of them only partly full (or empty,
//! to show the end): so a split into fewer parts asks fewer pages, as long
//! as every part still fits the result window. The parts are cut by time,
//! and entries are not spread evenly over time, so each is planned to hold
//! at most [`FILL`] of the window, and its pages are counted as if it held
//! [`SPREAD`] more than its share. A part that still holds too many costs
//! one request (its first page, whose count says so) and is split in turn.

/// The share of the result window a part is planned to hold, in percent.
const FILL: u64 = 90;

/// How much more than its share of the count a part is planned for, in
/// percent, when counting the pages it asks.
const SPREAD: u64 = 2;

/// The number of parts (2 to 64) for a window of `count` entries, paged
/// `page` at a time within `result_window`: the fewest pages among the
/// splits from the fewest parts that fit to twice as many, the fewer
/// parts when two splits ask as many pages.
pub(crate) fn parts(count: u64, result_window: u64, page: u64) -> u64 {
    let fill = (result_window.saturating_mul(FILL) / 100).max(1);
    let page = page.clamp(1, result_window.max(1));
    let fewest = count.div_ceil(fill).clamp(2, 64);
    let planned = count.saturating_add(count.saturating_mul(SPREAD) / 100);
    (fewest..=fewest.saturating_mul(2).min(64))
        .min_by_key(|&parts| {
            let share = planned.div_ceil(parts);
            // One more entry: a part that fills its last page needs an
            // empty one to show its end.
            parts.saturating_mul(share.saturating_add(1).div_ceil(page))
        })
        .unwrap_or(fewest)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pages asked for `count` entries split evenly in `parts`.
    fn pages(count: u64, parts: u64, page: u64) -> u64 {
        parts * (count.div_ceil(parts) + 1).div_ceil(page)
    }

    #[test]
    fn the_split_that_asks_fewest_pages_is_chosen() {
        // 49,320 entries within a window of 10,000, pages of 1,000: in 7
        // parts of 7,046 each asks 8 pages (56), in 6 parts of 8,220, 9 (54).
        assert_eq!(parts(49_320, 10_000, 1_000), 6);
        assert_eq!(pages(49_320, 6, 1_000), 54);
        assert_eq!(pages(49_320, 7, 1_000), 56);
        // 5 parts of 9,864 would ask 50, but leave no room for an uneven
        // spread: more than 90% of the window each.
        assert_eq!(pages(49_320, 5, 1_000), 50);
        assert_eq!(parts(46_580, 10_000, 1_000), 6);
    }

    #[test]
    fn every_part_is_planned_to_fit_the_window() {
        for count in [10_000, 10_001, 33_333, 250_000, 1_000_000] {
            for page in [100, 1_000, 10_000] {
                let parts = parts(count, 10_000, page);
                assert!(
                    (2..=64).contains(&parts) && count.div_ceil(parts) <= 9_000 || parts == 64,
                    "{count} in pages of {page}: {parts} parts"
                );
            }
        }
    }

    #[test]
    fn hostile_numbers_plan_without_overflow() {
        assert_eq!(parts(u64::MAX, 10_000, 1_000), 64);
        assert_eq!(parts(u64::MAX, u64::MAX, u64::MAX), 64);
        assert_eq!(parts(0, 0, 0), 2);
        assert_eq!(parts(5, 1, 0), 5);
    }
}
