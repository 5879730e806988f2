//! IONOS Cloud Activity Log entries as Parquet, for DuckDB, Spark, Trino
//! or any engine that reads it.
//!
//! - [`row`]: the Parquet schema of an entry: one column per field a user
//!   filters on (the values [`activitylog_client::Columns`] reads, the same
//!   the SQL archive indexes), the resources as a list of structs, and the
//!   entry exactly as received (`raw`), so that nothing is lost.
//! - [`writer`]: [`EntryWriter`] streams entries into a Parquet file in
//!   row groups of bounded size, and can stop at a row-group boundary and
//!   continue later in the same file ([`Resumable`]).
//! - [`reader`]: [`read_entries`] gives back the entries as received.
//!
//! And a **lake** of them: [`Lake`] at `file:///DIR` or `s3://BUCKET/PREFIX`
//! (any S3-compatible store, path-style), partitioned as
//! `contract=31721060/day=2024-05-01/…parquet` so that engines prune by
//! contract and day.
//!
//! - [`Lake::sync`] downloads a contract's new entries and commits them as
//!   new objects, never rewriting one; the completeness mark lives in the
//!   lake, so any machine continues the sync.
//! - Exactly once as readers see it: objects are written under
//!   `_staging/` (no glob of `**/*.parquet` and no Spark reader sees it), a
//!   new manifest object commits them, and only then are they copied into
//!   their partition; a sync skips the `@uuid`s already committed for the
//!   days it reads again. See [`sync`](LakeSync) for the crash cases.
//! - [`Lake::pages`] reads a contract's entries of a range, only the days
//!   of the range, and of each object only the rows an
//!   [`activitylog_client::Query`] may keep ([`Lake::entry`]: one `@uuid`).
//! - [`Lake::verify`] recomputes the manifest's hash chain and every
//!   object's SHA-256.
//!
//! ```
//! use activitylog_client::RawEvent;
//! use activitylog_lake::{EntryWriter, read_entries};
//!
//! # fn main() -> Result<(), activitylog_lake::Error> {
//! let mut writer = EntryWriter::new(Vec::new())?;
//! writer.write(&RawEvent::parse(r#"{"@uuid":"u-1","meta":{"time":"2024-05-01T10:00:00Z"}}"#)?)?;
//! let file = writer.finish()?;
//! let entries = read_entries(bytes::Bytes::from(file))?
//!     .collect::<Result<Vec<_>, _>>()?;
//! assert_eq!(entries[0].uuid().as_deref(), Some("u-1"));
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

mod codec;
mod error;
mod lake;
pub mod layout;
pub mod manifest;
mod narrow;
mod objects;
mod read;
pub mod reader;
pub mod row;
mod seen;
mod sync;
mod verify;
pub mod writer;

pub use error::Error;
pub use lake::{Lake, is_lake_url};
pub use manifest::Manifest;
pub use objects::S3Options;
pub use reader::read_entries;
pub use sync::{DEFAULT_BATCH, LakeSync, Synced};
pub use verify::Verified;
pub use writer::{EntryWriter, Limits, Resumable};

/// A `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
