//! The event store: compact, sorted, seeded events per contract.
//!
//! Each event is stored as its time and its 128-bit id (24 bytes). Every other
//! attribute is derived from the id when the event is rendered, so memory stays
//! proportional to the event count with a small constant.

use std::ops::Range;

use chrono::{DateTime, Utc};

use crate::config::{ContractSpec, SandboxConfig};
use crate::rng::{SplitMix, hash3};

const ID_SALT: u64 = 0x1D;
const TIME_SALT: u64 = 0x71_3E;
const BURST_SALT: u64 = 0xB0_857;
/// Live events use indices from here on, so they never collide with generated ones.
const LIVE_INDEX_BASE: u64 = 1 << 40;
/// Burst events use indices from here on, so they never collide with generated or live ones.
const BURST_INDEX_BASE: u64 = 1 << 50;
const DAY_MS: i64 = 86_400_000;
const HOUR_MS: i64 = 3_600_000;

/// The 128-bit identity of an event; rendered as a version-4-looking UUID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct EventId {
    hi: u64,
    lo: u64,
}

impl EventId {
    /// The id of event `index` of the contract in slot `slot`, under `seed`.
    fn derive(seed: u64, slot: u64, index: u64) -> Self {
        Self::v4(
            hash3(seed, slot.wrapping_mul(0x100) ^ ID_SALT, index),
            hash3(seed ^ 0x5EED, slot.wrapping_mul(0x100) ^ ID_SALT, index),
        )
    }

    /// An id from arbitrary bits, forced into the version-4 UUID layout.
    pub(crate) fn v4(hi: u64, lo: u64) -> Self {
        Self {
            hi: (hi & !0xF000) | 0x4000,
            lo: (lo & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000,
        }
    }

    /// A hash of this id and a salt, used to derive one attribute of the event.
    pub(crate) fn attr(self, salt: u64) -> u64 {
        hash3(self.hi, self.lo, salt)
    }

    /// The canonical lowercase UUID text (`xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx`).
    ///
    /// Lexicographic order of this text equals the numeric order of the id.
    pub(crate) fn uuid(self) -> String {
        format_uuid(self.hi, self.lo)
    }

    /// The UUID text as ASCII bytes.
    pub(crate) fn uuid_bytes(self) -> [u8; 36] {
        uuid_bytes(self.hi, self.lo)
    }
}

/// Formats 128 bits as a lowercase hyphenated UUID.
pub(crate) fn format_uuid(hi: u64, lo: u64) -> String {
    String::from_utf8_lossy(&uuid_bytes(hi, lo)).into_owned()
}

/// The 36 ASCII bytes of the lowercase hyphenated UUID for 128 bits.
pub(crate) fn uuid_bytes(hi: u64, lo: u64) -> [u8; 36] {
    let mut out = [b'-'; 36];
    put_hex(&mut out[0..8], hi >> 32);
    put_hex(&mut out[9..13], hi >> 16);
    put_hex(&mut out[14..18], hi);
    put_hex(&mut out[19..23], lo >> 48);
    put_hex(&mut out[24..36], lo);
    out
}

/// Fills `out` with the lowest `out.len()` hex digits of `value`.
fn put_hex(out: &mut [u8], mut value: u64) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut at = out.len();
    while at > 0 {
        at -= 1;
        out[at] = HEX[(value & 0xF) as usize];
        value >>= 4;
    }
}

/// One event as stored: its time and its id. Ordering is (time, uuid).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct StoredEvent {
    /// Milliseconds since the Unix epoch.
    pub time_ms: i64,
    /// The id every other attribute derives from.
    pub id: EventId,
}

/// The events of one contract, sorted by (time, uuid).
pub(crate) struct ContractLog {
    /// The contract number.
    pub number: u64,
    /// User names acting in this contract (never empty).
    pub users: Vec<String>,
    /// Position of this contract in the configuration, mixed into ids.
    slot: u64,
    events: Vec<StoredEvent>,
    live_appended: u64,
}

