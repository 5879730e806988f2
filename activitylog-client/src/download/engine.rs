//! The download engine: plans windows that fit the server's limits, fetches
//! their pages concurrently, and hands events on in window order, each once.
//!
//! Nothing the service says about itself is taken on trust: its count
//! (`hits.total`) only helps to plan, its result window is learned when it
//! refuses a page, and a window is complete only when the service has shown
//! where it ends.
//!
//! - The range is widened to whole seconds and cut into windows no longer
//!   than the maximum span; every cut is at a whole second, so no entry falls
//!   into two windows or none. Entries outside the range asked for (when its
//!   bounds have fractions of a second) are dropped by their `meta.time`.
//! - Every window is *probed*: its first page doubles as the count query.
//!   Upcoming windows are probed while earlier ones are still being read, all
//!   within the concurrency budget, so empty stretches cost no round trips of
//!   their own.
//! - A window whose count reaches the result window is split by time (k-way,
//!   at whole seconds) at once. Any other window is a *leaf*: its pages are
//!   requested concurrently up to the count, and further while full pages
//!   keep coming (the count may be capped, at any value). A leaf paged to the
//!   depth of the result window without its end in sight holds more than the
//!   service lets anyone page through: it is split too. A single second that
//!   does so is a permanent error naming it.
//! - The end of a window is shown by the service, never by its count: a page
//!   shorter than asked, or an empty page at the next offset. A leaf whose
//!   last page is full costs one more request, sent with the others. A short
//!   first page may also be the server capping `limit`: it is the end when
//!   the server gave larger pages before, or when it holds all its own count
//!   says; otherwise the next offset is asked. (So a server that caps `limit`
//!   below the page size asked, and caps its count at exactly that size too,
//!   could end a window early, until it has been seen to give larger pages.)
//! - A leaf is complete when its read showed the end and either the count
//!   agrees (exact on every page, never falling from one page to the next,
//!   the last equal to the distinct events read: entries that arrived while
//!   it was paged are then all in hand) or the read added no entry an earlier
//!   read had not seen. Otherwise (a capped, changing or wrong count; entries
//!   that moved while it was paged) it is read again, deduplicating against
//!   what was already sent, a bounded number of times; then the download
//!   fails loudly.
//! - A page refused as deeper than the result window (a 400 saying "Result
//!   window is too large … [N]") teaches the engine the service's window: it
//!   goes on with N (half the refused depth when no N is given), splitting
//!   the window being read and any other already paged to N without its
//!   end in sight (it could ask nothing deeper), and the client keeps N for
//!   later downloads.
//! - Events are deduplicated on `@uuid` (or their bytes) within a leaf and
//!   against the previous leaf, so boundaries never yield an event twice;
//!   the parts of a split window know what the whole had already sent.
//!   Nothing relies on the order of entries within a page or a window.
//! - The stream ends with an explicit `Finished`; a task that ends without it
//!   (a panic) is reported as an error, never as a clean end.
//! - A reader slower than the download (the engine waits on it longer than
//!   on the service, of late) gets half the requests in flight: more would
//!   only hold pages waiting for it.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::sync::mpsc;
pub(crate) use tokio_util::task::AbortOnDropHandle as AbortOnDrop;

use super::learned::{self, Learned};
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
    /// The result window assumed at the start (lowered when the service
    /// refuses a page as too deep).
    pub result_window: u64,
    pub max_span: std::time::Duration,
    pub max_rereads: u32,
    /// What downloads of this client learned about the service.
    pub learned: Arc<Learned>,
}

/// Where the engine's pages come from: the service, through a [`Client`]
/// (tests script a service of their own).
pub(crate) trait Source: Clone + Send + Sync + 'static {
    /// One page, retried under the source's policy.
    fn page(&self, request: PageRequest) -> impl Future<Output = Result<Page>> + Send + 'static;
}

impl Source for Client {
    fn page(&self, request: PageRequest) -> impl Future<Output = Result<Page>> + Send + 'static {
        let client = self.clone();
        async move { page::fetch(&client, request).await }
    }
}

