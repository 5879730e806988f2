#!/usr/bin/env bash
# Installs the real Parquet readers the lake tests drive, into DIR (the tests
# pass target/lake-tools): DuckDB (PyPI `duckdb`) and Apache Spark in local
# mode (PyPI `pyspark`, which runs on the machine's Java 17) in one venv.
# DuckDB reads S3 through its httpfs extension, which it downloads from
# extensions.duckdb.org at INSTALL time; PyPI has it as `duckdb-ext-httpfs`,
# built for DuckDB 1.4.4, hence that version.
# Idempotent: a second run finds both and installs nothing. Needs python3
# (with venv).
set -euo pipefail
dir="${1:?usage: install.sh DIR}"
mkdir -p "$dir"
# One install at a time: test binaries run in parallel and each may call this.
exec 9>"$dir/.install.lock"
flock 9
if ! "$dir/venv/bin/python" -c "import duckdb, pyspark, duckdb_ext" 2>/dev/null; then
  python3 -m venv "$dir/venv"
  "$dir/venv/bin/pip" install --quiet --disable-pip-version-check \
    "duckdb==1.4.4" "duckdb-ext-httpfs==1.4.4.20260205" pyspark
fi
