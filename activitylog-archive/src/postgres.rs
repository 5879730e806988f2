//! The PostgreSQL engine: entries as `jsonb`, pages copied in (COPY) and
//! moved into the tables by one statement, one transaction per window.

use std::collections::HashSet;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgConnection, PgPool, Postgres, Row as _, Transaction};

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

/// The staging tables a page is copied into, private to the connection
/// and emptied by every insert.
const STAGING: &str = "SET LOCAL client_min_messages = warning;
    CREATE TEMP TABLE IF NOT EXISTS staged_entries (
        uuid TEXT, time TIMESTAMPTZ, username TEXT, type TEXT, status TEXT, method TEXT,
        source_ip TEXT, json TEXT
    ) ON COMMIT DELETE ROWS;
    CREATE TEMP TABLE IF NOT EXISTS staged_resources (
        uuid TEXT, ordinal INTEGER, type TEXT, id TEXT, action TEXT
    ) ON COMMIT DELETE ROWS;
    SET LOCAL client_min_messages = notice;
    -- Safe for an archive: a server crash can only lose the last commits
    -- whole, rows and their progress mark together, so the next sync fetches
    -- them again; the server no longer waits for its disk at each window.
    SET LOCAL synchronous_commit = off";

/// Stores `rows` of `contract`; returns how many were new.
///
/// The page is copied (COPY, text format) into staging tables, then moved
/// with one statement: new entries, and the resources of only those, keyed
/// by the row number each entry got.
pub(crate) async fn insert(
    tx: &mut Transaction<'static, Postgres>,
    contract: i64,
    rows: &[Row<'_>],
) -> sqlx::Result<u64> {
    if rows.is_empty() {
        return Ok(0);
    }
    sqlx::raw_sql(STAGING).execute(&mut **tx).await?;
    let mut entries = Vec::with_capacity(rows.len() * 1024);
    let mut resources = Vec::new();
    let mut seen = HashSet::with_capacity(rows.len());
    for row in rows {
        // A key twice in one page: the first row is stored.
        if !seen.insert(row.key.as_str()) {
            continue;
        }
        let time = row.time.map(sortable);
        copy::line(
            &mut entries,
            [
                Some(row.key.as_str()),
                time.as_deref(),
                row.user.as_deref(),
                row.kind.as_deref(),
                row.status.as_deref(),
                row.method.as_deref(),
                row.source_ip.as_deref(),
                Some(row.json),
            ],
        );
        for (ordinal, resource) in row.resources.iter().enumerate() {
            copy::line(
                &mut resources,
                [
                    Some(row.key.as_str()),
                    Some(ordinal.to_string().as_str()),
                    resource.kind.as_deref(),
                    resource.id.as_deref(),
                    resource.action.as_deref(),
                ],
            );
        }
    }
    let conn: &mut PgConnection = tx;
    let mut copy_in = conn.copy_in_raw("COPY staged_entries FROM STDIN").await?;
    copy_in.send(entries).await?;
    copy_in.finish().await?;
    if !resources.is_empty() {
        let mut copy_in = conn.copy_in_raw("COPY staged_resources FROM STDIN").await?;
        copy_in.send(resources).await?;
        copy_in.finish().await?;
    }
    let added: i64 = sqlx::query_scalar(
        "WITH new AS (
            INSERT INTO entries (uuid, contract, time, username, type, status, method, source_ip, json)
            SELECT uuid, $1, time, username, type, status, method, source_ip, json::jsonb
            FROM staged_entries
            ON CONFLICT (uuid) DO NOTHING
            RETURNING entry, uuid
        ), resources AS (
            INSERT INTO resources (entry, type, id, action)
            SELECT new.entry, r.type, r.id, r.action
            FROM new JOIN staged_resources r USING (uuid)
            ORDER BY new.entry, r.ordinal
        )
        SELECT count(*) FROM new",
    )
    .bind(contract)
    .fetch_one(&mut *conn)
    .await?;
    sqlx::raw_sql("DELETE FROM staged_entries; DELETE FROM staged_resources")
        .execute(&mut *conn)
        .await?;
    Ok(added as u64)
}

/// Rows in COPY's text format.
mod copy {
    /// Appends one row of `fields` (`None` is NULL).
    pub(super) fn line<const N: usize>(buffer: &mut Vec<u8>, fields: [Option<&str>; N]) {
        for (i, field) in fields.into_iter().enumerate() {
            if i > 0 {
                buffer.push(b'\t');
            }
            match field {
                None => buffer.extend_from_slice(b"\\N"),
                Some(text) => escaped(buffer, text),
            }
        }
        buffer.push(b'\n');
    }

    /// `text` with backslash, tab, newline and carriage return escaped.
    fn escaped(buffer: &mut Vec<u8>, text: &str) {
        for &byte in text.as_bytes() {
            match byte {
                b'\\' => buffer.extend_from_slice(b"\\\\"),
                b'\t' => buffer.extend_from_slice(b"\\t"),
                b'\n' => buffer.extend_from_slice(b"\\n"),
                b'\r' => buffer.extend_from_slice(b"\\r"),
                _ => buffer.push(byte),
            }
        }
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn fields_are_escaped_and_null_is_marked() {
            let mut buffer = Vec::new();
            super::line(&mut buffer, [Some("a\tb\\c\nd\re"), None, Some("")]);
            assert_eq!(buffer, b"a\\tb\\\\c\\nd\\re\t\\N\t\n");
        }
    }
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
