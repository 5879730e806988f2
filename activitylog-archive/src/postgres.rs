//! The PostgreSQL engine: entries as `jsonb`, batches inserted as arrays
//! (one statement per page), one transaction per window.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres, Row as _, Transaction};

use crate::row::{Row, sortable};
use crate::schema;
use crate::store::{Cursor, Stored};

/// The fixed-width UTC text of the `timestamptz` column `column`, as [`sortable`] writes it.
fn time_text(column: &str) -> String {
    format!(r#"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"#)
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

/// Stores `rows` of `contract`; returns how many were new.
pub(crate) async fn insert(
    tx: &mut Transaction<'static, Postgres>,
    contract: i64,
    rows: &[Row<'_>],
) -> sqlx::Result<u64> {
    if rows.is_empty() {
        return Ok(0);
    }
    fn column<'r>(
        rows: &'r [Row<'_>],
        f: impl Fn(&'r Row<'_>) -> Option<&'r str>,
    ) -> Vec<Option<&'r str>> {
        rows.iter().map(f).collect()
    }
    let keys: Vec<&str> = rows.iter().map(|r| r.key.as_str()).collect();
    let times: Vec<Option<String>> = rows.iter().map(|r| r.time.map(sortable)).collect();
    let added = sqlx::query(
        "INSERT INTO entries (uuid, contract, time, username, type, status, method, source_ip, json) \
         SELECT u, $2, t::timestamptz, n, k, s, m, ip, j::jsonb \
         FROM UNNEST($1::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], \
                     $8::text[], $9::text[]) AS x (u, t, n, k, s, m, ip, j) \
         ON CONFLICT (uuid) DO NOTHING",
    )
    .bind(keys)
    .bind(contract)
    .bind(times)
    .bind(column(rows, |r| r.user.as_deref()))
    .bind(column(rows, |r| r.kind.as_deref()))
    .bind(column(rows, |r| r.status.as_deref()))
    .bind(column(rows, |r| r.method.as_deref()))
    .bind(column(rows, |r| r.source_ip.as_deref()))
    .bind(column(rows, |r| Some(r.json)))
    .execute(&mut **tx)
    .await?
    .rows_affected();

    let mut uuids = Vec::new();
    let mut ordinals = Vec::new();
    let mut kinds = Vec::new();
    let mut ids = Vec::new();
    let mut actions = Vec::new();
    for row in rows {
        for (ordinal, resource) in row.resources.iter().enumerate() {
            uuids.push(row.key.as_str());
            ordinals.push(ordinal as i32);
            kinds.push(resource.kind.as_deref());
            ids.push(resource.id.as_deref());
            actions.push(resource.action.as_deref());
        }
    }
    if !uuids.is_empty() {
        sqlx::query(
            "INSERT INTO resources (uuid, ordinal, type, id, action) \
             SELECT * FROM UNNEST($1::text[], $2::int[], $3::text[], $4::text[], $5::text[]) \
             ON CONFLICT DO NOTHING",
        )
        .bind(uuids)
        .bind(ordinals)
        .bind(kinds)
        .bind(ids)
        .bind(actions)
        .execute(&mut **tx)
        .await?;
    }
    Ok(added)
}

/// Records that `contract` is complete up to `through`.
pub(crate) async fn set_mark(
    tx: &mut Transaction<'static, Postgres>,
    contract: i64,
    through: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO progress (contract, through) VALUES ($1, $2::timestamptz) \
         ON CONFLICT (contract) DO UPDATE SET through = excluded.through",
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
        time_text("through")
    );
    sqlx::query_scalar(&sql)
        .bind(contract)
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

/// Up to `limit` entries of `contract` in `[since, until)` after `after`, in (time, uuid) order.
pub(crate) async fn page(
    pool: &PgPool,
    contract: i64,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    after: Option<&Cursor>,
    limit: i64,
) -> sqlx::Result<Vec<Stored>> {
    let select = format!(
        "SELECT uuid, {}, json::text FROM entries WHERE contract = $1",
        time_text("time")
    );
    let rows = match after {
        None => {
            sqlx::query(&format!(
                "{select} AND time >= $2::timestamptz AND time < $3::timestamptz \
                 ORDER BY time, uuid LIMIT $4"
            ))
            .bind(contract)
            .bind(sortable(since))
            .bind(sortable(until))
            .bind(limit)
            .fetch_all(pool)
            .await?
        }
        Some(cursor) => {
            sqlx::query(&format!(
                "{select} AND (time, uuid) > ($2::timestamptz, $3) AND time < $4::timestamptz \
                 ORDER BY time, uuid LIMIT $5"
            ))
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