impl std::fmt::Debug for ContractLog {
    /// Summarises instead of listing possibly millions of events.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContractLog")
            .field("number", &self.number)
            .field("users", &self.users)
            .field("events", &self.events.len())
            .field("live_appended", &self.live_appended)
            .finish()
    }
}

impl ContractLog {
    /// Generates the contract's events between `end - span` and `end`.
    fn generate(seed: u64, slot: u64, spec: &ContractSpec, end_ms: i64, span_ms: i64) -> Self {
        let span_ms = span_ms.max(1);
        let start_ms = end_ms.saturating_sub(span_ms);
        let burst_events = spec
            .bursts
            .iter()
            .fold(0usize, |sum, &(_, count)| sum.saturating_add(count));
        let mut events: Vec<StoredEvent> =
            Vec::with_capacity(spec.events.saturating_add(burst_events));
        events.extend((0..spec.events as u64).map(|index| StoredEvent {
            time_ms: event_time(seed, slot, index, start_ms, span_ms),
            id: EventId::derive(seed, slot, index),
        }));
        let mut index = BURST_INDEX_BASE;
        for &(at, count) in &spec.bursts {
            let second_ms = at.timestamp().saturating_mul(1_000);
            for _ in 0..count {
                events.push(StoredEvent {
                    time_ms: burst_time(seed, slot, index, second_ms),
                    id: EventId::derive(seed, slot, index),
                });
                index += 1;
            }
        }
        events.sort_unstable();
        let users = if spec.users.is_empty() {
            (1..=3)
                .map(|n| format!("user{n}@contract-{}.example.com", spec.number))
                .collect()
        } else {
            spec.users.clone()
        };
        Self {
            number: spec.number,
            users,
            slot,
            events,
            live_appended: 0,
        }
    }

    /// The positions of events with `start_ms <= time < end_ms` (each bound optional).
    pub(crate) fn range(&self, start_ms: Option<i64>, end_ms: Option<i64>) -> Range<usize> {
        let lo = start_ms.map_or(0, |s| self.events.partition_point(|e| e.time_ms < s));
        let hi = end_ms.map_or(self.events.len(), |e| {
            self.events.partition_point(|ev| ev.time_ms < e)
        });
        lo..hi.max(lo)
    }

    /// The stored events at the given positions.
    pub(crate) fn slice(&self, range: Range<usize>) -> &[StoredEvent] {
        let end = range.end.min(self.events.len());
        &self.events[range.start.min(end)..end]
    }

    /// All stored events, sorted by (time, uuid).
    pub(crate) fn events(&self) -> &[StoredEvent] {
        &self.events
    }

    /// Number of stored events.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.events.len()
    }

    /// Appends a live event at `time_ms`, keeping the order; returns its id.
    fn append(&mut self, seed: u64, time_ms: i64) -> EventId {
        let id = EventId::derive(seed, self.slot, LIVE_INDEX_BASE + self.live_appended);
        self.live_appended += 1;
        let event = StoredEvent { time_ms, id };
        let at = self.events.partition_point(|e| *e < event);
        self.events.insert(at, event);
        id
    }
}

/// All contracts' events.
#[derive(Debug)]
pub(crate) struct EventStore {
    seed: u64,
    contracts: Vec<ContractLog>,
}

impl EventStore {
    /// Generates every configured contract; `end` is the end of the time span.
    pub(crate) fn generate(config: &SandboxConfig, end: DateTime<Utc>) -> Self {
        let end_ms = end.timestamp_millis();
        let span_ms = config.span.num_milliseconds();
        let mut contracts: Vec<ContractLog> = Vec::with_capacity(config.contracts.len());
        for (slot, spec) in config.contracts.iter().enumerate() {
            if contracts.iter().any(|c| c.number == spec.number) {
                continue;
            }
            contracts.push(ContractLog::generate(
                config.seed,
                slot as u64,
                spec,
                end_ms,
                span_ms,
            ));
        }
        Self {
            seed: config.seed,
            contracts,
        }
    }

