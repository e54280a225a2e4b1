"""delta-rs (`deltalake`): the independent reader of every Delta table, and the light writer.

A second implementation of the protocol catches what one engine hides. Known behaviour handled here
(FIELD_NOTES): load_cdf on a table without CDF silently returns file-level rows, so CDF is checked
first; strings come back as string_view; a stale handle fails DML, so writers refresh and retry.
A table is a directory or a TableLocation (s3:// in the environment's object store, with its
storage options: no locking provider, the store's conditional puts make commits safe).
"""

import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
from deltalake import DeltaTable, write_deltalake
from deltalake.exceptions import CommitFailedError
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_fixed

from resources.model.delta_script import simple_type
from resources.model.storage import TableLocation

Where = TableLocation | str  # a table: its location, or a directory

CDF_PROPERTY = "delta.enableChangeDataFeed"


class CdfDisabled(RuntimeError):
    pass


def library_version() -> str:
    import deltalake

    return deltalake.__version__


def _open(where: Where) -> tuple[str, dict[str, str] | None]:
    if isinstance(where, TableLocation):
        return where.uri, where.storage_options or None
    return str(where), None


def uri(where: Where) -> str:
    return _open(where)[0]


def table_name(where: Where) -> str:
    """s3://tables/test_ab12cd34_bronze or /x/test_ab12cd34_bronze -> test_ab12cd34_bronze"""
    return where.name if isinstance(where, TableLocation) else Path(where).name


def table(path: Where, version: int | None = None) -> DeltaTable:
    uri, options = _open(path)
    return DeltaTable(uri, version=version, storage_options=options)


def write(path: Where, data: pa.Table, **kwargs) -> None:
    """write_deltalake to a directory or a location in the object store."""
    uri, options = _open(path)
    write_deltalake(uri, data, storage_options=options, **kwargs)


def read(path: Where, version: int | None = None) -> pa.Table:
    return table(path, version).to_pyarrow_table()


def version(path: Where) -> int:
    return table(path).version()


def cdf_enabled(path: Where) -> bool:
    return table(path).metadata().configuration.get(CDF_PROPERTY, "false").lower() == "true"


def read_cdf(path: Where, starting_version: int = 0) -> pa.Table:
    if not cdf_enabled(path):
        raise CdfDisabled(f"{CDF_PROPERTY} is not true on {_open(path)[0]}: its change feed would be "
                          f"file-level guesses, not row changes")
    return pa.table(table(path).load_cdf(starting_version=starting_version).read_all())


def schema(path: Where, version: int | None = None) -> list[tuple[str, str]]:
    arrow = pa.schema(table(path, version).schema().to_arrow())
    return [(f.name, simple_type(f.type)) for f in arrow]


def protocol(path: Where) -> dict[str, int]:
    p = table(path).protocol()
    return {"min_reader_version": p.min_reader_version, "min_writer_version": p.min_writer_version}


def row_counts(path: Where) -> list[int]:
    """Row count of every version from 0 to the latest (time travel)."""
    return [table(path, v).count() for v in range(version(path) + 1)]


@dataclass
class OpTiming:
    version: int
    op: str
    seconds: float


_retry_stale = retry(retry=retry_if_exception_type(CommitFailedError), stop=stop_after_attempt(3),
                     wait=wait_fixed(0.2), reraise=True)


@_retry_stale
def _apply(path: Where, op, inputs: dict[str, pa.Table]) -> None:
    if op.kind == "create":
        write(path, inputs[op.batch], mode="error", configuration={CDF_PROPERTY: "true"})
        return
    if op.kind == "append":
        write(path, inputs[op.batch], mode="append")
        return
    dt = table(path)  # a fresh handle each time: a stale one fails DML
    if op.kind == "update":
        dt.update(predicate=op.sql, updates=op.set_sql)
    elif op.kind == "delete":
        dt.delete(op.sql)
    elif op.kind == "merge":
        (dt.merge(inputs[op.batch], predicate="t.id = s.id", source_alias="s", target_alias="t")
         .when_matched_update_all().when_not_matched_insert_all().execute())
    else:
        raise ValueError(f"unknown operation {op.kind!r}")


def write_script(path: Where, inputs: dict[str, pa.Table], script) -> list[OpTiming]:
    """The light engine: seed and run the change script with delta-rs alone (no JVM)."""
    timings = []
    for expected_version, op in enumerate(script):
        started = time.perf_counter()
        _apply(path, op, inputs)
        timings.append(OpTiming(version(path), op.describe(), round(time.perf_counter() - started, 4)))
        if timings[-1].version != expected_version:
            raise RuntimeError(f"{op.describe()} committed version {timings[-1].version}, expected "
                               f"{expected_version}: someone else writes to {_open(path)[0]}")
    return timings
