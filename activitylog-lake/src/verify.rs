//! Checking a lake against its manifest chain: the chain links, and every
//! data object is the one committed (size and SHA-256), none is missing,
//! and none is there that no commit made.

use std::collections::{BTreeMap, HashMap};

use crate::Result;
use crate::lake::Lake;
use crate::layout;
use crate::manifest::sha256;

/// What [`Lake::verify`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Verified {
    /// Manifest objects (commits) read.
    pub commits: u64,
    /// Manifest records read.
    pub records: u64,
    /// Data objects checked.
    pub objects: u64,
    /// Entries the committed objects hold, by the manifest.
    pub entries: u64,
    /// Bytes read and hashed.
    pub bytes: u64,
    /// The SHA-256 of the chain's last record: keep it elsewhere to know
    /// the chain's end was not cut or rewritten.
    pub head: String,
    /// Objects staged for commits that never happened (a sync cut before
    /// its commit): no reader sees them, and the next sync removes them.
    pub leftovers: u64,
    /// Everything wrong, one sentence each, naming the object (empty: the
    /// lake is as committed).
    pub problems: Vec<String>,
}

impl Verified {
    /// Whether nothing is wrong.
    pub fn is_intact(&self) -> bool {
        self.problems.is_empty()
    }
}

impl Lake {
    /// Recomputes the chain and each object's hash; see [`Verified`].
    pub async fn verify(&self) -> Result<Verified> {
        let manifest = self.manifest().await?;
        let mut verified = Verified {
            commits: manifest.commits,
            records: manifest.records,
            head: manifest.head.clone(),
            problems: manifest.problems.clone(),
            ..Verified::default()
        };
        let listed = self.store.list("").await?;
        let present: HashMap<&str, u64> = listed.iter().map(|l| (l.key.as_str(), l.size)).collect();
        let mut committed = BTreeMap::new();
        for object in &manifest.objects {
            if committed.insert(object.key.as_str(), object).is_some() {
                verified
                    .problems
                    .push(format!("{}: committed twice in the chain", object.key));
            }
            verified.entries += object.entries;
            if !present.contains_key(object.key.as_str()) {
                let staged = layout::staged_key(&object.key);
                let note = if present.contains_key(staged.as_str()) {
                    " (its staged copy is there: the next sync publishes it)"
                } else {
                    ""
                };
                verified
                    .problems
                    .push(format!("{}: missing{note}", object.key));
                continue;
            }
            let Some(bytes) = self.store.get(&object.key).await? else {
                verified.problems.push(format!("{}: missing", object.key));
                continue;
            };
            verified.objects += 1;
            verified.bytes += bytes.len() as u64;
            let hash = sha256(&bytes);
            if hash != object.sha256 || bytes.len() as u64 != object.size {
                verified.problems.push(format!(
                    "{}: changed ({} bytes, SHA-256 {}; committed: {} bytes, SHA-256 {})",
                    object.key,
                    bytes.len(),
                    &hash[..12],
                    object.size,
                    object.sha256.get(..12).unwrap_or(&object.sha256)
                ));
            }
        }
        verified.leftovers =
            crate::lake::leftovers(&manifest, listed.iter().map(|l| l.key.as_str())).len() as u64;
        for listed in &listed {
            if layout::is_data(&listed.key) && !committed.contains_key(listed.key.as_str()) {
                verified.problems.push(format!(
                    "{}: not in the chain (no commit made it)",
                    listed.key
                ));
            }
        }
        Ok(verified)
    }
}
