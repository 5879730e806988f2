//! Which stored events one request sees (ingestion lag), and in which order (time or index).

use std::borrow::Cow;
use std::ops::Range;

use crate::data::{ContractLog, StoredEvent};
use crate::rng::hash3;

const LAG_SALT: u64 = 0x1A6_1A6;
const ORDER_SALT: u64 = 0x0DE2_0DE2;

/// Ingestion lag at one instant: each event becomes visible `lag(e)` after its time,
/// with `lag(e)` in `[0, max_ms]` derived from its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Lag {
    /// The largest lag, in milliseconds (positive).
    pub max_ms: i64,
    /// The wall clock, in milliseconds since the epoch.
    pub now_ms: i64,
}

impl Lag {
    /// This event's own lag, in milliseconds.
    fn of(self, event: &StoredEvent) -> i64 {
        let span = self.max_ms.max(0) as u128 + 1;
        ((u128::from(event.id.attr(LAG_SALT)) * span) >> 64) as i64
    }

    /// Whether the event has been ingested by now.
    fn shows(self, event: &StoredEvent) -> bool {
        event.time_ms.saturating_add(self.of(event)) <= self.now_ms
    }
}

/// The events of a contract one request sees: a run of positions that are all
/// visible, then the visible ones among the rest (the last `lag` before now).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Matching {
    head: Range<usize>,
    tail: Vec<usize>,
}

impl Matching {
    /// The visible events among the positions `range` of `log`; all of them without `lag`.
    pub(crate) fn new(log: &ContractLog, range: Range<usize>, lag: Option<Lag>) -> Self {
        let Some(lag) = lag else {
            return Self {
                head: range,
                tail: Vec::new(),
            };
        };
        let events = log.events();
        let range = range.start.min(events.len())..range.end.min(events.len());
        // Only events in the last `max_ms` before now can still be in the pipeline.
        let cutoff = lag.now_ms.saturating_sub(lag.max_ms);
        let split = range.start + events[range.clone()].partition_point(|e| e.time_ms <= cutoff);
        let tail = (split..range.end)
            .filter(|&i| lag.shows(&events[i]))
            .collect();
        Self {
            head: range.start..split,
            tail,
        }
    }

    /// How many events are visible: the real `hits.total`.
    pub(crate) fn len(&self) -> usize {
        self.head.len() + self.tail.len()
    }

    /// Positions of the visible events, in time order.
    pub(crate) fn positions(&self) -> impl Iterator<Item = usize> + '_ {
        self.head.clone().chain(self.tail.iter().copied())
    }

    /// The visible events at `offset..offset + limit` in time order.
    pub(crate) fn page<'a>(
        &self,
        log: &'a ContractLog,
        offset: usize,
        limit: usize,
    ) -> Cow<'a, [StoredEvent]> {
        if self.tail.is_empty() {
            let first = self.head.start.saturating_add(offset).min(self.head.end);
            let last = first.saturating_add(limit).min(self.head.end);
            return Cow::Borrowed(log.slice(first..last));
        }
        let events = log.events();
        Cow::Owned(
            self.positions()
                .skip(offset)
                .take(limit)
                .map(|i| events[i])
                .collect(),
        )
    }

    /// The visible events at `offset..offset + limit` in "index order": a pseudo-random
    /// order fixed by `key` (see [`order_key`]), unrelated to time.
    ///
    /// Each event's place comes from a hash of its id and the key, so repeated requests
    /// see the same order, and events arriving later do not reshuffle the others.
    pub(crate) fn shuffled_page(
        &self,
        log: &ContractLog,
        key: u64,
        offset: usize,
        limit: usize,
    ) -> Vec<StoredEvent> {
        let wanted = offset.saturating_add(limit).min(self.len());
        if offset >= wanted {
            return Vec::new();
        }
        let events = log.events();
        let mut keyed: Vec<(u64, usize)> = self
            .positions()
            .map(|i| (events[i].id.attr(key), i))
            .collect();
        if wanted < keyed.len() {
            keyed.select_nth_unstable(wanted);
            keyed.truncate(wanted);
        }
        keyed.sort_unstable();
        keyed[offset..].iter().map(|&(_, i)| events[i]).collect()
    }
}

