//! The versioned schema: each engine's migrations, applied in order when
//! an archive is opened; an archive of a newer version is refused.
//!
//! Version 1: `entries` (one row per `@uuid`, the JSON as received, the
//! indexed columns), `resources` (one row per resource and action of an
//! entry) and `progress` (per contract, the instant the archive is
//! complete up to). `archive_schema` holds the version.

/// The schema version this crate writes and reads.
pub const VERSION: i64 = 1;

/// Creates the version table; harmless when it exists.
pub(crate) const VERSION_TABLE: &str =
    "CREATE TABLE IF NOT EXISTS archive_schema (version BIGINT NOT NULL)";

/// SQLite's migrations: index `i` takes version `i` to `i + 1`.
pub(crate) const SQLITE: [&[&str]; VERSION as usize] = [&[
    "CREATE TABLE entries (
        uuid TEXT PRIMARY KEY NOT NULL,
        contract INTEGER NOT NULL,
        time TEXT,
        username TEXT,
        type TEXT,
        status TEXT,
        method TEXT,
        source_ip TEXT,
        json TEXT NOT NULL
    )",
    "CREATE INDEX entries_contract_time ON entries (contract, time, uuid)",
    "CREATE INDEX entries_username ON entries (username)",
    "CREATE INDEX entries_type ON entries (type)",
    "CREATE INDEX entries_status ON entries (status)",
    "CREATE INDEX entries_method ON entries (method)",
    "CREATE INDEX entries_source_ip ON entries (source_ip)",
    "CREATE TABLE resources (
        uuid TEXT NOT NULL REFERENCES entries (uuid),
        ordinal INTEGER NOT NULL,
        type TEXT,
        id TEXT,
        action TEXT,
        PRIMARY KEY (uuid, ordinal)
    ) WITHOUT ROWID",
    "CREATE INDEX resources_type_id ON resources (type, id)",
    "CREATE INDEX resources_action ON resources (action)",
    "CREATE TABLE progress (contract INTEGER PRIMARY KEY NOT NULL, through TEXT NOT NULL)",
]];

/// PostgreSQL's migrations: index `i` takes version `i` to `i + 1`.
pub(crate) const POSTGRES: [&[&str]; VERSION as usize] = [&[
    "CREATE TABLE entries (
        uuid TEXT PRIMARY KEY NOT NULL,
        contract BIGINT NOT NULL,
        time TIMESTAMPTZ,
        username TEXT,
        type TEXT,
        status TEXT,
        method TEXT,
        source_ip TEXT,
        json JSONB NOT NULL
    )",
    "CREATE INDEX entries_contract_time ON entries (contract, time, uuid)",
    "CREATE INDEX entries_username ON entries (username)",
    "CREATE INDEX entries_type ON entries (type)",
    "CREATE INDEX entries_status ON entries (status)",
    "CREATE INDEX entries_method ON entries (method)",
    "CREATE INDEX entries_source_ip ON entries (source_ip)",
    "CREATE TABLE resources (
        uuid TEXT NOT NULL REFERENCES entries (uuid),
        ordinal INTEGER NOT NULL,
        type TEXT,
        id TEXT,
        action TEXT,
        PRIMARY KEY (uuid, ordinal)
    )",
    "CREATE INDEX resources_type_id ON resources (type, id)",
    "CREATE INDEX resources_action ON resources (action)",
    "CREATE TABLE progress (contract BIGINT PRIMARY KEY NOT NULL, through TIMESTAMPTZ NOT NULL)",
]];
