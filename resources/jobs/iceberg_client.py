"""Spark as an Iceberg REST catalog client, for the readiness review (seed 004 US2).

Usage: iceberg_client.py <namespace, dotted> <pyiceberg table> <expected rows as JSON>

Runs under a release's spark-submit (local mode) with that release's iceberg-spark-runtime and the
catalog configured as `rest`. Each scenario prints one line `SCENARIO {"name", "passed", "detail",
"seconds"}`; a failed scenario does not stop the next unless it depends on it. It writes
`rest.<namespace>.spark_<minor>` (two inserts) for PyIceberg to read back afterwards, and reads the
table PyIceberg wrote. Only imports from pyspark: it runs under the release's own pyspark.
"""

import json
import sys
import time

from pyspark.sql import SparkSession


def _reason(exc: Exception) -> str:
    """The Java exception's own message when py4j wraps one ("An error occurred while calling
    o36.sql" says nothing)."""
    java = getattr(exc, "java_exception", None)
    text = str(java) if java is not None else str(exc)
    return (text.strip().splitlines() or [""])[0][:400]


def main() -> None:
    namespace, py_table, expected = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    spark = SparkSession.builder.getOrCreate()
    minor = "".join(spark.version.split(".")[:2])
    own_ns = f"rest.{namespace}_spark{minor}"
    table = f"rest.{namespace}.spark_{minor}"
    state: dict = {}
    failed: set[str] = set()

    def scenario(name: str, body, needs: str | None = None) -> None:
        started = time.perf_counter()
        if needs in failed:
            passed, detail = False, f"not run: {needs} failed first"
        else:
            try:
                detail, passed = body(), True
            except Exception as exc:  # the scenario's result, not the script's end
                detail, passed = f"{type(exc).__name__}: {_reason(exc)}", False
        if not passed:
            failed.add(name)
        print("SCENARIO " + json.dumps({"name": name, "passed": passed, "detail": detail,
                                        "seconds": round(time.perf_counter() - started, 3)}),
              flush=True)

    def namespaces() -> str:
        spark.sql(f"CREATE NAMESPACE {own_ns}")
        parent, leaf = own_ns.rsplit(".", 1)
        listed = [r[0] for r in spark.sql(f"SHOW NAMESPACES IN {parent}").collect()]
        if not any(name.split(".")[-1].strip("`") == leaf for name in listed):
            raise AssertionError(f"{own_ns} not in SHOW NAMESPACES IN {parent}: {listed}")
        spark.sql(f"DROP NAMESPACE {own_ns}")
        return "create, show, drop"

    def create() -> str:
        spark.sql(f"CREATE TABLE {table} (id BIGINT, name STRING) USING iceberg")
        return f"created {table}"

    def insert() -> str:
        spark.sql(f"INSERT INTO {table} VALUES (1, 'a'), (2, 'b')")
        state["first"] = spark.sql(
            f"SELECT snapshot_id FROM {table}.snapshots ORDER BY committed_at").first()[0]
        spark.sql(f"INSERT INTO {table} VALUES (3, 'c')")
        return "two inserts"

    def select() -> str:
        count, total = spark.sql(f"SELECT count(*), sum(id) FROM {table}").first()
        if (count, total) != (3, 6):
            raise AssertionError(f"count, sum(id) = {count}, {total}; want 3, 6")
        return "3 rows, sum(id) 6"

    def time_travel() -> str:
        count = spark.sql(f"SELECT count(*) FROM {table} VERSION AS OF {state['first']}").first()[0]
        if count != 2:
            raise AssertionError(f"VERSION AS OF the first snapshot has {count} rows; want 2")
        return f"snapshot {state['first']} has the 2 rows of the first insert"

    def metadata_tables() -> str:
        snapshots = spark.sql(f"SELECT count(*) FROM {table}.snapshots").first()[0]
        history = spark.sql(f"SELECT count(*) FROM {table}.history").first()[0]
        if (snapshots, history) != (2, 2):
            raise AssertionError(f"{snapshots} snapshots and {history} history rows; want 2 and 2")
        return "snapshots 2, history 2"

    def cross_read() -> str:
        rows = spark.sql(f"SELECT id, zone, tip FROM rest.{namespace}.{py_table} ORDER BY id")
        got = [[r["id"], r["zone"], r["tip"]] for r in rows.collect()]
        if got != expected:
            raise AssertionError(f"the PyIceberg table reads {got}; PyIceberg wrote {expected}")
        return f"{len(got)} rows PyIceberg wrote read identically"

    scenario("namespace CRUD", namespaces)
    scenario("create table", create)
    scenario("insert", insert, needs="create table")
    scenario("select", select, needs="insert")
    scenario("time travel", time_travel, needs="insert")
    scenario("snapshots and history tables", metadata_tables, needs="insert")
    scenario("reads the PyIceberg table", cross_read)
    spark.stop()


if __name__ == "__main__":
    main()
