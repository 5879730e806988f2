//! The SQLite engine: one file in WAL mode, one transaction per window,
//! multi-row inserts.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row as _, Sqlite, SqlitePool, Transaction};

use crate::row::{Row, sortable};
use crate::schema;
use crate::store::{Cursor, Stored};

/// Entry rows per INSERT (9 parameters each, far below SQLite's limit).
const ENTRY_ROWS: usize = 400;
/// Resource rows per INSERT (4 parameters each).
const RESOURCE_ROWS: usize = 700;

/// Opens (creating it if needed) the file `url` names.
pub(crate) async fn open(url: &str) -> sqlx::Result<SqlitePool> {
    let options = SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // In WAL mode a commit survives a crash of the process (kill -9).
        .synchronous(SqliteSynchronous::Normal)
        // Resources are written with their entry, in one transaction, and
        // nothing is deleted: checking each one's entry only costs time.
        .foreign_keys(false)
        // 16 MiB of pages (the default is 2 MiB): the hot end of every
        // index stays cached while a sync appends to them.
        .pragma("cache_size", "-16384")
        .busy_timeout(Duration::from_secs(30));
    SqlitePoolOptions::new()
        .max_connections(2)
        .connect_with(options)
        .await
}

/// The schema version of the archive (0 when new).
pub(crate) async fn version(tx: &mut Transaction<'static, Sqlite>) -> sqlx::Result<i64> {
    // Only a new archive is written to here: opening one that a sync is
    // writing must not wait for its lock.
    let exists: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'archive_schema'",
    )
    .fetch_one(&mut **tx)
    .await?;
    if exists == 0 {
        sqlx::query(schema::VERSION_TABLE)
            .execute(&mut **tx)
            .await?;
    }
    let version: Option<i64> = sqlx::query_scalar("SELECT max(version) FROM archive_schema")
        .fetch_one(&mut **tx)
        .await?;
    Ok(version.unwrap_or(0))
}

/// Takes the archive from `from` to the current version.
pub(crate) async fn migrate(tx: &mut Transaction<'static, Sqlite>, from: i64) -> sqlx::Result<()> {
    for (step, statements) in schema::SQLITE.iter().enumerate().skip(from as usize) {
        for statement in *statements {
            sqlx::query(statement).execute(&mut **tx).await?;
        }
        sqlx::query("DELETE FROM archive_schema")
            .execute(&mut **tx)
            .await?;
        sqlx::query("INSERT INTO archive_schema (version) VALUES (?)")
            .bind(step as i64 + 1)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Stores `rows` of `contract`; returns how many were new.
///
/// Only new entries get their resources written, keyed by the rowid the
/// entry's insert returned.
pub(crate) async fn insert(
    tx: &mut Transaction<'static, Sqlite>,
    contract: i64,
    rows: &[Row<'_>],
) -> sqlx::Result<u64> {
    let mut added = 0;
    let mut resources: Vec<(i64, &crate::row::Resource<'_>)> = Vec::new();
    for chunk in rows.chunks(ENTRY_ROWS) {
        let sql = values(
            "INSERT INTO entries (uuid, contract, time, username, type, status, method, source_ip, json) VALUES ",
            chunk.len(),
            9,
            " ON CONFLICT (contract, time, uuid) DO NOTHING RETURNING entry, uuid",
        );
        let mut query = sqlx::query(&sql);
        for row in chunk {
            query = query
                .bind(row.key.as_str())
                .bind(contract)
                .bind(row.time.map(sortable).unwrap_or_default())
                .bind(row.user.as_deref())
                .bind(row.kind.as_deref())
                .bind(row.status.as_deref())
                .bind(row.method.as_deref())
                .bind(row.source_ip.as_deref())
                .bind(row.json);
        }
        let mut new: HashMap<String, i64> = HashMap::new();
        for inserted in query.fetch_all(&mut **tx).await? {
            new.insert(inserted.try_get(1)?, inserted.try_get(0)?);
        }
        added += new.len() as u64;
        for row in chunk {
            // A key twice in one page: the first row was stored.
            if let Some(entry) = new.remove(row.key.as_str()) {
                resources.extend(row.resources.iter().map(|resource| (entry, resource)));
            }
        }
    }
    for chunk in resources.chunks(RESOURCE_ROWS) {
        let sql = values(
            "INSERT INTO resources (entry, type, id, action) VALUES ",
            chunk.len(),
            4,
            "",
        );
        let mut query = sqlx::query(&sql);
        for (entry, resource) in chunk {
            query = query
                .bind(*entry)
                .bind(resource.kind.as_deref())
                .bind(resource.id.as_deref())
                .bind(resource.action.as_deref());
        }
        query.execute(&mut **tx).await?;
    }
    Ok(added)
}

/// `head (?, ?, ...), (...) tail` with `rows` groups of `columns` placeholders.
fn values(head: &str, rows: usize, columns: usize, tail: &str) -> String {
    let group = format!("({})", vec!["?"; columns].join(","));
    let mut sql = String::with_capacity(head.len() + rows * (group.len() + 1) + tail.len());
    sql.push_str(head);
    for i in 0..rows {
        if i > 0 {
            sql.push(',');
        }
        sql.push_str(&group);
    }
    sql.push_str(tail);
    sql
}

/// Records that `contract` is complete up to `through`.
pub(crate) async fn set_mark(
    tx: &mut Transaction<'static, Sqlite>,
    contract: i64,
    through: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO progress (contract, through) VALUES (?, ?) \
         ON CONFLICT (contract) DO UPDATE SET through = excluded.through",
    )
    .bind(contract)
    .bind(sortable(through))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The instant `contract` is complete up to, if any.
pub(crate) async fn mark(pool: &SqlitePool, contract: i64) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT through FROM progress WHERE contract = ?")
        .bind(contract)
        .fetch_optional(pool)
        .await
}

/// Entries stored for `contract`.
pub(crate) async fn count(pool: &SqlitePool, contract: i64) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM entries WHERE contract = ?")
        .bind(contract)
        .fetch_one(pool)
        .await
}

/// Up to `limit` entries of `contract` in `[since, until)` after `after`, in (time, uuid) order.
pub(crate) async fn page(
    pool: &SqlitePool,
    contract: i64,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    after: Option<&Cursor>,
    limit: i64,
) -> sqlx::Result<Vec<Stored>> {
    let rows = match after {
        None => sqlx::query(
            "SELECT uuid, time, json FROM entries WHERE contract = ? AND time >= ? AND time < ? \
                 ORDER BY time, uuid LIMIT ?",
        )
        .bind(contract)
        .bind(sortable(since))
        .bind(sortable(until))
        .bind(limit)
        .fetch_all(pool)
        .await?,
        Some(cursor) => {
            sqlx::query(
                "SELECT uuid, time, json FROM entries WHERE contract = ? AND (time, uuid) > (?, ?) \
                 AND time < ? ORDER BY time, uuid LIMIT ?",
            )
            .bind(contract)
            .bind(cursor.time.as_str())
            .bind(cursor.uuid.as_str())
            .bind(sortable(until))
            .bind(limit)
            .fetch_all(pool)
            .await?
        }
    };
    rows.into_iter()
        .map(|row| {
            Ok(Stored {
                uuid: row.try_get(0)?,
                time: row.try_get(1)?,
                json: row.try_get(2)?,
            })
        })
        .collect()
}
