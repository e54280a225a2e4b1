"""A CDC stream: MariaDB binlog (mysql-replication) -> Delta bronze table + Delta mirror table.

The reader thread turns row events into change records and hands over whole transactions at each
commit (XidEvent); the writer thread drains everything handed over so far into ONE bronze append and
ONE mirror merge, then checkpoints the binlog position of the last transaction it wrote. Idle, each
transaction lands alone (low latency); under load batches grow (throughput).

Exactly once: every change has a key (binlog file number, event end position, row index). On
restart the stream resumes from the checkpoint and the writer skips keys it already wrote, so the
bronze table never holds a change twice; the mirror apply is an idempotent upsert/delete by key.
"""

import json
import queue
import threading
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
from deltalake import write_deltalake
from pymysqlreplication import BinLogStreamReader
from pymysqlreplication.event import HeartbeatLogEvent, RotateEvent, XidEvent
from pymysqlreplication.row_event import DeleteRowsEvent, UpdateRowsEvent, WriteRowsEvent

from resources import delta
from resources.model.errors import ConfigError
from resources.probes import wait_for
from resources.services.mariadb import DATABASE, Credentials

TABLE = "products"
PRODUCTS_DDL = (f"CREATE TABLE {TABLE} (id INT PRIMARY KEY, name VARCHAR(100) NOT NULL, "
                "price DECIMAL(10,2) NOT NULL, stock INT NOT NULL, updated_at DATETIME(6) NOT NULL)")
MIRROR_SCHEMA = pa.schema([("id", pa.int64()), ("name", pa.string()), ("price", pa.decimal128(10, 2)),
                           ("stock", pa.int64()), ("updated_at", pa.timestamp("us"))])
BRONZE_SCHEMA = pa.schema([("op", pa.string()), ("pk", pa.int64()), ("before", pa.string()),
                           ("after", pa.string()), ("binlog_file", pa.string()),
                           ("binlog_pos", pa.int64()), ("row_index", pa.int64()),
                           ("commit_ts", pa.timestamp("s")), ("captured_at", pa.timestamp("us"))])
REQUIRED = {"log_bin": "ON", "binlog_format": "ROW", "binlog_row_image": "FULL",
            "binlog_row_metadata": "FULL"}


class StreamConfigError(ConfigError):
    pass


def _json(values: dict | None) -> str | None:
    if values is None:
        return None
    return json.dumps({k: str(v) if isinstance(v, Decimal) else
                       v.isoformat() if hasattr(v, "isoformat") else v for k, v in values.items()},
                      sort_keys=True)


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

    @property
    def key(self) -> tuple[int, int, int]:
        return (int(self.binlog_file.rsplit(".", 1)[-1]), self.binlog_pos, self.row_index)


def verify_source(creds: Credentials) -> tuple[str, int]:
    """Refuse a source the stream cannot read correctly, before streaming; return its position."""
    try:
        conn = creds.connect(database=None, connection_timeout=5)
    except Exception as exc:
        raise StreamConfigError(f"cannot log in to {creds.host}:{creds.port} as {creds.user!r}: "
                                f"{exc}; check the CDC user's name and password") from None
    try:
        cursor = conn.cursor()
        cursor.execute("SHOW VARIABLES WHERE Variable_name IN "
                       "('log_bin', 'binlog_format', 'binlog_row_image', 'binlog_row_metadata')")
        found = {name: value.upper() for name, value in cursor.fetchall()}
        wrong = [f"{name}={found.get(name, 'missing')} (needs {want})"
                 for name, want in REQUIRED.items() if found.get(name) != want]
        if wrong:
            raise StreamConfigError(
                f"source {creds.host}:{creds.port} cannot feed a CDC stream: {', '.join(wrong)}; "
                f"set them in its my.cnf (binlog_row_metadata=FULL, else columns arrive as "
                f"UNKNOWN_COL0..n)")
        cursor.execute("SHOW MASTER STATUS")
        log_file, log_pos = cursor.fetchone()[:2]
        return log_file, int(log_pos)
    finally:
        conn.close()


