"""Reads a lake directory with Apache Spark in local mode (PyPI `pyspark`)
for the lake tests, as a user would: `spark.read.parquet(DIR)`.

Prints JSON: the row count, the sorted `uuid`s, and the count per `user`.
"""
import json
import sys

from pyspark.sql import SparkSession

spark = (
    SparkSession.builder.master("local[1]")
    .config("spark.ui.enabled", "false")
    .config("spark.sql.session.timeZone", "UTC")
    .getOrCreate()
)
spark.sparkContext.setLogLevel("ERROR")
lake = spark.read.parquet(sys.argv[1])
users = {row["user"]: row["count"] for row in lake.groupBy("user").count().collect()}
uuids = sorted(row["uuid"] for row in lake.select("uuid").collect())
json.dump({"count": lake.count(), "uuids": uuids, "users": users}, sys.stdout)
spark.stop()
