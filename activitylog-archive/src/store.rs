//! One archive, whichever engine holds it: connections, transactions,
//! and what each engine reads back.

use chrono::{DateTime, Utc};
use futures::FutureExt;
use futures::future::BoxFuture;
use sqlx::{PgPool, Postgres, Sqlite, SqlitePool, Transaction};

use crate::query::{Dialect, Query, QuerySql, Start};
use crate::row::{Row, sortable};
use crate::{postgres, sqlite};

/// The database of an archive.
#[derive(Clone)]
pub(crate) enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// A transaction on an archive: one download window and its progress mark.
pub(crate) enum Tx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

/// A page of entries ready to store; see [`Db::batch`].
pub(crate) enum Batch {
    Sqlite(sqlite::Batch),
    Postgres(postgres::Batch),
}

/// An entry read back.
#[derive(Debug)]
pub(crate) struct Stored {
    pub uuid: String,
    /// Fixed-width UTC text (see [`crate::row::sortable`]).
    pub time: String,
    pub json: String,
}

/// Where a read of an ordered range goes on from: after this entry.
#[derive(Debug, Clone)]
pub(crate) struct Cursor {
    pub time: String,
    pub uuid: String,
}

impl Db {
    /// Opens the database `url` names (`sqlite:` or `postgres://`).
    pub(crate) async fn open(url: &str) -> Result<Db, Opening> {
        if url.starts_with("sqlite:") {
            Ok(Db::Sqlite(sqlite::open(url).await?))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Db::Postgres(postgres::open(url).await?))
        } else {
            Err(Opening::Scheme)
        }
    }

    // The futures the writers await are boxed here, where their lifetimes
    // are concrete: the compiler cannot prove sqlx's futures `Send` for
    // every lifetime inside a spawned task (rust-lang/rust#102211).
    pub(crate) fn begin(&self) -> BoxFuture<'_, sqlx::Result<Tx>> {
        async move {
            Ok(match self {
                Db::Sqlite(pool) => Tx::Sqlite(pool.begin().await?),
                Db::Postgres(pool) => Tx::Postgres(postgres::begin(pool).await?),
            })
        }
        .boxed()
    }

    /// Begins a transaction that writes from its start (SQLite: `BEGIN
    /// IMMEDIATE`; PostgreSQL: as [`Db::begin`]).
    pub(crate) async fn begin_writing(&self) -> sqlx::Result<Tx> {
        Ok(match self {
            Db::Sqlite(pool) => Tx::Sqlite(sqlite::begin_writing(pool).await?),
            Db::Postgres(pool) => Tx::Postgres(postgres::begin(pool).await?),
        })
    }

    /// Makes `rows` of `contract` ready to store: all the work of a write
    /// that needs no connection, done by the download task.
    pub(crate) fn batch(&self, contract: i64, rows: Vec<Row>) -> sqlx::Result<Batch> {
        Ok(match self {
            Db::Sqlite(_) => Batch::Sqlite(sqlite::batch(contract, rows)?),
            Db::Postgres(_) => Batch::Postgres(postgres::batch(contract, rows)?),
        })
    }

    pub(crate) async fn mark(&self, contract: i64) -> sqlx::Result<Option<String>> {
        match self {
            Db::Sqlite(pool) => sqlite::mark(pool, contract).await,
            Db::Postgres(pool) => postgres::mark(pool, contract).await,
        }
    }

    pub(crate) async fn untimed_count(&self, contract: i64) -> sqlx::Result<i64> {
        match self {
            Db::Sqlite(pool) => sqlite::untimed_count(pool, contract).await,
            Db::Postgres(pool) => postgres::untimed_count(pool, contract).await,
        }
    }

    pub(crate) async fn untimed_page(
        &self,
        contract: i64,
        after: Option<&str>,
        limit: i64,
        query: &Query,
    ) -> sqlx::Result<Vec<Stored>> {
        match self {
            Db::Sqlite(pool) => sqlite::untimed_page(pool, contract, after, limit, query).await,
            Db::Postgres(pool) => postgres::untimed_page(pool, contract, after, limit, query).await,
        }
    }

    /// The JSON of `contract`'s entry `uuid`, if stored.
    pub(crate) async fn entry(&self, contract: i64, uuid: &str) -> sqlx::Result<Option<String>> {
        match self {
            Db::Sqlite(pool) => sqlite::entry(pool, contract, uuid).await,
            Db::Postgres(pool) => postgres::entry(pool, contract, uuid).await,
        }
    }

    pub(crate) async fn count(&self, contract: i64) -> sqlx::Result<i64> {
        match self {
            Db::Sqlite(pool) => sqlite::count(pool, contract).await,
            Db::Postgres(pool) => postgres::count(pool, contract).await,
        }
    }

    pub(crate) async fn page(
        &self,
        contract: i64,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        after: Option<&Cursor>,
        limit: i64,
        query: &Query,
    ) -> sqlx::Result<Vec<Stored>> {
        let since = sortable(since);
        let from = match after {
            None => Start::Since(&since),
            Some(cursor) => Start::After {
                time: &cursor.time,
                uuid: &cursor.uuid,
            },
        };
        let until = sortable(until);
        match self {
            Db::Sqlite(pool) => {
                let sql = query.page(Dialect::Sqlite, contract, &from, &until, limit);
                sqlite::stored_by(pool, &sql).await
            }
            Db::Postgres(pool) => {
                let sql = query.page(Dialect::Postgres, contract, &from, &until, limit);
                postgres::stored_by(pool, &sql).await
            }
        }
    }

    pub(crate) async fn close(&self) {
        match self {
            Db::Sqlite(pool) => pool.close().await,
            Db::Postgres(pool) => pool.close().await,
        }
    }
}

