//! The secondary indexes (every index but the unique key) and when they are
//! built.
//!
//! Keeping nine indexes up to date row by row is most of what a large first
//! sync costs; building each once from the finished table is several times
//! cheaper. So a sync into an empty archive drops them and builds them when
//! it ends, whether it succeeded or not. Should it be killed before, the next
//! sync builds the missing ones when it starts. Reads are correct without
//! them, only slower.
//!
//! SQLite's key, `(contract, uuid)`, is dropped and built the same way: each
//! insert into it lands on a random page, which made a first sync of a
//! million entries about seven times slower than appending in time order.
//! Without it, an entry the service sends twice during a first sync is
//! written twice; building the key ([`Db::build_key`]) first removes such
//! copies (the first written stays). PostgreSQL's key always stays.

use std::time::Instant;

use crate::schema;

/// PostgreSQL's error code when `lock_timeout` passed.
const LOCK_NOT_AVAILABLE: &str = "55P03";
/// The advisory lock under which PostgreSQL's indexes are dropped or built.
const INDEX_LOCK: i64 = 3172106013;
use crate::store::Db;

impl Db {
    /// Whether the archive holds no entry at all.
    pub(crate) async fn is_empty(&self) -> sqlx::Result<bool> {
        const SQL: &str = "SELECT NOT EXISTS (SELECT 1 FROM entries)";
        match self {
            Db::Sqlite(pool) => sqlx::query_scalar(SQL).fetch_one(pool).await,
            Db::Postgres(pool) => sqlx::query_scalar(SQL).fetch_one(pool).await,
        }
    }

    /// Builds SQLite's key if a first sync dropped it, after removing the
    /// copies written meanwhile; returns how many were removed.
    pub(crate) async fn build_key(&self) -> sqlx::Result<u64> {
        let Db::Sqlite(pool) = self else {
            return Ok(0);
        };
        if self
            .index_names()
            .await?
            .iter()
            .any(|name| name == "entries_key")
        {
            return Ok(0);
        }
        let mut tx = crate::sqlite::begin_writing(pool).await?;
        // Usually there is no copy: the index alone (one sort). Looking for
        // copies first costs several times more than building it.
        let key = schema::SQLITE_KEY[schema::SQLITE_KEY.len() - 1];
        match sqlx::query(key).execute(&mut *tx).await {
            Ok(_) => return tx.commit().await.map(|()| 0),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {}
            Err(error) => return Err(error),
        }
        let before: i64 = sqlx::query_scalar("SELECT count(*) FROM entries")
            .fetch_one(&mut *tx)
            .await?;
        for statement in schema::SQLITE_KEY {
            sqlx::query(statement).execute(&mut *tx).await?;
        }
        let after: i64 = sqlx::query_scalar("SELECT count(*) FROM entries")
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(u64::try_from(before - after).unwrap_or_default())
    }

    /// Drops the secondary indexes (those that exist), and SQLite's key;
    /// `false` when PostgreSQL could not lock the tables within a few
    /// seconds (someone is reading them), and nothing was dropped.
    pub(crate) async fn drop_indexes(&self) -> sqlx::Result<bool> {
        let names: Vec<&str> = self.indexes().map(|(name, _)| name).collect();
        match self {
            // SQLite drops one index per statement; readers never block it.
            Db::Sqlite(pool) => {
                let mut tx = crate::sqlite::begin_writing(pool).await?;
                for name in names.into_iter().chain(["entries_key"]) {
                    sqlx::query(&format!("DROP INDEX IF EXISTS {name}"))
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(true)
            }
            Db::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                // Waiting longer would hold up every reader queued behind.
                sqlx::query("SET LOCAL lock_timeout = '3s'")
                    .execute(&mut *tx)
                    .await?;
                // One sync at a time changes the indexes (see build_indexes).
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(INDEX_LOCK)
                    .execute(&mut *tx)
                    .await?;
                let drop = format!("DROP INDEX IF EXISTS {}", names.join(", "));
                match sqlx::query(&drop).execute(&mut *tx).await {
                    Ok(_) => tx.commit().await.map(|()| true),
                    Err(sqlx::Error::Database(e))
                        if e.code().as_deref() == Some(LOCK_NOT_AVAILABLE) =>
                    {
                        tracing::info!("tables in use: the indexes are kept up to date row by row");
                        Ok(false)
                    }
                    Err(error) => Err(error),
                }
            }
        }
    }

    /// Builds the secondary indexes that are missing; returns how many.
    pub(crate) async fn build_indexes(&self) -> sqlx::Result<usize> {
        let present = self.index_names().await?;
        let missing: Vec<(&str, &str)> = self
            .indexes()
            .filter(|(name, _)| !present.iter().any(|p| p == name))
            .collect();
        if missing.is_empty() {
            return Ok(0);
        }
        let started = Instant::now();
        tracing::info!(indexes = missing.len(), "building indexes");
        for (name, on) in &missing {
            let create = format!("CREATE INDEX IF NOT EXISTS {name} ON {on}");
            match self {
                Db::Sqlite(pool) => sqlx::query(&create).execute(pool).await.map(drop)?,
                Db::Postgres(pool) => {
                    // Two syncs building one index at once: without the lock,
                    // the second fails on PostgreSQL's catalog ("duplicate
                    // key ... pg_class_relname_nsp_index"); with it, it waits
                    // and finds the index there.
                    let mut tx = pool.begin().await?;
                    sqlx::query("SELECT pg_advisory_xact_lock($1)")
                        .bind(INDEX_LOCK)
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query(&create).execute(&mut *tx).await?;
                    tx.commit().await?;
                }
            }
        }
        tracing::info!(elapsed = ?started.elapsed(), "indexes built");
        Ok(missing.len())
    }

    /// The names of the indexes on `entries` and `resources`.
    pub(crate) async fn index_names(&self) -> sqlx::Result<Vec<String>> {
        match self {
            Db::Sqlite(pool) => {
                sqlx::query_scalar(
                    "SELECT name FROM sqlite_master \
                     WHERE type = 'index' AND tbl_name IN ('entries', 'resources')",
                )
                .fetch_all(pool)
                .await
            }
            Db::Postgres(pool) => {
                sqlx::query_scalar(
                    "SELECT indexname::text FROM pg_indexes \
                     WHERE schemaname = current_schema() AND tablename IN ('entries', 'resources')",
                )
                .fetch_all(pool)
                .await
            }
        }
    }

    /// The secondary indexes: name, and what it indexes.
    fn indexes(&self) -> impl Iterator<Item = (&'static str, &'static str)> {
        schema::INDEXES.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_list_names_every_index_but_the_key_and_rebuilds_them() {
        let dir = std::env::temp_dir().join(format!("activitylog-indexes-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite:{}", dir.join("a.sqlite").display());
        let archive = crate::Archive::open(&url).await.unwrap();
        let mut created = archive.db.index_names().await.unwrap();
        created.sort();
        let mut listed: Vec<&str> = schema::INDEXES.iter().map(|(n, _)| *n).collect();
        listed.push("entries_key");
        listed.sort();
        assert_eq!(created, listed, "what the migrations create");
        assert!(archive.db.drop_indexes().await.unwrap());
        assert!(archive.db.index_names().await.unwrap().is_empty());
        assert_eq!(archive.db.build_key().await.unwrap(), 0);
        assert_eq!(archive.db.index_names().await.unwrap(), ["entries_key"]);
        assert_eq!(archive.db.build_indexes().await.unwrap(), 11);
        assert_eq!(archive.db.build_indexes().await.unwrap(), 0);
        archive.close().await;
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
