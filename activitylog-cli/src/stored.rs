//! Entries kept by `activitylog sync`: an archive (SQLite, PostgreSQL) or,
//! built with `--features lake`, a lake (`file://`, `s3://`). The readers
//! (`entries`, `summary`, `mcp`) see one kind of store.

use activitylog_archive::{Archive, Query};
use activitylog_client::RawEvent;
use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};

use crate::args::ArchiveArgs;
use crate::error::Failure;

/// Where synced entries are read from (one per run: its size does not matter).
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Stored {
    /// An archive in SQLite or PostgreSQL.
    Archive(Archive),
    /// A lake, with its manifest as read when opened.
    #[cfg(feature = "lake")]
    Lake(activitylog_lake::Lake, activitylog_lake::Manifest),
}

impl Stored {
    /// Opens the store `url` names: a lake for `file://` and `s3://`,
    /// else an archive.
    pub async fn open(url: &str, args: &ArchiveArgs) -> Result<Stored, Failure> {
        if is_lake(url) {
            return open_lake(url, args).await;
        }
        Ok(Stored::Archive(Archive::open(url).await?))
    }

    /// Its URL, any password hidden.
    pub fn location(&self) -> &str {
        match self {
            Stored::Archive(archive) => archive.location(),
            #[cfg(feature = "lake")]
            Stored::Lake(lake, _) => lake.location(),
        }
    }

    /// What messages call it: `archive` or `lake`.
    pub fn kind(&self) -> &'static str {
        kind(self.location())
    }

    /// The contracts it holds entries of.
    pub async fn contracts(&self) -> Result<Vec<u64>, Failure> {
        match self {
            Stored::Archive(archive) => Ok(archive.contracts().await?),
            #[cfg(feature = "lake")]
            Stored::Lake(_, manifest) => Ok(manifest.contracts()),
        }
    }

    /// The completeness mark of `contract`.
    pub async fn through(&self, contract: u64) -> Result<Option<DateTime<Utc>>, Failure> {
        match self {
            Stored::Archive(archive) => Ok(archive.through(contract).await?),
            #[cfg(feature = "lake")]
            Stored::Lake(_, manifest) => Ok(manifest.mark(contract)),
        }
    }

    /// How many entries of `contract` it holds.
    #[cfg(feature = "mcp")]
    pub async fn count(&self, contract: u64) -> Result<u64, Failure> {
        match self {
            Stored::Archive(archive) => Ok(archive.count(contract).await?),
            #[cfg(feature = "lake")]
            Stored::Lake(_, manifest) => Ok(manifest
                .objects
                .iter()
                .filter(|o| o.contract == contract)
                .map(|o| o.entries)
                .sum()),
        }
    }

    /// How many entries of `contract` have no readable time.
    pub async fn untimed_count(&self, contract: u64) -> Result<u64, Failure> {
        match self {
            Stored::Archive(archive) => Ok(archive.untimed_count(contract).await?),
            #[cfg(feature = "lake")]
            Stored::Lake(_, manifest) => Ok(manifest
                .objects
                .iter()
                .filter(|o| o.contract == contract && o.day.is_none())
                .map(|o| o.entries)
                .sum()),
        }
    }

    /// The entries of `contract` in `[start, end)`, in pages in time order;
    /// the store skips what `query` rules out where it can (the caller's
    /// filter still runs on the rest).
    pub fn pages_where<'a>(
        &'a self,
        contract: u64,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        query: &Query,
    ) -> BoxStream<'a, Result<Vec<RawEvent>, Failure>> {
        match self {
            Stored::Archive(archive) => archive
                .pages_where(contract, start, end, query)
                .map_err(Failure::from)
                .boxed(),
            #[cfg(feature = "lake")]
            Stored::Lake(lake, manifest) => lake
                .pages(manifest, contract, start, end, query)
                .map_err(lake_failure)
                .boxed(),
        }
    }

    /// The entry of `contract` with this `@uuid`, if the store holds it: by
    /// the archive's `(contract, @uuid)` key; a lake reads the `uuid` column
    /// of the contract's objects, and parses the one entry that has it.
    #[cfg(feature = "mcp")]
    pub async fn entry(&self, contract: u64, uuid: &str) -> Result<Option<RawEvent>, Failure> {
        match self {
            Stored::Archive(archive) => Ok(archive.entry(contract, uuid).await?),
            #[cfg(feature = "lake")]
            Stored::Lake(lake, manifest) => lake
                .entry(manifest, contract, uuid)
                .await
                .map_err(lake_failure),
        }
    }

    /// The entries of `contract` without a readable time, in `@uuid` order.
    pub fn untimed_where<'a>(
        &'a self,
        contract: u64,
        query: &Query,
    ) -> BoxStream<'a, Result<Vec<RawEvent>, Failure>> {
        match self {
            Stored::Archive(archive) => archive
                .untimed_where(contract, query)
                .map_err(Failure::from)
                .boxed(),
            #[cfg(feature = "lake")]
            Stored::Lake(lake, manifest) => {
                let query = query.clone();
                futures::stream::once(async move { lake.untimed(manifest, contract, &query).await })
                    .map_err(lake_failure)
                    .try_filter(|page| futures::future::ready(!page.is_empty()))
                    .boxed()
            }
        }
    }
}