/// The key of the index order for one (seed, contract, dateStart, dateEnd), bounds in
/// milliseconds as filtered.
pub(crate) fn order_key(seed: u64, contract: u64, start: Option<i64>, end: Option<i64>) -> u64 {
    let bound = |b: Option<i64>, open: u64| b.map_or(open, |ms| ms as u64);
    hash3(
        seed ^ ORDER_SALT,
        contract,
        hash3(bound(start, u64::MAX), bound(end, u64::MAX - 1), ORDER_SALT),
    )
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use chrono::{DateTime, Utc};

    use super::*;
    use crate::config::{MAIN_CONTRACT, SandboxConfig, default_contracts};
    use crate::data::EventStore;

    fn store(events: usize) -> EventStore {
        let config = SandboxConfig {
            contracts: default_contracts(events),
            ..SandboxConfig::default()
        };
        let end: DateTime<Utc> = "2024-06-01T00:00:00Z".parse().unwrap();
        EventStore::generate(&config, end)
    }

    #[test]
    fn without_lag_everything_in_range_is_visible() {
        let store = store(1_000);
        let log = store.contract(MAIN_CONTRACT).unwrap();
        let m = Matching::new(log, 100..600, None);
        assert_eq!(m.len(), 500);
        assert!(matches!(m.page(log, 10, 20), Cow::Borrowed(_)));
        assert_eq!(&*m.page(log, 10, 20), log.slice(110..130));
        assert!(m.page(log, 600, 20).is_empty());
    }

    #[test]
    fn lag_hides_only_the_recent_tail_and_not_just_the_newest() {
        let store = store(2_000);
        let log = store.contract(MAIN_CONTRACT).unwrap();
        let events = log.events();
        let last = events[events.len() - 1].time_ms;
        // A lag reaching back over the newest ~quarter of the events.
        let max_ms = last - events[1_500].time_ms;
        let lag = Lag {
            max_ms,
            now_ms: last,
        };
        let m = Matching::new(log, 0..events.len(), Some(lag));
        assert!(m.head.end >= 1_499, "{:?}", m.head);
        let visible: HashSet<usize> = m.positions().collect();
        assert!(m.len() < events.len() && m.len() > 1_500, "{}", m.len());
        let hidden: Vec<usize> = (0..events.len()).filter(|i| !visible.contains(i)).collect();
        // Some hidden event is older than some visible one.
        assert!(hidden.iter().any(|&h| visible.iter().any(|&v| v > h)));
        // Paging through the matching set gives each visible event once, in order.
        let paged: Vec<StoredEvent> = (0..m.len())
            .step_by(100)
            .flat_map(|o| m.page(log, o, 100).into_owned())
            .collect();
        let expected: Vec<StoredEvent> = m.positions().map(|i| events[i]).collect();
        assert_eq!(paged, expected);
        // Later, everything shows.
        let later = Lag {
            now_ms: last + max_ms,
            ..lag
        };
        assert_eq!(
            Matching::new(log, 0..events.len(), Some(later)).len(),
            events.len()
        );
    }

    #[test]
    fn shuffled_pages_are_a_stable_permutation() {
        let store = store(3_000);
        let log = store.contract(MAIN_CONTRACT).unwrap();
        let m = Matching::new(log, 200..2_700, None);
        let key = order_key(1, MAIN_CONTRACT, Some(5), None);
        let all: Vec<StoredEvent> = (0..m.len())
            .step_by(300)
            .flat_map(|o| m.shuffled_page(log, key, o, 300))
            .collect();
        assert_eq!(all, m.shuffled_page(log, key, 0, 10_000));
        assert_eq!(all.len(), 2_500);
        let mut sorted = all.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, log.slice(200..2_700));
        assert_ne!(all, sorted);
        assert!(m.shuffled_page(log, key, 2_500, 10).is_empty());
        assert!(m.shuffled_page(log, key, 0, 0).is_empty());
        let other = order_key(1, MAIN_CONTRACT, Some(6), None);
        assert_ne!(m.shuffled_page(log, other, 0, 100), all[..100]);
    }
}
