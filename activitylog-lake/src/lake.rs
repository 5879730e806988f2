//! A lake: Parquet objects under hive partitions in a directory or an
//! S3-compatible bucket, committed through the manifest chain.

use std::fmt;

use chrono::{DateTime, Utc};

use crate::manifest::Manifest;
use crate::objects::{Created, S3Options, Store};
use crate::{Error, Result, layout};

/// A lake at `file:///path` or `s3://bucket/prefix`.
#[derive(Clone)]
pub struct Lake {
    pub(crate) store: Store,
    location: String,
}

impl fmt::Debug for Lake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lake")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

/// Whether `url` names a lake (`file://` or `s3://`) rather than an archive.
pub fn is_lake_url(url: &str) -> bool {
    url.starts_with("file://") || url.starts_with("s3://")
}

impl Lake {
    /// The lake at `url`; S3 reached as `options` say, with the
    /// credentials of the environment. Nothing is read yet.
    pub fn open(url: &str, options: &S3Options) -> Result<Lake> {
        Ok(Lake {
            store: Store::open(url, options)?,
            location: url.to_string(),
        })
    }

    /// The lake's URL.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// The lake's manifest, read and checked.
    pub async fn manifest(&self) -> Result<Manifest> {
        Manifest::load(&self.store).await
    }

    /// The completeness mark of `contract`: every entry of the contract
    /// with a time before it is in the lake (`None`: no sync completed a
    /// window of it).
    pub async fn through(&self, contract: u64) -> Result<Option<DateTime<Utc>>> {
        Ok(self.manifest().await?.mark(contract))
    }

    /// The manifest, refused when its chain is broken (nothing is added to
    /// a lake `verify` would fail), with every committed object published:
    /// an object a crashed sync committed but did not copy out of
    /// `_staging/` yet is copied now.
    pub(crate) async fn recovered(&self) -> Result<Manifest> {
        let manifest = self.manifest().await?;
        if let Some(problem) = manifest.problems.first() {
            return Err(Error::Broken {
                location: self.location.clone(),
                problem: problem.clone(),
            });
        }
        let listed = self.store.list("").await?;
        let present: std::collections::HashSet<&str> =
            listed.iter().map(|l| l.key.as_str()).collect();
        for object in &manifest.objects {
            if !present.contains(object.key.as_str()) {
                let staged = layout::staged_key(&object.key);
                if present.contains(staged.as_str()) {
                    self.publish(&staged, &object.key).await?;
                }
            }
        }
        Ok(manifest)
    }

    /// Copies the committed object `staged` to `key`, where readers see it,
    /// then removes the staged copy.
    pub(crate) async fn publish(&self, staged: &str, key: &str) -> Result<()> {
        match self.store.copy(staged, key).await? {
            Created::New | Created::Exists => self.store.delete(staged).await,
        }
    }
}
