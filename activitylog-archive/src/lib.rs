//! Keep an IONOS Cloud Activity Log in a database of your own: SQLite (one
//! file) or PostgreSQL (a team's server, or a compatible engine).
//!
//! [`Archive::sync`] downloads a contract's new entries and stores them:
//!
//! - **incremental**: per contract the archive records the instant it is
//!   complete up to (never past `now − settle`); the next sync starts there
//!   minus an overlap, so that late entries are caught;
//! - **idempotent and lossless**: one row per contract and `@uuid` (a
//!   second copy of an entry adds nothing; the same `@uuid` under two
//!   contracts is kept under each), the entry's JSON as received (the text in SQLite,
//!   `jsonb` in PostgreSQL), indexed columns for time, contract, user,
//!   type, status, method and source IP, and a `resources` table;
//! - **crash-safe**: each download window commits in one transaction with
//!   its progress mark, so an interrupted sync (even `kill -9`) loses only
//!   the window in flight, and the next sync fetches it again;
//! - **fast to fill**: a sync into an empty archive builds the secondary
//!   indexes once, when it ends (the next sync does, should it be killed),
//!   and windows are written while the next pages download.
//!
//! The schema is versioned and migrated when an archive is opened; an
//! archive written by a newer version is refused ([`Error::Newer`]).
//! [`Archive::entries`] reads a contract's entries of a range back, in time
//! order, offline; [`Archive::through`] says up to when they are complete,
//! and [`Archive::untimed`] reads those without a readable time.
//!
//! ```no_run
//! use activitylog_archive::Archive;
//! use activitylog_client::{ActivityLog, Config, Credentials};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let log = ActivityLog::new(Config::new(Credentials::token("...")))?;
//! let archive = Archive::open("sqlite:audit.sqlite").await?;
//! let synced = archive.sync(&log, 31721060).run().await?;
//! println!("{} new entries, complete up to {:?}", synced.added, synced.through);
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

mod indexes;
mod postgres;
mod query;
mod read;
mod row;
pub mod schema;
mod sqlite;
mod store;
mod sync;
mod write;

use std::fmt;

use chrono::{DateTime, Utc};

pub use query::Query;
pub use read::{ArchivedEntries, ArchivedPages};
pub use sync::{SyncRun, Synced};

use store::{Db, Opening};

/// What went wrong with an archive.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The URL names no engine this crate knows.
    #[error(
        "`{0}` is not an archive URL: use sqlite:PATH (a file) or postgres://USER@HOST/DATABASE"
    )]
    Url(String),
    /// The archive was written by a newer version of this crate.
    #[error(
        "the archive {location} has schema version {found}, newer than this activitylog knows \
         ({known}): it was written by a newer version; upgrade activitylog to use it"
    )]
    Newer {
        /// The archive, password hidden.
        location: String,
        /// Its schema version.
        found: i64,
        /// The newest version this crate knows.
        known: i64,
    },
    /// The database failed.
    #[error("archive {location}: {source}")]
    Database {
        /// The archive, password hidden.
        location: String,
        /// What the database said.
        #[source]
        source: sqlx::Error,
    },
    /// The download failed (what was committed before stays).
    #[error(transparent)]
    Download(#[from] activitylog_client::Error),
}

/// A `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An archive of activity log entries in SQLite or PostgreSQL.
#[derive(Clone)]
pub struct Archive {
    db: Db,
    /// The URL, password hidden.
    location: String,
}

impl fmt::Debug for Archive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Archive")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

impl Archive {
    /// Opens the archive at `url` (`sqlite:PATH`, created if missing, or
    /// `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE`), migrating its
    /// schema to this version.
    pub async fn open(url: &str) -> Result<Archive> {
        let location = redact(url);
        let db = match Db::open(url).await {
            Ok(db) => db,
            Err(Opening::Scheme) => return Err(Error::Url(location)),
            Err(Opening::Database(source)) => return Err(Error::Database { location, source }),
        };
        let archive = Archive { db, location };
        archive.migrate().await?;
        Ok(archive)
    }