    /// The contract with this number, if it exists.
    pub(crate) fn contract(&self, number: u64) -> Option<&ContractLog> {
        self.contracts.iter().find(|c| c.number == number)
    }

    /// All contracts, in configuration order.
    pub(crate) fn contracts(&self) -> &[ContractLog] {
        &self.contracts
    }

    /// Appends a live event at `time_ms` to the contract; `None` if it does not exist.
    pub(crate) fn append(&mut self, number: u64, time_ms: i64) -> Option<EventId> {
        let seed = self.seed;
        self.contracts
            .iter_mut()
            .find(|c| c.number == number)
            .map(|c| c.append(seed, time_ms))
    }
}

/// Relative activity per UTC hour: quiet nights, busy office hours.
fn hour_weight(hour: i64) -> f64 {
    match hour {
        0..=5 => 0.25,
        6..=7 | 18..=20 => 0.6,
        8..=17 => 1.0,
        _ => 0.4,
    }
}

/// The time of generated event `index`: uniform over the span, thinned at night.
fn event_time(seed: u64, slot: u64, index: u64, start_ms: i64, span_ms: i64) -> i64 {
    let mut rng = SplitMix::new(hash3(seed, slot.wrapping_mul(0x100) ^ TIME_SALT, index));
    let mut t = start_ms;
    for _ in 0..8 {
        let offset = (rng.next_unit() * span_ms as f64) as i64;
        t = start_ms.saturating_add(offset.clamp(0, span_ms - 1));
        let hour = t.rem_euclid(DAY_MS) / HOUR_MS;
        if rng.next_unit() < hour_weight(hour) {
            break;
        }
    }
    t
}

