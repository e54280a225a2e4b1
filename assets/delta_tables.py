"""Seeded Delta tables as assets, and their data-quality checks (seed 003 DQ-001..003, DQ-005).

`delta/seeded_table`: a table with a unique name per run, CDF on, seeded with a deterministic dataset
and taken through UPDATE, DELETE, MERGE and append — by Spark 3.5 + delta-spark (default) or by
delta-rs alone (engine: deltars, no JVM). Checks read it back with delta-rs (a second implementation
of the protocol) and with the Spark releases, and compare with what the script implies.
"""

from enum import Enum

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetKey,
    Config,
    MaterializeResult,
    MetadataValue,
    asset,
    asset_check,
)
from pydantic import Field

from assets.common import guarded, to_result, verdict_check
from assets.releases import release_key
from assets.storage import STORE
from resources import delta, delta_writer
from resources.criteria import delta_checks
from resources.environment import Slot, TestbedEnvironment
from resources.model import delta_script
from resources.model.catalog import Catalog, ReleaseSpec
from resources.model.verdict import Verdict
from resources.spark import connect_read_delta

SEEDED = AssetKey(["delta", "seeded_table"])
SEEDED_SLOT: Slot[tuple[delta_writer.SeededTable, delta_script.Expected]] = Slot("delta/seeded_table")


class Engine(Enum):
    spark = "spark"
    deltars = "deltars"


class SeededTableConfig(Config):
    engine: Engine = Field(Engine.spark, description="spark: written by the Spark 3.5 release with "
                           "delta-spark (default); deltars: delta-rs alone, no JVM (light mode)")
    rows: int = Field(1000, ge=20, description="seed rows (the script changes ~5-15% of them)")
    seed: int = Field(42, description="RNG seed: same rows and seed, same table")


WRITER = ("has Delta and a master to spark-submit the writer to",
          lambda s: bool(s.delta_version) and "master" in s.components)
READER = ("has Delta and a Spark Connect server to read with",
          lambda s: bool(s.delta_version) and "connect" in s.components)


def _first(catalog: Catalog, wanted) -> ReleaseSpec | None:
    return next((spec for spec in catalog.releases if wanted[1](spec)), None)


def release_deps(catalog: Catalog) -> tuple[list[AssetKey], list[AssetKey]]:
    """The release assets the spark engine writes with and reads back with: the graph shows
    them upstream of the table (and `test_infrastructure` deploys them, side by side)."""
    writer, reader = _first(catalog, WRITER), _first(catalog, READER)
    return ([release_key(writer)] if writer else []), ([release_key(reader)] if reader else [])


def seeded_table_asset(writer_deps: list[AssetKey]):
    @asset(key=SEEDED, group_name="delta", kinds={"delta"}, deps=[STORE, *writer_deps],
           description="A Delta table with a unique name per run (test_<8 hex>), Change Data Feed "
                       "on, seeded deterministically and changed by a script: UPDATE, DELETE, "
                       "MERGE (upsert), append. The spark engine writes with the release upstream.")
    def seeded_table(context: AssetExecutionContext, config: SeededTableConfig,
                     testbed: TestbedEnvironment) -> MaterializeResult:
        return _seed(context, config, testbed)

    return seeded_table


def _seed(context: AssetExecutionContext, config: SeededTableConfig,
          testbed: TestbedEnvironment) -> MaterializeResult:
    inputs = delta_script.batches(config.rows, config.seed)
    env = testbed.environment
    name = delta_writer.new_table_name()
    location = env.new_table(name, owner="delta")  # recorded before writing: cleaned up on failure
    writer = None
    if config.engine == Engine.spark:
        spec = testbed.release_where(*WRITER)

        def submit(args: list[str]):
            deployment = env.deploy(spec)  # deployed upstream; on its own when run alone
            return env.platform.submit(env, deployment, "delta_writer", args, 600)

        writer = delta_writer.SparkWriter(spec, submit)
    try:
        seeded = delta_writer.seed(config.engine.value, config.rows, config.seed,
                                   delta_script.SCRIPT, inputs, location, env.path / "delta" / name,
                                   writer)
    except Exception:
        testbed.mark_failed()
        raise
    testbed.remember(SEEDED_SLOT, (seeded, delta_script.expected(inputs)))
    context.log.info(f"seeded {seeded.path} with {seeded.writer} in {seeded.seconds}s")
    return MaterializeResult(metadata={
        "path": MetadataValue.path(seeded.path),
        "table": seeded.name,
        "engine": seeded.engine,
        "writer": seeded.writer,
        "version": delta.version(seeded.location),
        "row_count": delta.table(seeded.location).count(),
        "schema": ", ".join(f"{n} {t}" for n, t in delta.schema(seeded.location)),
        "change_script": MetadataValue.md("\n".join(
            f"{i}. v{i}: {op}" for i, op in enumerate(seeded.script))),
        "protocol": MetadataValue.json(delta.protocol(seeded.location)),
        "timings": MetadataValue.json(seeded.timings),
        "executor_warmup_seconds": seeded.warmup_seconds if seeded.warmup_seconds is not None else "n/a",
        "seconds": seeded.seconds,
    })


