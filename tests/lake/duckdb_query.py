"""Runs SQL queries with DuckDB (PyPI `duckdb`) for the lake tests.

Reads a JSON list of SQL statements on stdin; prints a JSON list with the
rows of each (a list of lists, empty for a statement without rows such as
LOAD; values DuckDB gives that JSON lacks, such as timestamps, as text).
"""
import json
import sys

import duckdb

connection = duckdb.connect()
answers = []
for query in json.load(sys.stdin):
    result = connection.sql(query)
    answers.append(result.fetchall() if result is not None else [])
json.dump(answers, sys.stdout, default=str)
