//! The PostgreSQL engine: entries as `jsonb`, each page written by one
//! statement (its columns bound as arrays), one transaction per window.

use std::collections::HashSet;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgArguments, PgConnectOptions, PgPoolOptions};
use sqlx::{Arguments as _, PgPool, Postgres, Row as _, Transaction};

use crate::query::{Bind, Dialect, Query, QuerySql, Sql, postgres_time_text};
use crate::row::{Row, Stale, sortable, stale_columns};
use crate::schema;
use crate::store::Stored;

/// Begins a transaction.
///
/// Its commit does not wait for the server's disk: safe for an archive, since
/// a server crash can only lose the last commits whole (a window's rows and
/// its progress mark together, or a migration), which the next sync or open
/// does again.
pub(crate) async fn begin(pool: &PgPool) -> sqlx::Result<Transaction<'static, Postgres>> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET LOCAL synchronous_commit = off")
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}

/// Connects to the server `url` names.
pub(crate) async fn open(url: &str) -> sqlx::Result<PgPool> {
    let options = PgConnectOptions::from_str(url)?;
    PgPoolOptions::new()
        .max_connections(2)
        .connect_with(options)
        .await
}

/// The schema version of the archive (0 when new).
pub(crate) async fn version(tx: &mut Transaction<'static, Postgres>) -> sqlx::Result<i64> {
    // One migrator at a time; released at commit.
    sqlx::query("SELECT pg_advisory_xact_lock(3172106012)")
        .execute(&mut **tx)
        .await?;
    sqlx::query(schema::VERSION_TABLE)
        .execute(&mut **tx)
        .await?;
    let version: Option<i64> = sqlx::query_scalar("SELECT max(version) FROM archive_schema")
        .fetch_one(&mut **tx)
        .await?;
    Ok(version.unwrap_or(0))
}

