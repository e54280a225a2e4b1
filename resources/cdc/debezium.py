"""The Debezium engine: the embedded engine runs as its own JVM (resources/services/debezium.py)
and appends change events to a file per run; this reader tails those files.

Durability works like a log: the engine writes each batch to its file before it marks the batch
processed (its offsets), and the writer lands in Delta only what it read from the files. So the
files hold everything the engine ever confirmed, and a restarted stream first reads the earlier
runs' files (the writer drops changes it already wrote, by position) before it follows the new run.
A change is never lost between the engine's offsets and the Delta tables, and never written twice.

Transactions: with `provide.transaction.metadata` each transaction ends with an END marker that
counts its events; changes are grouped by transaction id and handed over at END, so the mirror never
shows half a transaction. After a crash the engine may resume in the middle of a transaction (its
offsets count events inside it): the rest arrives in the next run's file without a BEGIN, and joins
the part read from the previous file under the same id.
"""

import datetime as dt
import json
import re
import time
from abc import abstractmethod
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pyarrow as pa

from resources.cdc.source import Needs, claim, release, verify_source
from resources.cdc.stream import (
    MIRROR_SCHEMA,
    TABLE,
    CdcStream,
    Change,
    StreamConfigError,
)
from resources.delta import Where, table_name
from resources.probes import wait_until
from resources.processes import tail
from resources.services.debezium import DebeziumEngine
from resources.services.mariadb import DATABASE, Credentials

# No binlog_row_metadata: Debezium keeps its own schema history (hence SELECT on the table).
NEEDS = Needs("debezium", {"log_bin": "ON", "binlog_format": "ROW", "binlog_row_image": "FULL"},
              select_on=f"{DATABASE}.{TABLE}")
OPS = {"c": "insert", "r": "insert", "u": "update", "d": "delete"}
EPOCH = dt.datetime(1970, 1, 1)
TAIL_INTERVAL = 0.005  # seconds between looks at a file with nothing new (latency floor)


def _row(values: dict | None) -> dict | None:
    """Debezium's JSON (decimals as strings, DATETIME(6) as microseconds) as the Python values the
    binlog engine gives, so both feed one writer."""
    if values is None:
        return None
    row = dict(values)
    for field in MIRROR_SCHEMA:
        value = row.get(field.name)
        if value is None:
            continue
        if pa.types.is_decimal(field.type):
            row[field.name] = Decimal(value)
        elif pa.types.is_timestamp(field.type):
            row[field.name] = EPOCH + dt.timedelta(microseconds=int(value))
    return row


def classify(topic: str, value: dict) -> tuple[str, dict] | None:
    """("begin"|"end"|"change", value) for one Debezium event; None for other topics."""
    if topic.endswith(".transaction"):
        return value["status"].lower(), value
    if topic.endswith(f".{DATABASE}.{TABLE}"):
        return "change", value
    return None


def to_change(value: dict) -> Change:
    src = value["source"]
    before, after = _row(value.get("before")), _row(value.get("after"))
    return Change(OPS[value["op"]], int((after or before)["id"]), before, after, src["file"],
                  int(src["pos"]), int(src["row"]), int(src["ts_ms"]) // 1000,
                  gtid=src.get("gtid"))


DURABLE_TIMEOUT = 30.0


def wait_durable(offsets: Path, engine) -> None:
    """Until the engine has committed a first offset (heartbeats commit them on a quiet table).

    With no offsets, a restarted engine starts at the source's current position (snapshot mode
    no_data): whatever was committed between the first start and a crash would be lost.
    """
    def committed() -> bool:
        return offsets.exists() and offsets.stat().st_size > 0

    wait_until(lambda: committed() or not engine.running(), DURABLE_TIMEOUT, interval=0.05)
    if committed():
        return
    raise StreamConfigError(f"{engine.name} committed no offsets to {offsets} within "
                            f"{DURABLE_TIMEOUT:.0f}s of streaming; its log ends:\n"
                            f"{tail(engine.log_file, 8)}")


