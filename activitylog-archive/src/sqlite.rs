//! The SQLite engine: one file with a rollback journal, one transaction
//! per window, multi-row inserts.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use activitylog_client::RawEvent;
use chrono::{DateTime, Utc};
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Arguments as _, Row as _, Sqlite, SqlitePool, Transaction};

use crate::query::{Bind, Dialect, Query, QuerySql, Sql};
use crate::row::{Resource, Row, Stale, sortable, stale_columns};
use crate::schema;
use crate::store::Stored;

/// Entry rows per INSERT: a page (10 parameters each, 10,000 of the 32,766 SQLite allows).
const ENTRY_ROWS: usize = 1000;
/// Resource rows per INSERT (4 parameters each).
const RESOURCE_ROWS: usize = 700;

/// Opens (creating it if needed) the file `url` names.
pub(crate) async fn open(url: &str) -> sqlx::Result<SqlitePool> {
    let options = SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        // A rollback journal rather than a write-ahead log: an archive grows
        // by appending, and appended pages need no journal, so each page is
        // written once. Through a log, every page was written twice (log,
        // then file) and copied between them: a sync of a million entries
        // took 20-25% longer. Readers wait while a window is written out
        // (up to the busy timeout; in practice a fraction of a second).
        .journal_mode(SqliteJournalMode::Truncate)
        // Commits survive a crash of the process (kill -9) and of the
        // machine: the journal is synced before the file is changed.
        .synchronous(SqliteSynchronous::Full)
        // Resources are written with their entry, in one transaction, and
        // nothing is deleted: checking each one's entry only costs time.
        .foreign_keys(false)
        // Sorting for an index may use a second thread (a first sync
        // builds eight of them).
        .pragma("threads", "2")
        .busy_timeout(Duration::from_secs(30));
    SqlitePoolOptions::new()
        .max_connections(2)
        .connect_with(options)
        .await
}

/// Begins a transaction that holds the write lock from its start (`BEGIN
/// IMMEDIATE`), so that it never has to upgrade a read lock: two processes
/// that each read and then write would otherwise find the file locked at
/// once, without waiting.
pub(crate) async fn begin_writing(pool: &SqlitePool) -> sqlx::Result<Transaction<'static, Sqlite>> {
    pool.begin_with("BEGIN IMMEDIATE").await
}

/// The schema version of the archive (0 when new). Reads only: opening an
/// archive that a sync is writing must not wait for its lock.
pub(crate) async fn version(tx: &mut Transaction<'static, Sqlite>) -> sqlx::Result<i64> {
    let exists: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'archive_schema'",
    )
    .fetch_one(&mut **tx)
    .await?;
    if exists == 0 {
        return Ok(0);
    }
    let version: Option<i64> = sqlx::query_scalar("SELECT max(version) FROM archive_schema")
        .fetch_one(&mut **tx)
        .await?;
    Ok(version.unwrap_or(0))
}

