//! Syncing one contract: download what is new, store each window with its
//! progress mark in one transaction.

use activitylog_client::{ActivityLog, SyncOptions, SyncPlan, Update, Updates};
use chrono::{DateTime, Utc};
use futures::StreamExt;

use crate::row::Row;
use crate::write::Writer;
use crate::{Archive, Result, key};

/// A sync of one contract into an [`Archive`]; see [`Archive::sync`].
#[derive(Debug)]
#[must_use = "a sync does nothing until run"]
pub struct SyncRun<'a> {
    archive: &'a Archive,
    log: &'a ActivityLog,
    contract: u64,
    options: SyncOptions,
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
            options: SyncOptions::default(),
        }
    }

    /// What the sync is asked: the range, settle time, overlap before the
    /// archive's progress mark, and paging [default: [`SyncOptions::default`]].
    pub fn options(mut self, options: SyncOptions) -> Self {
        self.options = options;
        self
    }

    /// Downloads and stores; on an error, every window committed so far
    /// stays, and the next sync goes on from there.
    pub async fn run(self) -> Result<Synced> {
        let archive = self.archive;
        let contract = key(self.contract);
        let mark = archive.through(self.contract).await?;
        let plan = self.options.plan(self.log, mark).await?;
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
        let updates = self.options.updates(self.log, self.contract, &plan);
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