class CdcStream:
    def __init__(self, creds: Credentials, bronze: str, mirror: str, checkpoint: Path,
                 server_id: int = 4242):
        self.creds, self.bronze, self.mirror = creds, bronze, mirror
        self.checkpoint = checkpoint
        self.server_id = server_id
        self.errors: list[str] = []  # fatal: the writer stopped
        self.reconnects: list[str] = []  # recovered: the reader lost its connection and resumed
        self.stats = {"changes_read": 0, "changes_written": 0, "flushes": 0, "last_flush_s": 0.0}
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._queue: queue.Queue = queue.Queue()
        self._written_key: tuple[int, int, int] | None = None
        self._position: tuple[str, int] | None = None

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        current = verify_source(self.creds)
        if not self.checkpoint.exists():
            self._save_checkpoint(current)  # a new stream starts at the source's current position
        self._position = tuple(json.loads(self.checkpoint.read_text()))
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

    @property
    def running(self) -> bool:
        return any(thread.is_alive() for thread in self._threads)

    def position(self) -> tuple[str, int]:
        return tuple(json.loads(self.checkpoint.read_text()))

    def wait_for(self, predicate, timeout: float) -> bool:
        def check() -> bool:
            if self.errors:
                raise RuntimeError(f"CDC stream failed: {self.errors[-1]}")
            return predicate()

        return bool(wait_for(check, bool, timeout, interval=0.01))

    # --- reader ----------------------------------------------------------------------------------

    def _read(self) -> None:
        while not self._stop.is_set():
            log_file, log_pos = self._position
            reader = BinLogStreamReader(
                connection_settings=self.creds.settings(), server_id=self.server_id,
                blocking=True, resume_stream=True, log_file=log_file, log_pos=log_pos,
                only_events=[WriteRowsEvent, UpdateRowsEvent, DeleteRowsEvent, XidEvent,
                             RotateEvent, HeartbeatLogEvent],
                only_schemas=[DATABASE], only_tables=[TABLE], slave_heartbeat=1)
            pending: list[Change] = []
            try:
                for event in reader:
                    if self._stop.is_set():
                        break
                    if isinstance(event, (WriteRowsEvent, UpdateRowsEvent, DeleteRowsEvent)):
                        pending += self._changes(event, reader.log_file, reader.log_pos)
                    elif isinstance(event, XidEvent):
                        self._position = (reader.log_file, reader.log_pos)
                        if pending:
                            self.stats["changes_read"] += len(pending)
                            self._queue.put((pending, self._position))
                        pending = []
            except Exception as exc:  # a dropped connection: reconnect from the last commit read
                self.reconnects.append(f"{type(exc).__name__}: {exc}")
                time.sleep(0.5)
            finally:
                reader.close()

    @staticmethod
    def _changes(event, log_file: str, log_pos: int) -> list[Change]:
        changes = []
        for index, row in enumerate(event.rows):
            if isinstance(event, WriteRowsEvent):
                op, before, after = "insert", None, row["values"]
            elif isinstance(event, UpdateRowsEvent):
                op, before, after = "update", row["before_values"], row["after_values"]
            else:
                op, before, after = "delete", row["values"], None
            changes.append(Change(op, int((after or before)["id"]), before, after, log_file,
                                  log_pos, index, event.timestamp))
        return changes

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

    def _flush(self, transactions: list[tuple[list[Change], tuple[str, int]]]) -> None:
        started = time.perf_counter()
        changes = [c for tx, _commit in transactions for c in tx
                   if self._written_key is None or c.key > self._written_key]
        commit = transactions[-1][1]  # the binlog position just after the last commit
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
            "commit_ts": pa.array([c.commit_ts for c in changes], pa.timestamp("s")),
            "captured_at": pa.array([now] * len(changes), pa.timestamp("us")),
        }, schema=BRONZE_SCHEMA)
        write_deltalake(self.bronze, bronze, mode="append")
        self._apply_mirror(changes)
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
        return max((int(f.rsplit(".", 1)[-1]), p, i) for f, p, i in keys)


def create_tables(bronze: str, mirror: str) -> None:
    write_deltalake(bronze, BRONZE_SCHEMA.empty_table(), mode="error")
    write_deltalake(mirror, MIRROR_SCHEMA.empty_table(), mode="error")
