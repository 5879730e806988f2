//! The versioned schema: each engine's migrations, applied in order when
//! an archive is opened; an archive of a newer version is refused.
//!
//! Version 1: `entries` (one row per `@uuid`, numbered in the order
//! written, the JSON as received, the indexed columns), `resources` (one
//! row per resource and action of an entry, keyed by the entry's number)
//! and `progress` (per contract, the instant the archive is
//! complete up to). `archive_schema` holds the version.
//!
//! Version 2: in PostgreSQL, the text columns that are indexed compare
//! byte by byte (`COLLATE "C"`), as in SQLite: the order no longer depends
//! on the server's locale, and comparing is several times cheaper.
//!
//! Version 3: the JSON moves out of `entries` into `entries_json` (one row
//! per entry, keyed by its number). Building an index, or any scan of the
//! indexed columns, then reads a tenth of the bytes it read before. In
//! PostgreSQL, an entry that jsonb cannot hold (a string with `\u0000`)
//! keeps its text in `entries_json.raw` instead of `json`.
//!
//! Version 4: one key in both engines, one row per `(contract, @uuid)`
//! (`entries_key`): the same `@uuid` under two contracts is kept under
//! each (PostgreSQL keyed `uuid` alone), and one `@uuid` of a contract is
//! one row whatever its time (SQLite keyed `(contract, time, uuid)`). Of
//! copies an older SQLite archive holds under two times, the first written
//! stays. Reads in time order use `entries_contract_time` in both.
//!
//! Version 5: reads narrowed by a [`Query`](crate::Query) in SQL. Two
//! columns: `request_id` (`meta.requestId`) and `undecodable` (the SDK
//! cannot decode the entry: a filtered read always returns it). The
//! columns are now what the SDK decodes (entries with a `null` where an
//! object was expected had none before). Indexes in time order per user
//! (`entries_user`, on `lower(username)`, replacing `entries_username`) and
//! per request id (`entries_request`), of the undecodable entries
//! (`entries_undecodable`, partial), and on `lower(id)` of resources
//! (`resources_id`, replacing `resources_type_id`). After the statements,
//! each existing entry's columns and resources are computed again from its
//! JSON, and rewritten where they differ.

/// The schema version this crate writes and reads.
pub const VERSION: i64 = 5;

/// Creates the version table; harmless when it exists.
pub const VERSION_TABLE: &str =
    "CREATE TABLE IF NOT EXISTS archive_schema (version BIGINT NOT NULL)";