/// The time of burst event `index`: a millisecond of the second starting at `second_ms`.
fn burst_time(seed: u64, slot: u64, index: u64, second_ms: i64) -> i64 {
    let offset = hash3(seed, slot.wrapping_mul(0x100) ^ BURST_SALT, index) % 1_000;
    second_ms.saturating_add(offset as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{MAIN_CONTRACT, default_contracts};

    fn config(events: usize) -> SandboxConfig {
        SandboxConfig {
            contracts: default_contracts(events),
            ..SandboxConfig::default()
        }
    }

    fn end() -> DateTime<Utc> {
        "2024-06-01T00:00:00Z".parse().unwrap()
    }

    #[test]
    fn uuid_layout() {
        let text = format_uuid(0x0123_4567_89ab_cdef, 0xfedc_ba98_7654_3210);
        assert_eq!(text, "01234567-89ab-cdef-fedc-ba9876543210");
    }

    #[test]
    fn stored_events_are_small() {
        assert!(std::mem::size_of::<StoredEvent>() <= 24);
    }

    #[test]
    fn events_are_sorted_within_span_and_unique() {
        let store = EventStore::generate(&config(5_000), end());
        let main = store.contract(MAIN_CONTRACT).unwrap();
        assert_eq!(main.len(), 5_000);
        let events = main.slice(0..main.len());
        assert!(events.windows(2).all(|w| w[0] < w[1]));
        let end_ms = end().timestamp_millis();
        let start_ms = end_ms - 90 * DAY_MS;
        assert!(
            events
                .iter()
                .all(|e| e.time_ms >= start_ms && e.time_ms < end_ms)
        );
        let mut uuids: Vec<String> = events.iter().map(|e| e.id.uuid()).collect();
        uuids.sort();
        uuids.dedup();
        assert_eq!(uuids.len(), 5_000);
    }

    #[test]
    fn uuid_text_order_matches_id_order() {
        let store = EventStore::generate(&config(2_000), end());
        let main = store.contract(MAIN_CONTRACT).unwrap();
        let mut ids: Vec<EventId> = main.slice(0..main.len()).iter().map(|e| e.id).collect();
        ids.sort();
        let texts: Vec<String> = ids.iter().map(|id| id.uuid()).collect();
        assert!(texts.windows(2).all(|w| w[0] < w[1]));
        let uuid = &texts[0];
        assert_eq!(uuid.len(), 36);
        assert_eq!(&uuid[14..15], "4");
        assert!(matches!(&uuid[19..20], "8" | "9" | "a" | "b"));
    }

    #[test]
    fn same_seed_same_events() {
        let a = EventStore::generate(&config(1_000), end());
        let b = EventStore::generate(&config(1_000), end());
        let ca = a.contract(MAIN_CONTRACT).unwrap();
        let cb = b.contract(MAIN_CONTRACT).unwrap();
        assert_eq!(ca.slice(0..ca.len()), cb.slice(0..cb.len()));
        let other = SandboxConfig {
            seed: 99,
            ..config(1_000)
        };
        let c = EventStore::generate(&other, end());
        let cc = c.contract(MAIN_CONTRACT).unwrap();
        assert_ne!(ca.slice(0..ca.len()), cc.slice(0..cc.len()));
    }

    #[test]
    fn range_is_inclusive_start_exclusive_end() {
        let store = EventStore::generate(&config(1_000), end());
        let main = store.contract(MAIN_CONTRACT).unwrap();
        let events = main.slice(0..main.len());
        let t = events[100].time_ms;
        let r = main.range(Some(t), Some(t + 1));
        assert!(r.contains(&100));
        assert!(main.slice(r).iter().all(|e| e.time_ms == t));
        assert!(main.range(Some(t), Some(t)).is_empty());
        assert_eq!(main.range(None, None), 0..1_000);
    }

    #[test]
    fn append_keeps_order() {
        let mut store = EventStore::generate(&config(100), end());
        let id = store
            .append(MAIN_CONTRACT, end().timestamp_millis())
            .unwrap();
        let main = store.contract(MAIN_CONTRACT).unwrap();
        assert_eq!(main.len(), 101);
        assert_eq!(main.slice(100..101)[0].id, id);
        assert!(store.append(1, 0).is_none());
    }

    #[test]
    fn bursts_crowd_one_second() {
        let at: DateTime<Utc> = "2024-05-20T10:00:00.750Z".parse().unwrap();
        let other: DateTime<Utc> = "2024-05-21T00:00:00Z".parse().unwrap();
        let mut config = config(1_000);
        config.contracts[0] = config.contracts[0].clone().burst(at, 3_000).burst(other, 5);
        let store = EventStore::generate(&config, end());
        let main = store.contract(MAIN_CONTRACT).unwrap();
        assert_eq!(main.len(), 4_005);
        let events = main.events();
        assert!(events.windows(2).all(|w| w[0] < w[1]));
        let second = "2024-05-20T10:00:00Z"
            .parse::<DateTime<Utc>>()
            .unwrap()
            .timestamp_millis();
        let inside = main.range(Some(second), Some(second + 1_000));
        assert!(inside.len() >= 3_000, "{}", inside.len());
        let millis: std::collections::HashSet<i64> =
            main.slice(inside).iter().map(|e| e.time_ms).collect();
        assert!(millis.len() > 900, "{}", millis.len());
        let o = other.timestamp_millis();
        assert!(main.range(Some(o), Some(o + 1_000)).len() >= 5);
        let mut ids: Vec<EventId> = events.iter().map(|e| e.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 4_005);
        let again = EventStore::generate(&config, end());
        assert_eq!(again.contract(MAIN_CONTRACT).unwrap().events(), events);
    }

    #[test]
    fn daytime_is_busier_than_night() {
        let store = EventStore::generate(&config(20_000), end());
        let main = store.contract(MAIN_CONTRACT).unwrap();
        let hour = |e: &StoredEvent| e.time_ms.rem_euclid(DAY_MS) / HOUR_MS;
        let events = main.slice(0..main.len());
        let night = events.iter().filter(|e| hour(e) < 4).count();
        let day = events
            .iter()
            .filter(|e| (10..14).contains(&hour(e)))
            .count();
        assert!(day > 2 * night, "day {day} night {night}");
    }
}
