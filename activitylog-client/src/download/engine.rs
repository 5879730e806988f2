//! The download engine: plans windows that fit the server's limits, fetches
//! their pages concurrently, and hands events on in window order, each once.
//!
//! - The range is widened to whole seconds and cut into windows no longer
//!   than the maximum span; every cut is at a whole second, so no entry falls
//!   into two windows or none. Entries outside the range asked for (when its
//!   bounds have fractions of a second) are dropped by their `meta.time`.
//! - Every window is *probed*: its first page doubles as the count query.
//!   Upcoming windows are probed while earlier ones are still being read, all
//!   within the concurrency budget, so empty stretches cost no round trips of
//!   their own.
//! - A window whose total reaches the result window (a count the service may
//!   have capped, ES's 10,000) or is marked a lower bound (`relation: gte`) is
//!   split by time (k-way, at whole seconds) until every part fits; a single
//!   second that still holds too many is a permanent error naming it.
//! - A window that fits is a *leaf*: its pages are fetched in order of offset
//!   and consumed in that order once the leaf is at the front. Nothing relies
//!   on the order of entries within a page or a window.
//! - A leaf is complete when every page reported the same exact total and the
//!   distinct events seen equal that total. Otherwise (events arrived, pages
//!   shifted) it is read again, deduplicating against what was already sent,
//!   a bounded number of times; then the download fails loudly.
//! - Events are deduplicated on `@uuid` (or their bytes) within a leaf and
//!   against the previous leaf, so boundaries never yield an event twice.
//! - The stream ends with an explicit `Finished`; a task that ends without it
//!   (a panic) is reported as an error, never as a clean end.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};

use chrono::{DateTime, Utc};
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::sync::mpsc;
pub(crate) use tokio_util::task::AbortOnDropHandle as AbortOnDrop;

use super::page::{self, Page, PageRequest};
use super::window::Window;
use crate::error::{Error, Result};
use crate::event::RawEvent;
use crate::generated::Client;

/// What the engine sends to the stream.
#[derive(Debug)]
pub(crate) enum Batch {
    /// New events, in page order.
    Events(Vec<RawEvent>),
    /// Every event before this instant has been sent.
    Done(DateTime<Utc>),
    /// The whole range has been sent: the only clean end of a download.
    Finished,
}

/// The fixed parameters of one download.
#[derive(Clone, Debug)]
pub(crate) struct Plan {
    pub contract: u64,
    /// The range asked for, exactly (fractions of seconds included).
    pub range: Window,
    pub page_size: u64,
    pub concurrency: usize,
    pub result_window: u64,
    pub max_span: std::time::Duration,
    pub max_rereads: u32,
}

/// Starts the engine on its own task; batches arrive on the receiver.
/// Dropping the receiver (and the returned guard) stops it.
pub(crate) fn spawn(
    client: Client,
    plan: Plan,
) -> (mpsc::Receiver<Result<Batch>>, AbortOnDrop<()>) {
    let (sender, receiver) = mpsc::channel(2);
    let task = tokio::spawn(async move {
        let mut engine = Engine::new(client, plan, sender.clone());
        match engine.run().await {
            Ok(()) => {
                let _ = sender.send(Ok(Batch::Finished)).await;
            }
            Err(error) => {
                let _ = sender.send(Err(error)).await;
            }
        }
    });
    (receiver, AbortOnDrop::new(task))
}

/// How an event is recognised again: its `@uuid` (as 128 bits when it is a
/// canonical UUID, so no allocation), or a digest of its bytes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Key {
    Id(u128),
    Text(Box<str>),
    Digest(u64),
}

fn key_of(event: &RawEvent) -> Key {
    match event.uuid() {
        Some(uuid) => match parse_uuid(&uuid) {
            Some(id) => Key::Id(id),
            None => Key::Text(uuid.into()),
        },
        None => {
            let mut hasher = DefaultHasher::new();
            event.json().hash(&mut hasher);
            Key::Digest(hasher.finish())
        }
    }
}

