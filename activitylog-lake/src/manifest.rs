//! The manifest chain: every commit writes one new object
//! `_manifest/NNNNNNNNNNNN.ndjson` (never rewritten), one JSON record a
//! line: each data object committed (key, size, entries, SHA-256) and the
//! completeness marks it moves. Each record holds the SHA-256 of the
//! record before it (`prev`; the first holds zeros), so a changed,
//! removed or inserted record breaks the chain at the next one.

use std::collections::HashMap;

use bytes::Bytes;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::layout;
use crate::objects::Store;
use crate::{Error, Result};

/// The `prev` of the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One line of a manifest object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The commit (the manifest object's number).
    pub seq: u64,
    /// A data object the commit made visible.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<Committed>,
    /// A completeness mark the commit moved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mark: Option<Mark>,
    /// The SHA-256 of the record before (its line's bytes), in hex.
    pub prev: String,
}

/// A committed data object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Committed {
    /// Its key.
    pub key: String,
    /// Its contract.
    pub contract: u64,
    /// Its day (`None`: entries without a readable time).
    pub day: Option<NaiveDate>,
    /// How many entries it holds.
    pub entries: u64,
    /// Its size in bytes.
    pub size: u64,
    /// Its SHA-256, in hex.
    pub sha256: String,
}

/// A contract's completeness mark: every entry before `through` is committed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mark {
    /// The contract.
    pub contract: u64,
    /// The instant.
    pub through: DateTime<Utc>,
}

/// A lake's manifest as read: the records in order and what is wrong with the chain.
#[derive(Clone, Debug, Default)]
pub struct Manifest {
    /// The committed objects, in commit order.
    pub objects: Vec<Committed>,
    /// Each contract's latest mark.
    marks: HashMap<u64, DateTime<Utc>>,
    /// The SHA-256 of the last record ([`GENESIS`] when there is none).
    pub head: String,
    /// The number the next commit takes.
    pub next_seq: u64,
    /// Manifest objects read.
    pub commits: u64,
    /// Records read.
    pub records: u64,
    /// Where the chain is broken, one sentence each (empty: intact).
    pub problems: Vec<String>,
}

/// The SHA-256 of `bytes`, in hex.
pub fn sha256(bytes: &[u8]) -> String {
    crate::objects::hex(&Sha256::digest(bytes))
}

impl Manifest {
    /// Reads every manifest object of `store` in commit order and checks the chain.
    pub async fn load(store: &Store) -> Result<Manifest> {
        let mut manifest = Manifest {
            head: GENESIS.to_string(),
            next_seq: 1,
            ..Manifest::default()
        };
        let listed = store.list(layout::MANIFEST).await?;
        let mut seqs = Vec::new();
        for listed in &listed {
            match layout::manifest_seq(&listed.key) {
                Some(seq) => seqs.push(seq),
                None => manifest.problems.push(format!(
                    "{}: not a manifest object of this lake",
                    listed.key
                )),
            }
        }
        seqs.sort_unstable();
        for seq in seqs {
            let key = layout::manifest_key(seq);
            if seq != manifest.next_seq {
                manifest.problems.push(format!(
                    "{key}: commits {} to {} are missing before it",
                    manifest.next_seq,
                    seq.saturating_sub(1)
                ));
            }
            let Some(body) = store.get(&key).await? else {
                manifest.problems.push(format!("{key}: listed but gone"));
                continue;
            };
            manifest.read(&key, seq, &body);
            manifest.next_seq = seq + 1;
        }
        Ok(manifest)
    }

    /// Adds the records of the manifest object `key` (commit `seq`).
    fn read(&mut self, key: &str, seq: u64, body: &[u8]) {
        let text = String::from_utf8_lossy(body);
        self.commits += 1;
        for (n, line) in text.lines().enumerate() {
            let at = format!("{key} line {}", n + 1);
            self.records += 1;
            match serde_json::from_str::<Record>(line) {
                Err(e) => self
                    .problems
                    .push(format!("{at}: not a manifest record ({e})")),
                Ok(record) => {
                    if record.prev != self.head {
                        self.problems.push(format!(
                            "{at}: the record before it was rewritten or removed (it holds \
                             prev {}, the chain has {})",
                            short(&record.prev),
                            short(&self.head)
                        ));
                    }
                    if record.seq != seq {
                        self.problems.push(format!(
                            "{at}: a record of commit {} moved here",
                            record.seq
                        ));
                    }
                    if let Some(object) = record.object {
                        self.objects.push(object);
                    }
                    if let Some(mark) = record.mark {
                        self.marks.insert(mark.contract, mark.through);
                    }
                }
            }
            self.head = sha256(line.as_bytes());
        }
    }

    /// The completeness mark of `contract`, if a commit set one.
    pub fn mark(&self, contract: u64) -> Option<DateTime<Utc>> {
        self.marks.get(&contract).copied()
    }

    /// The contracts with objects or marks, in order.
    pub fn contracts(&self) -> Vec<u64> {
        let mut contracts: Vec<u64> = self
            .objects
            .iter()
            .map(|o| o.contract)
            .chain(self.marks.keys().copied())
            .collect();
        contracts.sort_unstable();
        contracts.dedup();
        contracts
    }

    /// Writes the commit `records` (objects, then marks) as the next
    /// manifest object, created only if no other commit took its number;
    /// on success, adds them to this manifest.
    pub async fn commit(
        &mut self,
        store: &Store,
        objects: Vec<Committed>,
        marks: Vec<Mark>,
    ) -> Result<()> {
        let seq = self.next_seq;
        let key = layout::manifest_key(seq);
        let mut head = self.head.clone();
        let mut text = String::new();
        let records = objects
            .iter()
            .map(|o| (Some(o.clone()), None))
            .chain(marks.iter().map(|m| (None, Some(m.clone()))));
        for (object, mark) in records {
            let record = Record {
                seq,
                object,
                mark,
                prev: head,
            };
            let line = serde_json::to_string(&record).unwrap_or_default();
            head = sha256(line.as_bytes());
            text.push_str(&line);
            text.push('\n');
        }
        // A store that ignores `If-None-Match` (Garage 2.5) would replace
        // a commit another sync made since this one read the manifest:
        // looked for first (a race inside this gap remains there).
        if store.get(&key).await?.is_some() {
            return Err(Error::Concurrent { commit: key });
        }
        match store.create(&key, Bytes::from(text)).await? {
            crate::objects::Created::New => {}
            crate::objects::Created::Exists => return Err(Error::Concurrent { commit: key }),
        }
        self.records += (objects.len() + marks.len()) as u64;
        self.commits += 1;
        self.head = head;
        self.next_seq = seq + 1;
        for mark in marks {
            self.marks.insert(mark.contract, mark.through);
        }
        self.objects.extend(objects);
        Ok(())
    }
}

/// The first 12 hex digits of a hash, for messages.
fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}
