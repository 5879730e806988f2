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

mod error;
pub mod reader;
pub mod row;
pub mod writer;

pub use error::Error;
pub use reader::read_entries;
pub use writer::{EntryWriter, Limits, Resumable};
