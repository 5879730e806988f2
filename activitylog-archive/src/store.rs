//! One archive, whichever engine holds it: connections, transactions,
//! and what each engine reads back.

use chrono::{DateTime, Utc};
use sqlx::{PgPool, Postgres, Sqlite, SqlitePool, Transaction};

use crate::row::Row;
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

    pub(crate) async fn begin(&self) -> sqlx::Result<Tx> {
        Ok(match self {
            Db::Sqlite(pool) => Tx::Sqlite(pool.begin().await?),
            Db::Postgres(pool) => Tx::Postgres(pool.begin().await?),
        })
    }

    pub(crate) async fn mark(&self, contract: i64) -> sqlx::Result<Option<String>> {
        match self {
            Db::Sqlite(pool) => sqlite::mark(pool, contract).await,
            Db::Postgres(pool) => postgres::mark(pool, contract).await,
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
    ) -> sqlx::Result<Vec<Stored>> {
        match self {
            Db::Sqlite(pool) => sqlite::page(pool, contract, since, until, after, limit).await,
            Db::Postgres(pool) => postgres::page(pool, contract, since, until, after, limit).await,
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

    pub(crate) async fn insert(&mut self, contract: i64, rows: &[Row<'_>]) -> sqlx::Result<u64> {
        match self {
            Tx::Sqlite(tx) => sqlite::insert(tx, contract, rows).await,
            Tx::Postgres(tx) => postgres::insert(tx, contract, rows).await,
        }
    }

    pub(crate) async fn set_mark(
        &mut self,
        contract: i64,
        through: DateTime<Utc>,
    ) -> sqlx::Result<()> {
        match self {
            Tx::Sqlite(tx) => sqlite::set_mark(tx, contract, through).await,
            Tx::Postgres(tx) => postgres::set_mark(tx, contract, through).await,
        }
    }

    pub(crate) async fn commit(self) -> sqlx::Result<()> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await,
            Tx::Postgres(tx) => tx.commit().await,
        }
    }
}