/// The 128 bits of a lowercase hyphenated UUID; `None` for any other text
/// (which is then kept as text: two spellings are two keys, as on the wire).
fn parse_uuid(text: &str) -> Option<u128> {
    let bytes = text.as_bytes();
    if bytes.len() != 36 {
        return None;
    }
    let mut value: u128 = 0;
    for (at, &byte) in bytes.iter().enumerate() {
        if matches!(at, 8 | 13 | 18 | 23) {
            if byte != b'-' {
                return None;
            }
            continue;
        }
        let digit = match byte {
            b'0'..=b'9' => byte - b'0',
            b'a'..=b'f' => byte - b'a' + 10,
            _ => return None,
        };
        value = value << 4 | u128::from(digit);
    }
    Some(value)
}

/// Keys seen in a window, each with the number of the read that last saw it.
type Seen = HashMap<Key, u32>;

/// One window of the plan, in time order with the others.
#[derive(Debug)]
struct Slot {
    /// Changes when the window is read again, so stale pages are ignored.
    id: u64,
    window: Window,
    /// What earlier reads of this window already sent.
    seen: Seen,
    read: u32,
    state: State,
}

#[derive(Debug)]
enum State {
    /// Nothing asked yet.
    Waiting,
    /// The first page is on its way.
    Probing,
    /// The window fits: being paged.
    Leaf(Leaf),
    /// A page of this window could not be fetched. Reported when the
    /// window reaches the front, so everything before it is delivered
    /// (and checkpointed) first, and the error names the first gap.
    Failed(Error),
}

/// A window that fits the result window, being read.
#[derive(Debug)]
struct Leaf {
    total: u64,
    /// Entries per page the server actually gives (it may cap `limit`).
    page_limit: u64,
    /// Next offset to request.
    next_offset: u64,
    /// Offsets requested and not yet consumed, in order.
    outstanding: VecDeque<u64>,
    /// Pages arrived and not yet consumed, by offset.
    arrived: HashMap<u64, Page>,
    distinct_this_read: u64,
    unstable: bool,
}

impl Leaf {
    fn has_pages_to_request(&self) -> bool {
        self.next_offset < self.total
    }

    fn is_read(&self) -> bool {
        !self.has_pages_to_request() && self.outstanding.is_empty()
    }
}

/// A page on its way back: which slot, which offset, and what came.
type Fetched = (u64, u64, Result<Page>);

struct Engine {
    client: Client,
    plan: Plan,
    sender: mpsc::Sender<Result<Batch>>,
    /// The windows still to be sent, in time order.
    slots: VecDeque<Slot>,
    in_flight: FuturesUnordered<AbortOnDrop<Fetched>>,
    previous: Seen,
    next_id: u64,
}

/// Whether the reader is still there.
#[derive(Debug, PartialEq, Eq)]
enum Flow {
    Go,
    ReaderGone,
}

impl Engine {
    fn new(client: Client, plan: Plan, sender: mpsc::Sender<Result<Batch>>) -> Self {
        let mut engine = Engine {
            client,
            plan,
            sender,
            slots: VecDeque::new(),
            in_flight: FuturesUnordered::new(),
            previous: Seen::new(),
            next_id: 0,
        };
        let whole = engine.plan.range.whole_seconds();
        for window in whole.cut(engine.plan.max_span) {
            let slot = engine.slot(window, Seen::new(), 1);
            engine.slots.push_back(slot);
        }
        engine
    }

    fn slot(&mut self, window: Window, seen: Seen, read: u32) -> Slot {
        let id = self.next_id;
        self.next_id += 1;
        Slot {
            id,
            window,
            seen,
            read,
            state: State::Waiting,
        }
    }

    async fn run(&mut self) -> Result<()> {
        loop {
            if self.drain_front().await? == Flow::ReaderGone {
                return Ok(());
            }
            if self.slots.is_empty() {
                return Ok(());
            }
            self.launch();
            let Some(joined) = self.in_flight.next().await else {
                return Err(Error::Incomplete {
                    missing: self.missing_from_front(),
                    reason:
                        "the download stalled with nothing left to ask (a bug: please report it)"
                            .into(),
                    cause: Some(Box::new(Error::Bug("the download stalled".into()))),
                });
            };
            let (slot_id, offset, result) = joined.map_err(|error| Error::Incomplete {
                missing: self.missing_from_front(),
                reason: format!("a page task failed: {error} (a bug: please report it)"),
                cause: Some(Box::new(Error::Bug(format!("a page task failed: {error}")))),
            })?;
            self.arrive(slot_id, offset, result)?;
        }
    }

