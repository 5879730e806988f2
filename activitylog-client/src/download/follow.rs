//! Following a contract's log live: [`Entries::follow`](super::Entries::follow).
//!
//! A follow is a sequence of ordinary, complete downloads (*polls*), each
//! with the engine's guarantees:
//!
//! - The first poll covers `[since, now − settle)`; every later one, one
//!   `interval` after the previous ended, covers `[through − overlap,
//!   now − settle)`, where `through` is the last checkpoint yielded and the
//!   overlap is the settle time. Entries are visible at `time + settle` at
//!   the latest, so `[.., now − settle)` is final when read; the overlap
//!   re-reads the stretch before it in case some took longer.
//! - Events are deduplicated on `@uuid` (or a digest of their bytes) against
//!   what the follow already yielded. Each key is kept with the end of the
//!   window it was read from (the follow's own clock, never the entry's
//!   `meta.time`: a service may filter on another timestamp), and forgotten
//!   once that end lies before the overlap (`≤ through − overlap`): no later
//!   read can return it, so memory stays flat however long the follow runs
//!   (they are forgotten at every checkpoint, so a long first range does not
//!   pile them up either).
//! - Every range ends at `now − settle` by the service's clock
//!   ([`ActivityLog::now`](crate::ActivityLog::now)), resolved by
//!   [`RangeRule`]: a machine clock ahead of the service's never makes a
//!   poll claim time the service has not finished.
//! - Checkpoints ([`Update::Completed`]) only move forward; the last of a
//!   poll is its end.
//! - A transient error ([`Error::is_transient`]) never ends the follow: it
//!   is logged (`tracing::warn!`), the next poll waits a capped exponential
//!   backoff, and goes on from the last checkpoint (what was yielded since
//!   is not yielded again). Any other error ends the stream with it.
//!
//! A follow resumed from a checkpoint `through` (a new process, with
//! `.since(through)`) starts without an overlap: it knows nothing yielded
//! before, and the engine's windows are exact, so it continues with no gap
//! and no duplicate for every entry that became visible within the settle
//! time. Only an entry that took longer than that, stamped before `through`
//! and showing up while no follow ran, is not read again.

use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use futures::{Stream, StreamExt};
use tokio::sync::mpsc;

use super::engine::AbortOnDrop;
use super::{Entries, Update};
use crate::client::service_now;
use crate::dates::{DateBound, RangeError, RangeRule};
use crate::error::{Error, Result};
use crate::event::RawEvent;

/// The longest wait between polls after transient errors.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Stream of [`Update`]s of a live follow; see [`Entries::follow`]. It ends
/// only with a permanent error; dropping it stops the follow.
#[derive(Debug)]
pub struct Follow {
    receiver: mpsc::Receiver<Result<Update>>,
    _task: Option<AbortOnDrop<()>>,
}

impl Follow {
    pub(super) fn start(entries: Entries, interval: Duration) -> Self {
        let (sender, receiver) = mpsc::channel(2);
        if entries.until.is_some() {
            let _ = sender.try_send(Err(Error::Config(
                "a follow has no end: do not set `until`".into(),
            )));
            return Follow {
                receiver,
                _task: None,
            };
        }
        if tokio::runtime::Handle::try_current().is_err() {
            let _ = sender.try_send(Err(Error::Config(
                "a follow runs on a Tokio runtime: call this inside one".into(),
            )));
            return Follow {
                receiver,
                _task: None,
            };
        }
        let task = tokio::spawn(async move {
            let mut state = Follower::new(entries, interval, sender);
            state.run().await;
        });
        Follow {
            receiver,
            _task: Some(AbortOnDrop::new(task)),
        }
    }
}

impl Stream for Follow {
    type Item = Result<Update>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.receiver.poll_recv(cx)
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

/// The keys yielded that a later read may still return, each with the end
/// of the window it was read from: the follow's own clock, never the entry's
/// `meta.time` (a service may filter on another timestamp, such as when it
/// ingested the entry, so an old `meta.time` says nothing about whether a
/// later poll can return the entry again).
#[derive(Debug, Default)]
struct Recent {
    keys: HashMap<Key, DateTime<Utc>>,
    /// Keys yielded since the last checkpoint, stamped with their poll's end
    /// until [`Recent::completed`] knows their window's.
    unstamped: Vec<Key>,
}

impl Recent {
    /// Keeps the events not yielded before, and remembers them as read in
    /// a poll ending at `poll_end`.
    fn fresh(&mut self, events: Vec<RawEvent>, poll_end: DateTime<Utc>) -> Vec<RawEvent> {
        events
            .into_iter()
            .filter(|event| {
                let key = key_of(event);
                if self.keys.contains_key(&key) {
                    return false;
                }
                self.keys.insert(key.clone(), poll_end);
                self.unstamped.push(key);
                true
            })
            .collect()
    }