/// Takes the archive from `from` to the current version.
pub(crate) async fn migrate(tx: &mut Transaction<'static, Sqlite>, from: i64) -> sqlx::Result<()> {
    sqlx::query(schema::VERSION_TABLE)
        .execute(&mut **tx)
        .await?;
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

/// Computes every entry's columns and resources again from its JSON (an
/// archive written by an older version), and rewrites those that differ;
/// returns how many.
pub(crate) async fn refresh(tx: &mut Transaction<'static, Sqlite>) -> sqlx::Result<u64> {
    let select = format!(
        "SELECT {} FROM entries e JOIN entries_json j USING (entry) \
         WHERE e.entry > ? ORDER BY e.entry LIMIT 1000",
        stale_columns("j.json")
    );
    let (mut after, mut rewritten) = (0_i64, 0);
    loop {
        let rows = sqlx::query(&select)
            .bind(after)
            .fetch_all(&mut **tx)
            .await?;
        let Some(last) = rows.last() else {
            return Ok(rewritten);
        };
        after = last.try_get(0)?;
        for row in &rows {
            let stale = Stale::read(row)?;
            let Some(fresh) = stale.differs() else {
                continue;
            };
            rewritten += 1;
            sqlx::query(
                "UPDATE entries SET username = ?, type = ?, status = ?, method = ?, \
                 source_ip = ?, request_id = ?, undecodable = ? WHERE entry = ?",
            )
            .bind(&fresh.user)
            .bind(&fresh.kind)
            .bind(&fresh.status)
            .bind(&fresh.method)
            .bind(&fresh.source_ip)
            .bind(&fresh.request_id)
            .bind(fresh.undecodable)
            .bind(stale.entry)
            .execute(&mut **tx)
            .await?;
            sqlx::query("DELETE FROM resources WHERE entry = ?")
                .bind(stale.entry)
                .execute(&mut **tx)
                .await?;
            let pending = Pending {
                key: fresh.key,
                event: fresh.event,
                resources: fresh.resources,
            };
            insert_resources(tx, &[(stale.entry, pending)]).await?;
        }
    }
}

/// A page made ready for SQLite: the entries' statements with their
/// arguments bound, so that the writer only runs them (see [`batch`]).
pub(crate) struct Batch {
    contract: i64,
    chunks: Vec<Chunk>,
}

/// Up to [`ENTRY_ROWS`] entries: one statement.
struct Chunk {
    sql: String,
    arguments: SqliteArguments<'static>,
    /// Each entry's key, JSON and resources, in order: written once the
    /// statement shows which entries are new, and their numbers.
    rows: Vec<Pending>,
}

/// What is stored of an entry beside its row in `entries`.
struct Pending {
    key: String,
    event: RawEvent,
    resources: Vec<Resource>,
}

/// Makes `rows` of `contract` ready to store.
pub(crate) fn batch(contract: i64, rows: Vec<Row>) -> sqlx::Result<Batch> {
    let mut chunks = Vec::with_capacity(rows.len().div_ceil(ENTRY_ROWS));
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let mut arguments = SqliteArguments::default();
        let mut kept = Vec::with_capacity(ENTRY_ROWS);
        for row in rows.by_ref().take(ENTRY_ROWS) {
            bind(&mut arguments, row.key.clone())?;
            bind(&mut arguments, contract)?;
            bind(&mut arguments, row.time.map(sortable).unwrap_or_default())?;
            bind(&mut arguments, row.user)?;
            bind(&mut arguments, row.kind)?;
            bind(&mut arguments, row.status)?;
            bind(&mut arguments, row.method)?;
            bind(&mut arguments, row.source_ip)?;
            bind(&mut arguments, row.request_id)?;
            bind(&mut arguments, row.undecodable)?;
            kept.push(Pending {
                key: row.key,
                event: row.event,
                resources: row.resources,
            });
        }
        let sql = values(
            "INSERT INTO entries (uuid, contract, time, username, type, status, method, source_ip, \
             request_id, undecodable) VALUES ",
            kept.len(),
            10,
            // No conflict target: the key, `(contract, uuid)`, is absent
            // during a first sync (see `crate::indexes`).
            " ON CONFLICT DO NOTHING",
        );
        chunks.push(Chunk {
            sql,
            arguments,
            rows: kept,
        });
    }
    Ok(Batch { contract, chunks })
}

