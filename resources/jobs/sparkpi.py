"""SparkPi plus a metastore probe table, run by spark-submit on a release's own Spark.

Usage: sparkpi.py <partitions> <table>. Prints "Pi is roughly <pi>" and "created table <db.table>".
Runs under the release's pyspark (not the orchestrator's), so it only imports from pyspark.
"""

import random
import sys
from operator import add

from pyspark.sql import SparkSession


def inside(seed: int, samples: int):
    rng = random.Random(seed)
    hits = 0
    for _ in range(samples):
        x, y = rng.random() * 2 - 1, rng.random() * 2 - 1
        hits += 1 if x * x + y * y <= 1 else 0
    yield hits


def main() -> None:
    partitions, table = int(sys.argv[1]), sys.argv[2]
    samples = 200_000
    spark = SparkSession.builder.enableHiveSupport().getOrCreate()
    try:
        hits = (spark.sparkContext.parallelize(range(partitions), partitions)
                .mapPartitionsWithIndex(lambda index, _rows: inside(index, samples))
                .reduce(add))
        print(f"Pi is roughly {4.0 * hits / (partitions * samples):.6f}")
        spark.sql(f"CREATE TABLE IF NOT EXISTS default.{table} (id BIGINT, version STRING) "
                  "USING parquet")
        spark.sql(f"INSERT INTO default.{table} VALUES (1, '{spark.version}')")
        print(f"created table default.{table}")
    finally:
        spark.stop()


if __name__ == "__main__":
    main()