/// Why a database could not be opened.
pub(crate) enum Opening {
    /// The URL is neither `sqlite:` nor `postgres://`.
    Scheme,
    Database(sqlx::Error),
}

impl From<sqlx::Error> for Opening {
    fn from(error: sqlx::Error) -> Self {
        Opening::Database(error)
    }
}

impl Tx {
    pub(crate) async fn version(&mut self) -> sqlx::Result<i64> {
        match self {
            Tx::Sqlite(tx) => sqlite::version(tx).await,
            Tx::Postgres(tx) => postgres::version(tx).await,
        }
    }

    pub(crate) async fn migrate(&mut self, from: i64) -> sqlx::Result<()> {
        match self {
            Tx::Sqlite(tx) => sqlite::migrate(tx, from).await,
            Tx::Postgres(tx) => postgres::migrate(tx, from).await,
        }
    }

    /// See [`sqlite::refresh`].
    pub(crate) async fn refresh(&mut self) -> sqlx::Result<u64> {
        match self {
            Tx::Sqlite(tx) => sqlite::refresh(tx).await,
            Tx::Postgres(tx) => postgres::refresh(tx).await,
        }
    }

    /// Stores a page made ready by [`Db::batch`]; returns how many entries were new.
    pub(crate) fn insert(&mut self, batch: Batch) -> BoxFuture<'_, sqlx::Result<u64>> {
        match (self, batch) {
            (Tx::Sqlite(tx), Batch::Sqlite(batch)) => sqlite::insert(tx, batch).boxed(),
            (Tx::Postgres(tx), Batch::Postgres(batch)) => postgres::insert(tx, batch).boxed(),
            _ => async {
                Err(sqlx::Error::Protocol(
                    "a page made for another engine".into(),
                ))
            }
            .boxed(),
        }
    }

    pub(crate) fn set_mark(
        &mut self,
        contract: i64,
        through: DateTime<Utc>,
    ) -> BoxFuture<'_, sqlx::Result<()>> {
        match self {
            Tx::Sqlite(tx) => sqlite::set_mark(tx, contract, through).boxed(),
            Tx::Postgres(tx) => postgres::set_mark(tx, contract, through).boxed(),
        }
    }

    pub(crate) async fn rollback(self) -> sqlx::Result<()> {
        match self {
            Tx::Sqlite(tx) => tx.rollback().await,
            Tx::Postgres(tx) => tx.rollback().await,
        }
    }

    pub(crate) fn commit(self) -> BoxFuture<'static, sqlx::Result<()>> {
        match self {
            Tx::Sqlite(tx) => tx.commit().boxed(),
            Tx::Postgres(tx) => tx.commit().boxed(),
        }
    }
}
