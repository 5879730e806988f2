//! The download engine: plans windows that fit the server's limits, fetches
//! their pages concurrently, and hands events on in page order, each once.
//!
//! - The range is cut into windows no longer than the maximum span; a window
//!   whose first page reports more events than the result window holds is
//!   split by time (k-way, at whole seconds) until every part fits.
//! - A window that fits is a *leaf*: its first page doubles as the count
//!   query, the rest are fetched `concurrency` at a time, in order.
//! - A leaf is complete when every page reported the same total and the
//!   distinct events seen equal that total. Otherwise (events arrived,
//!   pages shifted) the leaf is read again, deduplicating against what was
//!   already sent, a bounded number of times; then the download fails loudly.
//! - Events are deduplicated on `@uuid` (or their bytes) within a leaf and
//!   against the previous leaf, so boundaries never yield an event twice.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};

use futures::StreamExt;
use futures::stream::FuturesOrdered;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

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
    /// Every event before this window's end has been sent.
    Done(Window),
}

/// The fixed parameters of one download.
#[derive(Clone, Debug)]
pub(crate) struct Plan {
    pub contract: u64,
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
        if let Err(error) = engine.run().await {
            let _ = sender.send(Err(error)).await;
        }
    });
    (receiver, AbortOnDrop(task))
}

/// A task handle that aborts the task when dropped.
#[derive(Debug)]
pub(crate) struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl<T> std::future::Future for AbortOnDrop<T> {
    type Output = std::result::Result<T, tokio::task::JoinError>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        std::pin::Pin::new(&mut self.0).poll(cx)
    }
}

/// How an event is recognised again.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Key {
    Uuid(Box<str>),
    Digest(u64),
}

fn key_of(event: &RawEvent) -> Key {
    match event.uuid() {
        Some(uuid) => Key::Uuid(uuid.into()),
        None => {
            let mut hasher = DefaultHasher::new();
            event.json().hash(&mut hasher);
            Key::Digest(hasher.finish())
        }
    }
}

/// Keys seen in a window, each with the number of the read that last saw it.
type Seen = HashMap<Key, u32>;

/// A window waiting to be probed.
#[derive(Debug)]
struct Pending {
    window: Window,
    /// What earlier reads of this window already sent.
    seen: Seen,
    read: u32,
}

/// A window that fits the result window, being read.
#[derive(Debug)]
struct Leaf {
    id: u64,
    window: Window,
    total: u64,
    /// Entries per page the server actually gives (it may cap `limit`).
    page_limit: u64,
    /// Next offset to request.
    next_offset: u64,
    /// Pages requested (the probe included) and pages consumed.
    requested: u32,
    consumed: u32,
    seen: Seen,
    read: u32,
    distinct_this_read: u64,
    unstable: bool,
}

impl Leaf {
    fn has_pages_to_request(&self) -> bool {
        self.next_offset < self.total
    }
}

type InFlight = FuturesOrdered<AbortOnDrop<(u64, u64, Result<Page>)>>;

struct Engine {
    client: Client,
    plan: Plan,
    sender: mpsc::Sender<Result<Batch>>,
    pending: VecDeque<Pending>,
    leaves: VecDeque<Leaf>,
    in_flight: InFlight,
    previous: Seen,
    next_id: u64,
}

impl Engine {
    fn new(client: Client, plan: Plan, sender: mpsc::Sender<Result<Batch>>) -> Self {
        let pending = plan
            .range
            .cut(plan.max_span)
            .into_iter()
            .map(|window| Pending {
                window,
                seen: Seen::new(),
                read: 1,
            })
            .collect();
        Engine {
            client,
            plan,
            sender,
            pending,
            leaves: VecDeque::new(),
            in_flight: FuturesOrdered::new(),
            previous: Seen::new(),
            next_id: 0,
        }
    }

    async fn run(&mut self) -> Result<()> {
        loop {
            self.fill().await?;
            let Some(joined) = self.in_flight.next().await else {
                return Ok(());
            };
            let (leaf_id, offset, result) = joined.map_err(|error| Error::Incomplete {
                missing: "a page".into(),
                reason: format!("the page task failed: {error}"),
                cause: None,
            })?;
            let page = result.map_err(|cause| self.not_fetched(leaf_id, offset, cause))?;
            if !self.consume(leaf_id, offset, page).await {
                return Ok(()); // the reader went away
            }
        }
    }

    /// Keeps `concurrency` pages in flight: the next pages of planned leaves
    /// first, then new leaves.
    async fn fill(&mut self) -> Result<()> {
        while self.in_flight.len() < self.plan.concurrency {
            if let Some(leaf) = self.leaves.iter_mut().find(|l| l.has_pages_to_request()) {
                let limit = leaf
                    .page_limit
                    .min(self.plan.result_window - leaf.next_offset);
                let request = PageRequest {
                    contract: self.plan.contract,
                    window: leaf.window,
                    offset: leaf.next_offset,
                    limit,
                };
                leaf.next_offset += limit;
                leaf.requested += 1;
                let (client, id) = (self.client.clone(), leaf.id);
                self.in_flight
                    .push_back(AbortOnDrop(tokio::spawn(async move {
                        (id, request.offset, page::fetch(&client, request).await)
                    })));
                continue;
            }
            if !self.plan_next_leaf().await? {
                break;
            }
        }
        Ok(())
    }