class Assembler:
    """Debezium's events -> whole transactions, handed over in commit order.

    An END marker names its transaction and counts its events; the transaction is handed over once
    that many distinct changes of it were seen (by position), and only after every transaction that
    ended before it (the writer drops anything at or below the last position it wrote, so order is
    what makes the dedupe safe). Events may arrive in any order across topics (Kafka: data and
    transaction markers are separate topics) and may repeat (a run resumed from its offsets).
    """

    def __init__(self, hand_over: Callable[[list[Change]], None]):
        self.hand_over = hand_over
        self.pending: dict[str, dict[tuple, Change]] = {}  # transaction id -> key -> change
        self.ends: list[tuple[str, int]] = []  # ended, not yet handed over, in commit order
        self.done: set[str] = set()  # handed over: a repeat of them is dropped
        self.repeated = 0  # changes seen again after a restart (dropped here, or by the writer)

    def event(self, kind: str, value: dict) -> None:
        if kind == "change":
            transaction = value["transaction"]["id"]
            change = to_change(value)
            if transaction in self.done:
                self.repeated += 1
                return
            changes = self.pending.setdefault(transaction, {})
            self.repeated += change.key in changes
            changes[change.key] = change
        elif kind == "end" and value["id"] not in self.done and \
                value["id"] not in (t for t, _count in self.ends):
            self.ends.append((value["id"], int(value["event_count"])))
        while self.ends:
            transaction, count = self.ends[0]
            changes = self.pending.get(transaction, {})
            if len(changes) < count:
                return  # its changes are still on the way
            self.ends.pop(0)
            self.done.add(transaction)
            self.pending.pop(transaction, None)
            if changes:
                self.hand_over([changes[key] for key in sorted(changes)])

    def waiting(self) -> str:
        if not self.ends:
            return "nothing"
        transaction, count = self.ends[0]
        return (f"transaction {transaction}: {len(self.pending.get(transaction, {}))} of its "
                f"{count} changes seen")