    /// Every event yielded since the last checkpoint was read from a window
    /// ending by `through`: stamps them so.
    fn completed(&mut self, through: DateTime<Utc>) {
        for key in self.unstamped.drain(..) {
            if let Some(stamp) = self.keys.get_mut(&key) {
                *stamp = (*stamp).min(through);
            }
        }
    }

    /// Forgets the keys read from windows ending by `horizon`: no later
    /// read, which starts at `horizon` or after, can return them.
    fn forget_before(&mut self, horizon: DateTime<Utc>) {
        self.keys.retain(|_, read_until| *read_until > horizon);
        // A key forgotten here was stamped by a checkpoint: none is pending.
    }

    fn len(&self) -> usize {
        self.keys.len()
    }
}

/// Why a poll stopped.
enum Stopped {
    /// The reader is gone.
    ReaderGone,
    /// A transient error: try again later.
    Transient(Error),
}

struct Follower {
    entries: Entries,
    interval: Duration,
    overlap: TimeDelta,
    sender: mpsc::Sender<Result<Update>>,
    /// The start of the first poll.
    since: Option<DateTime<Utc>>,
    /// The last checkpoint yielded.
    through: Option<DateTime<Utc>>,
    recent: Recent,
}

impl Follower {
    fn new(entries: Entries, interval: Duration, sender: mpsc::Sender<Result<Update>>) -> Self {
        let overlap = TimeDelta::from_std(entries.settle).unwrap_or(TimeDelta::MAX);
        Follower {
            entries,
            interval,
            overlap,
            sender,
            since: None,
            through: None,
            recent: Recent::default(),
        }
    }