/// Takes the archive from `from` to the current version.
pub(crate) async fn migrate(
    tx: &mut Transaction<'static, Postgres>,
    from: i64,
) -> sqlx::Result<()> {
    for (step, statements) in schema::POSTGRES.iter().enumerate().skip(from as usize) {
        for statement in *statements {
            sqlx::query(statement).execute(&mut **tx).await?;
        }
        sqlx::query("DELETE FROM archive_schema")
            .execute(&mut **tx)
            .await?;
        sqlx::query("INSERT INTO archive_schema (version) VALUES ($1)")
            .bind(step as i64 + 1)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Computes every entry's columns and resources again from its JSON (an
/// archive written by an older version), and rewrites those that differ;
/// returns how many.
pub(crate) async fn refresh(tx: &mut Transaction<'static, Postgres>) -> sqlx::Result<u64> {
    let select = format!(
        "SELECT {} FROM entries e JOIN entries_json j USING (entry) \
         WHERE e.entry > $1 ORDER BY e.entry LIMIT 1000",
        stale_columns("coalesce(j.json::text, j.raw)")
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
                "UPDATE entries SET username = $1, type = $2, status = $3, method = $4, \
                 source_ip = $5, request_id = $6, undecodable = $7 WHERE entry = $8",
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
            sqlx::query("DELETE FROM resources WHERE entry = $1")
                .bind(stale.entry)
                .execute(&mut **tx)
                .await?;
            for resource in &fresh.resources {
                sqlx::query(
                    "INSERT INTO resources (entry, type, id, action) VALUES ($1, $2, $3, $4)",
                )
                .bind(stale.entry)
                .bind(&resource.kind)
                .bind(&resource.id)
                .bind(&resource.action)
                .execute(&mut **tx)
                .await?;
            }
        }
    }
}

/// A page made ready for PostgreSQL: its columns bound as arrays, so that
/// the writer only sends them (see [`batch`]).
pub(crate) struct Batch {
    arguments: Option<PgArguments>,
}

/// Makes `rows` of `contract` ready to store.
pub(crate) fn batch(contract: i64, rows: Vec<Row>) -> sqlx::Result<Batch> {
    if rows.is_empty() {
        return Ok(Batch { arguments: None });
    }
    let mut entries = Columns::default();
    let mut resources = ResourceColumns::default();
    let mut seen = HashSet::with_capacity(rows.len());
    for row in &rows {
        // A key twice in one page: the first row is stored.
        if !seen.insert(row.key.as_str()) {
            continue;
        }
        entries.uuid.push(row.key.as_str());
        entries.time.push(row.time.map(sortable));
        entries.user.push(row.user.as_deref());
        entries.kind.push(row.kind.as_deref());
        entries.status.push(row.status.as_deref());
        entries.method.push(row.method.as_deref());
        entries.source_ip.push(row.source_ip.as_deref());
        entries.request_id.push(row.request_id.as_deref());
        entries.undecodable.push(row.undecodable);
        let json = row.event.json();
        // jsonb refuses `\u0000`: such an entry keeps its text instead (also
        // when the escape is only part of an escaped backslash: still lossless).
        if json.contains(r"\u0000") {
            entries.json.push(None);
            entries.raw.push(Some(json));
        } else {
            entries.json.push(Some(json));
            entries.raw.push(None);
        }
        for (ordinal, resource) in row.resources.iter().enumerate() {
            resources.uuid.push(row.key.as_str());
            resources
                .ordinal
                .push(i32::try_from(ordinal).unwrap_or(i32::MAX));
            resources.kind.push(resource.kind.as_deref());
            resources.id.push(resource.id.as_deref());
            resources.action.push(resource.action.as_deref());
        }
    }
    let mut arguments = PgArguments::default();
    // Encoded as they are added: nothing stays borrowed from `rows`.
    let encode = sqlx::Error::Encode;
    arguments.add(contract).map_err(encode)?;
    arguments.add(&entries.uuid).map_err(encode)?;
    arguments.add(&entries.time).map_err(encode)?;
    arguments.add(&entries.user).map_err(encode)?;
    arguments.add(&entries.kind).map_err(encode)?;
    arguments.add(&entries.status).map_err(encode)?;
    arguments.add(&entries.method).map_err(encode)?;
    arguments.add(&entries.source_ip).map_err(encode)?;
    arguments.add(&entries.json).map_err(encode)?;
    arguments.add(&resources.uuid).map_err(encode)?;
    arguments.add(&resources.ordinal).map_err(encode)?;
    arguments.add(&resources.kind).map_err(encode)?;
    arguments.add(&resources.id).map_err(encode)?;
    arguments.add(&resources.action).map_err(encode)?;
    arguments.add(&entries.raw).map_err(encode)?;
    arguments.add(&entries.request_id).map_err(encode)?;
    arguments.add(&entries.undecodable).map_err(encode)?;
    Ok(Batch {
        arguments: Some(arguments),
    })
}

/// Stores `batch`; returns how many entries were new.
///
/// One statement per page: the new entries are inserted, and the JSON and
/// resources of only those, keyed by the row number each entry got.
pub(crate) async fn insert(
    tx: &mut Transaction<'static, Postgres>,
    batch: Batch,
) -> sqlx::Result<u64> {
    let Some(arguments) = batch.arguments else {
        return Ok(0);
    };
    let added: i64 = sqlx::query_scalar_with(
        "WITH new AS (
            INSERT INTO entries (uuid, contract, time, username, type, status, method, source_ip,
                                 request_id, undecodable)
            SELECT uuid, $1, time::timestamptz, username, type, status, method, source_ip,
                   request_id, undecodable
            FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                        $8::text[], $16::text[], $17::bool[])
                AS page (uuid, time, username, type, status, method, source_ip, request_id,
                         undecodable)
            ON CONFLICT (contract, uuid) DO NOTHING
            RETURNING entry, uuid
        ), documents AS (
            INSERT INTO entries_json (entry, json, raw)
            SELECT new.entry, page.json::jsonb, page.raw
            FROM new JOIN unnest($2::text[], $9::text[], $15::text[]) AS page (uuid, json, raw)
                USING (uuid)
            ORDER BY new.entry
        ), resources AS (
            INSERT INTO resources (entry, type, id, action)
            SELECT new.entry, r.type, r.id, r.action
            FROM new JOIN unnest($10::text[], $11::int[], $12::text[], $13::text[], $14::text[])
                AS r (uuid, ordinal, type, id, action) USING (uuid)
            ORDER BY new.entry, r.ordinal
        )
        SELECT count(*) FROM new",
        arguments,
    )
    .fetch_one(&mut **tx)
    .await?;
    Ok(added as u64)
}