fn bind<T>(arguments: &mut SqliteArguments<'static>, value: T) -> sqlx::Result<()>
where
    T: 'static + sqlx::Encode<'static, Sqlite> + sqlx::Type<Sqlite>,
{
    arguments.add(value).map_err(sqlx::Error::Encode)
}

/// Stores `batch`; returns how many entries were new.
///
/// Only new entries get their JSON and resources written, keyed by their
/// rowid. The transaction holds the write lock from its first insert on, so
/// the rows one statement adds get consecutive rowids after the largest
/// before it, in the order of its VALUES: when it adds every row (a first
/// sync), their rowids follow from the last one; otherwise they are read back.
pub(crate) async fn insert(
    tx: &mut Transaction<'static, Sqlite>,
    batch: Batch,
) -> sqlx::Result<u64> {
    let mut added = 0;
    for chunk in batch.chunks {
        // Only full chunks keep their statement prepared: one per length
        // would fill the connection's cache with large statements.
        let full = chunk.rows.len() == ENTRY_ROWS;
        let done = sqlx::query_with(&chunk.sql, chunk.arguments)
            .persistent(full)
            .execute(&mut **tx)
            .await?;
        let count = done.rows_affected();
        let last = done.last_insert_rowid();
        added += count;
        let first = last - count as i64 + 1;
        let new: Vec<(i64, Pending)> = if count as usize == chunk.rows.len() {
            (first..).zip(chunk.rows).collect()
        } else if count > 0 {
            // Keyed as the table is, by contract and `@uuid`: the same
            // `@uuid` of two contracts is two rows.
            let mut numbers: HashMap<(i64, String), i64> = sqlx::query_as(
                "SELECT contract, uuid, entry FROM entries WHERE entry BETWEEN ? AND ?",
            )
            .bind(first)
            .bind(last)
            .fetch_all(&mut **tx)
            .await?
            .into_iter()
            .map(|(contract, uuid, entry)| ((contract, uuid), entry))
            .collect();
            // A key twice in one page: the first row was stored.
            chunk
                .rows
                .into_iter()
                .filter_map(|row| {
                    let number = numbers.remove(&(batch.contract, row.key.clone()))?;
                    Some((number, row))
                })
                .collect()
        } else {
            Vec::new()
        };
        insert_json(tx, &new).await?;
        insert_resources(tx, &new).await?;
    }
    Ok(added)
}

/// Writes the JSON of the new entries `new`, numbered.
async fn insert_json(
    tx: &mut Transaction<'static, Sqlite>,
    new: &[(i64, Pending)],
) -> sqlx::Result<()> {
    for chunk in new.chunks(ENTRY_ROWS) {
        let sql = values(
            "INSERT INTO entries_json (entry, json) VALUES ",
            chunk.len(),
            2,
            "",
        );
        let mut query = sqlx::query(&sql).persistent(chunk.len() == ENTRY_ROWS);
        for (entry, row) in chunk {
            query = query.bind(*entry).bind(row.event.json());
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Writes the resources of the new entries `new`, numbered.
async fn insert_resources(
    tx: &mut Transaction<'static, Sqlite>,
    new: &[(i64, Pending)],
) -> sqlx::Result<()> {
    let resources: Vec<(i64, &Resource)> = new
        .iter()
        .flat_map(|(entry, row)| row.resources.iter().map(|resource| (*entry, resource)))
        .collect();
    for chunk in resources.chunks(RESOURCE_ROWS) {
        let sql = values(
            "INSERT INTO resources (entry, type, id, action) VALUES ",
            chunk.len(),
            4,
            "",
        );
        let mut query = sqlx::query(&sql).persistent(chunk.len() == RESOURCE_ROWS);
        for (entry, resource) in chunk {
            query = query
                .bind(*entry)
                .bind(resource.kind.as_deref())
                .bind(resource.id.as_deref())
                .bind(resource.action.as_deref());
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
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
         ON CONFLICT (contract) DO UPDATE SET through = max(progress.through, excluded.through)",
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

/// Entries stored for `contract` without a readable time (`time` is '').
pub(crate) async fn untimed_count(pool: &SqlitePool, contract: i64) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM entries WHERE contract = ? AND time = ''")
        .bind(contract)
        .fetch_one(pool)
        .await
}

/// Up to `limit` entries of `contract` without a readable time, after the
/// `@uuid` `after`, in `@uuid` order, narrowed by `query`.
pub(crate) async fn untimed_page(
    pool: &SqlitePool,
    contract: i64,
    after: Option<&str>,
    limit: i64,
    query: &Query,
) -> sqlx::Result<Vec<Stored>> {
    let mut sql = Sql::new(Dialect::Sqlite);
    sql.push(
        "SELECT uuid, time, json FROM entries JOIN entries_json USING (entry) WHERE contract = ",
    )
    .bind(Bind::Int(contract))
    .push(" AND time = '' AND uuid > ")
    .bind(Bind::Text(after.unwrap_or("").to_string()));
    query.untimed(&mut sql);
    sql.push(" ORDER BY uuid LIMIT ").bind(Bind::Int(limit));
    stored(run(&sql).fetch_all(pool).await?)
}

/// `sql` with its values bound.
fn run(sql: &Sql) -> sqlx::query::Query<'_, Sqlite, SqliteArguments<'_>> {
    let mut query = sqlx::query(&sql.text);
    for value in &sql.binds {
        query = match value {
            Bind::Int(n) => query.bind(*n),
            Bind::Text(text) => query.bind(text.as_str()),
        };
    }
    query
}

/// The JSON of `contract`'s entry `uuid` (the `entries_key` index).
pub(crate) async fn entry(
    pool: &SqlitePool,
    contract: i64,
    uuid: &str,
) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar(
        "SELECT json FROM entries JOIN entries_json USING (entry) \
         WHERE contract = ? AND uuid = ?",
    )
    .bind(contract)
    .bind(uuid)
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

/// The entries `sql` (a read of [`QuerySql::page`](crate::query::QuerySql::page)) selects.
pub(crate) async fn stored_by(pool: &SqlitePool, sql: &Sql) -> sqlx::Result<Vec<Stored>> {
    stored(run(sql).fetch_all(pool).await?)
}

/// Rows of `uuid, time, json` read back.
fn stored(rows: Vec<sqlx::sqlite::SqliteRow>) -> sqlx::Result<Vec<Stored>> {
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