    /// Starts requests, earliest windows first, while the budget allows:
    /// at most `concurrency` in flight; the front window may use them all,
    /// windows behind it only while their pages (in flight and arrived,
    /// empty ones aside) stay under twice that, which bounds memory.
    fn launch(&mut self) {
        let concurrency = self.plan.concurrency;
        let limit = self.plan.page_size.min(self.plan.result_window);
        let mut position = 0;
        while self.in_flight.len() < concurrency && position < self.slots.len() {
            if position > 0 && self.in_flight.len() + self.buffered() >= 2 * concurrency {
                return;
            }
            let contract = self.plan.contract;
            let result_window = self.plan.result_window;
            let slot = &mut self.slots[position];
            let request = match &mut slot.state {
                State::Waiting => {
                    slot.state = State::Probing;
                    PageRequest {
                        contract,
                        window: slot.window,
                        offset: 0,
                        limit,
                    }
                }
                State::Leaf(leaf) if leaf.has_pages_to_request() => {
                    let limit = leaf
                        .page_limit
                        .min(result_window.saturating_sub(leaf.next_offset))
                        .max(1);
                    let request = PageRequest {
                        contract,
                        window: slot.window,
                        offset: leaf.next_offset,
                        limit,
                    };
                    leaf.outstanding.push_back(leaf.next_offset);
                    leaf.next_offset += limit;
                    request
                }
                _ => {
                    position += 1;
                    continue;
                }
            };
            let (client, id) = (self.client.clone(), slot.id);
            self.in_flight
                .push(AbortOnDrop::new(tokio::spawn(async move {
                    (id, request.offset, page::fetch(&client, request).await)
                })));
        }
    }

    /// Files a page that came back: decides a probed window (leaf or split),
    /// or keeps the page for its leaf. A failure of the front window ends
    /// the download; one of a later window waits in it for its turn.
    fn arrive(&mut self, slot_id: u64, offset: u64, result: Result<Page>) -> Result<()> {
        let Some(position) = self.slots.iter().position(|s| s.id == slot_id) else {
            return Ok(()); // a page of a window that is being read again
        };
        match self.file(position, offset, result) {
            Err(error) if position > 0 => {
                self.slots[position].state = State::Failed(error);
                Ok(())
            }
            outcome => outcome,
        }
    }

    fn file(&mut self, position: usize, offset: u64, result: Result<Page>) -> Result<()> {
        let page = result.map_err(|cause| {
            let window = self.slots[position].window;
            not_fetched(
                format!(
                    "entries of contract {} from {window} (from offset {offset} on)",
                    self.plan.contract
                ),
                cause,
            )
        })?;
        let slot = &mut self.slots[position];
        match &mut slot.state {
            State::Probing => {
                let fits = !page.total_is_lower_bound && page.total < self.plan.result_window;
                if !fits {
                    return self.split(position, &page);
                }
                let requested = self.plan.page_size.min(self.plan.result_window);
                let received = page.events.len() as u64;
                let page_limit = if received < requested && received < page.total {
                    received.max(1) // the server caps pages below what we asked
                } else {
                    requested
                };
                let mut leaf = Leaf {
                    total: page.total,
                    page_limit,
                    // A probe with no events but a count cannot be paged: the
                    // completeness check sends the window to be read again.
                    next_offset: if received == 0 { page.total } else { received },
                    outstanding: VecDeque::from([0]),
                    arrived: HashMap::new(),
                    distinct_this_read: 0,
                    unstable: false,
                };
                leaf.arrived.insert(0, page);
                slot.state = State::Leaf(leaf);
            }
            State::Leaf(leaf) => {
                leaf.arrived.insert(offset, page);
            }
            State::Waiting | State::Failed(_) => {}
        }
        Ok(())
    }

