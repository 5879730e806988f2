"""Runs SQL queries with DuckDB (PyPI `duckdb`) for the lake tests.

Reads a JSON list of SQL statements on stdin; prints a JSON list with the
rows of each (a list of lists; values DuckDB gives that JSON lacks, such as
timestamps, as text).
"""
import json
import sys

import duckdb

connection = duckdb.connect()
answers = [connection.sql(query).fetchall() for query in json.load(sys.stdin)]
json.dump(answers, sys.stdout, default=str)
