"""The engine-independent half of a CDC stream: change records, the bronze and mirror Delta tables,
and the writer that lands whole transactions in both.

An engine (binlog, debezium) only reads: it turns what the source emitted into `Change`s and hands
over whole transactions with the position just after their commit. The writer thread drains
everything handed over so far into ONE bronze append and ONE mirror merge, then checkpoints the
position of the last transaction it wrote. Idle, each transaction lands alone (low latency); under
load batches grow (throughput).

Exactly once: every change has a key (binlog file number, event position, row index) that only
grows in commit order. On restart the engine resumes from its own checkpoint (it may replay what it
had read but not confirmed) and the writer skips keys bronze already holds, so the bronze table
never holds a change twice; the mirror apply is an idempotent upsert/delete by primary key, and comes
first, so a batch is in bronze only once it is in the mirror.
"""

import json
import queue
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pyarrow as pa

from resources import delta
from resources.delta import Where
from resources.model.errors import ConfigError
from resources.probes import wait_for
from resources.services.mariadb import Credentials

TABLE = "products"
PRODUCTS_DDL = (f"CREATE TABLE {TABLE} (id INT PRIMARY KEY, name VARCHAR(100) NOT NULL, "
                "price DECIMAL(10,2) NOT NULL, stock INT NOT NULL, updated_at DATETIME(6) NOT NULL)")
MIRROR_SCHEMA = pa.schema([("id", pa.int64()), ("name", pa.string()), ("price", pa.decimal128(10, 2)),
                           ("stock", pa.int64()), ("updated_at", pa.timestamp("us"))])
# binlog_file/binlog_pos/row_index: where the engine saw the change (the key); gtid: the
# transaction's GTID where the engine reports it (Debezium does); engine: who captured it.
BRONZE_SCHEMA = pa.schema([("op", pa.string()), ("pk", pa.int64()), ("before", pa.string()),
                           ("after", pa.string()), ("binlog_file", pa.string()),
                           ("binlog_pos", pa.int64()), ("row_index", pa.int64()),
                           ("gtid", pa.string()), ("engine", pa.string()),
                           ("commit_ts", pa.timestamp("s")), ("captured_at", pa.timestamp("us"))])


class StreamConfigError(ConfigError):
    pass


def _json(values: dict | None) -> str | None:
    if values is None:
        return None
    return json.dumps({k: str(v) if isinstance(v, Decimal) else
                       v.isoformat() if hasattr(v, "isoformat") else v for k, v in values.items()},
                      sort_keys=True)


def position_key(binlog_file: str, binlog_pos: int, row_index: int) -> tuple[int, int, int]:
    return (int(binlog_file.rsplit(".", 1)[-1]), binlog_pos, row_index)


@dataclass(frozen=True)
class Change:
    op: str  # insert | update | delete
    pk: int
    before: dict | None
    after: dict | None
    binlog_file: str
    binlog_pos: int
    row_index: int
    commit_ts: int
    gtid: str | None = None

    @property
    def key(self) -> tuple[int, int, int]:
        return position_key(self.binlog_file, self.binlog_pos, self.row_index)


# A transaction as an engine hands it over: its changes in statement order, and the position just
# after its commit (where a restart may resume).
Transaction = tuple[list[Change], tuple[str, int]]


