//! The rules of an incremental sync, shared by every store that keeps a
//! completeness mark (the archive's databases, the lake): which range the
//! next sync downloads, and how far each completed window moves the mark.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use crate::ActivityLog;
use crate::dates::{DateBound, RangeError, RangeRule};
use crate::download::Updates;
use crate::error::{Error, Result};

/// How far before its mark the next sync of a contract starts, so that
/// entries that became visible late are caught (default).
pub const DEFAULT_OVERLAP: Duration = Duration::from_secs(3600);

/// What a sync of one contract is asked, whatever store it fills: the
/// range, the settle time, the overlap before the store's mark, and how the
/// download pages. Every store's sync takes one
/// (`activitylog_archive::SyncRun::options`, `activitylog_lake::LakeSync::options`).
///
/// ```
/// use std::time::Duration;
/// use activitylog_client::{DateBound, SyncOptions};
/// let since: chrono::DateTime<chrono::Utc> = "2024-05-01T00:00:00Z".parse().unwrap();
/// let options = SyncOptions::default()
///     .since(since)
///     .settle(Duration::from_secs(60))
///     .page_size(500);
/// assert_eq!(options.range().0, Some(DateBound::Instant(since)));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use]
pub struct SyncOptions {
    since: Option<DateBound>,
    until: Option<DateBound>,
    settle: Option<Duration>,
    overlap: Duration,
    page_size: Option<u32>,
    concurrency: Option<usize>,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            since: None,
            until: None,
            settle: None,
            overlap: DEFAULT_OVERLAP,
            page_size: None,
            concurrency: None,
        }
    }
}

impl SyncOptions {
    /// Start, inclusive [default: the store's mark minus the overlap; on
    /// the first sync, 90 days before the end].
    pub fn since(mut self, start: impl Into<DateBound>) -> Self {
        self.since = Some(start.into());
        self
    }

    /// End, exclusive [default: `now − settle`, by the service's clock,
    /// see [`RangeRule`]]. The mark never passes `now − settle`, whatever
    /// the end.
    pub fn until(mut self, end: impl Into<DateBound>) -> Self {
        self.until = Some(end.into());
        self
    }

    /// How long entries take to become visible [default: the client's
    /// [`Config::settle`](crate::Config::settle)].
    pub fn settle(mut self, settle: Duration) -> Self {
        self.settle = Some(settle);
        self
    }

    /// How far before the store's mark an incremental sync starts
    /// [default: [`DEFAULT_OVERLAP`]].
    pub fn overlap(mut self, overlap: Duration) -> Self {
        self.overlap = overlap;
        self
    }

    /// Entries per page asked of the API.
    pub fn page_size(mut self, size: u32) -> Self {
        self.page_size = Some(size);
        self
    }

    /// Pages in flight at once.
    pub fn concurrency(mut self, pages: usize) -> Self {
        self.concurrency = Some(pages);
        self
    }

    /// The range asked: start and end, each `None` for the default.
    pub fn range(&self) -> (Option<DateBound>, Option<DateBound>) {
        (self.since, self.until)
    }

    /// The plan for a store complete up to `mark`, `now` read from the
    /// service's clock (a machine clock ahead of it must not move the mark
    /// over time the service has not finished).
    pub async fn plan(&self, log: &ActivityLog, mark: Option<DateTime<Utc>>) -> Result<SyncPlan> {
        let now = log.now().await;
        SyncPlan::new(
            mark,
            self.since,
            self.until,
            self.overlap,
            self.settle_of(log),
            now,
        )
    }

    /// The download of `plan`'s range of `contract`, window by window.
    pub fn updates(&self, log: &ActivityLog, contract: u64, plan: &SyncPlan) -> Updates {
        let mut entries = log.entries(contract).settle(self.settle_of(log));
        if let Some(size) = self.page_size {
            entries = entries.page_size(size);
        }
        if let Some(pages) = self.concurrency {
            entries = entries.concurrency(pages);
        }
        entries
            .since(DateBound::Instant(plan.since()))
            .until(DateBound::Instant(plan.until()))
            .updates()
    }

    fn settle_of(&self, log: &ActivityLog) -> Duration {
        self.settle.unwrap_or(log.config().settle_time())
    }
}

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
