//! The errors of this crate.

/// What went wrong writing or reading Parquet.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Encoding or decoding Parquet failed.
    #[error("parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    /// Building or reading the columns failed.
    #[error("arrow: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
    /// Writing the bytes failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// A `raw` value is not one JSON value.
    #[error("an entry read back is not JSON: {0}")]
    Entry(#[from] activitylog_client::Error),
    /// A file is not one this crate wrote (a column is missing or has another type).
    #[error("not a file of entries: {0}")]
    Schema(String),
    /// A [`Resumable`](crate::Resumable) state does not fit the file it is
    /// to continue.
    #[error("cannot continue the Parquet file: {0}")]
    Resume(String),
}
