"""Delta writer on a release's own Spark + delta-spark, run by spark-submit.

Usage: delta_writer.py <plan.json>. The plan names the table path, the input batches (Parquet written
by the orchestrator, so both engines get the same bytes), the change script, and an output dir.
Writes <out>/result.json (per-operation version and timing, row count per version, schema,
protocol, schema-evolution steps) and <out>/spark_cdf/ (the Change Data Feed as Spark reads it).
Only pyspark is imported: this runs under the release's Python path, not the orchestrator's.
"""

import json
import shutil
import sys
import time

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

OLD_ROWS_BELOW = 10**9  # rows added by the schema-evolution steps get ids from here on


def table(path: str) -> str:
    return f"delta.`{path}`"


def run_op(spark, path: str, op: dict, batches: dict) -> None:
    kind = op["kind"]
    if kind == "create":
        spark.sql(f"CREATE TABLE {table(path)} USING delta "
                  f"TBLPROPERTIES ('delta.enableChangeDataFeed' = 'true') "
                  f"AS SELECT * FROM parquet.`{batches[op['batch']]}`")
    elif kind == "append":
        spark.sql(f"INSERT INTO {table(path)} SELECT * FROM parquet.`{batches[op['batch']]}`")
    elif kind == "update":
        sets = ", ".join(f"{column} = {expression}" for column, expression in op["set_sql"].items())
        spark.sql(f"UPDATE {table(path)} SET {sets} WHERE {op['sql']}")
    elif kind == "delete":
        spark.sql(f"DELETE FROM {table(path)} WHERE {op['sql']}")
    elif kind == "merge":
        spark.sql(f"MERGE INTO {table(path)} t USING parquet.`{batches[op['batch']]}` s "
                  "ON t.id = s.id WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *")
    else:
        raise ValueError(f"unknown operation {kind}")


def latest_version(spark, path: str) -> int:
    return spark.sql(f"DESCRIBE HISTORY {table(path)} LIMIT 1").collect()[0]["version"]


def schema_of(df) -> list:
    return [[f.name, f.dataType.simpleString()] for f in df.schema.fields]


def fingerprint(df) -> dict:
    """Engine-neutral summary of the rows that existed before schema evolution."""
    row = df.where(F.col("id") < OLD_ROWS_BELOW).agg(
        F.count(F.lit(1)).alias("rows"), F.sum("id").alias("id_sum"),
        F.sum(F.col("amount").cast("double")).alias("amount_sum")).collect()[0]
    return {"rows": row["rows"], "id_sum": int(row["id_sum"] or 0),
            "amount_sum": float(row["amount_sum"] or 0.0)}


def evolve(spark, source: str, scratch: str) -> list:
    """Add a column (mergeSchema), change a type (overwriteSchema rewrite), drop a column (column
    mapping 'name'), each on a scratch copy; snapshot after each step for other engines to read."""
    work = f"{scratch}/work"
    shutil.copytree(source, work)
    steps = []

    def record(name: str) -> None:
        snapshot = f"{scratch}/{len(steps) + 1}-{name}"
        shutil.copytree(work, snapshot)
        df = spark.read.format("delta").load(work)
        steps.append({"step": name, "path": snapshot, "schema": schema_of(df),
                      "old_rows": fingerprint(df), "rows": df.count()})

    extra = (spark.read.format("delta").load(work).limit(10)
             .withColumn("id", F.col("id") + OLD_ROWS_BELOW).withColumn("score", F.lit(1.5)))
    extra.write.format("delta").mode("append").option("mergeSchema", "true").save(work)
    record("add_column")
    widened = spark.read.format("delta").load(work).withColumn("amount", F.col("amount").cast("double"))
    widened.write.format("delta").mode("overwrite").option("overwriteSchema", "true").save(work)
    record("change_type")
    spark.sql(f"ALTER TABLE {table(work)} SET TBLPROPERTIES ('delta.columnMapping.mode' = 'name', "
              "'delta.minReaderVersion' = '2', 'delta.minWriterVersion' = '5')")
    spark.sql(f"ALTER TABLE {table(work)} DROP COLUMN note")
    record("drop_column")
    shutil.rmtree(work)
    return steps


def main() -> None:
    plan = json.load(open(sys.argv[1]))
    path, out = plan["table"], plan["out"]
    spark = SparkSession.builder.appName(f"testbed-delta-{plan['name']}").getOrCreate()
    result = {"timings": []}
    try:
        # Executors launch on the first job; time that apart so the operations measure writes.
        started = time.perf_counter()
        spark.range(8).repartition(2).count()
        result["executor_warmup_seconds"] = round(time.perf_counter() - started, 3)
        for expected_version, op in enumerate(plan["script"]):
            started = time.perf_counter()
            run_op(spark, path, op, plan["batches"])
            seconds = time.perf_counter() - started
            result["timings"].append({"version": latest_version(spark, path), "op": op["describe"],
                                      "seconds": round(seconds, 3)})
        final = spark.read.format("delta").load(path)
        result["schema"] = schema_of(final)
        result["row_counts"] = [
            spark.read.format("delta").option("versionAsOf", v).load(path).count()
            for v in range(latest_version(spark, path) + 1)]
        detail = spark.sql(f"DESCRIBE DETAIL {table(path)}").collect()[0]
        result["protocol"] = {"min_reader_version": detail["minReaderVersion"],
                              "min_writer_version": detail["minWriterVersion"]}
        (spark.read.format("delta").option("readChangeFeed", "true").option("startingVersion", 0)
         .load(path).write.mode("overwrite").parquet(f"{out}/spark_cdf"))
        if plan.get("scratch"):
            result["schema_evolution"] = evolve(spark, plan.get("table_files", path),
                                                plan["scratch"])
        result["spark_version"] = spark.version
    finally:
        spark.stop()
    with open(f"{out}/result.json", "w") as handle:
        json.dump(result, handle, indent=1)
    print(f"delta writer done: {len(result['timings'])} operations on {path}")


if __name__ == "__main__":
    main()