    /// Brings the schema to [`schema::VERSION`], or refuses a newer one.
    ///
    /// The version is read first without a write lock (opening an archive a
    /// sync is writing does not wait); a migration then takes the lock and
    /// reads it again, so that two processes opening a new archive at once
    /// migrate it once, one after the other.
    async fn migrate(&self) -> Result<()> {
        let mut tx = self.db.begin().await.map_err(|e| self.failed(e))?;
        let found = tx.version().await.map_err(|e| self.failed(e))?;
        let newer = |found| Error::Newer {
            location: self.location.clone(),
            found,
            known: schema::VERSION,
        };
        if found > schema::VERSION {
            return Err(newer(found));
        }
        if found == schema::VERSION {
            return Ok(()); // nothing written: the transaction rolls back
        }
        tx.rollback().await.map_err(|e| self.failed(e))?;
        let mut tx = self.db.begin_writing().await.map_err(|e| self.failed(e))?;
        let found = tx.version().await.map_err(|e| self.failed(e))?;
        if found > schema::VERSION {
            return Err(newer(found));
        }
        if found < schema::VERSION {
            tracing::info!(archive = %self.location, from = found, to = schema::VERSION, "migrating");
            tx.migrate(found).await.map_err(|e| self.failed(e))?;
            if (1..5).contains(&found) {
                // Version 5's columns, from each entry's JSON (see `schema`).
                let rewritten = tx.refresh().await.map_err(|e| self.failed(e))?;
                tracing::info!(archive = %self.location, rewritten, "entries' columns checked");
            }
        }
        tx.commit().await.map_err(|e| self.failed(e))
    }

    /// The archive's URL, any password hidden.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// The archive's completeness mark for `contract`: every entry of the
    /// contract with a time before it is archived (`None` when no sync of it
    /// completed a window). A read that reaches past it may miss entries:
    /// a sync fills them in.
    pub async fn through(&self, contract: u64) -> Result<Option<DateTime<Utc>>> {
        let text = self
            .db
            .mark(key(contract))
            .await
            .map_err(|e| self.failed(e))?;
        Ok(text.and_then(|t| DateTime::parse_from_rfc3339(&t).ok().map(|t| t.to_utc())))
    }

    /// How many entries of `contract` the archive holds.
    pub async fn count(&self, contract: u64) -> Result<u64> {
        let count = self
            .db
            .count(key(contract))
            .await
            .map_err(|e| self.failed(e))?;
        Ok(u64::try_from(count).unwrap_or_default())
    }

    /// A sync of `contract` from `log` into this archive; see [`SyncRun`].
    pub fn sync<'a>(
        &'a self,
        log: &'a activitylog_client::ActivityLog,
        contract: u64,
    ) -> SyncRun<'a> {
        SyncRun::new(self, log, contract)
    }

    /// Closes the archive's connections (they also close when it is dropped).
    pub async fn close(&self) {
        self.db.close().await;
    }

    fn failed(&self, source: sqlx::Error) -> Error {
        Error::Database {
            location: self.location.clone(),
            source,
        }
    }
}

/// A contract number as the database stores it.
fn key(contract: u64) -> i64 {
    i64::try_from(contract).unwrap_or(i64::MAX)
}

