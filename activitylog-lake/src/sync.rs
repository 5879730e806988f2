//! Syncing one contract into a lake: download what is new, drop what the
//! lake holds already, and commit new objects with the mark they complete.
//!
//! A commit: (1) each day's entries become one Parquet object, written
//! under `_staging/` (no reader sees it); (2) one new manifest object
//! records them and the mark, created only if no other commit took its
//! number: this is the commit; (3) each staged object is copied to its
//! partition and the staged copy removed. A sync killed before (2) leaves
//! staged objects no reader sees and no manifest names, which the next
//! sync removes ([`Lake::leftovers`]); one killed after (2) is completed by
//! the next sync, which copies what (3) had not. So a
//! reader that globs the partitions sees committed entries only, and each
//! once: a later sync skips the `@uuid`s committed for the days it reads.

use std::collections::BTreeMap;

use activitylog_client::{ActivityLog, RawEvent, SyncOptions, SyncPlan, Update};
use bytes::Bytes;
use chrono::{DateTime, NaiveDate, Utc};
use futures::StreamExt;

use crate::lake::Lake;
use crate::manifest::{Committed, Manifest, Mark, sha256};
use crate::objects::Created;
use crate::seen::Seen;
use crate::{Error, Result, codec, layout};

/// Entries a sync holds before it commits them, by default.
pub const DEFAULT_BATCH: usize = 50_000;

/// A sync of one contract into a [`Lake`]; see [`Lake::sync`].
#[derive(Debug)]
#[must_use = "a sync does nothing until run"]
pub struct LakeSync<'a> {
    lake: &'a Lake,
    log: &'a ActivityLog,
    contract: u64,
    options: SyncOptions,
    batch: usize,
}

/// What a sync did.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Synced {
    /// The contract.
    pub contract: u64,
    /// The range downloaded: start, inclusive.
    pub since: DateTime<Utc>,
    /// The range downloaded: end, exclusive.
    pub until: DateTime<Utc>,
    /// Entries downloaded (some may have been in the lake already).
    pub fetched: u64,
    /// Entries the lake did not hold yet, now committed.
    pub added: u64,
    /// Objects committed.
    pub objects: u64,
    /// The instant the lake is now complete up to for this contract.
    pub through: Option<DateTime<Utc>>,
}

impl Lake {
    /// A sync of `contract` from `log` into this lake; see [`LakeSync`].
    pub fn sync<'a>(&'a self, log: &'a ActivityLog, contract: u64) -> LakeSync<'a> {
        LakeSync {
            lake: self,
            log,
            contract,
            options: SyncOptions::default(),
            batch: DEFAULT_BATCH,
        }
    }
}

impl<'a> LakeSync<'a> {
    /// What the sync is asked: the range, settle time, overlap before the
    /// lake's mark, and paging [default: [`SyncOptions::default`]].
    pub fn options(mut self, options: SyncOptions) -> Self {
        self.options = options;
        self
    }

    /// Entries held before a commit [default: [`DEFAULT_BATCH`]]: a kill
    /// loses at most these (the next sync downloads them again).
    pub fn batch(mut self, entries: usize) -> Self {
        self.batch = entries.max(1);
        self
    }

    /// Downloads and commits; on an error, what was committed stays and
    /// the entries downloaded before it are committed too.
    pub async fn run(self) -> Result<Synced> {
        let lake = self.lake;
        let manifest = lake.recovered().await?;
        let mark = manifest.mark(self.contract);
        let plan = self
            .options
            .plan(self.log, mark)
            .await
            .map_err(Error::Download)?;
        let mut synced = Synced {
            contract: self.contract,
            since: plan.since(),
            until: plan.until(),
            fetched: 0,
            added: 0,
            objects: 0,
            through: mark,
        };
        if plan.is_empty() {
            return Ok(synced);
        }
        tracing::info!(contract = self.contract, since = %plan.since(), until = %plan.until(), "syncing into a lake");
        let updates = self.options.updates(self.log, self.contract, &plan);
        let seen = committed_entries(lake, &manifest, self.contract, plan.since()).await?;
        let mut batch = Batch {
            contract: self.contract,
            seen,
            days: BTreeMap::new(),
            held: 0,
            mark: None,
            committer: Committer {
                lake: lake.clone(),
                contract: self.contract,
                manifest: Some(manifest),
                failed: false,
                in_flight: None,
            },
        };
        let downloaded = download(updates, &mut batch, plan, self.batch, &mut synced).await;
        // Entries downloaded before an error are committed too (with the
        // mark of the last window completed, if any).
        let committed = match batch.commit(&mut synced).await {
            Ok(()) => batch.committer.finish(&mut synced).await,
            Err(error) => Err(error),
        };
        downloaded?;
        committed?;
        Ok(synced)
    }
}

