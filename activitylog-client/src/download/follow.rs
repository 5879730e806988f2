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
//!   what the follow already yielded. Only keys whose time lies inside the
//!   overlap (`time ≥ through − overlap`) are kept; older ones can never be
//!   read again and are forgotten, so memory stays flat however long the
//!   follow runs (they are forgotten at every checkpoint, so a long first
//!   range does not pile them up either).
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

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use futures::{Stream, StreamExt};
use tokio::sync::mpsc;

use super::engine::AbortOnDrop;
use super::{DEFAULT_LOOKBACK, Entries, Update};
use crate::dates::DateBound;
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

/// The keys yielded whose time is still inside the overlap.
#[derive(Debug, Default)]
struct Recent {
    keys: HashMap<Key, DateTime<Utc>>,
}

impl Recent {
    /// Keeps the events not yielded before, and remembers them; an event
    /// without a time counts as stamped `fallback`.
    fn fresh(&mut self, events: Vec<RawEvent>, fallback: DateTime<Utc>) -> Vec<RawEvent> {
        events
            .into_iter()
            .filter(|event| {
                let time = event.time().unwrap_or(fallback);
                self.keys.insert(key_of(event), time).is_none()
            })
            .collect()
    }

    /// Forgets the keys stamped before `horizon`: never read again.
    fn forget_before(&mut self, horizon: DateTime<Utc>) {
        self.keys.retain(|_, time| *time >= horizon);
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
        let mut failures: u32 = 0;
        loop {
            let Some(end) = settled_now(self.entries.settle) else {
                let error = Error::Config("the settle time reaches back too far".into());
                let _ = self.sender.send(Err(error)).await;
                return;
            };
            let since = *self.since.get_or_insert_with(|| {
                let lookback = TimeDelta::from_std(DEFAULT_LOOKBACK).unwrap_or(TimeDelta::days(90));
                match self.entries.since {
                    Some(since) => since.instant(),
                    None => end.checked_sub_signed(lookback).unwrap_or(end),
                }
            });
            let from = match self.through {
                None if end > since => Some(since),
                None => None, // the start is not final yet
                Some(through) if end > through => Some(
                    through
                        .checked_sub_signed(self.overlap)
                        .unwrap_or(since)
                        .max(since),
                ),
                Some(_) => None, // nothing new is final yet
            };
            if let Some(from) = from {
                match self.poll(from, end).await {
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

/// `now − settle`, whole seconds: the end of the stretch that is final now.
fn settled_now(settle: Duration) -> Option<DateTime<Utc>> {
    let settle = TimeDelta::from_std(settle).ok()?;
    Utc::now().trunc_subsecs(0).checked_sub_signed(settle)
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
        let again = recent.fresh(
            vec![
                event("b", "2024-01-01T00:09:00Z"),
                event("c", "2024-01-01T00:09:30Z"),
            ],
            end,
        );
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].uuid().as_deref(), Some("c"));
        recent.forget_before(at("2024-01-01T00:08:00Z"));
        assert_eq!(recent.len(), 2, "only `a` is older than the overlap");
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
