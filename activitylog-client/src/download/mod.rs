//! Downloading all entries of a date range: complete, deduplicated, in
//! bounded memory, with pages fetched concurrently.
//!
//! [`Entries`] configures a download; [`Entries::stream`] gives typed
//! events, [`Entries::raw`] the events as sent, and [`Entries::updates`]
//! batches plus checkpoints for tools that resume; [`Entries::follow`]
//! keeps polling for new entries.

mod engine;
mod follow;
mod learned;
pub(crate) mod page;
mod window;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::Stream;
use tokio::sync::mpsc;

pub use follow::Follow;
pub(crate) use learned::Learned;
pub use window::Window;

use crate::dates::{DateBound, DateRange, RangeRule};
use crate::error::{Error, Result};
use crate::event::RawEvent;
use crate::generated::Client;
use crate::generated::types::Activity;
use engine::{AbortOnDrop, Batch, Plan};
use progenitor_client::ClientInfo;

/// How far back a download reaches when no start is given.
pub const DEFAULT_LOOKBACK: Duration = Duration::from_secs(90 * 24 * 3600);

/// A download of one contract's entries; see [`ActivityLog::entries`](crate::ActivityLog::entries).
#[derive(Clone, Debug)]
#[must_use = "a download does nothing until streamed"]
pub struct Entries {
    client: Client,
    contract: u64,
    since: Option<DateBound>,
    until: Option<DateBound>,
    page_size: u32,
    concurrency: usize,
    result_window: u64,
    max_span: Duration,
    settle: Duration,
    learned: Arc<Learned>,
}

impl Entries {
    pub(crate) fn new(
        client: Client,
        contract: u64,
        config: &crate::Config,
        learned: Arc<Learned>,
    ) -> Self {
        Entries {
            client,
            learned,
            contract,
            since: None,
            until: None,
            page_size: config.page_size,
            concurrency: config.concurrency,
            result_window: config.result_window,
            max_span: config.max_span,
            settle: config.settle,
        }
    }

    /// Start, inclusive (default: 90 days before the end).
    pub fn since(mut self, start: impl Into<DateBound>) -> Self {
        self.since = Some(start.into());
        self
    }

    /// End, exclusive, honoured as given (default: `now − settle` when the
    /// download starts, see [`Entries::settle`]).
    pub fn until(mut self, end: impl Into<DateBound>) -> Self {
        self.until = Some(end.into());
        self
    }

    /// How long entries may take to become visible after their timestamp
    /// (default from [`Config::settle`](crate::Config::settle), 2 minutes).
    /// An open end is closed at `now − settle`, whole seconds.
    pub fn settle(mut self, settle: Duration) -> Self {
        self.settle = settle;
        self
    }

    /// Entries per page (the server may send fewer; paging follows what it sends).
    pub fn page_size(mut self, size: u32) -> Self {
        self.page_size = size.max(1);
        self
    }

    /// Pages in flight at once.
    pub fn concurrency(mut self, pages: usize) -> Self {
        self.concurrency = pages.max(1);
        self
    }

    /// The range this download covers, open ends closed by [`RangeRule`]
    /// at now by the service's clock as last heard (this machine's clock
    /// before any answer: [`ActivityLog::now`](crate::ActivityLog::now) asks
    /// the service first).
    pub fn range(&self) -> Result<DateRange> {
        self.range_at(self.client.inner().clock.now())
    }

    /// The range with open ends closed at `now`.
    fn range_at(&self, now: DateTime<Utc>) -> Result<DateRange> {
        Ok(RangeRule::new(self.settle).resolve(self.since, self.until, now)?)
    }

    /// [`Entries::range`], asking the service its time first when the end
    /// is open and nothing was heard from it yet.
    async fn resolved_range(&self) -> Result<DateRange> {
        match self.until {
            Some(_) => self.range(),
            None => self.range_at(crate::client::service_now(&self.client).await),
        }
    }

    /// Counts the entries of the range with one small request per maximum
    /// span: cheap, for progress bars. Only the service's word: a lower bound
    /// if it caps counts (at most `u64::MAX`).
    pub async fn count(&self) -> Result<u64> {
        let range = self.resolved_range().await?;
        let whole = Window {
            start: range.since(),
            end: range.until(),
        };
        let mut total = 0;
        for window in whole.cut(self.max_span) {
            let request = page::PageRequest {
                contract: self.contract,
                window,
                offset: 0,
                limit: 1,
            };
            total = page::fetch(&self.client, request)
                .await?
                .total
                .saturating_add(total);
        }
        Ok(total)
    }

