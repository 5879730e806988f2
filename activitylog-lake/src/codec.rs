//! A lake object's bytes: entries in the Parquet format of [`crate::row`].

use activitylog_client::RawEvent;
use bytes::Bytes;

use crate::manifest::sha256;
use crate::{EntryWriter, Result, read_entries};

/// One Parquet file of `events` (all of one contract and day).
pub fn encode(events: &[RawEvent]) -> Result<Vec<u8>> {
    let mut writer = EntryWriter::new(Vec::new())?;
    for event in events {
        writer.write(event)?;
    }
    writer.finish()
}

/// The entries of a Parquet file, as received.
pub fn events(file: Bytes) -> Result<Vec<RawEvent>> {
    read_entries(file)?.collect()
}

/// What tells an entry apart: its `@uuid`, or for an entry without one,
/// the SHA-256 of its text.
pub fn identity(event: &RawEvent) -> String {
    match event.uuid() {
        Some(uuid) => uuid.into_owned(),
        None => format!("sha256:{}", sha256(event.json().as_bytes())),
    }
}
