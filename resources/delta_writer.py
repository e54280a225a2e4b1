"""Seed a Delta table and run the change script with one of two engines, in a run's environment.

- spark: the release's own Spark + delta-spark (spark-submit of jobs/delta_writer.py to its master),
  which also reads the table back the Spark way (CDF, time travel) and runs the schema-evolution steps;
- deltars: delta-rs alone, no JVM (light mode), with the same steps through delta-rs.

Tables get a unique name per run (`test_<8 hex>`) in the environment's object store (or the tables
dir, with storage local) and are recorded in the environment (by the caller, before anything is
written), so teardown removes them (unless keep_on_failure) and the reaper finds leftovers.
"""

import json
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.parquet as pq
from deltalake import write_deltalake
from pydantic import BaseModel, Field

from resources import delta
from resources.model.catalog import ReleaseSpec
from resources.model.delta_script import OLD_ROWS_BELOW, fingerprint
from resources.model.errors import ConfigError
from resources.model.facts import JobResult
from resources.model.storage import TableLocation


class EvolutionStep(BaseModel):
    step: str
    path: str  # a snapshot of the scratch copy after this step
    schema_: list[tuple[str, str]] = Field(alias="schema")
    old_rows: dict[str, float]  # rows, id_sum, amount_sum over the rows from before evolution
    rows: int


class SeededTable(BaseModel):
    location: TableLocation
    engine: str
    writer: str  # e.g. "Spark 3.5.7 + Delta 3.3.2" or "delta-rs"
    rows: int
    seed: int
    script: list[str]
    timings: list[dict]
    seconds: float
    # What the writer engine itself read back (Spark engine only).
    writer_row_counts: list[int] | None = None
    writer_schema: list[tuple[str, str]] | None = None
    writer_cdf_dir: str | None = None
    warmup_seconds: float | None = None  # Spark: launching executors, before the first operation
    evolution: list[EvolutionStep] = Field(default_factory=list)

    @property
    def name(self) -> str:
        return self.location.name

    @property
    def path(self) -> str:
        """The URI engines open (s3://tables/test_..., or a directory)."""
        return self.location.uri


def new_table_name() -> str:
    return f"test_{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class SparkWriter:
    """The release that writes with Spark + delta-spark, and how to run the writer job on it
    (spark-submit of jobs/delta_writer.py with its arguments; the caller's platform decides)."""

    spec: ReleaseSpec
    submit: Callable[[list[str]], JobResult]


def seed(engine: str, rows: int, seed_value: int, script, inputs, location: TableLocation,
         work: Path, writer: SparkWriter | None = None) -> SeededTable:
    """Seed `location` (a new table the caller has already recorded for cleanup) and run the
    change script; work is a scratch dir of the caller's environment."""
    if engine not in ("spark", "deltars"):
        raise ConfigError(f"engine {engine!r} is unknown: use 'spark' (default) or 'deltars'")
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    if engine == "deltars":
        timings = [t.__dict__ for t in delta.write_script(location, inputs, script)]
        table = SeededTable(location=location, engine=engine,
                            writer=f"delta-rs {delta.library_version()}", rows=rows,
                            seed=seed_value, script=[op.describe() for op in script],
                            timings=timings, seconds=0)
        table.evolution = evolve_with_deltars(location.local_path, work / "scratch")
    else:
        if writer is None or not writer.spec.delta_version:
            raise ConfigError("the spark engine needs a release with delta_version in the catalog")
        table = _seed_with_spark(writer, location, work, rows, seed_value, script, inputs)
    table.seconds = round(time.perf_counter() - started, 3)
    return table


def _seed_with_spark(writer, location: TableLocation, work, rows, seed_value, script, inputs):
    spec = writer.spec
    batch_paths = {}
    for batch, data in inputs.items():
        batch_paths[batch] = str(work / "batches" / f"{batch}.parquet")
        Path(batch_paths[batch]).parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(data, batch_paths[batch])
    out = work / "out"
    out.mkdir(exist_ok=True)
    # table_files: the evolution steps start from a copy of the table's files (the object
    # store keeps them as files on this machine).
    plan = {"name": location.name, "table": location.spark_uri, "out": str(out),
            "batches": batch_paths, "scratch": str(work / "scratch"),
            "table_files": location.local_path,
            "script": [{"kind": op.kind, "sql": op.sql, "batch": op.batch, "set_sql": op.set_sql,
                        "describe": op.describe()} for op in script]}
    (work / "plan.json").write_text(json.dumps(plan, indent=1))
    result = writer.submit([str(work / "plan.json")])
    if result.returncode != 0 or not (out / "result.json").exists():
        raise RuntimeError(f"the Delta writer on {spec.name} failed (exit {result.returncode}):\n"
                           f"{result.error[-3000:]}")
    done = json.loads((out / "result.json").read_text())
    return SeededTable(
        location=location, engine="spark",
        writer=f"Spark {done['spark_version']} + Delta {spec.delta_version} ({spec.name})",
        rows=rows, seed=seed_value, script=[op.describe() for op in script],
        timings=done["timings"], seconds=0, writer_row_counts=done["row_counts"],
        writer_schema=[tuple(f) for f in done["schema"]], writer_cdf_dir=str(out / "spark_cdf"),
        warmup_seconds=done.get("executor_warmup_seconds"),
        evolution=[EvolutionStep.model_validate(step) for step in done["schema_evolution"]])


def read_spark_cdf(directory: str) -> pa.Table:
    return pads.dataset(directory, format="parquet").to_table()


def evolve_with_deltars(source: str, scratch: Path) -> list[EvolutionStep]:
    """The same three steps through delta-rs: merge-schema append, overwrite-schema rewrites
    (delta-rs has no type widening and must not enable column mapping on an existing table).
    source: the table's files on this machine; the steps run on a local scratch copy."""
    work = scratch / "work"
    shutil.copytree(source, work)
    steps: list[EvolutionStep] = []

    def record(name: str) -> None:
        snapshot = scratch / f"{len(steps) + 1}-{name}"
        shutil.copytree(work, snapshot)
        data = delta.read(str(work))
        steps.append(EvolutionStep(step=name, path=str(snapshot), schema=delta.schema(str(work)),
                                   old_rows=fingerprint(data), rows=len(data)))

    extra = delta.read(str(work)).slice(0, 10)
    extra = extra.set_column(0, "id", pc.add(extra.column("id"), OLD_ROWS_BELOW))
    extra = extra.append_column("score", pa.array([1.5] * len(extra), pa.float64()))
    write_deltalake(str(work), extra, mode="append", schema_mode="merge")
    record("add_column")
    data = delta.read(str(work))
    data = data.set_column(data.schema.get_field_index("amount"), "amount",
                           data.column("amount").cast(pa.float64()))
    write_deltalake(str(work), data, mode="overwrite", schema_mode="overwrite")
    record("change_type")
    data = delta.read(str(work))
    write_deltalake(str(work), data.drop_columns(["note"]), mode="overwrite", schema_mode="overwrite")
    record("drop_column")
    shutil.rmtree(work)
    return steps