/// A page's entries, column by column.
#[derive(Default)]
struct Columns<'a> {
    uuid: Vec<&'a str>,
    time: Vec<Option<String>>,
    user: Vec<Option<&'a str>>,
    kind: Vec<Option<&'a str>>,
    status: Vec<Option<&'a str>>,
    method: Vec<Option<&'a str>>,
    source_ip: Vec<Option<&'a str>>,
    request_id: Vec<Option<&'a str>>,
    undecodable: Vec<bool>,
    json: Vec<Option<&'a str>>,
    /// The text of entries jsonb cannot hold (`json` is `None` for them).
    raw: Vec<Option<&'a str>>,
}

/// A page's resources, column by column.
#[derive(Default)]
struct ResourceColumns<'a> {
    uuid: Vec<&'a str>,
    ordinal: Vec<i32>,
    kind: Vec<Option<&'a str>>,
    id: Vec<Option<&'a str>>,
    action: Vec<Option<&'a str>>,
}

/// Records that `contract` is complete up to `through`.
pub(crate) async fn set_mark(
    tx: &mut Transaction<'static, Postgres>,
    contract: i64,
    through: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO progress (contract, through) VALUES ($1, $2::timestamptz) \
         ON CONFLICT (contract) DO UPDATE SET through = greatest(progress.through, excluded.through)",
    )
    .bind(contract)
    .bind(sortable(through))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The instant `contract` is complete up to, if any.
pub(crate) async fn mark(pool: &PgPool, contract: i64) -> sqlx::Result<Option<String>> {
    let sql = format!(
        "SELECT {} FROM progress WHERE contract = $1",
        postgres_time_text("through")
    );
    sqlx::query_scalar(&sql)
        .bind(contract)
        .fetch_optional(pool)
        .await
}

/// Entries stored for `contract` without a readable time (`time` is NULL).
pub(crate) async fn untimed_count(pool: &PgPool, contract: i64) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM entries WHERE contract = $1 AND time IS NULL")
        .bind(contract)
        .fetch_one(pool)
        .await
}

/// Up to `limit` entries of `contract` without a readable time, after the
/// `@uuid` `after`, in `@uuid` order, narrowed by `query`.
pub(crate) async fn untimed_page(
    pool: &PgPool,
    contract: i64,
    after: Option<&str>,
    limit: i64,
    query: &Query,
) -> sqlx::Result<Vec<Stored>> {
    let mut sql = Sql::new(Dialect::Postgres);
    sql.push(
        "SELECT uuid, '', coalesce(json::text, raw) FROM entries JOIN entries_json USING (entry) \
         WHERE contract = ",
    )
    .bind(Bind::Int(contract))
    .push(" AND time IS NULL AND uuid > ")
    .bind(Bind::Text(after.unwrap_or("").to_string()));
    query.untimed(&mut sql);
    sql.push(" ORDER BY uuid LIMIT ").bind(Bind::Int(limit));
    stored(run(&sql).fetch_all(pool).await?)
}

/// `sql` with its values bound.
fn run(sql: &Sql) -> sqlx::query::Query<'_, Postgres, PgArguments> {
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
    pool: &PgPool,
    contract: i64,
    uuid: &str,
) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar(
        "SELECT coalesce(json::text, raw) FROM entries JOIN entries_json USING (entry) \
         WHERE contract = $1 AND uuid = $2",
    )
    .bind(contract)
    .bind(uuid)
    .fetch_optional(pool)
    .await
}

/// Entries stored for `contract`.
pub(crate) async fn count(pool: &PgPool, contract: i64) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM entries WHERE contract = $1")
        .bind(contract)
        .fetch_one(pool)
        .await
}

/// The entries `sql` (a read of [`QuerySql::page`](crate::query::QuerySql::page)) selects.
pub(crate) async fn stored_by(pool: &PgPool, sql: &Sql) -> sqlx::Result<Vec<Stored>> {
    stored(run(sql).fetch_all(pool).await?)
}

/// Rows of `uuid, time, json` read back.
fn stored(rows: Vec<sqlx::postgres::PgRow>) -> sqlx::Result<Vec<Stored>> {
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