/// Whether `url` names a lake.
pub fn is_lake(url: &str) -> bool {
    url.starts_with("file://") || url.starts_with("s3://")
}

/// What messages call the store at `url`: `lake` or `archive`.
pub fn kind(url: &str) -> &'static str {
    if is_lake(url) { "lake" } else { "archive" }
}

#[cfg(feature = "lake")]
async fn open_lake(url: &str, args: &ArchiveArgs) -> Result<Stored, Failure> {
    let lake = activitylog_lake::Lake::open(url, &args.s3.options()).map_err(lake_failure)?;
    let manifest = lake.manifest().await.map_err(lake_failure)?;
    Ok(Stored::Lake(lake, manifest))
}

#[cfg(not(feature = "lake"))]
async fn open_lake(url: &str, _: &ArchiveArgs) -> Result<Stored, Failure> {
    Err(lake_not_built(url))
}

/// The one line a build without the lake says for a lake URL.
#[cfg(not(feature = "lake"))]
pub fn lake_not_built(url: &str) -> Failure {
    Failure::usage(format!(
        "{url} is a lake, and this activitylog was built without lakes: build it with \
         `--features lake` (cargo install activitylog-cli --features lake)"
    ))
}

/// A lake's error as a failure: a bad URL or endpoint is a usage error.
#[cfg(feature = "lake")]
pub fn lake_failure(error: activitylog_lake::Error) -> Failure {
    use activitylog_lake::Error;
    match error {
        Error::Url(_) | Error::Endpoint(_) | Error::Credentials { .. } => {
            Failure::usage(error.to_string())
        }
        Error::Download(error) => Failure::from(error),
        other => Failure::other(other.to_string()),
    }
}

/// A build without the `lake` feature (CI: `.ci/run` tests the CLI's
/// library without features).
#[cfg(all(test, not(feature = "lake")))]
mod without_lakes {
    use super::*;

    #[tokio::test]
    async fn a_lake_url_is_a_usage_error_that_names_the_feature_to_build() {
        for url in ["file:///srv/lake", "s3://bucket/audit"] {
            let failure = Stored::open(url, &ArchiveArgs::default())
                .await
                .unwrap_err();
            assert_eq!(failure.code(), 2, "{url}");
            assert_eq!(
                failure.message(),
                format!(
                    "{url} is a lake, and this activitylog was built without lakes: build it \
                     with `--features lake` (cargo install activitylog-cli --features lake)"
                )
            );
        }
    }
}
