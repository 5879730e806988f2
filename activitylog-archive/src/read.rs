//! Reading an archive back: a contract's entries of a range, in time
//! order, page by page through the `(contract, time, uuid)` index; those
//! without a readable time, which are in no range; and one entry by its
//! `@uuid`, through the `(contract, uuid)` key.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use activitylog_client::RawEvent;
use chrono::{DateTime, Utc};
use futures::stream::{self, BoxStream, Stream, StreamExt};

use crate::query::Query;
use crate::store::Cursor;
use crate::{Archive, Error, Result, key};

/// Entries per page read.
const PAGE: i64 = 1000;

/// Pages of archived entries, in time order; see [`Archive::pages`].
pub struct ArchivedPages {
    inner: BoxStream<'static, Result<Vec<RawEvent>>>,
}

/// Archived entries, one at a time, in time order; see [`Archive::entries`].
pub struct ArchivedEntries {
    inner: BoxStream<'static, Result<RawEvent>>,
}

impl std::fmt::Debug for ArchivedPages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ArchivedPages")
    }
}

impl std::fmt::Debug for ArchivedEntries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ArchivedEntries")
    }
}

impl Stream for ArchivedPages {
    type Item = Result<Vec<RawEvent>>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

impl Stream for ArchivedEntries {
    type Item = Result<RawEvent>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

impl Archive {
    /// The archived entries of `contract` with a time in `[since, until)`,
    /// in time order (ties by `@uuid`), in pages of up to 1000; each entry's
    /// JSON as stored (as received in SQLite; PostgreSQL's `jsonb` orders
    /// keys its own way). Entries without a readable time are in no range:
    /// [`Archive::untimed`] reads them, [`Archive::untimed_count`] counts them.
    ///
    /// What the archive holds of a range is complete only up to its mark,
    /// [`Archive::through`]: compare `until` with it.
    pub fn pages(
        &self,
        contract: u64,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> ArchivedPages {
        self.pages_where(contract, since, until, &Query::default())
    }

    /// [`Archive::pages`], narrowed by `query`: every entry of the range
    /// that matches it, and perhaps others (see [`Query`]), in the same
    /// order. The database skips what the query rules out, through its
    /// indexes, before reading an entry's JSON.
    pub fn pages_where(
        &self,
        contract: u64,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        query: &Query,
    ) -> ArchivedPages {
        let archive = self.clone();
        let query = Arc::new(query.clone());
        let state = Some((archive, None::<Cursor>));
        let inner = stream::try_unfold(state, move |state| {
            let query = Arc::clone(&query);
            async move {
                let Some((archive, cursor)) = state else {
                    return Ok(None);
                };
                let stored = archive
                    .db
                    .page(key(contract), since, until, cursor.as_ref(), PAGE, &query)
                    .await
                    .map_err(|e| archive.failed(e))?;
                let Some(last) = stored.last() else {
                    return Ok(None);
                };
                let next = Cursor {
                    time: last.time.clone(),
                    uuid: last.uuid.clone(),
                };
                let full = stored.len() as i64 == PAGE;
                let events = stored
                    .into_iter()
                    .map(|s| RawEvent::parse(&s.json).map_err(Error::Download))
                    .collect::<Result<Vec<_>>>()?;
                let state = full.then_some((archive, Some(next)));
                Ok(Some((events, state)))
            }
        })
        .boxed();
        ArchivedPages { inner }
    }

    /// The archived entries of `contract` without a readable time (no
    /// `meta.time`, or one that is not an RFC 3339 instant), in `@uuid`
    /// order, in pages of up to 1000. They are in no range of
    /// [`Archive::pages`].
    pub fn untimed(&self, contract: u64) -> ArchivedPages {
        self.untimed_where(contract, &Query::default())
    }

    /// [`Archive::untimed`], narrowed by `query` as [`Archive::pages_where`] is.
    pub fn untimed_where(&self, contract: u64, query: &Query) -> ArchivedPages {
        let archive = self.clone();
        let query = Arc::new(query.clone());
        let state = Some((archive, None::<String>));
        let inner = stream::try_unfold(state, move |state| {
            let query = Arc::clone(&query);
            async move {
                let Some((archive, after)) = state else {
                    return Ok(None);
                };
                let stored = archive
                    .db
                    .untimed_page(key(contract), after.as_deref(), PAGE, &query)
                    .await
                    .map_err(|e| archive.failed(e))?;
                let Some(last) = stored.last() else {
                    return Ok(None);
                };
                let next = last.uuid.clone();
                let full = stored.len() as i64 == PAGE;
                let events = stored
                    .into_iter()
                    .map(|s| RawEvent::parse(&s.json).map_err(Error::Download))
                    .collect::<Result<Vec<_>>>()?;
                let state = full.then_some((archive, Some(next)));
                Ok(Some((events, state)))
            }
        })
        .boxed();
        ArchivedPages { inner }
    }

    /// How many entries of `contract` the archive holds without a readable
    /// time (see [`Archive::untimed`]).
    pub async fn untimed_count(&self, contract: u64) -> Result<u64> {
        let count = self
            .db
            .untimed_count(key(contract))
            .await
            .map_err(|e| self.failed(e))?;
        Ok(u64::try_from(count).unwrap_or_default())
    }

    /// The entry of `contract` with this `@uuid`, found through the
    /// archive's `(contract, @uuid)` key (one row each), with or without a
    /// readable time; its JSON as [`Archive::pages`] reads it. `None` when
    /// the archive does not hold it.
    pub async fn entry(&self, contract: u64, uuid: &str) -> Result<Option<RawEvent>> {
        let json = self
            .db
            .entry(key(contract), uuid)
            .await
            .map_err(|e| self.failed(e))?;
        json.map(|json| RawEvent::parse(&json).map_err(Error::Download))
            .transpose()
    }

    /// [`Archive::pages`], one entry at a time.
    pub fn entries(
        &self,
        contract: u64,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> ArchivedEntries {
        self.entries_where(contract, since, until, &Query::default())
    }

    /// [`Archive::pages_where`], one entry at a time.
    pub fn entries_where(
        &self,
        contract: u64,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        query: &Query,
    ) -> ArchivedEntries {
        let inner = self
            .pages_where(contract, since, until, query)
            .flat_map(|page| match page {
                Ok(events) => stream::iter(events.into_iter().map(Ok).collect::<Vec<_>>()),
                Err(error) => stream::iter(vec![Err(error)]),
            })
            .boxed();
        ArchivedEntries { inner }
    }
}

impl Archive {
    /// The contracts this archive holds entries or a progress mark of, in
    /// ascending order.
    pub async fn contracts(&self) -> Result<Vec<u64>> {
        const SQL: &str =
            "SELECT contract FROM progress UNION SELECT DISTINCT contract FROM entries ORDER BY 1";
        let numbers: Vec<i64> = match &self.db {
            crate::store::Db::Sqlite(pool) => sqlx::query_scalar(SQL).fetch_all(pool).await,
            crate::store::Db::Postgres(pool) => sqlx::query_scalar(SQL).fetch_all(pool).await,
        }
        .map_err(|e| self.failed(e))?;
        Ok(numbers
            .into_iter()
            .filter_map(|n| u64::try_from(n).ok())
            .collect())
    }
}