class CdcStream(ABC):
    """One stream: an engine's reader thread feeding the shared writer thread."""

    engine: str  # binlog | debezium
    default_server_id: int  # a server id for binlog readers of the source; unique per reader

    def __init__(self, creds: Credentials, bronze: Where, mirror: Where, checkpoint: Path,
                 server_id: int):
        self.creds, self.bronze, self.mirror = creds, bronze, mirror
        self.checkpoint = checkpoint
        self.server_id = server_id
        self.errors: list[str] = []  # fatal: the writer stopped
        self.reconnects: list[str] = []  # recovered: the reader lost its source and resumed
        self.stats = {"changes_read": 0, "changes_written": 0, "flushes": 0, "last_flush_s": 0.0}
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._queue: queue.Queue = queue.Queue()
        self._written_key: tuple[int, int, int] | None = None

    # --- what an engine provides -----------------------------------------------------------------

    @abstractmethod
    def _open(self) -> None:
        """Check the source and start reading (before the threads start): raise StreamConfigError
        for a source or a setting this engine cannot work with."""

    @abstractmethod
    def _read(self) -> None:
        """The reader thread: put whole transactions on self._queue until self._stop is set."""

    def _close(self, timeout: float) -> None:
        """After the reader stopped: release what _open started."""

    @abstractmethod
    def restarted(self) -> "CdcStream":
        """A new, unstarted stream of the same engine, tables and checkpoint (a restart)."""

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        self._open()
        self._written_key = self._last_written_key()
        self._stop.clear()
        self._threads = [threading.Thread(target=self._read, daemon=True, name="cdc-reader"),
                         threading.Thread(target=self._write, daemon=True, name="cdc-writer")]
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 15.0) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads = []
        self._close(timeout)

    @property
    def running(self) -> bool:
        return any(thread.is_alive() for thread in self._threads)

    def position(self) -> tuple[str, int] | None:
        if not self.checkpoint.exists():
            return None
        return tuple(json.loads(self.checkpoint.read_text()))

    def wait_for(self, predicate, timeout: float) -> bool:
        def check() -> bool:
            if self.errors:
                raise RuntimeError(f"CDC stream failed: {self.errors[-1]}")
            return predicate()

        return bool(wait_for(check, bool, timeout, interval=0.01))

    # --- writer ----------------------------------------------------------------------------------

    def _write(self) -> None:
        while not (self._stop.is_set() and self._queue.empty()):
            try:
                batch = [self._queue.get(timeout=0.2)]
            except queue.Empty:
                continue
            while not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                self._flush(batch)
            except Exception as exc:
                self.errors.append(f"writer: {type(exc).__name__}: {exc}")
                return

    def _flush(self, transactions: list[Transaction]) -> None:
        started = time.perf_counter()
        changes = [c for tx, _commit in transactions for c in tx
                   if self._written_key is None or c.key > self._written_key]
        commit = transactions[-1][1]  # the position just after the last commit
        if not changes:
            self._save_checkpoint(commit)
            return
        now = pa.scalar(int(time.time() * 1_000_000), pa.timestamp("us"))
        bronze = pa.table({
            "op": [c.op for c in changes], "pk": [c.pk for c in changes],
            "before": [_json(c.before) for c in changes], "after": [_json(c.after) for c in changes],
            "binlog_file": [c.binlog_file for c in changes],
            "binlog_pos": [c.binlog_pos for c in changes],
            "row_index": [c.row_index for c in changes],
            "gtid": pa.array([c.gtid for c in changes], pa.string()),
            "engine": [self.engine] * len(changes),
            "commit_ts": pa.array([c.commit_ts for c in changes], pa.timestamp("s")),
            "captured_at": pa.array([now] * len(changes), pa.timestamp("us")),
        }, schema=BRONZE_SCHEMA)
        # Mirror first: a writer that dies between the two commits replays from its checkpoint, and
        # bronze (what says "written") has not seen the batch, so it is merged again, idempotently.
        # Bronze first lost the batch: the replay was skipped as written, the mirror never got it.
        self._apply_mirror(changes)
        delta.write(self.bronze, bronze, mode="append")
        self._written_key = changes[-1].key
        self._save_checkpoint(commit)
        self.stats["changes_written"] += len(changes)
        self.stats["flushes"] += 1
        self.stats["last_flush_s"] = round(time.perf_counter() - started, 4)

    def _apply_mirror(self, changes: list[Change]) -> None:
        final: dict[int, Change] = {}
        for change in changes:  # commit order: the last change of a key wins
            final[change.pk] = change
        rows = [c.after if c.op != "delete" else {**c.before} for c in final.values()]
        source = pa.table({
            "id": pa.array([r["id"] for r in rows], pa.int64()),
            "name": pa.array([r["name"] for r in rows], pa.string()),
            "price": pa.array([r["price"] for r in rows], pa.decimal128(10, 2)),
            "stock": pa.array([r["stock"] for r in rows], pa.int64()),
            "updated_at": pa.array([r["updated_at"] for r in rows], pa.timestamp("us")),
            "_deleted": pa.array([c.op == "delete" for c in final.values()]),
        })
        columns = {name: f"s.{name}" for name in MIRROR_SCHEMA.names}
        (delta.table(self.mirror)
         .merge(source, predicate="t.id = s.id", source_alias="s", target_alias="t")
         .when_matched_delete(predicate="s._deleted")
         .when_matched_update(updates=columns, predicate="NOT s._deleted")
         .when_not_matched_insert(updates=columns, predicate="NOT s._deleted")
         .execute())

    # --- checkpoint ------------------------------------------------------------------------------

    def _save_checkpoint(self, position: tuple[str, int]) -> None:
        tmp = self.checkpoint.with_suffix(".tmp")
        tmp.write_text(json.dumps(list(position)))
        tmp.replace(self.checkpoint)

    def _last_written_key(self) -> tuple[int, int, int] | None:
        data = delta.read(self.bronze)
        if len(data) == 0:
            return None
        keys = zip(data.column("binlog_file").to_pylist(), data.column("binlog_pos").to_pylist(),
                   data.column("row_index").to_pylist())
        return max(position_key(*key) for key in keys)


def create_tables(bronze: Where, mirror: Where) -> None:
    delta.write(bronze, BRONZE_SCHEMA.empty_table(), mode="error")
    delta.write(mirror, MIRROR_SCHEMA.empty_table(), mode="error")