    /// Replaces a window that holds too many events by its parts, in place.
    fn split(&mut self, position: usize, probe: &Page) -> Result<()> {
        let window = self.slots[position].window;
        let target = (self.plan.result_window * 3 / 4).max(1);
        let mut parts = probe.total.div_ceil(target).clamp(2, 64);
        if probe.total_is_lower_bound || probe.total >= self.plan.result_window {
            parts = parts.max(4); // the count may be capped: the real one is larger
        }
        let parts = window.split(parts as u32);
        if parts.len() < 2 {
            return Err(Error::CrowdedSecond {
                contract: self.plan.contract,
                second: window.start,
                count: probe.total,
                at_least: probe.total_is_lower_bound || probe.total >= self.plan.result_window,
                result_window: self.plan.result_window,
            });
        }
        let Some(slot) = self.slots.remove(position) else {
            return Ok(());
        };
        tracing::debug!(
            window = %slot.window,
            total = probe.total,
            lower_bound = probe.total_is_lower_bound,
            parts = parts.len(),
            "splitting a window that exceeds the result window"
        );
        for window in parts.into_iter().rev() {
            let part = self.slot(window, slot.seen.clone(), slot.read);
            self.slots.insert(position, part);
        }
        Ok(())
    }

    /// Sends what the front window has ready; finishes it when it is read
    /// (complete, or scheduled to be read again), then goes on to the next.
    async fn drain_front(&mut self) -> Result<Flow> {
        loop {
            let Some(front) = self.slots.front_mut() else {
                return Ok(Flow::Go);
            };
            if let State::Failed(_) = front.state {
                let failed = std::mem::replace(&mut front.state, State::Waiting);
                if let State::Failed(error) = failed {
                    return Err(error);
                }
            }
            let Slot {
                state: State::Leaf(leaf),
                seen,
                read,
                window,
                ..
            } = front
            else {
                return Ok(Flow::Go);
            };
            let ready = leaf
                .outstanding
                .front()
                .and_then(|offset| leaf.arrived.remove(offset).map(|page| (*offset, page)));
            match ready {
                Some((offset, page)) => {
                    leaf.outstanding.pop_front();
                    let fresh = consume(
                        leaf,
                        seen,
                        *read,
                        &self.previous,
                        offset,
                        page,
                        &self.plan.range,
                        window,
                    );
                    if !fresh.is_empty()
                        && self.sender.send(Ok(Batch::Events(fresh))).await.is_err()
                    {
                        return Ok(Flow::ReaderGone);
                    }
                }
                None if leaf.is_read() => {
                    if self.finish_front().await? == Flow::ReaderGone {
                        return Ok(Flow::ReaderGone);
                    }
                }
                None => return Ok(Flow::Go),
            }
        }
    }

    /// Completes the front leaf, or schedules it to be read again.
    async fn finish_front(&mut self) -> Result<Flow> {
        let Some(slot) = self.slots.pop_front() else {
            return Ok(Flow::Go);
        };
        let State::Leaf(leaf) = &slot.state else {
            self.slots.push_front(slot);
            return Ok(Flow::Go);
        };
        if !leaf.unstable && leaf.distinct_this_read == leaf.total {
            let through = slot.window.end.min(self.plan.range.end);
            self.previous = slot.seen;
            let sent = self.sender.send(Ok(Batch::Done(through))).await;
            return Ok(if sent.is_ok() {
                Flow::Go
            } else {
                Flow::ReaderGone
            });
        }
        if slot.read > self.plan.max_rereads {
            return Err(Error::Incomplete {
                missing: format!(
                    "entries of contract {} from {}",
                    self.plan.contract, slot.window
                ),
                reason: format!(
                    "the window changed while it was read {} times (last count {}, \
                     {} distinct entries seen)",
                    slot.read, leaf.total, leaf.distinct_this_read
                ),
                cause: None,
            });
        }
        tracing::debug!(
            window = %slot.window,
            total = leaf.total,
            distinct = leaf.distinct_this_read,
            read = slot.read,
            "the window changed while being read; reading it again"
        );
        // A new id: pages of the old read still on their way are ignored.
        let again = self.slot(slot.window, slot.seen, slot.read + 1);
        self.slots.push_front(again);
        Ok(Flow::Go)
    }