class EngineProcessStream(CdcStream):
    """A stream whose engine is a process of its own (a service the stream starts through launch):
    started before the reader, restarted from its offsets when it dies, and stopped FIRST on stop,
    so that everything it confirmed is read before the threads end. Subclasses say how to start
    it (`_start_engine`) and how to read what it delivers (`_read`, into self.assembler)."""

    needs = NEEDS

    def __init__(self, creds: Credentials, bronze: Where, mirror: Where, checkpoint: Path,
                 server_id: int, root: Path, launch: Callable[[object], object] | None,
                 what: str):
        super().__init__(creds, bronze, mirror, checkpoint, server_id)
        self.root = root  # the engine's offsets, schema history, logs
        self._launch = launch or (lambda service: service.start())
        self._holder = f"{what} into {table_name(bronze)}"
        self.engine_process = None  # the running engine service
        self.assembler = Assembler(self._hand_over)
        self._finishing = False

    @abstractmethod
    def _start_engine(self) -> None:
        """Start the engine (a new run, self.engine_process) and return once it streams."""

    def _start_durably(self) -> None:
        """A run counts as started only once its engine committed an offset (wait_durable)."""
        self._start_engine()
        wait_durable(self.engine_process.offsets, self.engine_process)

    def _before_start(self) -> None:
        """What the engine needs before its first start (topics, say)."""

    def _open(self) -> None:
        current = verify_source(self.creds, self.needs, self.server_id)
        claim(self.server_id, self._holder, self.creds)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            if not self.checkpoint.exists():
                self._save_checkpoint(current)
            self._before_start()
            self._start_durably()
        except BaseException:
            if self.engine_process is not None and self.engine_process.running():
                self.engine_process.stop(10)
            release(self.server_id, self._holder)
            raise

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the engine first (it writes out and confirms what it has), then let the reader
        take everything it delivered, then stop the threads (the writer drains what was handed
        over)."""
        self._finishing = True
        if self.engine_process is not None:
            self.engine_process.stop(timeout)
        if self._threads:
            self._threads[0].join(timeout)  # the reader ends once it took everything delivered
        super().stop(timeout)

    def _close(self, timeout: float) -> None:
        if self.engine_process is not None and self.engine_process.running():
            self.engine_process.stop(timeout)
        release(self.server_id, self._holder)

    def _restart_engine(self) -> None:
        """The engine died (a crash, a kill, a failed source): a new run resumes from its
        committed offsets and may repeat what the dead one delivered but had not confirmed."""
        engine = self.engine_process
        self.reconnects.append(f"{engine.name} exited; restarting from its offsets. Its log "
                               f"ends: {tail(engine.log_file, 3)}")
        while not (self._stop.is_set() or self._finishing):
            try:
                self._start_durably()
                return
            except Exception as exc:
                self.reconnects.append(f"restarting {engine.name} failed: {exc}")
                time.sleep(1.0)

    def _hand_over(self, changes: list[Change]) -> None:
        self.stats["changes_read"] += len(changes)
        last = changes[-1]
        self._queue.put((changes, (last.binlog_file, last.binlog_pos)))


class DebeziumStream(EngineProcessStream):
    engine = "debezium"
    default_server_id = 5400

    def __init__(self, creds: Credentials, bronze: Where, mirror: Where, checkpoint: Path,
                 server_id: int = 5400, root: Path | None = None,
                 launch: Callable[[DebeziumEngine], object] | None = None):
        super().__init__(creds, bronze, mirror, checkpoint, server_id,
                         root or checkpoint.parent / "debezium", launch, "the Debezium stream")

    def restarted(self) -> "DebeziumStream":
        return DebeziumStream(self.creds, self.bronze, self.mirror, self.checkpoint,
                              self.server_id, self.root, self._launch)

    # --- the engine process ----------------------------------------------------------------------

    def _runs(self) -> list[int]:
        return sorted(int(m.group(1)) for path in self.root.glob("events-*.jsonl")
                      if (m := re.fullmatch(r"events-(\d+)\.jsonl", path.name)))

    def _start_engine(self) -> None:
        run = (self._runs() or [-1])[-1] + 1
        engine = DebeziumEngine(self.root, self.creds.host, self.creds.port, self.creds.user,
                                self.creds.password, self.server_id, DATABASE, TABLE, run=run)
        self.engine_process = engine
        self._launch(engine)

    # --- reader ----------------------------------------------------------------------------------

    def _read(self) -> None:
        current = self.engine_process
        for run in self._runs():  # earlier runs first: what they confirmed may not be in Delta
            if current is not None and current.events.name == f"events-{run}.jsonl":
                break
            with open(self.root / f"events-{run}.jsonl", encoding="utf-8") as events:
                self._take(events, follow=False)
        while not self._stop.is_set():
            engine = self.engine_process
            with open(engine.events, encoding="utf-8") as events:
                self._take(events, follow=True)
            if self._finishing or self._stop.is_set():
                return
            self._restart_engine()  # its file is complete; the next run writes its own

    def _take(self, events, follow: bool) -> None:
        """Read lines into transactions; with follow, keep tailing while the engine runs."""
        partial = ""
        engine = self.engine_process
        idle_checks = 0
        while True:
            chunk = events.readline()
            if chunk:
                partial += chunk
                if partial.endswith("\n"):
                    self._event(partial)
                    partial = ""
                continue
            if not follow or self._stop.is_set():
                return
            if engine.running():
                time.sleep(TAIL_INTERVAL)
                continue
            # The process is gone: one more pass picks up its last flushed lines.
            idle_checks += 1
            if idle_checks > 1:
                return

    def _event(self, line: str) -> None:
        event = json.loads(line)  # {"topic": ..., "value": ...}, as TestbedEngine writes it
        parsed = classify(event["topic"], event["value"])
        if parsed is not None:
            self.assembler.event(*parsed)
