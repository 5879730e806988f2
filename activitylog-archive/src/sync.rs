//! Syncing one contract: download what is new, store each window with its
//! progress mark in one transaction.

use std::time::Duration;

use activitylog_client::{ActivityLog, DateBound, SyncPlan, Update, Updates};
use chrono::{DateTime, Utc};
use futures::StreamExt;

use crate::row::Row;
use crate::write::Writer;
use crate::{Archive, Result, key};

/// How far before its progress mark the next sync of a contract starts, so
/// that entries that became visible late are caught (default).
pub const DEFAULT_OVERLAP: Duration = Duration::from_secs(3600);

/// A sync of one contract into an [`Archive`]; see [`Archive::sync`].
#[derive(Debug)]
#[must_use = "a sync does nothing until run"]
pub struct SyncRun<'a> {
    archive: &'a Archive,
    log: &'a ActivityLog,
    contract: u64,
    since: Option<DateBound>,
    until: Option<DateBound>,
    settle: Option<Duration>,
    overlap: Duration,
    page_size: Option<u32>,
    concurrency: Option<usize>,
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
    /// Entries downloaded (some may have been archived before).
    pub fetched: u64,
    /// Entries the archive did not hold yet.
    pub added: u64,
    /// The instant the archive is now complete up to for this contract.
    pub through: Option<DateTime<Utc>>,
}

impl<'a> SyncRun<'a> {
    pub(crate) fn new(archive: &'a Archive, log: &'a ActivityLog, contract: u64) -> Self {
        SyncRun {
            archive,
            log,
            contract,
            since: None,
            until: None,
            settle: None,
            overlap: DEFAULT_OVERLAP,
            page_size: None,
            concurrency: None,
        }
    }

    /// Start, inclusive [default: the progress mark minus the overlap; on
    /// the first sync, 90 days before the end].
    pub fn since(mut self, start: impl Into<DateBound>) -> Self {
        self.since = Some(start.into());
        self
    }

    /// End, exclusive [default: `now − settle`, by the service's clock,
    /// see [`RangeRule`](activitylog_client::RangeRule)]. The progress mark never passes `now − settle`,
    /// whatever the end.
    pub fn until(mut self, end: impl Into<DateBound>) -> Self {
        self.until = Some(end.into());
        self
    }

    /// How long entries take to become visible [default: the client's
    /// [`Config::settle`](activitylog_client::Config::settle)].
    pub fn settle(mut self, settle: Duration) -> Self {
        self.settle = Some(settle);
        self
    }

    /// How far before the progress mark an incremental sync starts
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

    /// Downloads and stores; on an error, every window committed so far
    /// stays, and the next sync goes on from there.
    pub async fn run(self) -> Result<Synced> {
        let archive = self.archive;
        let contract = key(self.contract);
        let settle = self.settle.unwrap_or(self.log.config().settle_time());
        let mut entries = self.log.entries(self.contract).settle(settle);
        if let Some(size) = self.page_size {
            entries = entries.page_size(size);
        }
        if let Some(pages) = self.concurrency {
            entries = entries.concurrency(pages);
        }
        // By the service's clock: a machine clock ahead of it must not
        // move the mark over time the service has not finished.
        let now = self.log.now().await;
        let mark = archive.through(self.contract).await?;
        let plan = SyncPlan::new(mark, self.since, self.until, self.overlap, settle, now)?;
        let (since, until) = (plan.since(), plan.until());
        let mut synced = Synced {
            contract: self.contract,
            since,
            until,
            fetched: 0,
            added: 0,
            through: mark,
        };
        if plan.is_empty() {
            return Ok(synced);
        }
        tracing::info!(contract = self.contract, %since, %until, "syncing");
        let updates = entries
            .since(DateBound::Instant(since))
            .until(DateBound::Instant(until))
            .updates();
        let failed = |e| archive.failed(e);
        // Into an empty archive, the secondary indexes are built once at the
        // end; otherwise those a killed sync left unbuilt are built now.
        let deferred = archive.db.is_empty().await.map_err(failed)?
            && archive.db.drop_indexes().await.map_err(failed)?;
        if !deferred {
            archive.db.build_key().await.map_err(failed)?;
            archive.db.build_indexes().await.map_err(failed)?;
        }
        let mut writer = Writer::start(&archive.db, contract);
        let downloaded = download(updates, &mut writer, &mut synced, plan).await;
        // Windows handed over before an error are still committed.
        let written = writer.finish().await;
        let indexed = if deferred {
            // The key first: it removes the copies a first sync wrote.
            match archive.db.build_key().await {
                Ok(removed) => archive.db.build_indexes().await.map(|_| removed),
                Err(error) => Err(error),
            }
        } else {
            Ok(0)
        };
        downloaded?;
        let written = written.map_err(failed)?;
        let removed = indexed.map_err(failed)?;
        synced.added = written.saturating_sub(removed);
        Ok(synced)
    }
}

/// Hands the pages of `updates` to `writer`, window by window, with the
/// progress mark each window moves to; stops early when the writer has.
async fn download(
    mut updates: Updates,
    writer: &mut Writer,
    synced: &mut Synced,
    mut plan: SyncPlan,
) -> Result<()> {
    while let Some(update) = updates.next().await {
        match update? {
            Update::Events(events) => {
                synced.fetched += events.len() as u64;
                let rows = events.iter().map(Row::of).collect();
                if writer.rows(rows).await.is_err() {
                    break; // the writer's error is what the sync returns
                }
            }
            Update::Completed { through } => {
                let mark = plan.advance(through);
                synced.through = plan.mark();
                if writer.commit(mark).await.is_err() {
                    break;
                }
            }
            _ => {}
        }
    }
    Ok(())
}