    /// Pages with events that arrived for windows behind the front.
    fn buffered(&self) -> usize {
        self.slots
            .iter()
            .skip(1)
            .map(|slot| match &slot.state {
                State::Leaf(leaf) => leaf
                    .arrived
                    .values()
                    .filter(|p| !p.events.is_empty())
                    .count(),
                _ => 0,
            })
            .sum()
    }

    fn missing_from_front(&self) -> String {
        let window = self
            .slots
            .front()
            .map_or(self.plan.range, |slot| slot.window);
        format!("entries of contract {} from {window}", self.plan.contract)
    }
}

/// Takes a page's events into its leaf: counts, checks and deduplicates
/// them; returns those never sent before and inside the range asked for.
#[allow(clippy::too_many_arguments)]
fn consume(
    leaf: &mut Leaf,
    seen: &mut Seen,
    read: u32,
    previous: &Seen,
    offset: u64,
    page: Page,
    range: &Window,
    window: &Window,
) -> Vec<RawEvent> {
    if page.total != leaf.total || page.total_is_lower_bound {
        leaf.unstable = true;
    }
    let expected = leaf.page_limit.min(leaf.total.saturating_sub(offset));
    if (page.events.len() as u64) < expected {
        leaf.unstable = true; // a gap: the server sent fewer than the window holds
    }
    // Only the windows at the ends of a range with fractional bounds reach outside it.
    let clip = window.start < range.start || window.end > range.end;
    let mut fresh = Vec::with_capacity(page.events.len());
    for event in page.events {
        let key = key_of(&event);
        let in_previous_window = previous.contains_key(&key);
        let earlier = seen.insert(key, read);
        if earlier != Some(read) {
            leaf.distinct_this_read += 1;
        }
        if earlier.is_some() || in_previous_window {
            continue;
        }
        if clip && event.time().is_some_and(|time| !range.contains(time)) {
            continue;
        }
        fresh.push(event);
    }
    fresh
}