def _seeded(testbed: TestbedEnvironment):
    return testbed.recall(SEEDED_SLOT)


def _spark_label(seeded: delta_writer.SeededTable) -> str:
    return seeded.writer.split(" (")[0]


def _check(name: str, description: str):
    return verdict_check(SEEDED, name, description, _seeded)


@_check("row_count_and_schema", "DQ-001: row count and schema equal what the seed script implies, "
        "read by delta-rs and by the writer.")
def row_count_and_schema(testbed, seeded, expected) -> Verdict:
    counts = {"delta-rs": delta.table(seeded.location).count()}
    schemas = {"delta-rs": delta.schema(seeded.location)}
    if seeded.writer_row_counts is not None:
        counts[_spark_label(seeded)] = seeded.writer_row_counts[-1]
        schemas[_spark_label(seeded)] = seeded.writer_schema
    return delta_checks.row_count_and_schema(expected, counts, schemas)


@_check("cdf_complete", "DQ-002: the Change Data Feed from version 0, read by Spark and by delta-rs, "
        "holds exactly the rows the change script implies per commit version.")
def cdf_complete(testbed, seeded, expected) -> Verdict:
    readings: dict = {}
    try:
        readings["delta-rs"] = delta.read_cdf(seeded.location)
    except Exception as exc:  # reported by the check
        readings["delta-rs"] = f"{type(exc).__name__}: {exc}"
    if seeded.writer_cdf_dir:
        readings[f"{_spark_label(seeded)} readChangeFeed"] = \
            delta_writer.read_spark_cdf(seeded.writer_cdf_dir)
    return delta_checks.cdf_complete(expected, delta.cdf_enabled(seeded.location), readings)


@_check("schema_evolution", "DQ-003: on a scratch copy, add a column (mergeSchema), change a type "
        "(overwriteSchema rewrite), drop a column (column mapping in Spark); schema and old rows "
        "stay right. Which engine can still read each step is reported.")
def schema_evolution(testbed, seeded, expected) -> Verdict:
    readers = {"delta-rs": {}}
    for step in seeded.evolution:
        try:
            readers["delta-rs"][step.step] = delta.read(step.path)
        except Exception as exc:  # a finding, not a crash
            readers["delta-rs"][step.step] = f"{type(exc).__name__}: {str(exc)[:300]}"
    steps = [{"step": s.step, "schema": s.schema_, "old_rows": s.old_rows} for s in seeded.evolution]
    return delta_checks.schema_evolution(expected, _spark_label(seeded), steps, readers)


@_check("time_travel", "Every historical version reads back the row count the script implies.")
def time_travel(testbed, seeded, expected) -> Verdict:
    readings = {"delta-rs": delta.row_counts(seeded.location)}
    if seeded.writer_row_counts is not None:
        readings[_spark_label(seeded)] = seeded.writer_row_counts
    return delta_checks.time_travel(expected, readings)


def cross_version_check(reader_deps: list[AssetKey]):
    @asset_check(asset=SEEDED, name="cross_version_readable", blocking=True,
                 additional_deps=reader_deps or None,
                 description="The table written by one release (Spark 3.5 + Delta 3.3) is read "
                             "identically by the other (Spark 4.1 + its own Delta, via Connect, "
                             "the release upstream) and by delta-rs: can they share storage?")
    def cross_version_readable(context: AssetCheckExecutionContext,
                               testbed: TestbedEnvironment) -> AssetCheckResult:
        seeded, expected = _seeded(testbed)
        if seeded.engine != "spark":
            return to_result(Verdict(False, "not evaluated: light mode (engine deltars) wrote "
                                            "with delta-rs, no Spark release is in this run"),
                             testbed, asset_key=SEEDED, check_name="cross_version_readable",
                             severity=AssetCheckSeverity.WARN)

        def gather() -> AssetCheckResult:
            reader = testbed.release_where(*READER)
            deployment = testbed.deploy(reader)  # deployed upstream; on its own when run alone
            readings: dict = {"delta-rs": delta.read(seeded.location)}
            label = f"Spark {reader.version} + Delta {reader.delta_version} (Connect)"
            try:
                readings[label] = connect_read_delta(deployment.endpoints.connect,
                                                    seeded.location.spark_uri)
            except Exception as exc:  # the check says why
                readings[label] = f"{type(exc).__name__}: {str(exc)[:500]}"
            return to_result(delta_checks.cross_version_readable(expected, readings), testbed,
                             asset_key=SEEDED, check_name="cross_version_readable",
                             context=context)

        return guarded(testbed, gather)

    return cross_version_readable


def build(catalog: Catalog) -> tuple[list, list]:
    writer_deps, reader_deps = release_deps(catalog)
    assets = [seeded_table_asset(writer_deps)]
    checks = [row_count_and_schema, cdf_complete, schema_evolution, time_travel,
              cross_version_check(reader_deps)]
    return assets, checks