    /// Batches of new events and a checkpoint after each completed window.
    ///
    /// Without an end, and before any answer of the service, the stream
    /// first asks the service its time (one `getInfo`), so that the range
    /// ends by the service's clock; see [`ActivityLog::now`](crate::ActivityLog::now).
    pub fn updates(self) -> Updates {
        if self.until.is_none() && !self.client.inner().clock.is_known() {
            if tokio::runtime::Handle::try_current().is_err() {
                return Updates::failed(outside_a_runtime());
            }
            return Updates {
                starting: Some(Box::pin(async move {
                    let range = self.resolved_range().await;
                    self.updates_of(range)
                })),
                receiver: None,
                engine: None,
                error: None,
            };
        }
        let range = self.range();
        self.updates_of(range)
    }

    /// The download of `range` (or its error).
    fn updates_of(self, range: Result<DateRange>) -> Updates {
        let range = match range {
            Ok(range) => range,
            Err(error) => return Updates::failed(error),
        };
        let plan = Plan {
            contract: self.contract,
            range: Window {
                start: range.since(),
                end: range.until(),
            },
            page_size: u64::from(self.page_size),
            concurrency: self.concurrency,
            result_window: self.result_window,
            max_span: self.max_span,
            max_rereads: 3,
            learned: self.learned,
        };
        if tokio::runtime::Handle::try_current().is_err() {
            return Updates::failed(outside_a_runtime());
        }
        let (receiver, guard) = engine::spawn(self.client, plan);
        Updates {
            starting: None,
            receiver: Some(receiver),
            engine: Some(guard),
            error: None,
        }
    }

    /// Follows the log live: the range from the start to `now − settle`,
    /// then every `interval` (at least 100 ms) the entries that became final
    /// since, each poll a complete download, each entry once; see
    /// [`Follow`] for the guarantees. Ends only with a permanent error
    /// (transient ones are retried with backoff); `until` must not be set.
    pub fn follow(self, interval: Duration) -> Follow {
        Follow::start(self, interval.max(Duration::from_millis(100)))
    }

    /// Each event's `_source` exactly as sent, every field kept.
    pub fn raw(self) -> RawEvents {
        RawEvents {
            updates: self.updates(),
            batch: Vec::new().into_iter(),
        }
    }

    /// Typed events. An event that does not decode is an `Err` item; the
    /// stream goes on after it (use [`Entries::raw`] to keep such events).
    pub fn stream(self) -> Events {
        Events { raw: self.raw() }
    }
}

/// Downloads need a Tokio runtime.
fn outside_a_runtime() -> Error {
    Error::Config(
        "downloads run on a Tokio runtime: call this inside one \
         (e.g. #[tokio::main] or Runtime::block_on)"
            .into(),
    )
}

/// What a download reports: events, and how far it is complete.
#[derive(Debug)]
#[non_exhaustive]
pub enum Update {
    /// New events, in the order the server sent them.
    Events(Vec<RawEvent>),
    /// Every event before `through` has been delivered (windows complete in
    /// time order): a safe point to checkpoint and resume from.
    Completed {
        /// End of the completed window.
        through: DateTime<Utc>,
    },
}

/// Stream of [`Update`]s; stops the download when dropped.
pub struct Updates {
    /// Learning the service's time, then starting the download.
    starting: Option<Pin<Box<dyn Future<Output = Updates> + Send>>>,
    receiver: Option<mpsc::Receiver<Result<Batch>>>,
    /// The engine's task; aborted when the stream is dropped.
    engine: Option<AbortOnDrop<()>>,
    error: Option<Error>,
}

impl std::fmt::Debug for Updates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Updates")
            .field("starting", &self.starting.is_some())
            .field("receiver", &self.receiver)
            .field("engine", &self.engine)
            .field("error", &self.error)
            .finish()
    }
}

impl Updates {
    fn failed(error: Error) -> Self {
        Updates {
            starting: None,
            receiver: None,
            engine: None,
            error: Some(error),
        }
    }

