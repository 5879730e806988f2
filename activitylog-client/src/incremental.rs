//! The rules of an incremental sync, shared by every store that keeps a
//! completeness mark (the archive's databases, the lake): which range the
//! next sync downloads, and how far each completed window moves the mark.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use crate::dates::{DateBound, RangeError, RangeRule};
use crate::error::{Error, Result};

/// What one sync of a contract downloads, and how its mark moves.
///
/// ```
/// use std::time::Duration;
/// use activitylog_client::SyncPlan;
/// let now = "2024-05-02T00:00:00Z".parse().unwrap();
/// let mark = "2024-05-01T12:00:00Z".parse().unwrap();
/// let hour = Duration::from_secs(3600);
/// let mut plan = SyncPlan::new(Some(mark), None, None, hour, Duration::ZERO, now).unwrap();
/// assert_eq!(plan.since().to_rfc3339(), "2024-05-01T11:00:00+00:00");
/// assert_eq!(plan.advance(now), Some(now));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncPlan {
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    /// Whether the range joins what the store holds (starts at or before the mark).
    joined: bool,
    /// `now − settle`: a mark never passes it.
    settled: DateTime<Utc>,
    mark: Option<DateTime<Utc>>,
}

impl SyncPlan {
    /// The plan for a store complete up to `mark`: from `since` [default:
    /// the mark minus `overlap`; on the first sync, the default lookback] to
    /// `until` [default: `now − settle`], `now` by the service's clock.
    pub fn new(
        mark: Option<DateTime<Utc>>,
        since: Option<DateBound>,
        until: Option<DateBound>,
        overlap: Duration,
        settle: Duration,
        now: DateTime<Utc>,
    ) -> Result<SyncPlan> {
        let rule = RangeRule::new(settle);
        let settled = rule.open_end(now).map_err(Error::from)?;
        let since = since.or_else(|| mark.map(|mark| DateBound::Instant(before(mark, overlap))));
        let (since, until) = match rule.resolve(since, until, now) {
            Ok(range) => (range.since(), range.until()),
            // Nothing to do: the start is not before the end.
            Err(RangeError::Reversed { since, until }) => (since.instant(), until.instant()),
            Err(RangeError::NotSettled { since, end, .. }) => (since.instant(), end),
            Err(error) => return Err(Error::from(error)),
        };
        // The mark moves only over time this sync joins to what the store
        // holds: a range after a gap leaves it (the next incremental sync
        // fills the gap).
        let joined = mark.is_none_or(|mark| since <= mark);
        Ok(SyncPlan {
            since,
            until,
            joined,
            settled,
            mark,
        })
    }

    /// The range's start, inclusive.
    pub fn since(&self) -> DateTime<Utc> {
        self.since
    }

    /// The range's end, exclusive.
    pub fn until(&self) -> DateTime<Utc> {
        self.until
    }

    /// Whether there is nothing to download.
    pub fn is_empty(&self) -> bool {
        self.since >= self.until
    }

    /// The mark as the plan holds it now.
    pub fn mark(&self) -> Option<DateTime<Utc>> {
        self.mark
    }

    /// A window completed through `through`: the mark it moves to, or `None`
    /// when it does not move (a range after a gap, or not past the mark).
    pub fn advance(&mut self, through: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let through = through.min(self.settled);
        let moved = (self.joined && self.mark.is_none_or(|mark| through > mark)).then_some(through);
        self.mark = moved.or(self.mark);
        moved
    }
}

/// `duration` before `instant`, or the first instant chrono knows (never a panic).
fn before(instant: DateTime<Utc>, duration: Duration) -> DateTime<Utc> {
    TimeDelta::from_std(duration)
        .ok()
        .and_then(|delta| instant.checked_sub_signed(delta))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn a_range_after_a_gap_never_moves_the_mark() {
        let now = at("2024-05-10T00:00:00Z");
        let mark = Some(at("2024-05-01T00:00:00Z"));
        let later = Some(DateBound::Instant(at("2024-05-05T00:00:00Z")));
        let mut plan =
            SyncPlan::new(mark, later, None, Duration::ZERO, Duration::ZERO, now).unwrap();
        assert_eq!(plan.advance(now), None);
        assert_eq!(plan.mark(), mark);
    }

    #[test]
    fn the_mark_never_passes_now_minus_settle_nor_goes_back() {
        let now = at("2024-05-10T00:00:00Z");
        let mark = Some(at("2024-05-09T00:00:00Z"));
        let minute = Duration::from_secs(60);
        let mut plan = SyncPlan::new(mark, None, None, minute, minute, now).unwrap();
        assert_eq!(plan.advance(at("2024-05-08T00:00:00Z")), None, "not back");
        assert_eq!(plan.advance(now), Some(at("2024-05-09T23:59:00Z")));
    }
}
