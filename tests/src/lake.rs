//! The real Parquet readers of the lake tests: DuckDB and Apache Spark
//! (PyPI `duckdb` and `pyspark`), installed by tests/lake/install.sh into
//! `target/lake-tools` the first time a test needs them (an install that
//! fails fails the test: they are never skipped).

use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::Value;

/// The Python of the venv that has `duckdb` and `pyspark`
/// (`ACTIVITYLOG_TEST_LAKE_PYTHON` overrides it), installed once per test
/// binary; the script takes a lock, so that test binaries running at once
/// install once.
pub fn python() -> String {
    if let Ok(python) = std::env::var("ACTIVITYLOG_TEST_LAKE_PYTHON") {
        return python;
    }
    static TOOLS: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    let dir = TOOLS.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/lake-tools");
        install(
            concat!(env!("CARGO_MANIFEST_DIR"), "/lake/install.sh"),
            &dir,
            "DuckDB and Spark (it needs python3 with venv and PyPI reachable); or set \
             ACTIVITYLOG_TEST_LAKE_PYTHON",
        );
        dir
    });
    dir.join("venv/bin/python").display().to_string()
}

/// The rows of each of `queries`, as DuckDB answers them (a list of rows
/// per query; timestamps as text).
pub fn duckdb(queries: &[String]) -> Vec<Vec<Vec<Value>>> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/lake/duckdb_query.py");
    let mut child = Command::new(python())
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python()));
    let input = serde_json::to_vec(queries).unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), &input).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "DuckDB failed on {queries:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the DuckDB script prints JSON")
}

/// `path` as a SQL string literal.
pub fn sql_text(path: &std::path::Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', "''"))
}

/// Runs the install `script` (one of tests/lake/*.sh) into `dir`, failing
/// the test with what it installs and needs when it cannot.
pub(crate) fn install(script: &str, dir: &std::path::Path, what: &str) {
    let status = Command::new("bash")
        .arg(script)
        .arg(dir)
        .status()
        .unwrap_or_else(|e| panic!("cannot run {script}: {e}"));
    assert!(
        status.success(),
        "{script} could not install into {}: {what}",
        dir.display()
    );
}