/// Says what was not fetched, unless the cause is the user's to fix (bad
/// credentials, parameters, configuration): those speak for themselves.
fn not_fetched(missing: String, cause: Error) -> Error {
    match cause {
        Error::Server { .. } | Error::Decode { .. } => Error::Incomplete {
            missing,
            reason: cause.to_string(),
            cause: Some(Box::new(cause)),
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hooks::Hooks;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn window(start: &str, end: &str) -> Window {
        Window {
            start: at(start),
            end: at(end),
        }
    }

    fn event(uuid: &str, time: &str) -> RawEvent {
        RawEvent::parse(&format!(
            r#"{{"@uuid":"{uuid}","meta":{{"time":"{time}"}}}}"#
        ))
        .unwrap()
    }

    fn page(total: u64, events: Vec<RawEvent>) -> Page {
        Page {
            total,
            total_is_lower_bound: false,
            events,
        }
    }

    fn leaf(total: u64, page_limit: u64) -> Leaf {
        Leaf {
            total,
            page_limit,
            next_offset: total,
            outstanding: VecDeque::new(),
            arrived: HashMap::new(),
            distinct_this_read: 0,
            unstable: false,
        }
    }

    /// An engine for a server nobody answers on: enough to watch its planning.
    fn engine(range: Window, concurrency: usize) -> (Engine, mpsc::Receiver<Result<Batch>>) {
        let hooks = Hooks::new(
            &crate::Credentials::token("t"),
            crate::RetryPolicy::default(),
        )
        .unwrap();
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = Client::new_with_client("http://127.0.0.1:9", reqwest::Client::new(), hooks);
        let (sender, receiver) = mpsc::channel(2);
        let plan = Plan {
            contract: 1,
            range,
            page_size: 100,
            concurrency,
            result_window: 10_000,
            max_span: std::time::Duration::from_secs(86_400),
            max_rereads: 3,
        };
        (Engine::new(client, plan, sender), receiver)
    }

    #[test]
    fn canonical_uuids_become_128_bits_and_other_text_stays_text() {
        let id = "c1b9b1b0-7b1b-11e6-9a41-000d3a002f99";
        assert_eq!(parse_uuid(id), Some(0xc1b9b1b0_7b1b_11e6_9a41_000d3a002f99));
        for other in [
            "C1B9B1B0-7B1B-11E6-9A41-000D3A002F99",
            "c1b9b1b0x7b1b-11e6-9a41-000d3a002f99",
            "c1b9b1b0-7b1b-11e6-9a41-000d3a002f9",
            "not-a-uuid",
            "",
        ] {
            assert_eq!(parse_uuid(other), None, "{other}");
        }
        assert_eq!(
            key_of(&event("u-1", "2024-01-01T00:00:00Z")),
            Key::Text("u-1".into())
        );
        let no_uuid = RawEvent::parse(r#"{"x":1}"#).unwrap();
        assert_eq!(key_of(&no_uuid), key_of(&no_uuid.clone()));
        assert!(matches!(key_of(&no_uuid), Key::Digest(_)));
    }

    #[test]
    fn a_page_sends_each_event_once_whatever_its_order() {
        let range = window("2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z");
        let mut leaf = leaf(3, 2);
        let mut seen = Seen::new();
        let mut previous = Seen::new();
        previous.insert(key_of(&event("p", "2024-01-01T00:00:00Z")), 1);
        let first = page(
            3,
            vec![
                event("b", "2024-01-01T05:00:00Z"),
                event("a", "2024-01-01T01:00:00Z"),
            ],
        );
        let fresh = consume(&mut leaf, &mut seen, 1, &previous, 0, first, &range, &range);
        assert_eq!(fresh.len(), 2);
        // The last page repeats `a` (pages shifted) and `p` of the previous window.
        let last = page(
            3,
            vec![
                event("a", "2024-01-01T01:00:00Z"),
                event("p", "2024-01-01T00:00:00Z"),
            ],
        );
        let fresh = consume(&mut leaf, &mut seen, 1, &previous, 2, last, &range, &range);
        assert!(fresh.is_empty(), "{fresh:?}");
        assert_eq!(leaf.distinct_this_read, 3);
        assert!(!leaf.unstable);
    }

    #[test]
    fn a_changed_count_or_a_short_page_makes_the_leaf_unstable() {
        let range = window("2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z");
        let (mut seen, previous) = (Seen::new(), Seen::new());
        let mut changed = leaf(4, 2);
        let page_with_new_total = page(5, vec![event("a", "2024-01-01T01:00:00Z")]);
        consume(
            &mut changed,
            &mut seen,
            1,
            &previous,
            0,
            page_with_new_total,
            &range,
            &range,
        );
        assert!(changed.unstable);
        let mut short = leaf(4, 2);
        let one_of_two = page(4, vec![event("b", "2024-01-01T01:00:00Z")]);
        consume(
            &mut short, &mut seen, 1, &previous, 0, one_of_two, &range, &range,
        );
        assert!(short.unstable);
    }

    #[test]
    fn entries_outside_fractional_bounds_are_dropped_at_the_ends() {
        let range = window("2024-01-01T00:00:00.500Z", "2024-01-01T00:00:09.250Z");
        let outer = range.whole_seconds();
        let mut leaf = leaf(4, 10);
        let (mut seen, previous) = (Seen::new(), Seen::new());
        let events = vec![
            event("before", "2024-01-01T00:00:00.499Z"),
            event("first", "2024-01-01T00:00:00.500Z"),
            event("last", "2024-01-01T00:00:09.249Z"),
            event("after", "2024-01-01T00:00:09.250Z"),
        ];
        let fresh = consume(
            &mut leaf,
            &mut seen,
            1,
            &previous,
            0,
            page(4, events),
            &range,
            &outer,
        );
        let kept: Vec<_> = fresh
            .iter()
            .map(|e| e.uuid().unwrap().into_owned())
            .collect();
        assert_eq!(kept, ["first", "last"]);
        assert_eq!(leaf.distinct_this_read, 4, "the window itself is complete");
    }

    #[tokio::test]
    async fn upcoming_windows_are_probed_within_the_budget_front_first() {
        let range = window("2024-01-01T00:00:00Z", "2024-01-06T00:00:00Z");
        let (mut engine, _receiver) = engine(range, 3);
        assert_eq!(engine.slots.len(), 5, "five one-day windows");
        engine.launch();
        assert_eq!(engine.in_flight.len(), 3);
        let states: Vec<_> = engine
            .slots
            .iter()
            .map(|slot| matches!(slot.state, State::Probing))
            .collect();
        assert_eq!(states, [true, true, true, false, false]);
    }

    #[tokio::test]
    async fn pages_buffered_behind_the_front_hold_back_probing_ahead() {
        let range = window("2024-01-01T00:00:00Z", "2024-01-07T00:00:00Z");
        let (mut engine, _receiver) = engine(range, 2);
        // Windows 2 to 5 came back with a page each while the front waits:
        // twice the concurrency, the most that may wait behind the front.
        for slot in engine.slots.iter_mut().skip(1).take(4) {
            let mut buffered = leaf(1, 100);
            buffered.outstanding.push_back(0);
            buffered
                .arrived
                .insert(0, page(1, vec![event("x", "2024-01-02T00:00:00Z")]));
            slot.state = State::Leaf(buffered);
        }
        engine.launch();
        // The front may still ask (it alone can make progress); nobody else.
        assert_eq!(engine.in_flight.len(), 1);
        assert!(matches!(engine.slots[0].state, State::Probing));
        assert!(matches!(engine.slots[5].state, State::Waiting));
    }

    #[tokio::test]
    async fn empty_pages_behind_the_front_take_no_budget() {
        let range = window("2024-01-01T00:00:00Z", "2024-01-07T00:00:00Z");
        let (mut engine, _receiver) = engine(range, 2);
        for slot in engine.slots.iter_mut().skip(1).take(4) {
            let mut empty = leaf(0, 100);
            empty.outstanding.push_back(0);
            empty.arrived.insert(0, page(0, Vec::new()));
            slot.state = State::Leaf(empty);
        }
        engine.launch();
        assert_eq!(engine.in_flight.len(), 2, "the front and the last window");
        assert!(matches!(engine.slots[5].state, State::Probing));
    }

    #[test]
    fn a_second_that_holds_more_than_the_result_window_is_a_permanent_error() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let _guard = runtime.enter();
        let second = window("2024-01-01T10:00:00Z", "2024-01-01T10:00:01Z");
        let (mut engine, _receiver) = engine(second, 1);
        let crowded = Page {
            total: 10_000,
            total_is_lower_bound: true,
            events: Vec::new(),
        };
        let error = engine.split(0, &crowded).unwrap_err();
        assert!(!error.is_transient());
        let message = error.to_string();
        assert!(
            message.contains("at least 10000 entries") && message.contains("2024-01-01T10:00:00Z"),
            "{message}"
        );
    }

    #[test]
    fn a_large_window_is_split_at_whole_seconds_in_place() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let _guard = runtime.enter();
        let range = window("2024-01-01T00:00:00Z", "2024-01-03T00:00:00Z");
        let (mut engine, _receiver) = engine(range, 1);
        let capped = Page {
            total: 10_000,
            total_is_lower_bound: false,
            events: Vec::new(),
        };
        engine.split(0, &capped).unwrap();
        let windows: Vec<Window> = engine.slots.iter().map(|slot| slot.window).collect();
        assert!(
            windows.len() > 4,
            "a capped count splits at least 4 ways, and the second day stays"
        );
        assert_eq!(windows[0].start, range.start);
        assert_eq!(windows.last().unwrap().end, range.end);
        for pair in windows.windows(2) {
            assert_eq!(pair[0].end, pair[1].start);
            assert_eq!(pair[0].end.timestamp_subsec_nanos(), 0);
        }
    }
}
