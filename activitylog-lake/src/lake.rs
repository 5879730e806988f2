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
    /// a lake `verify` would fail), with what a crashed sync left behind
    /// set right: an object it committed but did not copy out of
    /// `_staging/` yet is copied now, and an object it staged for a commit
    /// that never happened is removed ([`Lake::leftovers`]).
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
        let leftovers = leftovers(&manifest, listed.iter().map(|l| l.key.as_str()));
        for key in &leftovers {
            self.store.delete(key).await?;
        }
        if !leftovers.is_empty() {
            tracing::info!(
                removed = leftovers.len(),
                "removed objects staged for commits that never happened"
            );
        }
        Ok(manifest)
    }

    /// The staged objects of commits that never happened: each was staged
    /// for a commit number the chain has given to a commit that does not
    /// name it (the sync that staged it was cut before its commit, or lost
    /// the number to another sync). No reader reads them, and no commit can
    /// name them any more; the next sync removes them. An object staged for
    /// a number not taken yet may belong to a sync still running: it stays.
    pub async fn leftovers(&self) -> Result<Vec<String>> {
        let manifest = self.manifest().await?;
        let listed = self.store.list(layout::STAGING).await?;
        Ok(leftovers(&manifest, listed.iter().map(|l| l.key.as_str())))
    }

    /// Copies the committed object `staged` to `key`, where readers see it,
    /// then removes the staged copy.
    pub(crate) async fn publish(&self, staged: &str, key: &str) -> Result<()> {
        match self.store.copy(staged, key).await? {
            Created::New | Created::Exists => self.store.delete(staged).await,
        }
    }
}

/// The keys among `keys` that are [`Lake::leftovers`] of `manifest`.
pub(crate) fn leftovers<'a>(
    manifest: &Manifest,
    keys: impl Iterator<Item = &'a str>,
) -> Vec<String> {
    let committed: std::collections::HashSet<&str> =
        manifest.objects.iter().map(|o| o.key.as_str()).collect();
    keys.filter(|key| {
        layout::unstaged_key(key).is_some_and(|key| {
            !committed.contains(key.as_str())
                && layout::object_seq(&key).is_some_and(|seq| seq < manifest.next_seq)
        })
    })
    .map(str::to_string)
    .collect()
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::manifest::Committed;
    use crate::objects::S3Options;

    fn committed(key: &str) -> Committed {
        Committed {
            key: key.to_string(),
            contract: 7,
            day: None,
            entries: 1,
            size: 1,
            sha256: String::new(),
        }
    }

    /// A sync cut before its commit leaves staged objects; the next sync
    /// removes those whose commit number another commit took, publishes
    /// what was committed, and leaves alone what a running sync may commit.
    #[tokio::test]
    async fn recovery_removes_only_objects_no_commit_can_name() {
        let dir = std::env::temp_dir().join(format!("lake-leftovers-{}", fastrand::u64(..)));
        let lake = Lake::open(&format!("file://{}", dir.display()), &S3Options::default()).unwrap();
        let key = |name: &str| layout::object_key(7, None, name);
        let stage = |name: &str| {
            let staged = layout::staged_key(&key(name));
            let lake = lake.clone();
            async move {
                lake.store
                    .create(&staged, Bytes::from_static(b"x"))
                    .await
                    .unwrap();
                staged
            }
        };
        let committed_staged = stage("000000000001-aaaa").await;
        let lost = stage("000000000001-bbbb").await;
        let running = stage("000000000002-cccc").await;
        let mut manifest = lake.manifest().await.unwrap();
        manifest
            .commit(
                &lake.store,
                vec![committed(&key("000000000001-aaaa"))],
                vec![],
            )
            .await
            .unwrap();

        assert_eq!(lake.leftovers().await.unwrap(), vec![lost.clone()]);
        lake.recovered().await.unwrap();
        let keys: Vec<String> = lake
            .store
            .list("")
            .await
            .unwrap()
            .into_iter()
            .map(|l| l.key)
            .collect();
        assert!(
            keys.contains(&key("000000000001-aaaa")),
            "committed, not published: {keys:?}"
        );
        assert!(!keys.contains(&committed_staged), "{keys:?}");
        assert!(!keys.contains(&lost), "a leftover stayed: {keys:?}");
        assert!(
            !keys.contains(&key("000000000001-bbbb")),
            "a leftover was published"
        );
        assert!(
            keys.contains(&running),
            "a running sync's object was removed: {keys:?}"
        );
        assert!(lake.leftovers().await.unwrap().is_empty());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