/// `url` with any password replaced by `***`.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((user_info, host)) => {
            let user = user_info
                .split_once(':')
                .map_or(user_info, |(user, _)| user);
            let hidden = if user_info.contains(':') { ":***" } else { "" };
            format!("{scheme}://{user}{hidden}@{host}{path}")
        }
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_archive_of_a_newer_version_is_refused_and_left_alone() {
        let path = std::env::temp_dir().join(format!(
            "activitylog-archive-newer-{}.sqlite",
            std::process::id()
        ));
        let _ = std::fs::remove_file(&path);
        let url = format!("sqlite:{}", path.display());
        let archive = Archive::open(&url).await.unwrap();
        let Db::Sqlite(pool) = &archive.db else {
            unreachable!()
        };
        sqlx::query("UPDATE archive_schema SET version = 99")
            .execute(pool)
            .await
            .unwrap();
        archive.close().await;
        for _ in 0..2 {
            let error = Archive::open(&url).await.unwrap_err();
            assert!(
                matches!(
                    error,
                    Error::Newer {
                        found: 99,
                        known: schema::VERSION,
                        ..
                    }
                ),
                "{error}"
            );
            assert!(error.to_string().contains("upgrade activitylog"), "{error}");
        }
        let _ = std::fs::remove_file(&path);
    }

    #[tokio::test]
    async fn opening_twice_keeps_the_schema_and_the_data() {
        let path = std::env::temp_dir().join(format!(
            "activitylog-archive-twice-{}.sqlite",
            std::process::id()
        ));
        let _ = std::fs::remove_file(&path);
        let url = format!("sqlite:{}", path.display());
        let archive = Archive::open(&url).await.unwrap();
        let event = activitylog_client::RawEvent::parse(
            r#"{"@uuid":"u-1","meta":{"time":"2024-01-01T00:00:00Z"}}"#,
        )
        .unwrap();
        let mut tx = archive.db.begin().await.unwrap();
        assert_eq!(store(&archive, &mut tx, &[&event]).await, 1);
        assert_eq!(
            store(&archive, &mut tx, &[&event]).await,
            0,
            "a second copy is not added"
        );
        tx.commit().await.unwrap();
        archive.close().await;
        let archive = Archive::open(&url).await.unwrap();
        assert_eq!(archive.count(7).await.unwrap(), 1);
        archive.close().await;
        let _ = std::fs::remove_file(&path);
    }

    /// Stores `events` of contract 7 in `tx`; returns how many were new.
    async fn store(
        archive: &Archive,
        tx: &mut store::Tx,
        events: &[&activitylog_client::RawEvent],
    ) -> u64 {
        store_in(archive, tx, 7, events).await
    }

    /// Stores `events` of `contract` in `tx`; returns how many were new.
    async fn store_in(
        archive: &Archive,
        tx: &mut store::Tx,
        contract: i64,
        events: &[&activitylog_client::RawEvent],
    ) -> u64 {
        let rows = events.iter().map(|event| row::Row::of(event)).collect();
        let batch = archive.db.batch(contract, rows).unwrap();
        tx.insert(batch).await.unwrap()
    }

    #[tokio::test]
    async fn one_row_per_contract_and_uuid() {
        use futures::TryStreamExt;
        let path = std::env::temp_dir().join(format!(
            "activitylog-archive-key-{}.sqlite",
            std::process::id()
        ));
        let _ = std::fs::remove_file(&path);
        let archive = Archive::open(&format!("sqlite:{}", path.display()))
            .await
            .unwrap();
        let parse = |json: &str| activitylog_client::RawEvent::parse(json).unwrap();
        let in_7 = parse(r#"{"@uuid":"u-1","meta":{"time":"2024-01-01T00:00:00Z"},"n":7}"#);
        let in_8 = parse(r#"{"@uuid":"u-1","meta":{"time":"2024-01-01T00:00:00Z"},"n":8}"#);
        let other = parse(r#"{"@uuid":"u-2","meta":{"time":"2024-01-01T00:00:01Z"},"n":8}"#);
        let later = parse(r#"{"@uuid":"u-1","meta":{"time":"2024-01-02T00:00:00Z"},"n":9}"#);
        let mut tx = archive.db.begin().await.unwrap();
        assert_eq!(store_in(&archive, &mut tx, 7, &[&in_7]).await, 1);
        assert_eq!(store_in(&archive, &mut tx, 8, &[&other]).await, 1);
        // Some rows new, some not: the new rows' numbers are looked up.
        assert_eq!(
            store_in(&archive, &mut tx, 8, &[&other, &in_8]).await,
            1,
            "the same @uuid in another contract is another entry"
        );
        assert_eq!(
            store_in(&archive, &mut tx, 7, &[&later, &in_7]).await,
            0,
            "one @uuid of a contract is one row, whatever its time"
        );
        tx.commit().await.unwrap();
        let (since, until) = (DateTime::UNIX_EPOCH, Utc::now());
        for (contract, want) in [(7, vec![in_7.json()]), (8, vec![in_8.json(), other.json()])] {
            let read: Vec<activitylog_client::RawEvent> = archive
                .entries(contract, since, until)
                .try_collect()
                .await
                .unwrap();
            let read: Vec<&str> = read.iter().map(|e| e.json()).collect();
            assert_eq!(read, want, "contract {contract}");
        }
        archive.close().await;
        let _ = std::fs::remove_file(&path);
    }

    #[tokio::test]
    async fn copies_written_without_the_key_are_removed_when_it_is_built() {
        let path = std::env::temp_dir().join(format!(
            "activitylog-archive-copies-{}.sqlite",
            std::process::id()
        ));
        let _ = std::fs::remove_file(&path);
        let archive = Archive::open(&format!("sqlite:{}", path.display()))
            .await
            .unwrap();
        // As a first sync does: the key dropped while the rows go in.
        assert!(archive.db.drop_indexes().await.unwrap());
        let parse = |json: &str| activitylog_client::RawEvent::parse(json).unwrap();
        let first = parse(
            r#"{"@uuid":"u-1","meta":{"time":"2024-01-01T00:00:00Z"},"event":{"resources":[
                {"type":"server","id":"s1"}]}}"#,
        );
        let again = parse(r#"{"@uuid":"u-1","meta":{"time":"2024-01-01T00:00:00Z"},"n":2}"#);
        let other = parse(r#"{"@uuid":"u-2","meta":{"time":"2024-01-01T00:00:01Z"}}"#);
        let mut tx = archive.db.begin().await.unwrap();
        assert_eq!(store(&archive, &mut tx, &[&first, &other]).await, 2);
        assert_eq!(
            store(&archive, &mut tx, &[&again]).await,
            1,
            "no key: a copy"
        );
        tx.commit().await.unwrap();
        assert_eq!(archive.db.build_key().await.unwrap(), 1);
        assert_eq!(archive.count(7).await.unwrap(), 2);
        let Db::Sqlite(pool) = &archive.db else {
            unreachable!()
        };
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT uuid, json FROM entries JOIN entries_json USING (entry) ORDER BY entry",
        )
        .fetch_all(pool)
        .await
        .unwrap();
        let expected = [first.json(), other.json()];
        assert_eq!(
            rows.iter().map(|(_, j)| j.as_str()).collect::<Vec<_>>(),
            expected
        );
        let orphans: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM entries_json WHERE entry NOT IN (SELECT entry FROM entries)",
        )
        .fetch_one(pool)
        .await
        .unwrap();
        assert_eq!(orphans, 0);
        let mut tx = archive.db.begin().await.unwrap();
        assert_eq!(
            store(&archive, &mut tx, &[&again]).await,
            0,
            "the key holds"
        );
        tx.commit().await.unwrap();
        archive.close().await;
        let _ = std::fs::remove_file(&path);
    }

    #[tokio::test]
    async fn entries_without_a_time_are_read_and_counted_apart() {
        use futures::TryStreamExt;
        let path = std::env::temp_dir().join(format!(
            "activitylog-archive-untimed-{}.sqlite",
            std::process::id()
        ));
        let _ = std::fs::remove_file(&path);
        let archive = Archive::open(&format!("sqlite:{}", path.display()))
            .await
            .unwrap();
        let parse = |json: &str| activitylog_client::RawEvent::parse(json).unwrap();
        let timed = parse(r#"{"@uuid":"u-1","meta":{"time":"2024-01-01T00:00:00Z"}}"#);
        let none = parse(r#"{"@uuid":"u-3","meta":{}}"#);
        let garbage = parse(r#"{"@uuid":"u-2","meta":{"time":"yesterday"}}"#);
        let mut tx = archive.db.begin().await.unwrap();
        assert_eq!(
            store(&archive, &mut tx, &[&timed, &none, &garbage]).await,
            3
        );
        tx.commit().await.unwrap();
        assert_eq!(archive.untimed_count(7).await.unwrap(), 2);
        assert_eq!(archive.untimed_count(8).await.unwrap(), 0);
        let untimed: Vec<Vec<activitylog_client::RawEvent>> =
            archive.untimed(7).try_collect().await.unwrap();
        let uuids: Vec<String> = untimed
            .iter()
            .flatten()
            .map(|e| e.uuid().unwrap().into_owned())
            .collect();
        assert_eq!(uuids, ["u-2", "u-3"], "in @uuid order");
        archive.close().await;
        let _ = std::fs::remove_file(&path);
    }

    #[tokio::test]
    async fn json_and_resources_join_their_entry_once() {
        let path = std::env::temp_dir().join(format!(
            "activitylog-archive-resources-{}.sqlite",
            std::process::id()
        ));
        let _ = std::fs::remove_file(&path);
        let archive = Archive::open(&format!("sqlite:{}", path.display()))
            .await
            .unwrap();
        let parse = |json: &str| activitylog_client::RawEvent::parse(json).unwrap();
        let first = parse(
            r#"{"@uuid":"u-1","meta":{"time":"2024-01-01T00:00:00Z"},"event":{"resources":[
                {"type":"server","id":"s1","action":["vr.a","vr.b"]}]}}"#,
        );
        let second = parse(
            r#"{"@uuid":"u-2","meta":{"time":"2024-01-01T00:00:01Z"},"event":{"resources":[
                {"type":"volume","id":"v1"}]}}"#,
        );
        let third = parse(
            r#"{"@uuid":"u-3","meta":{"time":"2024-01-01T00:00:02Z"},"event":{"resources":[
                {"type":"lan","id":"l1","action":["vr.c"]}]}}"#,
        );
        let mut tx = archive.db.begin().await.unwrap();
        // Every row new, then some: both ways of finding the rows' numbers.
        assert_eq!(store(&archive, &mut tx, &[&first]).await, 1);
        assert_eq!(
            store(&archive, &mut tx, &[&second, &first, &third, &second]).await,
            2
        );
        assert_eq!(
            store(&archive, &mut tx, &[&first, &second, &third]).await,
            0
        );
        tx.commit().await.unwrap();
        let Db::Sqlite(pool) = &archive.db else {
            unreachable!()
        };
        let documents: Vec<(String, String)> = sqlx::query_as(
            "SELECT uuid, json FROM entries JOIN entries_json USING (entry) ORDER BY entry",
        )
        .fetch_all(pool)
        .await
        .unwrap();
        let document = |event: &activitylog_client::RawEvent| {
            (event.uuid().unwrap().into_owned(), event.json().to_owned())
        };
        assert_eq!(
            documents,
            [document(&first), document(&second), document(&third)],
            "each entry's JSON is joined to its row"
        );
        let joined: Vec<(String, String, String, Option<String>)> = sqlx::query_as(
            "SELECT e.uuid, r.type, r.id, r.action FROM resources r JOIN entries e USING (entry) \
             ORDER BY r.rowid",
        )
        .fetch_all(pool)
        .await
        .unwrap();
        let owned = |u: &str, t: &str, i: &str, a: Option<&str>| {
            (u.into(), t.into(), i.into(), a.map(Into::into))
        };
        assert_eq!(
            joined,
            [
                owned("u-1", "server", "s1", Some("vr.a")),
                owned("u-1", "server", "s1", Some("vr.b")),
                owned("u-2", "volume", "v1", None),
                owned("u-3", "lan", "l1", Some("vr.c")),
            ]
        );
        archive.close().await;
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn passwords_never_show() {
        assert_eq!(
            redact("postgres://al:s3cret@db:5432/log?sslmode=disable"),
            "postgres://al:***@db:5432/log?sslmode=disable"
        );
        assert_eq!(redact("postgres://al@db/log"), "postgres://al@db/log");
        assert_eq!(redact("sqlite:/tmp/a.sqlite"), "sqlite:/tmp/a.sqlite");
    }
}