    /// Probes pending windows until one fits; queues its first page.
    /// Returns false when nothing is left to plan.
    async fn plan_next_leaf(&mut self) -> Result<bool> {
        while let Some(pending) = self.pending.pop_front() {
            let limit = self.plan.page_size.min(self.plan.result_window);
            let request = PageRequest {
                contract: self.plan.contract,
                window: pending.window,
                offset: 0,
                limit,
            };
            let probe = page::fetch(&self.client, request).await.map_err(|cause| {
                not_fetched(
                    format!(
                        "entries of contract {} from {}",
                        self.plan.contract, pending.window
                    ),
                    cause,
                )
            })?;
            let fits = probe.total <= self.plan.result_window && !probe.total_is_lower_bound;
            if !fits {
                self.split(pending, &probe)?;
                continue;
            }
            let received = probe.events.len() as u64;
            let page_limit = if received < limit && received < probe.total {
                received.max(1) // the server caps pages below what we asked
            } else {
                limit
            };
            let id = self.next_id;
            self.next_id += 1;
            self.leaves.push_back(Leaf {
                id,
                window: pending.window,
                total: probe.total,
                page_limit,
                // A probe with no events but a count cannot be paged: the
                // completeness check sends the window to be read again.
                next_offset: if received == 0 { probe.total } else { received },
                requested: 1,
                consumed: 0,
                seen: pending.seen,
                read: pending.read,
                distinct_this_read: 0,
                unstable: false,
            });
            self.in_flight
                .push_back(AbortOnDrop(tokio::spawn(async move { (id, 0, Ok(probe)) })));
            return Ok(true);
        }
        Ok(false)
    }

    /// Replaces a window that holds too many events by its parts.
    fn split(&mut self, pending: Pending, probe: &Page) -> Result<()> {
        let target = (self.plan.result_window * 3 / 4).max(1);
        let parts = probe.total.div_ceil(target).clamp(2, 64) as u32;
        let parts = pending.window.split(parts);
        if parts.len() < 2 {
            return Err(Error::Incomplete {
                missing: format!(
                    "entries of contract {} from {}",
                    self.plan.contract, pending.window
                ),
                reason: format!(
                    "{} entries fall in one second, more than the server's result window \
                     of {} lets anyone page through",
                    probe.total, self.plan.result_window
                ),
                cause: None,
            });
        }
        tracing::debug!(
            window = %pending.window,
            total = probe.total,
            parts = parts.len(),
            "splitting a window that exceeds the result window"
        );
        for window in parts.into_iter().rev() {
            self.pending.push_front(Pending {
                window,
                seen: pending.seen.clone(),
                read: pending.read,
            });
        }
        Ok(())
    }

    /// Sends a page's new events; finishes the leaf after its last page.
    /// Returns false when the reader is gone.
    async fn consume(&mut self, leaf_id: u64, offset: u64, page: Page) -> bool {
        let Some(leaf) = self.leaves.iter_mut().find(|l| l.id == leaf_id) else {
            return true; // a page of a leaf that is being read again
        };
        leaf.consumed += 1;
        if page.total != leaf.total || page.total_is_lower_bound {
            leaf.unstable = true;
        }
        let expected = leaf.page_limit.min(leaf.total.saturating_sub(offset));
        if (page.events.len() as u64) < expected {
            leaf.unstable = true; // a gap: the server sent fewer than the window holds
        }
        let mut fresh = Vec::with_capacity(page.events.len());
        for event in page.events {
            let key = key_of(&event);
            let in_previous_window = self.previous.contains_key(&key);
            let earlier = leaf.seen.insert(key, leaf.read);
            if earlier != Some(leaf.read) {
                leaf.distinct_this_read += 1;
            }
            if earlier.is_none() && !in_previous_window {
                fresh.push(event);
            }
        }
        let finished = !leaf.has_pages_to_request() && leaf.consumed == leaf.requested;
        if !fresh.is_empty() && self.sender.send(Ok(Batch::Events(fresh))).await.is_err() {
            return false;
        }
        if finished {
            return self.finish_front_leaf().await;
        }
        true
    }

    /// Completes the front leaf, or schedules it to be read again.
    async fn finish_front_leaf(&mut self) -> bool {
        let Some(leaf) = self.leaves.pop_front() else {
            return true;
        };
        let complete = !leaf.unstable && leaf.distinct_this_read == leaf.total;
        if complete {
            self.previous = leaf.seen;
            return self.sender.send(Ok(Batch::Done(leaf.window))).await.is_ok();
        }
        if leaf.read > self.plan.max_rereads {
            let _ = self
                .sender
                .send(Err(Error::Incomplete {
                    missing: format!(
                        "entries of contract {} from {}",
                        self.plan.contract, leaf.window
                    ),
                    reason: format!(
                        "the window changed while it was read {} times (last count {}, \
                         {} distinct entries seen)",
                        leaf.read, leaf.total, leaf.distinct_this_read
                    ),
                    cause: None,
                }))
                .await;
            return false;
        }
        tracing::debug!(
            window = %leaf.window,
            total = leaf.total,
            distinct = leaf.distinct_this_read,
            read = leaf.read,
            "the window changed while being read; reading it again"
        );
        // Later leaves go back to the planner so that events stay in window order.
        self.in_flight = FuturesOrdered::new();
        for later in self.leaves.drain(..).rev() {
            self.pending.push_front(Pending {
                window: later.window,
                seen: later.seen,
                read: later.read,
            });
        }
        self.pending.push_front(Pending {
            window: leaf.window,
            seen: leaf.seen,
            read: leaf.read + 1,
        });
        true
    }

    fn not_fetched(&self, leaf_id: u64, offset: u64, cause: Error) -> Error {
        let window = self
            .leaves
            .iter()
            .find(|l| l.id == leaf_id)
            .map_or_else(|| self.plan.range.to_string(), |l| l.window.to_string());
        not_fetched(
            format!(
                "entries of contract {} from {window} (from offset {offset} on)",
                self.plan.contract
            ),
            cause,
        )
    }
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