/// SQLite's migrations: index `i` takes version `i` to `i + 1`.
///
/// Public so that the layout of every version can be read (and an archive
/// of an older version made, as the tests do); the archive runs them itself.
///
/// ```
/// use activitylog_archive::schema;
/// assert_eq!(schema::SQLITE.len() as i64, schema::VERSION);
/// assert!(schema::SQLITE[2].iter().any(|sql| sql.contains("entries_json")));
/// ```
pub const SQLITE: [&[&str]; VERSION as usize] = [
    &[
        // `entry` (the rowid) grows in the order rows are written, which is
        // time order: the table and the indexes that end in it are appended to.
        // The key is (contract, time, uuid), not the random `@uuid` alone: an
        // entry's time never changes, so one `@uuid` is one row, and every
        // insert lands at the end of the key's index instead of on a random
        // page (a page-cache miss each, once the archive outgrows the cache).
        // `time` is '' when an entry has none (NULLs never conflict).
        "CREATE TABLE entries (
        entry INTEGER PRIMARY KEY,
        uuid TEXT NOT NULL,
        contract INTEGER NOT NULL,
        time TEXT NOT NULL,
        username TEXT,
        type TEXT,
        status TEXT,
        method TEXT,
        source_ip TEXT,
        json TEXT NOT NULL
    )",
        "CREATE UNIQUE INDEX entries_key ON entries (contract, time, uuid)",
        "CREATE INDEX entries_username ON entries (username)",
        "CREATE INDEX entries_type ON entries (type)",
        "CREATE INDEX entries_status ON entries (status)",
        "CREATE INDEX entries_method ON entries (method)",
        "CREATE INDEX entries_source_ip ON entries (source_ip)",
        // Keyed by the entry's rowid, in the order of its resources: appended
        // too, where a key on the random `@uuid` made every insert a page miss.
        "CREATE TABLE resources (
        entry INTEGER NOT NULL REFERENCES entries (entry),
        type TEXT,
        id TEXT,
        action TEXT
    )",
        "CREATE INDEX resources_entry ON resources (entry)",
        "CREATE INDEX resources_type_id ON resources (type, id)",
        "CREATE INDEX resources_action ON resources (action)",
        "CREATE TABLE progress (contract INTEGER PRIMARY KEY NOT NULL, through TEXT NOT NULL)",
    ],
    // Version 2: nothing; SQLite compares text byte by byte already.
    &[],
    // Version 3: the JSON in a table of its own (DROP COLUMN rewrites `entries`).
    &[
        "CREATE TABLE entries_json (
        entry INTEGER PRIMARY KEY REFERENCES entries (entry),
        json TEXT NOT NULL
    )",
        "INSERT INTO entries_json (entry, json) SELECT entry, json FROM entries",
        "ALTER TABLE entries DROP COLUMN json",
    ],
    // Version 4: the key is (contract, uuid); time order has an index of
    // its own. Copies of one `@uuid` under two times (the old key allowed
    // them): the first written stays.
    &[
        "CREATE TEMP TABLE copies AS SELECT entry FROM entries \
         WHERE entry NOT IN (SELECT min(entry) FROM entries GROUP BY contract, uuid)",
        "DELETE FROM resources WHERE entry IN (SELECT entry FROM copies)",
        "DELETE FROM entries_json WHERE entry IN (SELECT entry FROM copies)",
        "DELETE FROM entries WHERE entry IN (SELECT entry FROM copies)",
        "DROP TABLE copies",
        "DROP INDEX entries_key",
        "CREATE UNIQUE INDEX entries_key ON entries (contract, uuid)",
        "CREATE INDEX IF NOT EXISTS entries_contract_time ON entries (contract, time, uuid)",
    ],
    // Version 5: the request id and the undecodable mark; indexes for
    // narrowed reads (the request ids of existing entries read in bulk
    // before their index is built; the rest is checked in Rust).
    &[
        "ALTER TABLE entries ADD COLUMN request_id TEXT",
        "ALTER TABLE entries ADD COLUMN undecodable INTEGER NOT NULL DEFAULT 0",
        "DROP INDEX IF EXISTS entries_username",
        "DROP INDEX IF EXISTS resources_type_id",
        "UPDATE entries SET request_id = (SELECT replace(json_extract(j.json, '$.meta.requestId'), \
         char(0), char(65533)) FROM entries_json j WHERE j.entry = entries.entry \
         AND json_type(j.json, '$.meta.requestId') = 'text')",
        "CREATE INDEX IF NOT EXISTS resources_entry ON resources (entry)",
        "CREATE INDEX IF NOT EXISTS entries_user ON entries (contract, lower(username), time, uuid)",
        "CREATE INDEX IF NOT EXISTS entries_request ON entries (contract, lower(request_id), time, uuid)",
        "CREATE INDEX IF NOT EXISTS entries_undecodable ON entries (contract, time, uuid) WHERE undecodable",
        "CREATE INDEX IF NOT EXISTS resources_id ON resources (lower(id))",
    ],
];

