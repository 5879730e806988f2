//! A lake object's bytes: entries in the Parquet format of [`crate::row`].

use activitylog_client::RawEvent;
use bytes::Bytes;

use crate::manifest::sha256;
use crate::{EntryWriter, Limits, Result, read_entries};

/// Entries per row group of a lake object: small enough that a read
/// filtered to one user (the entries ordered by user) skips most of an
/// object's row groups by their statistics.
const ROW_GROUP_ROWS: usize = 128;

/// One Parquet file of `events` (all of one contract and day).
pub fn encode(events: &[RawEvent]) -> Result<Vec<u8>> {
    let limits = Limits {
        row_group_rows: ROW_GROUP_ROWS,
        ..Limits::default()
    };
    let mut writer = EntryWriter::with_limits(Vec::new(), limits)?;
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