/// Starts the engine on its own task; batches arrive on the receiver.
/// Dropping the receiver (and the returned guard) stops it.
pub(crate) fn spawn(
    source: impl Source,
    plan: Plan,
) -> (mpsc::Receiver<Result<Batch>>, AbortOnDrop<()>) {
    let (sender, receiver) = mpsc::channel(2);
    let task = tokio::spawn(async move {
        let mut engine = Engine::new(source, plan, sender.clone());
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
    /// Where the 32 hex digits of `8-4-4-4-12` lie.
    const DIGITS: [usize; 32] = [
        0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 14, 15, 16, 17, 19, 20, 21, 22, 24, 25, 26, 27, 28,
        29, 30, 31, 32, 33, 34, 35,
    ];
    let bytes: &[u8; 36] = text.as_bytes().try_into().ok()?;
    if [8, 13, 18, 23].iter().any(|&at| bytes[at] != b'-') {
        return None;
    }
    // Each half in a u64, the digits' validity in one mask: no branch per byte.
    let (mut high, mut low, mut invalid) = (0u64, 0u64, 0u8);
    for (n, &at) in DIGITS.iter().enumerate() {
        let digit = HEX[usize::from(bytes[at])];
        invalid |= digit;
        let half = if n < 16 { &mut high } else { &mut low };
        *half = *half << 4 | u64::from(digit & 0x0f);
    }
    (invalid & NOT_HEX == 0).then_some(u128::from(high) << 64 | u128::from(low))
}

/// Marks a byte that is no lowercase hex digit in [`HEX`].
const NOT_HEX: u8 = 0x10;

/// Each byte's value as a lowercase hex digit, or [`NOT_HEX`].
const HEX: [u8; 256] = {
    let mut table = [NOT_HEX; 256];
    let mut at = 0;
    while at < 10 {
        table[b'0' as usize + at] = at as u8;
        at += 1;
    }
    let mut at = 0;
    while at < 6 {
        table[b'a' as usize + at] = 10 + at as u8;
        at += 1;
    }
    table
};

/// Keys seen in a window, each with the id of the read (the slot) that last
/// saw it.
type Seen = HashMap<Key, u64>;

/// One window of the plan, in time order with the others.
#[derive(Debug)]
struct Slot {
    /// Changes when the window is read again, so stale pages are ignored;
    /// also names this read in [`Seen`].
    id: u64,
    window: Window,
    /// What earlier reads of this window (or of the window it is part of)
    /// already saw, and so sent.
    seen: Seen,
    /// Which read of this window this is, from 1.
    read: u32,
    /// Whether an earlier read saw this window: a read that adds nothing
    /// to what it saw and shows the end makes the window complete.
    prior: bool,
    state: State,
}

#[derive(Debug)]
enum State {
    /// Nothing asked yet.
    Waiting,
    /// The first page is on its way; `limit` entries were asked.
    Probing { limit: u64 },
    /// The window fits: being paged.
    Leaf(Leaf),
    /// A page of this window could not be fetched. Reported when the
    /// window reaches the front, so everything before it is delivered
    /// (and checkpointed) first, and the error names the first gap.
    Failed(Error),
}

/// A page that came back, and whether it showed the end of its window.
#[derive(Debug)]
struct Arrived {
    page: Page,
    shows_end: bool,
}

/// A window being read (one read of it).
#[derive(Debug)]
struct Leaf {
    /// The count the first page reported: a hint for planning only.
    hint: u64,
    /// Whether that count claimed to be exact.
    hint_exact: bool,
    /// Entries per page the server actually gives (it may cap `limit`).
    page_limit: u64,
    /// Next offset to request.
    next_offset: u64,
    /// Pages are requested while their offset is at most this: the count,
    /// then further whenever a full page reaches past it.
    frontier: u64,
    /// The deepest `offset + entries` of a page that came back without
    /// showing the end: at the result window, the leaf holds more than it
    /// can page through.
    reached: u64,
    /// The offset of the first page that came back showing the end.
    end_at: Option<u64>,
    /// Pages requested and not yet consumed, in order: offset and limit.
    outstanding: VecDeque<(u64, u64)>,
    /// Pages arrived and not yet consumed, by offset.
    arrived: HashMap<u64, Arrived>,
    /// Every page consumed so far reported an exact count, none lower than
    /// the one before.
    count_agrees: bool,
    /// The count the last page consumed reported.
    last_count: u64,
    distinct_this_read: u64,
    /// Entries no earlier read of the window had seen.
    new_this_read: u64,
    /// The page that showed the end has been consumed: the read is over.
    ended: bool,
}

impl Leaf {
    fn wants_page(&self, result_window: u64) -> bool {
        self.end_at.is_none()
            && self.next_offset <= self.frontier
            && self.next_offset < result_window
    }

    /// Whether this read proved the window complete.
    fn is_complete(&self, prior: bool) -> bool {
        self.ended
            && ((self.count_agrees && self.distinct_this_read == self.last_count)
                || (prior && self.new_this_read == 0))
    }
}

/// A page on its way back: which slot, which offset, and what came.
type Fetched = (u64, u64, Result<Page>);

struct Engine<S> {
    source: S,
    plan: Plan,
    sender: mpsc::Sender<Result<Batch>>,
    /// The windows still to be sent, in time order.
    slots: VecDeque<Slot>,
    in_flight: FuturesUnordered<AbortOnDrop<Fetched>>,
    previous: Seen,
    next_id: u64,
    /// The deepest `offset + limit` the service answered with a page.
    deepest_answered: u64,
    waits: Waits,
}

/// How long the engine waited, of late, on the reader (to take a batch)
/// and on the service (for a page): seconds, each older wait counting
/// for less.
#[derive(Debug, Default)]
struct Waits {
    reader: f64,
    service: f64,
}

impl Waits {
    /// Older waits count for 7/8 of what they did.
    const KEEP: f64 = 0.875;

    fn on_reader(&mut self, since: tokio::time::Instant) {
        self.reader = self.reader * Self::KEEP + since.elapsed().as_secs_f64();
    }

    fn on_service(&mut self, since: tokio::time::Instant) {
        self.service = self.service * Self::KEEP + since.elapsed().as_secs_f64();
    }

    /// A reader whose waits come to less than this (seconds, as counted
    /// above) keeps up: it takes each batch at once.
    const READER_KEEPS_UP: f64 = 0.001;

    /// The reader, not the service, holds the download back.
    fn reader_behind(&self) -> bool {
        self.reader > self.service.max(Self::READER_KEEPS_UP)
    }
}

/// Whether the reader is still there.
#[derive(Debug, PartialEq, Eq)]
enum Flow {
    Go,
    ReaderGone,
}

impl<S: Source> Engine<S> {
    fn new(source: S, mut plan: Plan, sender: mpsc::Sender<Result<Batch>>) -> Self {
        plan.result_window = plan.learned.result_window(plan.result_window).max(1);
        let mut engine = Engine {
            source,
            plan,
            sender,
            slots: VecDeque::new(),
            in_flight: FuturesUnordered::new(),
            previous: Seen::new(),
            next_id: 0,
            deepest_answered: 0,
            waits: Waits::default(),
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
            prior: read > 1 || !seen.is_empty(),
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
            let asked = tokio::time::Instant::now();
            let next = self.in_flight.next().await;
            self.waits.on_service(asked);
            let Some(joined) = next else {
                return Err(Error::Incomplete {
                    missing: self.missing_from_front(),
                    reason:
                        "the download stalled with nothing left to ask (a bug: please report it)"
                            .into(),
                    cause: Some(Box::new(Error::Bug("the download stalled".into()))),
                });
            };
            self.joined(joined)?;
        }
    }

    /// Files a page task's outcome.
    fn joined(
        &mut self,
        joined: std::result::Result<Fetched, tokio::task::JoinError>,
    ) -> Result<()> {
        let (slot_id, offset, result) = joined.map_err(|error| Error::Incomplete {
            missing: self.missing_from_front(),
            reason: format!("a page task failed: {error} (a bug: please report it)"),
            cause: Some(Box::new(Error::Bug(format!("a page task failed: {error}")))),
        })?;
        self.arrive(slot_id, offset, result)
    }

    /// Starts requests, earliest windows first, while the budget allows:
    /// at most `concurrency` in flight (half of it, at least one, while the
    /// reader is behind); the front window may use them all, windows behind
    /// it only while their pages (in flight and arrived, empty ones aside)
    /// stay under twice that, which bounds memory.
    fn launch(&mut self) {
        let concurrency = if self.waits.reader_behind() {
            (self.plan.concurrency / 2).max(1)
        } else {
            self.plan.concurrency
        };
        let result_window = self.plan.result_window;
        let first_limit = self.plan.page_size.min(result_window).max(1);
        let mut position = 0;
        while self.in_flight.len() < concurrency && position < self.slots.len() {
            if position > 0 && self.in_flight.len() + self.buffered() >= 2 * concurrency {
                return;
            }
            let contract = self.plan.contract;
            let slot = &mut self.slots[position];
            let request = match &mut slot.state {
                State::Waiting => {
                    slot.state = State::Probing { limit: first_limit };
                    PageRequest {
                        contract,
                        window: slot.window,
                        offset: 0,
                        limit: first_limit,
                    }
                }
                State::Leaf(leaf) if leaf.wants_page(result_window) => {
                    let limit = leaf.page_limit.min(result_window - leaf.next_offset).max(1);
                    let request = PageRequest {
                        contract,
                        window: slot.window,
                        offset: leaf.next_offset,
                        limit,
                    };
                    leaf.outstanding.push_back((leaf.next_offset, limit));
                    leaf.next_offset = leaf.next_offset.saturating_add(limit);
                    request
                }
                _ => {
                    position += 1;
                    continue;
                }
            };
            let (page, id) = (self.source.page(request), slot.id);
            self.in_flight
                .push(AbortOnDrop::new(tokio::spawn(async move {
                    (id, request.offset, page.await)
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
        let slot = &self.slots[position];
        let asked = match &slot.state {
            State::Probing { limit } => *limit,
            State::Leaf(leaf) => match leaf.outstanding.iter().find(|(at, _)| *at == offset) {
                Some(&(_, limit)) => limit,
                None => return Ok(()), // past the end, already let go
            },
            State::Waiting | State::Failed(_) => return Ok(()),
        };
        let depth = offset.saturating_add(asked);
        let page = match result {
            Ok(page) => page,
            Err(cause) => {
                // Past the first page, and deeper than any page answered, a
                // 400 can only be about depth, whatever its words.
                let deep = offset > 0 && depth > self.deepest_answered;
                if let Some(stated) = learned::refused_depth(&cause, deep) {
                    return self.refused(position, offset, asked, stated, cause);
                }
                return Err(not_fetched(
                    format!(
                        "entries of contract {} from {} (from offset {offset} on)",
                        self.plan.contract, slot.window
                    ),
                    cause,
                ));
            }
        };
        self.deepest_answered = self.deepest_answered.max(depth);
        let received = page.events.len() as u64;
        let result_window = self.plan.result_window;
        let concurrency = self.plan.concurrency as u64;
        let splittable = slot.window.split(2).len() > 1;
        // A page shorter than asked ends the window, unless it is a first
        // page no longer than any the server gave so far and its own count
        // says there are more: then the server may be capping `limit` at
        // this size, and the next offset tells.
        let gives = self.plan.learned.page_size();
        self.plan.learned.saw_page(received);
        let first = matches!(slot.state, State::Probing { .. });
        let whole = !page.total_is_lower_bound && page.total == received;
        let shows_end =
            received == 0 || (received < asked && (!first || received < gives || whole));
        let slot = &mut self.slots[position];
        if first {
            if page.total >= result_window && splittable {
                let (count, at_least) = (page.total, page.total_is_lower_bound);
                return self.split(position, count, at_least);
            }
            let page_limit = if received < asked && !shows_end {
                received
            } else {
                asked
            };
            slot.state = State::Leaf(Leaf {
                hint: page.total,
                hint_exact: !page.total_is_lower_bound,
                page_limit,
                next_offset: page_limit,
                frontier: page.total,
                reached: 0,
                end_at: None,
                outstanding: VecDeque::from([(0, asked)]),
                arrived: HashMap::new(),
                count_agrees: !page.total_is_lower_bound,
                last_count: page.total,
                distinct_this_read: 0,
                new_this_read: 0,
                ended: false,
            });
        }
        let State::Leaf(leaf) = &mut slot.state else {
            return Ok(());
        };
        let reach = offset.saturating_add(received);
        if shows_end {
            leaf.end_at = Some(leaf.end_at.map_or(offset, |end| end.min(offset)));
        } else {
            leaf.reached = leaf.reached.max(reach);
            if reach >= result_window {
                // Full to the deepest offset the service pages to.
                return self.overflow(position);
            }
            if reach > leaf.hint {
                // More than the count said: keep a budget's worth of pages ahead.
                let ahead = leaf
                    .page_limit
                    .saturating_mul(concurrency.saturating_sub(1));
                leaf.frontier = leaf.frontier.max(reach.saturating_add(ahead));
            }
        }
        leaf.arrived.insert(offset, Arrived { page, shows_end });
        Ok(())
    }

    /// Replaces a window that holds too many events by its parts, in place:
    /// `count` is what it holds, as far as known. The parts know what the
    /// window already sent.
    fn split(&mut self, position: usize, count: u64, at_least: bool) -> Result<()> {
        let result_window = self.plan.result_window;
        let window = self.slots[position].window;
        let target = (result_window.saturating_mul(3) / 4).max(1);
        let mut parts = count.div_ceil(target).clamp(2, 64);
        if at_least || count >= result_window {
            parts = parts.max(4); // the count may be capped: the real one is larger
        }
        let parts = window.split(parts as u32);
        if parts.len() < 2 {
            return Err(Error::CrowdedSecond {
                contract: self.plan.contract,
                second: window.start,
                count,
                at_least,
                result_window,
            });
        }
        let Some(slot) = self.slots.remove(position) else {
            return Ok(());
        };
        tracing::debug!(
            window = %slot.window,
            count,
            at_least,
            parts = parts.len(),
            "splitting a window that exceeds the result window"
        );
        for window in parts.into_iter().rev() {
            let part = self.slot(window, slot.seen.clone(), 1);
            self.slots.insert(position, part);
        }
        Ok(())
    }

    /// A leaf was paged to the depth of the result window and its end is
    /// not in sight: it holds more than that. Split it, or, for a single
    /// second, fail naming it (with the service's count when it gave an
    /// exact one that says so).
    fn overflow(&mut self, position: usize) -> Result<()> {
        let result_window = self.plan.result_window;
        let (count, at_least) = match &self.slots[position].state {
            State::Leaf(leaf) if leaf.hint_exact && leaf.hint >= result_window => {
                (leaf.hint, false)
            }
            State::Leaf(leaf) => (leaf.hint.max(result_window), true),
            _ => (result_window, true),
        };
        self.split(position, count, at_least)
    }

    /// The service refused the page at `offset` as deeper than its result
    /// window. Lowers the window assumed (to the one it states, or half the
    /// depth refused) unless the refusal was of an older, deeper one, and
    /// reads the window again: in parts if it was paged past its first page.
    /// A lowered window binds every other leaf too.
    fn refused(
        &mut self,
        position: usize,
        offset: u64,
        limit: u64,
        stated: Option<u64>,
        cause: Error,
    ) -> Result<()> {
        let assumed = self.plan.result_window;
        let depth = offset.saturating_add(limit);
        if depth <= assumed {
            let stated = stated.filter(|&window| window < depth);
            let window = stated.unwrap_or(depth / 2).min(assumed);
            if window == 0 {
                return Err(cause); // not even one entry: the refusal is the answer
            }
            tracing::debug!(depth, window, "the service refused a page as too deep");
            self.plan
                .learned
                .lower_result_window(assumed, window, stated.is_some());
            self.plan.result_window = window;
        }
        let slot = &self.slots[position];
        if offset > 0 && slot.window.split(2).len() > 1 {
            let at_least = self.plan.result_window;
            self.split(position, at_least, true)?;
        } else {
            let (window, read) = (slot.window, slot.read);
            let prior = slot.prior;
            let seen = std::mem::take(&mut self.slots[position].seen);
            let mut again = self.slot(window, seen, read);
            again.prior = prior;
            self.slots[position] = again;
        }
        if self.plan.result_window < assumed {
            self.hold_leaves_to_the_window();
        }
        Ok(())
    }

    /// Holds every leaf to a result window just lowered: one whose pages
    /// already reach it, its end not in sight, is split as if its last page
    /// had just come back. It can ask nothing deeper, so it would otherwise
    /// wait for ever for the page that shows its end. A single second that
    /// does so fails (when it reaches the front, like any failed window).
    fn hold_leaves_to_the_window(&mut self) {
        let result_window = self.plan.result_window;
        let over: Vec<u64> = self
            .slots
            .iter()
            .filter(|slot| match &slot.state {
                State::Leaf(leaf) => leaf.end_at.is_none() && leaf.reached >= result_window,
                _ => false,
            })
            .map(|slot| slot.id)
            .collect();
        for id in over {
            let Some(position) = self.slots.iter().position(|slot| slot.id == id) else {
                continue;
            };
            if let Err(error) = self.overflow(position) {
                self.slots[position].state = State::Failed(error);
            }
        }
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
                id,
                window,
                ..
            } = front
            else {
                return Ok(Flow::Go);
            };
            if leaf.ended {
                if self.finish_front().await? == Flow::ReaderGone {
                    return Ok(Flow::ReaderGone);
                }
                continue;
            }
            let Some(&(offset, _)) = leaf.outstanding.front() else {
                return Ok(Flow::Go);
            };
            let Some(arrived) = leaf.arrived.remove(&offset) else {
                return Ok(Flow::Go);
            };
            leaf.outstanding.pop_front();
            leaf.ended = arrived.shows_end;
            if arrived.shows_end && offset > 0 && arrived.page.events.is_empty() {
                // The one request a window's end may cost (counted by the benchmark).
                tracing::debug!(window = %window, offset, "an empty page showed the window's end");
            }
            let (repeats, distinct_before) = (
                offset > 0 && !arrived.page.events.is_empty(),
                leaf.distinct_this_read,
            );
            let fresh = consume(
                leaf,
                seen,
                *id,
                &self.previous,
                arrived.page,
                &self.plan.range,
                window,
            );
            // A page past the first with nothing this read had not seen: the
            // service is not paging (it ignores the offset, or a page's worth
            // of entries shifted in). This read ends here; the window is
            // complete only if the count agrees or another read adds nothing.
            if repeats && leaf.distinct_this_read == distinct_before {
                leaf.ended = true;
            }
            if fresh.is_empty() {
                continue;
            }
            let asked = tokio::time::Instant::now();
            let sent = self.sender.send(Ok(Batch::Events(fresh))).await;
            self.waits.on_reader(asked);
            if sent.is_err() {
                return Ok(Flow::ReaderGone);
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
        if leaf.is_complete(slot.prior) {
            let through = slot.window.end.min(self.plan.range.end);
            self.previous = slot.seen;
            let sent = self.sender.send(Ok(Batch::Done(through))).await;
            return Ok(if sent.is_ok() {
                Flow::Go
            } else {
                Flow::ReaderGone
            });
        }
        let count = format!(
            "{}{}",
            if leaf.hint_exact { "" } else { "at least " },
            leaf.hint
        );
        if slot.read > self.plan.max_rereads {
            return Err(Error::Incomplete {
                missing: format!(
                    "entries of contract {} from {}",
                    self.plan.contract, slot.window
                ),
                reason: format!(
                    "the window read differently each of {} times (the service's count \
                     {count}; the last read saw {} distinct entries, {} of them new)",
                    slot.read, leaf.distinct_this_read, leaf.new_this_read
                ),
                cause: None,
            });
        }
        tracing::debug!(
            window = %slot.window,
            count,
            distinct = leaf.distinct_this_read,
            new = leaf.new_this_read,
            read = slot.read,
            "the count disagrees with what was read, or the window changed; reading it again"
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
                    .filter(|arrived| !arrived.page.events.is_empty())
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

/// Takes a page's events into its leaf: counts and deduplicates them;
/// returns those never sent before and inside the range asked for. `read`
/// is the id of this read of the window.
fn consume(
    leaf: &mut Leaf,
    seen: &mut Seen,
    read: u64,
    previous: &Seen,
    page: Page,
    range: &Window,
    window: &Window,
) -> Vec<RawEvent> {
    if page.total < leaf.last_count || page.total_is_lower_bound {
        leaf.count_agrees = false;
    }
    leaf.last_count = page.total;
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
        if earlier.is_none() {
            leaf.new_this_read += 1;
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
mod scripted;

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

    /// `count` events of 2024-01-01 named `{name}-0`, `{name}-1`, ...
    fn events(name: &str, count: usize) -> Vec<RawEvent> {
        (0..count)
            .map(|i| event(&format!("{name}-{i}"), "2024-01-01T01:00:00Z"))
            .collect()
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
            hint: total,
            hint_exact: true,
            page_limit,
            next_offset: total,
            frontier: total,
            reached: 0,
            end_at: None,
            outstanding: VecDeque::new(),
            arrived: HashMap::new(),
            count_agrees: true,
            last_count: total,
            distinct_this_read: 0,
            new_this_read: 0,
            ended: false,
        }
    }

    const DAY: (&str, &str) = ("2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z");

    fn day() -> Window {
        window(DAY.0, DAY.1)
    }

    /// An engine for a server nobody answers on: enough to watch its
    /// planning, fed pages by hand. Pages of 100, a result window of 10,000.
    fn engine(
        range: Window,
        concurrency: usize,
    ) -> (Engine<Client>, mpsc::Receiver<Result<Batch>>) {
        engine_with(range, concurrency, 10_000)
    }

    fn engine_with(
        range: Window,
        concurrency: usize,
        result_window: u64,
    ) -> (Engine<Client>, mpsc::Receiver<Result<Batch>>) {
        let hooks = Hooks::new(
            &crate::Credentials::token("t"),
            crate::RetryPolicy::default(),
        )
        .unwrap();
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = Client::new_with_client("http://127.0.0.1:9", reqwest::Client::new(), hooks);
        let (sender, receiver) = mpsc::channel(64);
        let plan = Plan {
            contract: 1,
            range,
            page_size: 100,
            concurrency,
            result_window,
            max_span: std::time::Duration::from_secs(86_400),
            max_rereads: 3,
            learned: Arc::new(Learned::default()),
        };
        (Engine::new(client, plan, sender), receiver)
    }

    fn the_leaf(engine: &Engine<Client>, position: usize) -> &Leaf {
        match &engine.slots[position].state {
            State::Leaf(leaf) => leaf,
            other => panic!("not a leaf: {other:?}"),
        }
    }

    fn requested(engine: &Engine<Client>, position: usize) -> Vec<(u64, u64)> {
        the_leaf(engine, position)
            .outstanding
            .iter()
            .copied()
            .collect()
    }

    /// What the engine sent so far: the `@uuid`s, and the windows completed.
    fn received(receiver: &mut mpsc::Receiver<Result<Batch>>) -> (Vec<String>, usize) {
        let (mut uuids, mut done) = (Vec::new(), 0);
        while let Ok(batch) = receiver.try_recv() {
            match batch.unwrap() {
                Batch::Events(events) => {
                    uuids.extend(events.iter().map(|e| e.uuid().unwrap().into_owned()))
                }
                Batch::Done(_) => done += 1,
                Batch::Finished => {}
            }
        }
        (uuids, done)
    }

    fn refusal(message: &str) -> Error {
        Error::BadRequest {
            status: 400,
            messages: vec![message.to_string()],
        }
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
        let range = day();
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
        let fresh = consume(&mut leaf, &mut seen, 7, &previous, first, &range, &range);
        assert_eq!(fresh.len(), 2);
        // The last page repeats `a` (pages shifted) and `p` of the previous window.
        let last = page(
            3,
            vec![
                event("a", "2024-01-01T01:00:00Z"),
                event("p", "2024-01-01T00:00:00Z"),
            ],
        );
        let fresh = consume(&mut leaf, &mut seen, 7, &previous, last, &range, &range);
        assert!(fresh.is_empty(), "{fresh:?}");
        assert_eq!(leaf.distinct_this_read, 3);
        assert!(leaf.count_agrees);
    }

    #[test]
    fn a_count_that_falls_or_is_a_lower_bound_does_not_agree() {
        let range = day();
        let (mut seen, previous) = (Seen::new(), Seen::new());
        let mut changed = leaf(4, 2);
        let page_with_new_total = page(3, vec![event("a", "2024-01-01T01:00:00Z")]);
        consume(
            &mut changed,
            &mut seen,
            1,
            &previous,
            page_with_new_total,
            &range,
            &range,
        );
        assert!(!changed.count_agrees);
        let mut bound = leaf(4, 2);
        let mut at_least = page(4, vec![event("b", "2024-01-01T01:00:00Z")]);
        at_least.total_is_lower_bound = true;
        consume(
            &mut bound, &mut seen, 1, &previous, at_least, &range, &range,
        );
        assert!(!bound.count_agrees);
    }

    #[test]
    fn a_read_completes_only_with_its_end_shown_and_the_count_agreeing_or_nothing_new() {
        let mut read = leaf(3, 100);
        read.distinct_this_read = 3;
        assert!(!read.is_complete(false), "the end was not shown");
        read.ended = true;
        assert!(read.is_complete(false), "the count agrees");
        read.count_agrees = false;
        assert!(!read.is_complete(false), "a first read with a wrong count");
        read.new_this_read = 0;
        assert!(read.is_complete(true), "a second read that adds nothing");
        read.new_this_read = 1;
        assert!(!read.is_complete(true), "a second read that found more");
        // A live log: an entry arrived while the window was paged, and the
        // last page counted it; all of them are in hand.
        let mut grown = leaf(3, 100);
        let (mut seen, previous, range) = (Seen::new(), Seen::new(), day());
        let first = page(3, events("a", 3));
        consume(&mut grown, &mut seen, 1, &previous, first, &range, &range);
        let last = page(4, vec![event("late", "2024-01-01T02:00:00Z")]);
        consume(&mut grown, &mut seen, 1, &previous, last, &range, &range);
        grown.ended = true;
        assert!(grown.is_complete(false));
        let mut huge = leaf(u64::MAX, 100);
        huge.ended = true;
        huge.distinct_this_read = 3;
        assert!(!huge.is_complete(false));
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
            .map(|slot| matches!(slot.state, State::Probing { .. }))
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
            buffered.outstanding.push_back((0, 100));
            let page = page(1, vec![event("x", "2024-01-02T00:00:00Z")]);
            buffered.arrived.insert(
                0,
                Arrived {
                    page,
                    shows_end: true,
                },
            );
            buffered.end_at = Some(0);
            slot.state = State::Leaf(buffered);
        }
        engine.launch();
        // The front may still ask (it alone can make progress); nobody else.
        assert_eq!(engine.in_flight.len(), 1);
        assert!(matches!(engine.slots[0].state, State::Probing { .. }));
        assert!(matches!(engine.slots[5].state, State::Waiting));
    }

    #[tokio::test]
    async fn empty_pages_behind_the_front_take_no_budget() {
        let range = window("2024-01-01T00:00:00Z", "2024-01-07T00:00:00Z");
        let (mut engine, _receiver) = engine(range, 2);
        for slot in engine.slots.iter_mut().skip(1).take(4) {
            let mut empty = leaf(0, 100);
            empty.outstanding.push_back((0, 100));
            let page = page(0, Vec::new());
            empty.arrived.insert(
                0,
                Arrived {
                    page,
                    shows_end: true,
                },
            );
            empty.end_at = Some(0);
            slot.state = State::Leaf(empty);
        }
        engine.launch();
        assert_eq!(engine.in_flight.len(), 2, "the front and the last window");
        assert!(matches!(engine.slots[5].state, State::Probing { .. }));
    }

    /// A total capped at 5 cannot stop a window whose first page is full:
    /// the engine asks further, a budget's worth of pages at once.
    #[tokio::test]
    async fn full_pages_past_a_capped_count_are_followed() {
        let (mut engine, _receiver) = engine(day(), 4);
        engine.launch();
        engine.file(0, 0, Ok(page(5, events("a", 100)))).unwrap();
        engine.launch();
        assert_eq!(
            requested(&engine, 0),
            [(0, 100), (100, 100), (200, 100), (300, 100)]
        );
        // Still full at 300: the pages go on.
        engine.file(0, 300, Ok(page(5, events("d", 100)))).unwrap();
        assert!(the_leaf(&engine, 0).frontier >= 700);
    }

    /// With an exact count the pages up to it go out at once, and the page
    /// at the count itself when the last one is expected full: the one
    /// request that shows the end.
    #[tokio::test]
    async fn pages_up_to_the_count_go_out_at_once_with_the_one_that_shows_the_end() {
        let (mut exact, _receiver) = engine(day(), 8);
        exact.launch();
        exact.file(0, 0, Ok(page(300, events("a", 100)))).unwrap();
        exact.launch();
        assert_eq!(
            requested(&exact, 0),
            [(0, 100), (100, 100), (200, 100), (300, 100)]
        );
        let (mut engine, _receiver) = engine(day(), 8);
        engine.launch();
        engine.file(0, 0, Ok(page(250, events("a", 100)))).unwrap();
        engine.launch();
        assert_eq!(requested(&engine, 0), [(0, 100), (100, 100), (200, 100)]);
    }

    /// A short first page could be the server capping `limit`: unless a page
    /// of that size or more was seen before, or the page holds all its count
    /// says, the next offset is asked.
    #[tokio::test]
    async fn a_short_first_page_ends_a_window_only_below_the_size_the_server_gives() {
        let (mut capping, _receiver) = engine(day(), 4);
        capping.launch();
        // A count capped at 0 comes decoded as "at least 40".
        let mut capped = page(40, events("a", 40));
        capped.total_is_lower_bound = true;
        capping.file(0, 0, Ok(capped)).unwrap();
        capping.launch();
        assert_eq!(requested(&capping, 0), [(0, 100), (40, 40)]);
        assert_eq!(the_leaf(&capping, 0).end_at, None);
        let (mut whole, _receiver) = engine(day(), 4);
        whole.launch();
        whole.file(0, 0, Ok(page(40, events("a", 40)))).unwrap();
        whole.launch();
        assert_eq!(requested(&whole, 0), [(0, 100)]);
        assert_eq!(the_leaf(&whole, 0).end_at, Some(0));
        // Once the server gave 100, a page of 40 can only be the end.
        capping.plan.learned.saw_page(100);
        let (window, seen) = (capping.slots[0].window, Seen::new());
        let again = capping.slot(window, seen, 1);
        capping.slots[0] = again;
        capping.launch();
        let mut capped = page(40, events("a", 40));
        capped.total_is_lower_bound = true;
        capping.file(0, 0, Ok(capped)).unwrap();
        capping.launch();
        assert_eq!(requested(&capping, 0), [(0, 100)]);
        assert_eq!(the_leaf(&capping, 0).end_at, Some(0));
    }

    #[tokio::test]
    async fn a_count_that_agrees_completes_a_window_at_no_extra_cost() {
        let (mut engine, mut receiver) = engine(day(), 4);
        engine.plan.learned.saw_page(100);
        engine.launch();
        engine.file(0, 0, Ok(page(3, events("a", 3)))).unwrap();
        assert_eq!(engine.drain_front().await.unwrap(), Flow::Go);
        assert!(engine.slots.is_empty());
        let (uuids, done) = received(&mut receiver);
        assert_eq!((uuids.len(), done), (3, 1));
    }

    /// A count capped at 2 for a window of 3: the window is read again, and
    /// complete when the second read adds nothing; each entry sent once.
    #[tokio::test]
    async fn a_wrong_count_is_read_again_until_two_reads_agree() {
        let (mut engine, mut receiver) = engine(day(), 4);
        engine.plan.learned.saw_page(100);
        for read in 1..=2 {
            engine.launch();
            let id = engine.slots[0].id;
            engine.arrive(id, 0, Ok(page(2, events("a", 3)))).unwrap();
            engine.drain_front().await.unwrap();
            let (uuids, done) = received(&mut receiver);
            match read {
                1 => assert_eq!((uuids.len(), done, engine.slots.len()), (3, 0, 1)),
                _ => assert_eq!((uuids.len(), done, engine.slots.len()), (0, 1, 0)),
            }
        }
    }

    /// A service that answers every offset with the same page (a mock that
    /// ignores `offset`, as Prism does): each read ends at the first page
    /// that repeats it, and the window is complete once a second read adds
    /// nothing; the entry is sent once.
    #[tokio::test]
    async fn a_service_that_repeats_its_page_at_every_offset_ends_each_read_there() {
        let (mut engine, mut receiver) = engine(day(), 2);
        let same = || Page {
            total: 0,
            total_is_lower_bound: true,
            events: events("p", 1),
        };
        let mut rounds = 0;
        while !engine.slots.is_empty() && rounds < 20 {
            rounds += 1;
            engine.in_flight.clear(); // answered below, by hand
            engine.launch();
            let id = engine.slots[0].id;
            let offsets: Vec<u64> = match &engine.slots[0].state {
                State::Probing { .. } => vec![0],
                State::Leaf(leaf) => leaf
                    .outstanding
                    .iter()
                    .map(|(offset, _)| *offset)
                    .filter(|offset| !leaf.arrived.contains_key(offset))
                    .collect(),
                _ => Vec::new(),
            };
            for offset in offsets {
                engine.arrive(id, offset, Ok(same())).unwrap();
            }
            engine.drain_front().await.unwrap();
        }
        assert!(
            engine.slots.is_empty(),
            "not complete after {rounds} rounds"
        );
        let (uuids, done) = received(&mut receiver);
        assert_eq!((uuids, done), (vec!["p-0".to_string()], 1));
    }

    #[tokio::test]
    async fn a_window_that_never_reads_the_same_fails_naming_it() {
        let (mut engine, _receiver) = engine(day(), 4);
        engine.plan.learned.saw_page(100);
        let mut error = None;
        for read in 0..10 {
            engine.launch();
            let id = engine.slots[0].id;
            let fresh = events(&format!("read{read}"), 3);
            engine.arrive(id, 0, Ok(page(2, fresh))).unwrap();
            if let Err(e) = engine.drain_front().await {
                error = Some((read, e));
                break;
            }
        }
        let (reads, error) = error.expect("the rereads are bounded");
        assert_eq!(reads, 3, "1 read and 3 rereads");
        let message = error.to_string();
        assert!(
            message.contains("incomplete download")
                && message.contains("2024-01-01T00:00:00Z to 2024-01-02T00:00:00Z"),
            "{message}"
        );
    }

    /// Paged to the depth of the result window with no end in sight: the
    /// leaf holds more than it lets through, whatever its count said. Its
    /// parts know what it already sent.
    #[tokio::test]
    async fn a_leaf_full_to_the_result_window_is_split_and_sends_nothing_twice() {
        let (mut engine, mut receiver) = engine_with(day(), 4, 300);
        engine.launch();
        engine.file(0, 0, Ok(page(50, events("a", 100)))).unwrap();
        engine.drain_front().await.unwrap();
        let (sent, _) = received(&mut receiver);
        assert_eq!(sent.len(), 100);
        engine.launch();
        assert_eq!(requested(&engine, 0), [(100, 100), (200, 100)]);
        engine.file(0, 200, Ok(page(50, events("c", 100)))).unwrap();
        assert_eq!(engine.slots.len(), 4, "split in four parts");
        for part in &engine.slots {
            assert!(matches!(part.state, State::Waiting));
            assert_eq!(part.seen.len(), 100, "each part knows what was sent");
            assert!(part.prior);
        }
    }

    #[test]
    fn a_second_that_holds_more_than_the_result_window_is_a_permanent_error() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let _guard = runtime.enter();
        let second = window("2024-01-01T10:00:00Z", "2024-01-01T10:00:01Z");
        let (mut engine, _receiver) = engine_with(second, 8, 200);
        engine.launch();
        // A count far above the window does not fail by itself: it is paged.
        engine.file(0, 0, Ok(page(999, events("a", 100)))).unwrap();
        engine.launch();
        let error = engine
            .file(0, 100, Ok(page(999, events("b", 100))))
            .unwrap_err();
        assert!(!error.is_transient());
        let message = error.to_string();
        assert!(
            message.contains("has 999 entries") && message.contains("2024-01-01T10:00:00Z"),
            "{message}"
        );
        let (mut engine, _receiver) = engine_with(second, 8, 200);
        engine.launch();
        engine.file(0, 0, Ok(page(3, events("a", 100)))).unwrap();
        engine.launch();
        let capped = engine.file(0, 100, Ok(page(3, events("b", 100))));
        let message = capped.unwrap_err().to_string();
        assert!(message.contains("at least 200 entries"), "{message}");
    }

    #[test]
    fn a_large_window_is_split_at_whole_seconds_in_place() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let _guard = runtime.enter();
        let range = window("2024-01-01T00:00:00Z", "2024-01-03T00:00:00Z");
        let (mut engine, _receiver) = engine(range, 1);
        engine.launch();
        engine.file(0, 0, Ok(page(10_000, Vec::new()))).unwrap();
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

    #[tokio::test]
    async fn a_refused_depth_teaches_the_window_the_service_states() {
        let (mut engine, _receiver) = engine(day(), 4);
        engine.launch();
        engine.file(0, 0, Ok(page(800, events("a", 100)))).unwrap();
        engine.launch();
        let refused = refusal(
            "102: Result window is too large, from + size must be less than or equal to: \
             [250] but was [400]. See the scroll api for a more efficient way",
        );
        engine.file(0, 300, Err(refused)).unwrap();
        assert_eq!(engine.plan.result_window, 250);
        assert_eq!(engine.plan.learned.result_window(10_000), 250);
        assert!(engine.slots.len() >= 4, "the window is read again in parts");
        engine.launch();
        for slot in &engine.slots {
            if let State::Probing { limit } = slot.state {
                assert_eq!(limit, 100);
            }
        }
        // A later download of the same client starts from what was learned.
        let plan = engine.plan.clone();
        let (sender, _later) = mpsc::channel(1);
        let mut stale = plan.clone();
        stale.result_window = 10_000;
        let later = Engine::new(engine.source.clone(), stale, sender);
        assert_eq!(later.plan.result_window, 250);
    }

    #[tokio::test]
    async fn a_refusal_without_a_number_halves_the_depth_refused() {
        let (mut engine, _receiver) = engine(day(), 4);
        engine.launch();
        engine.file(0, 0, Ok(page(800, events("a", 100)))).unwrap();
        engine.launch();
        let refused = refusal("Result window is too large");
        engine.file(0, 300, Err(refused)).unwrap();
        assert_eq!(engine.plan.result_window, 200);
        // A refusal of a page asked before, deeper than that, changes nothing.
        let id = engine.slots[0].id;
        engine.launch();
        engine
            .arrive(id, 0, Err(refusal("Result window is too large")))
            .unwrap();
        assert_eq!(engine.plan.result_window, 200);
    }

    /// A 400 without words about the result window is taken for one only
    /// where no page was answered yet: a service that refuses for another
    /// reason ends the download with its words, not with ever smaller windows.
    #[tokio::test]
    async fn a_wordless_refusal_at_a_depth_answered_before_is_an_error() {
        let (mut engine, _receiver) = engine(day(), 8);
        engine.launch();
        engine.file(0, 0, Ok(page(800, events("a", 100)))).unwrap();
        engine.launch();
        engine
            .file(0, 300, Ok(page(800, events("d", 100))))
            .unwrap();
        let error = engine
            .file(0, 200, Err(refusal("no reason given")))
            .unwrap_err();
        assert!(matches!(error, Error::BadRequest { .. }), "{error:?}");
        assert_eq!(engine.plan.result_window, 10_000);
        // Deeper than anything answered, the same words teach a window.
        engine
            .file(0, 500, Err(refusal("no reason given")))
            .unwrap();
        assert_eq!(engine.plan.result_window, 300);
    }

    #[tokio::test]
    async fn a_service_that_refuses_every_depth_ends_the_download_with_its_words() {
        let (mut engine, _receiver) = engine_with(day(), 1, 1);
        engine.launch();
        let error = engine
            .file(0, 0, Err(refusal("Result window is too large ... [0]")))
            .unwrap_err();
        assert!(matches!(error, Error::BadRequest { .. }), "{error:?}");
    }

    #[test]
    fn hostile_counts_plan_without_overflow() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let _guard = runtime.enter();
        // A splittable window: at most 64 parts.
        let (mut engine, _receiver) = engine(day(), 4);
        engine.launch();
        engine.file(0, 0, Ok(page(u64::MAX, Vec::new()))).unwrap();
        assert_eq!(engine.slots.len(), 64);
        // One second cannot split: it is paged, never deeper than the window.
        let second = window("2024-01-01T10:00:00Z", "2024-01-01T10:00:01Z");
        let (mut engine, _receiver) = engine_with(second, 8, 450);
        engine.launch();
        engine
            .file(0, 0, Ok(page(u64::MAX, events("a", 100))))
            .unwrap();
        engine.launch();
        let pages = requested(&engine, 0);
        assert_eq!(
            pages,
            [(0, 100), (100, 100), (200, 100), (300, 100), (400, 50)]
        );
        assert!(engine.split(0, u64::MAX, true).is_err());
    }
}
