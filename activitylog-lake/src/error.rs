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
    /// The URL names no lake.
    #[error("`{0}` is not a lake URL: use file:///ABSOLUTE/DIR or s3://BUCKET/PREFIX")]
    Url(String),
    /// The S3 endpoint is not usable.
    #[error("S3 endpoint: {0} (use --s3-endpoint http[s]://HOST[:PORT] or --s3-region)")]
    Endpoint(String),
    /// No S3 credentials were found.
    #[error(
        "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE \
         (profile `{profile}` is not in ~/.aws/credentials)"
    )]
    Credentials {
        /// The profile looked for.
        profile: String,
    },
    /// The object store failed.
    #[error("{location}: {message}")]
    Store {
        /// The object (or the lake).
        location: String,
        /// What went wrong.
        message: String,
    },
    /// A committed object is gone.
    #[error("the committed object {0} is missing: run `activitylog verify` on the lake")]
    Missing(String),
    /// The manifest chain is broken: nothing is added to such a lake.
    #[error(
        "the lake {location} fails verification ({problem}): nothing is added to it; \
         `activitylog verify --db {location}` lists every problem"
    )]
    Broken {
        /// The lake.
        location: String,
        /// The first problem.
        problem: String,
    },
    /// Another sync committed at the same time.
    #[error(
        "{commit} exists: another sync of this lake committed at the same time; nothing of \
         this commit is visible, run the sync again"
    )]
    Concurrent {
        /// The manifest (or staged) key taken.
        commit: String,
    },
    /// Encoding the entries in a background task failed.
    #[error("encoding Parquet: {0}")]
    Encoding(String),
    /// The download failed (what was committed before stays).
    #[error(transparent)]
    Download(activitylog_client::Error),
}
