"""Spark Connect clients: the acceptance probe and a Delta read, through a release's Connect server.

The orchestrator imports only pyspark-client (no JVM); classic pyspark runs in spark-submit
subprocesses under each release's own SPARK_HOME.
"""

import time

import pyarrow as pa

from resources.model.facts import JobResult

CONNECT_SQL = "SELECT 6 * 7 AS answer"


def connect_probe(release: str, url: str, table: str) -> JobResult:
    """Through Spark Connect: SQL and a DataFrame aggregation with known answers, then a table in
    the release's metastore. Errors become a failed JobResult (the check says why)."""
    from pyspark.sql import SparkSession  # pyspark-client: Connect only
    from pyspark.sql import functions as F

    started = time.monotonic()
    values: dict = {}
    try:
        spark = SparkSession.builder.remote(url).create()
        try:
            values["server_version"] = spark.version
            values["sql_answer"] = spark.sql(CONNECT_SQL).collect()[0]["answer"]
            row = spark.range(1, 1001).agg(F.sum("id").alias("s"), F.count("id").alias("c")).collect()[0]
            values["range_sum"], values["range_count"] = int(row["s"]), int(row["c"])
            spark.sql(f"CREATE TABLE IF NOT EXISTS default.{table} (id BIGINT, version STRING) "
                      "USING parquet")
            spark.sql(f"INSERT INTO default.{table} VALUES (1, '{spark.version}')")
            values["table"] = f"default.{table}"
        finally:
            spark.stop()
        return JobResult(release=release, job="connect_probe", returncode=0,
                         seconds=round(time.monotonic() - started, 2), values=values,
                         output=str(values))
    except Exception as exc:  # the check reports it; a crash here would hide the facts
        return JobResult(release=release, job="connect_probe", returncode=1,
                         seconds=round(time.monotonic() - started, 2), values=values,
                         error=f"{type(exc).__name__}: {str(exc)[:2000]}")


def connect_read_delta(url: str, path: str) -> pa.Table:
    """Read a Delta table by path through a Spark Connect server (its own Delta jars)."""
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.remote(url).create()
    try:
        return spark.read.format("delta").load(path).toArrow()
    finally:
        spark.stop()