/// PostgreSQL's migrations: index `i` takes version `i` to `i + 1`
/// (public, as [`SQLITE`]).
pub const POSTGRES: [&[&str]; VERSION as usize] = [
    &[
        "CREATE TABLE entries (
        entry BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        uuid TEXT NOT NULL UNIQUE,
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
        // Keyed by the entry's row number, in the order of its resources. No
        // foreign key: resources are written by the statement that writes their
        // entry and nothing is deleted, so checking each row only costs time.
        "CREATE TABLE resources (
        entry BIGINT NOT NULL,
        type TEXT,
        id TEXT,
        action TEXT
    )",
        "CREATE INDEX resources_entry ON resources (entry)",
        "CREATE INDEX resources_type_id ON resources (type, id)",
        "CREATE INDEX resources_action ON resources (action)",
        "CREATE TABLE progress (contract BIGINT PRIMARY KEY NOT NULL, through TIMESTAMPTZ NOT NULL)",
    ],
    // Version 2: byte order for the indexed text columns (their indexes are
    // rebuilt).
    &[
        r#"ALTER TABLE entries
            ALTER COLUMN uuid TYPE TEXT COLLATE "C",
            ALTER COLUMN username TYPE TEXT COLLATE "C",
            ALTER COLUMN type TYPE TEXT COLLATE "C",
            ALTER COLUMN status TYPE TEXT COLLATE "C",
            ALTER COLUMN method TYPE TEXT COLLATE "C",
            ALTER COLUMN source_ip TYPE TEXT COLLATE "C""#,
        r#"ALTER TABLE resources
            ALTER COLUMN type TYPE TEXT COLLATE "C",
            ALTER COLUMN id TYPE TEXT COLLATE "C",
            ALTER COLUMN action TYPE TEXT COLLATE "C""#,
    ],
    // Version 3: the JSON in a table of its own. No foreign key, as for
    // resources; dropping the column only marks it dropped (its space is
    // reused as rows are rewritten). jsonb cannot hold a string with a NUL
    // (`\u0000`): such an entry is kept as received in `raw` instead.
    &[
        "CREATE TABLE entries_json (
        entry BIGINT PRIMARY KEY,
        json JSONB,
        raw TEXT,
        CHECK ((json IS NULL) <> (raw IS NULL))
    )",
        "INSERT INTO entries_json (entry, json) SELECT entry, json FROM entries ORDER BY entry",
        "ALTER TABLE entries DROP COLUMN json",
    ],
    // Version 4: the key is (contract, uuid) instead of uuid alone (a key
    // on uuid alone holds no two equal ones, so nothing is removed).
    &["ALTER TABLE entries DROP CONSTRAINT entries_uuid_key, \
         ADD CONSTRAINT entries_key UNIQUE (contract, uuid)"],
    // Version 5: as SQLite's.
    &[
        r#"ALTER TABLE entries ADD COLUMN request_id TEXT COLLATE "C",
            ADD COLUMN undecodable BOOLEAN NOT NULL DEFAULT false"#,
        "DROP INDEX IF EXISTS entries_username, resources_type_id",
        "UPDATE entries e SET request_id = j.json -> 'meta' ->> 'requestId' \
         FROM entries_json j WHERE j.entry = e.entry \
         AND jsonb_typeof(j.json -> 'meta' -> 'requestId') = 'string'",
        "CREATE INDEX IF NOT EXISTS resources_entry ON resources (entry)",
        "CREATE INDEX IF NOT EXISTS entries_user ON entries (contract, lower(username), time, uuid)",
        "CREATE INDEX IF NOT EXISTS entries_request ON entries (contract, lower(request_id), time, uuid)",
        "CREATE INDEX IF NOT EXISTS entries_undecodable ON entries (contract, time, uuid) WHERE undecodable",
        "CREATE INDEX IF NOT EXISTS resources_id ON resources (lower(id))",
    ],
];

/// Builds SQLite's key when a first sync dropped it (see `crate::indexes`):
/// of the copies of one `(contract, @uuid)` written meanwhile, the first
/// stays; then the unique index.
pub(crate) const SQLITE_KEY: [&str; 6] = [
    "CREATE TEMP TABLE copies AS SELECT entry FROM entries \
     WHERE entry NOT IN (SELECT min(entry) FROM entries GROUP BY contract, uuid)",
    "DELETE FROM resources WHERE entry IN (SELECT entry FROM copies)",
    "DELETE FROM entries_json WHERE entry IN (SELECT entry FROM copies)",
    "DELETE FROM entries WHERE entry IN (SELECT entry FROM copies)",
    "DROP TABLE copies",
    "CREATE UNIQUE INDEX IF NOT EXISTS entries_key ON entries (contract, uuid)",
];

/// The secondary indexes of the current version (every index but the
/// unique key, `entries_key`), the same in both engines: name, and what it
/// indexes. A first sync builds them after its rows are in (see
/// `crate::indexes`).
pub(crate) const INDEXES: [(&str, &str); 11] = [
    ("entries_contract_time", "entries (contract, time, uuid)"),
    (
        "entries_user",
        "entries (contract, lower(username), time, uuid)",
    ),
    ("entries_type", "entries (type)"),
    ("entries_status", "entries (status)"),
    ("entries_method", "entries (method)"),
    ("entries_source_ip", "entries (source_ip)"),
    (
        "entries_request",
        "entries (contract, lower(request_id), time, uuid)",
    ),
    (
        "entries_undecodable",
        "entries (contract, time, uuid) WHERE undecodable",
    ),
    ("resources_entry", "resources (entry)"),
    ("resources_id", "resources (lower(id))"),
    ("resources_action", "resources (action)"),
];
