//! Where things are in a lake: the data objects under hive-style
//! partitions (`contract=31721060/day=2024-05-01/…parquet`, which engines
//! prune by), the manifest chain under `_manifest/`, and objects being
//! written under `_staging/`. Names starting with `_` are hidden from Spark
//! and Hadoop readers, and staged objects do not end in `.parquet`, so a
//! `**/*.parquet` glob (DuckDB) never sees them either.

use chrono::NaiveDate;

/// The prefix of the manifest chain's objects.
pub const MANIFEST: &str = "_manifest/";
/// The prefix of objects written but not committed yet.
pub const STAGING: &str = "_staging/";
/// The day partition of entries without a readable time (their `time` is
/// NULL). A date, not Hive's `__HIVE_DEFAULT_PARTITION__`: DuckDB 1.4 reads
/// that as text, which makes `day` a text column for the whole lake and
/// refuses `day >= DATE '…'`.
pub const NO_DAY: &str = "1970-01-01";

/// The key of the data object `name` of `contract` and `day`.
pub fn object_key(contract: u64, day: Option<NaiveDate>, name: &str) -> String {
    format!("contract={contract}/day={}/{name}.parquet", day_text(day))
}

/// Where `key` is staged before its commit.
pub fn staged_key(key: &str) -> String {
    let stem = key.strip_suffix(".parquet").unwrap_or(key);
    format!("{STAGING}{stem}.pending")
}

/// The key a staged object is committed under, if `staged` is one.
pub fn unstaged_key(staged: &str) -> Option<String> {
    let stem = staged.strip_prefix(STAGING)?.strip_suffix(".pending")?;
    Some(format!("{stem}.parquet"))
}

/// The commit number an object's name was written for (its name starts
/// with the zero-padded number, then `-`).
pub fn object_seq(key: &str) -> Option<u64> {
    let name = key.rsplit('/').next()?;
    name.split('-').next()?.parse().ok()
}

/// The key of the manifest object number `seq` (zero-padded: keys sort in
/// commit order).
pub fn manifest_key(seq: u64) -> String {
    format!("{MANIFEST}{seq:012}.ndjson")
}

/// The commit number of a manifest key, if `key` is one.
pub fn manifest_seq(key: &str) -> Option<u64> {
    key.strip_prefix(MANIFEST)?
        .strip_suffix(".ndjson")?
        .parse()
        .ok()
}

/// Whether `key` is part of the dataset readers glob (not the manifest, not staged).
pub fn is_data(key: &str) -> bool {
    !key.starts_with('_') && !key.starts_with('.')
}

/// A day as its partition names it.
pub fn day_text(day: Option<NaiveDate>) -> String {
    day.map_or_else(|| NO_DAY.to_string(), |d| d.format("%Y-%m-%d").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_hive_partitions_and_staging_is_hidden_from_globs() {
        let day = NaiveDate::from_ymd_opt(2024, 5, 1);
        let key = object_key(31721060, day, "000000000001-ab");
        assert_eq!(
            key,
            "contract=31721060/day=2024-05-01/000000000001-ab.parquet"
        );
        let staged = staged_key(&key);
        assert!(
            staged.starts_with('_') && !staged.ends_with(".parquet"),
            "{staged}"
        );
        assert!(is_data(&key) && !is_data(&staged) && !is_data(&manifest_key(1)));
        assert_eq!(unstaged_key(&staged).as_deref(), Some(key.as_str()));
        assert_eq!(unstaged_key(&key), None, "not a staged key");
        assert_eq!(object_seq(&staged), Some(1));
        assert_eq!(object_seq(&key), Some(1));
        assert_eq!(object_seq("contract=1/day=2024-05-01/x.parquet"), None);
        assert_eq!(manifest_seq(&manifest_key(42)), Some(42));
        let untimed = object_key(7, None, "x");
        assert_eq!(
            untimed, "contract=7/day=1970-01-01/x.parquet",
            "a date engines parse"
        );
    }
}
