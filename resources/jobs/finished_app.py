"""A short application that ends, for a History Server that can list only finished ones.

Usage: finished_app.py. On S3 an event log reaches the store only when its application stops (S3A
cannot hflush); a release whose only application is its long-running Connect server would have
nothing for its History Server to list. This one starts a SparkContext (no SQL session, no UI, no
job: the least CPU an application with an event log takes, ~2x less than a SparkSession with one
job) and stops it. Runs under the release's pyspark, so it only imports from pyspark.
"""

from pyspark import SparkConf, SparkContext


def main() -> None:
    context = SparkContext(conf=SparkConf().set("spark.ui.enabled", "false"))
    try:
        print(f"application {context.applicationId} on Spark {context.version}")
    finally:
        context.stop()


if __name__ == "__main__":
    main()