/// Hands the download's entries to `batch`, committing every `size`
/// entries at the end of a window.
async fn download(
    mut updates: activitylog_client::Updates,
    batch: &mut Batch,
    mut plan: SyncPlan,
    size: usize,
    synced: &mut Synced,
) -> Result<()> {
    while let Some(update) = updates.next().await {
        match update.map_err(Error::Download)? {
            Update::Events(events) => {
                synced.fetched += events.len() as u64;
                batch.add(events);
                if batch.held >= size {
                    batch.commit(synced).await?;
                }
            }
            Update::Completed { through } => {
                if let Some(mark) = plan.advance(through) {
                    batch.mark = Some(mark);
                }
                if batch.held >= size {
                    batch.commit(synced).await?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Entries downloaded and not committed yet, by day.
struct Batch {
    contract: u64,
    /// The entries committed or held (of the days the sync reads).
    seen: Seen,
    days: BTreeMap<Option<NaiveDate>, Vec<RawEvent>>,
    held: usize,
    /// The mark the held entries complete.
    mark: Option<DateTime<Utc>>,
    committer: Committer,
}

impl Batch {
    /// Holds the entries the lake does not have yet.
    fn add(&mut self, events: Vec<RawEvent>) {
        for event in events {
            if self.seen.insert(&event) {
                let day = event.time().map(|t| t.date_naive());
                self.days.entry(day).or_default().push(event);
                self.held += 1;
            }
        }
    }

    /// Hands the held entries and the mark to the committer (which commits
    /// them while the download goes on).
    async fn commit(&mut self, synced: &mut Synced) -> Result<()> {
        if self.held == 0 && self.mark.is_none() {
            return Ok(());
        }
        let days = std::mem::take(&mut self.days);
        let marks: Vec<Mark> = self
            .mark
            .take()
            .map(|through| Mark {
                contract: self.contract,
                through,
            })
            .into_iter()
            .collect();
        self.held = 0;
        self.committer.submit(days, marks, synced).await
    }
}

/// What one commit added.
struct Done {
    added: u64,
    objects: u64,
    through: Option<DateTime<Utc>>,
}

/// Commits in order, one at a time, each while the next batch downloads.
struct Committer {
    lake: Lake,
    contract: u64,
    /// The manifest, while no commit is in flight.
    manifest: Option<Manifest>,
    /// Whether a commit failed: no later one may then move the mark past
    /// the entries it lost.
    failed: bool,
    in_flight: Option<tokio::task::JoinHandle<(Manifest, Result<Done>)>>,
}

impl Committer {
    /// Waits for the commit in flight, then starts committing `days` with `marks`.
    async fn submit(
        &mut self,
        days: BTreeMap<Option<NaiveDate>, Vec<RawEvent>>,
        marks: Vec<Mark>,
        synced: &mut Synced,
    ) -> Result<()> {
        self.finish(synced).await?;
        let Some(mut manifest) = self.manifest.take().filter(|_| !self.failed) else {
            return Err(Error::Encoding("a commit before this one failed".into()));
        };
        let (lake, contract) = (self.lake.clone(), self.contract);
        self.in_flight = Some(tokio::spawn(async move {
            let done = commit(&lake, &mut manifest, contract, days, marks).await;
            (manifest, done)
        }));
        Ok(())
    }

    /// Waits for the commit in flight and counts what it added.
    async fn finish(&mut self, synced: &mut Synced) -> Result<()> {
        let Some(task) = self.in_flight.take() else {
            return Ok(());
        };
        self.failed = true; // until it is seen to succeed
        let (manifest, done) = task.await.map_err(|e| Error::Encoding(e.to_string()))?;
        self.manifest = Some(manifest);
        let done = done?;
        self.failed = false;
        synced.added += done.added;
        synced.objects += done.objects;
        synced.through = done.through.or(synced.through);
        Ok(())
    }
}

/// Orders a day's entries by user (ASCII case ignored; stable, so each
/// user's in the order received), so that a user's entries share a few
/// row groups, which a read filtered to other users skips by their min and
/// max (see `narrow`).
fn by_user(events: &mut [RawEvent]) {
    #[derive(serde::Deserialize)]
    struct Entry<'a> {
        #[serde(borrow)]
        principal: Option<Principal<'a>>,
    }
    #[derive(serde::Deserialize)]
    struct Principal<'a> {
        #[serde(borrow)]
        identity: Option<Identity<'a>>,
    }
    #[derive(serde::Deserialize)]
    struct Identity<'a> {
        #[serde(borrow)]
        username: Option<std::borrow::Cow<'a, str>>,
    }
    events.sort_by_cached_key(|event| {
        serde_json::from_str::<Entry<'_>>(event.json())
            .ok()
            .and_then(|e| e.principal?.identity?.username)
            .map(|user| user.to_ascii_lowercase())
    });
}

/// One commit: each day's entries as one Parquet object staged, the
/// manifest object naming them and `marks`, then the objects published.
async fn commit(
    lake: &Lake,
    manifest: &mut Manifest,
    contract: u64,
    days: BTreeMap<Option<NaiveDate>, Vec<RawEvent>>,
    marks: Vec<Mark>,
) -> Result<Done> {
    let seq = manifest.next_seq;
    let name = format!("{seq:012}-{:016x}", fastrand::u64(..));
    // Each day's object encoded on a blocking thread, as many at once as
    // there are CPUs (not every day at once: each holds its encoding).
    let parallel = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut encoded = futures::stream::iter(days)
        .map(|(day, events)| {
            tokio::task::spawn_blocking(move || {
                let mut events = events;
                by_user(&mut events);
                let bytes = codec::encode(&events)?;
                Ok::<_, Error>((day, events.len() as u64, Bytes::from(bytes)))
            })
        })
        .buffered(parallel);
    let mut objects = Vec::new();
    while let Some(task) = encoded.next().await {
        let (day, entries, bytes) = task.map_err(|e| Error::Encoding(e.to_string()))??;
        let key = layout::object_key(contract, day, &name);
        let committed = Committed {
            key: key.clone(),
            contract,
            day,
            entries,
            size: bytes.len() as u64,
            sha256: sha256(&bytes),
        };
        let staged = layout::staged_key(&key);
        if lake.store.create(&staged, bytes).await? == Created::Exists {
            return Err(Error::Concurrent { commit: staged });
        }
        objects.push(committed);
    }
    let through = marks.first().map(|m| m.through);
    let keys: Vec<String> = objects.iter().map(|o| o.key.clone()).collect();
    let added: u64 = objects.iter().map(|o| o.entries).sum();
    if let Err(error) = manifest.commit(&lake.store, objects, marks).await {
        for key in &keys {
            let _ = lake.store.delete(&layout::staged_key(key)).await;
        }
        return Err(error);
    }
    for key in &keys {
        lake.publish(&layout::staged_key(key), key).await?;
    }
    Ok(Done {
        added,
        objects: keys.len() as u64,
        through,
    })
}

/// The entries committed for `contract` on the days from `since`'s on
/// (and those without a time): what a sync from `since` may download again.
async fn committed_entries(
    lake: &Lake,
    manifest: &Manifest,
    contract: u64,
    since: DateTime<Utc>,
) -> Result<Seen> {
    let first = since.date_naive();
    let mut seen = Seen::default();
    for object in &manifest.objects {
        if object.contract != contract || object.day.is_some_and(|day| day < first) {
            continue;
        }
        let bytes = lake
            .store
            .get(&object.key)
            .await?
            .ok_or_else(|| Error::Missing(object.key.clone()))?;
        for event in codec::events(bytes)? {
            seen.insert(&event);
        }
    }
    Ok(seen)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_days_entries_are_ordered_by_user_in_either_case_each_users_as_received() {
        let entries = [
            r#"{"@uuid":"1","principal":{"identity":{"username":"bob@x"}}}"#,
            r#"{"@uuid":"2","principal":{"identity":{"username":"Alice@x"}}}"#,
            r#"{"@uuid":"3","principal":null}"#,
            r#"{"@uuid":"4","principal":{"identity":{"username":"alice@x"}}}"#,
            r#"{"@uuid":"5","principal":{"identity":{"username":7}}}"#,
            r#"{"@uuid":"6","principal":{"identity":{"username":"bob@x"}}}"#,
        ];
        let mut events: Vec<RawEvent> = entries
            .iter()
            .map(|e| RawEvent::parse(e).unwrap())
            .collect();
        by_user(&mut events);
        let order: Vec<String> = events
            .iter()
            .map(|e| e.uuid().unwrap().into_owned())
            .collect();
        assert_eq!(order, ["3", "5", "2", "4", "1", "6"]);
    }
}