    async fn run(&mut self) {
        let rule = RangeRule::new(self.entries.settle);
        let mut failures: u32 = 0;
        loop {
            // By the service's clock (asked once, then learned from every answer).
            let now = service_now(&self.entries.client).await;
            let start = match (self.through, self.since) {
                (None, _) => self.entries.since,
                (Some(through), since) => Some(DateBound::Instant(
                    through
                        .checked_sub_signed(self.overlap)
                        .unwrap_or(DateTime::<Utc>::MIN_UTC)
                        .max(since.unwrap_or(DateTime::<Utc>::MIN_UTC)),
                )),
            };
            let range = match rule.resolve(start, None, now) {
                // Nothing new is final yet.
                Ok(range) if self.through.is_some_and(|t| range.until() <= t) => None,
                Ok(range) => Some(range),
                // The start is not final yet: nothing new to read.
                Err(RangeError::NotSettled { .. }) => None,
                Err(error) => {
                    let _ = self.sender.send(Err(error.into())).await;
                    return;
                }
            };
            if let Some(range) = range {
                self.since.get_or_insert(range.since());
                match self.poll(range.since(), range.until()).await {
                    Ok(()) => failures = 0,
                    Err(Stopped::ReaderGone) => return,
                    Err(Stopped::Transient(error)) => {
                        failures = failures.saturating_add(1);
                        let wait = backoff(self.interval, failures);
                        tracing::warn!(
                            %error,
                            failures,
                            retry_in = ?wait,
                            "following: a poll failed; trying again from the last checkpoint"
                        );
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                }
            }
            tokio::time::sleep(self.interval).await;
        }
    }

    /// One complete download of `[from, end)`. A permanent error is sent on
    /// and reported as the reader being gone (the follow ends).
    async fn poll(&mut self, from: DateTime<Utc>, end: DateTime<Utc>) -> Result<(), Stopped> {
        let mut updates = self
            .entries
            .clone()
            .since(DateBound::Instant(from))
            .until(DateBound::Instant(end))
            .updates();
        while let Some(update) = updates.next().await {
            let update = match update {
                Ok(update) => update,
                Err(error) if error.is_transient() => {
                    // Their windows did not complete: they keep this poll's end.
                    self.recent.unstamped.clear();
                    self.forget();
                    return Err(Stopped::Transient(error));
                }
                Err(error) => {
                    let _ = self.sender.send(Err(error)).await;
                    return Err(Stopped::ReaderGone);
                }
            };
            let forward = match update {
                Update::Events(events) => {
                    let fresh = self.recent.fresh(events, end);
                    (!fresh.is_empty()).then_some(Update::Events(fresh))
                }
                Update::Completed { through } if self.through.is_none_or(|t| through > t) => {
                    // What was yielded since the last checkpoint was read
                    // from windows ending by `through`.
                    self.recent.completed(through);
                    self.through = Some(through);
                    // Windows complete in time order: what lies before the
                    // overlap never comes again, not even in this poll (a
                    // long first range stays flat in memory too).
                    self.forget();
                    Some(Update::Completed { through })
                }
                Update::Completed { .. } => None,
            };
            if let Some(update) = forward
                && self.sender.send(Ok(update)).await.is_err()
            {
                return Err(Stopped::ReaderGone);
            }
        }
        self.forget();
        tracing::debug!(%from, %end, remembered = self.recent.len(), "following: poll done");
        Ok(())
    }

    /// Forgets the keys that the next poll cannot read again.
    fn forget(&mut self) {
        if let Some(through) = self.through {
            let horizon = through
                .checked_sub_signed(self.overlap)
                .unwrap_or(DateTime::<Utc>::MIN_UTC);
            self.recent.forget_before(horizon);
        }
    }
}

/// The wait after `failures` transient errors in a row: the interval
/// doubling, capped at a minute (or the interval, if longer).
fn backoff(interval: Duration, failures: u32) -> Duration {
    let cap = MAX_BACKOFF.max(interval);
    let factor = 1u32 << failures.saturating_sub(1).min(16);
    interval
        .max(Duration::from_millis(100))
        .saturating_mul(factor)
        .min(cap)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(uuid: &str, time: &str) -> RawEvent {
        RawEvent::parse(&format!(
            r#"{{"@uuid":"{uuid}","meta":{{"time":"{time}"}}}}"#
        ))
        .unwrap()
    }

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn events_already_yielded_are_dropped_and_old_keys_forgotten() {
        let mut recent = Recent::default();
        let end = at("2024-01-01T00:10:00Z");
        let first = recent.fresh(
            vec![
                event("a", "2024-01-01T00:01:00Z"),
                event("b", "2024-01-01T00:09:00Z"),
            ],
            end,
        );
        assert_eq!(first.len(), 2);
        recent.completed(at("2024-01-01T00:05:00Z"));
        let again = recent.fresh(
            vec![
                event("b", "2024-01-01T00:09:00Z"),
                event("c", "2024-01-01T00:09:30Z"),
            ],
            end,
        );
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].uuid().as_deref(), Some("c"));
        recent.completed(end);
        recent.forget_before(at("2024-01-01T00:08:00Z"));
        assert_eq!(
            recent.len(),
            1,
            "only `c`, read up to 00:10, may come again"
        );
    }

    /// A service that filters on another timestamp than `meta.time` (when
    /// it ingested an entry, say) returns an entry stamped long ago in every
    /// poll whose range holds that other timestamp. Forgetting by
    /// `meta.time` wrote it twice; the follow forgets by its own windows.
    #[test]
    fn an_entry_stamped_long_ago_is_not_yielded_twice() {
        let mut recent = Recent::default();
        let overlap = TimeDelta::minutes(2);
        // Poll 1 reads [00:00, 00:10): the service returns `late`, stamped
        // a day earlier but ingested at 00:09.
        let first = recent.fresh(
            vec![event("late", "2023-12-31T00:09:00Z")],
            at("2024-01-01T00:10:00Z"),
        );
        assert_eq!(first.len(), 1);
        let through = at("2024-01-01T00:10:00Z");
        recent.completed(through);
        recent.forget_before(through - overlap);
        // Poll 2 reads [00:08, 00:12): the ingestion time 00:09 is in it again.
        let second = recent.fresh(
            vec![event("late", "2023-12-31T00:09:00Z")],
            at("2024-01-01T00:12:00Z"),
        );
        assert!(second.is_empty(), "`late` was yielded twice");
    }

    #[test]
    fn the_backoff_doubles_and_is_capped() {
        let interval = Duration::from_secs(1);
        assert_eq!(backoff(interval, 1), Duration::from_secs(1));
        assert_eq!(backoff(interval, 2), Duration::from_secs(2));
        assert_eq!(backoff(interval, 3), Duration::from_secs(4));
        assert_eq!(backoff(interval, 40), MAX_BACKOFF);
        assert_eq!(
            backoff(Duration::from_secs(600), 5),
            Duration::from_secs(600)
        );
        assert_eq!(
            backoff(Duration::ZERO, 1),
            Duration::from_millis(100),
            "never a busy loop"
        );
    }
}