    /// The engine stopped without saying it finished: it panicked or was
    /// cancelled. Waits for its task to say why.
    fn poll_engine_end(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Update>>> {
        let reason = match self.engine.as_mut() {
            Some(task) => match ready!(Pin::new(task).poll(cx)) {
                Err(error) if error.is_panic() => {
                    let payload = error.into_panic();
                    let text = payload
                        .downcast_ref::<&str>()
                        .map(|s| (*s).to_string())
                        .or_else(|| payload.downcast_ref::<String>().cloned())
                        .unwrap_or_default();
                    format!("the download task panicked: {text}")
                }
                Err(error) => format!("the download task stopped: {error}"),
                Ok(()) => "the download task ended without finishing".to_string(),
            },
            None => "the download task ended without finishing".to_string(),
        };
        self.engine = None;
        Poll::Ready(Some(Err(Error::Incomplete {
            missing: "the rest of the range".into(),
            reason: format!("{reason} (a bug: please report it)"),
            cause: Some(Box::new(Error::Bug(reason))),
        })))
    }
}

impl Stream for Updates {
    type Item = Result<Update>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Some(starting) = self.starting.as_mut() {
            let started = ready!(starting.as_mut().poll(cx));
            *self = started;
        }
        if let Some(error) = self.error.take() {
            return Poll::Ready(Some(Err(error)));
        }
        let Some(receiver) = self.receiver.as_mut() else {
            return match self.engine.is_some() {
                true => self.poll_engine_end(cx),
                false => Poll::Ready(None),
            };
        };
        let item = ready!(receiver.poll_recv(cx));
        Poll::Ready(match item {
            Some(Ok(Batch::Events(events))) => Some(Ok(Update::Events(events))),
            Some(Ok(Batch::Done(through))) => Some(Ok(Update::Completed { through })),
            Some(Ok(Batch::Finished)) => {
                self.receiver = None;
                self.engine = None;
                None
            }
            Some(Err(error)) => {
                self.receiver = None; // an error ends the download
                self.engine = None;
                Some(Err(error))
            }
            None => {
                // Closed without `Finished`: never a clean end.
                self.receiver = None;
                return self.poll_engine_end(cx);
            }
        })
    }
}

/// Stream of [`RawEvent`]s; stops the download when dropped.
#[derive(Debug)]
pub struct RawEvents {
    updates: Updates,
    batch: std::vec::IntoIter<RawEvent>,
}

impl Stream for RawEvents {
    type Item = Result<RawEvent>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if let Some(event) = self.batch.next() {
                return Poll::Ready(Some(Ok(event)));
            }
            match ready!(Pin::new(&mut self.updates).poll_next(cx)) {
                Some(Ok(Update::Events(events))) => self.batch = events.into_iter(),
                Some(Ok(Update::Completed { .. })) => {}
                Some(Err(error)) => return Poll::Ready(Some(Err(error))),
                None => return Poll::Ready(None),
            }
        }
    }
}

/// Stream of typed events ([`Activity`]); stops the download when dropped.
/// See [`Entries::stream`].
#[derive(Debug)]
pub struct Events {
    raw: RawEvents,
}

impl Stream for Events {
    type Item = Result<Activity>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let event = ready!(Pin::new(&mut self.raw).poll_next(cx));
        Poll::Ready(event.map(|event| event.and_then(|e| e.decode())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ActivityLog, Config, Credentials};

    /// Seen while writing the fuzz target `date_bound` (which calls
    /// `Entries::range`): the default start, 90 days before the end,
    /// overflowed and panicked for an end near chrono's first day.
    #[test]
    fn an_end_at_the_first_day_is_an_error_not_a_panic() {
        let log = ActivityLog::new(Config::new(Credentials::token("t"))).unwrap();
        let entries = log
            .entries(1)
            .until(DateBound::Instant(DateTime::<Utc>::MIN_UTC));
        assert!(entries.range().is_err());
    }

    #[tokio::test]
    async fn a_panicking_engine_is_an_error_not_a_clean_end() {
        use futures::StreamExt;
        let (sender, receiver) = mpsc::channel::<Result<Batch>>(2);
        let task = tokio::spawn(async move {
            let _ = sender.send(Ok(Batch::Events(Vec::new()))).await;
            panic!("boom");
        });
        let mut updates = Updates {
            starting: None,
            receiver: Some(receiver),
            engine: Some(AbortOnDrop::new(task)),
            error: None,
        };
        assert!(matches!(updates.next().await, Some(Ok(Update::Events(_)))));
        let error = updates.next().await.unwrap().unwrap_err();
        // A bug is not worth retrying: a follow would loop on it forever.
        assert!(!error.is_transient(), "{error}");
        let error = error.to_string();
        assert!(error.contains("panicked: boom"), "{error}");
        assert!(updates.next().await.is_none());
    }

    #[test]
    fn updates_outside_a_runtime_fail_with_a_clear_message() {
        use futures::StreamExt;
        let log = ActivityLog::new(Config::new(Credentials::token("t"))).unwrap();
        let mut updates = log.entries(1).updates();
        let first = futures::executor::block_on(updates.next());
        let message = first.unwrap().unwrap_err().to_string();
        assert!(message.contains("Tokio runtime"), "{message}");
    }
}
