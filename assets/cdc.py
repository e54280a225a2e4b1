"""MySQL CDC as assets: a real MariaDB source, a CDC stream into Delta, the Delta mirror.

`cdc/mysql_source` deploys MariaDB (binlog ROW/FULL, full row metadata) with `shop.products`;
`cdc/stream` starts the stream for this environment (bronze change table + mirror) on the engine its
config names (`binlog`, the default, `debezium` or `debezium-kafka`); `cdc/products_mirror` is the
mirror. The checks drive real workloads on the source and judge what the stream captured, the same
on every engine.
"""

import threading
import time
from decimal import Decimal
from typing import Literal

from dagster import (
    AssetExecutionContext,
    AssetKey,
    Config,
    MaterializeResult,
    MetadataValue,
    asset,
)
from pydantic import Field

from assets.common import verdict_check
from assets.storage import STORE
from resources import cdc, delta
from resources.criteria import cdc_checks
from resources.environment import Slot, TestbedEnvironment
from resources.model.verdict import Verdict
from resources.services.debezium import DebeziumEngine
from resources.services.kafka import KafkaBroker, KafkaConnect
from resources.services.mariadb import MariaDBServer

SOURCE = AssetKey(["cdc", "mysql_source"])
STREAM = AssetKey(["cdc", "stream"])
MIRROR = AssetKey(["cdc", "products_mirror"])
BUDGET_S = 5.0
# What the assets made, for the checks of the same run.
SOURCE_SLOT: Slot[MariaDBServer] = Slot("cdc/source")
STREAM_SLOT: Slot[cdc.CdcStream] = Slot("cdc/stream")
# Service kinds these assets start (the job's preflight refuses a platform that cannot), and what
# each engine adds (testbed run --cdc-engine checks those before anything starts too).
SERVICES = (MariaDBServer.kind,)
ENGINE_SERVICES = {"binlog": (), "debezium": (DebeziumEngine.kind,),
                   "debezium-kafka": (KafkaBroker.kind, KafkaConnect.kind)}


# Literal, not Enum: Dagster's config shows and takes an Enum's member names, and
# `debezium-kafka` is not a valid name.
Engine = Literal["binlog", "debezium", "debezium-kafka"]


class StreamConfig(Config):
    engine: Engine = Field(
        default="binlog",
        description="What reads the source: `binlog` (mysql-replication in the orchestrator), "
                    "`debezium` (Debezium 3.5's embedded engine in its own JVM) or "
                    "`debezium-kafka` (Debezium in Kafka Connect, through a Kafka 4.1 broker).")
    server_id: int = Field(
        default=0, ge=0, lt=2**32,
        description="The binlog reader's server id, unique among the source's readers; 0 picks "
                    "the engine's default (binlog 4242, debezium 5400, debezium-kafka 5500).")


@asset(key=SOURCE, group_name="cdc", kinds={"mariadb"},
       description="MariaDB 10.11 for this environment: own data dir, port and my.cnf, binlog "
                   "ROW/FULL with binlog_row_metadata=FULL; schema shop.products.")
def mysql_source(context: AssetExecutionContext, testbed: TestbedEnvironment) -> MaterializeResult:
    env = testbed.environment
    server = env.once("mariadb", lambda: env.start(MariaDBServer(env.path / "mariadb")))
    conn = server.app.connect()
    try:
        conn.cursor().execute(cdc.PRODUCTS_DDL)
        conn.commit()
        cursor = conn.cursor()
        cursor.execute("SELECT VERSION()")
        version = cursor.fetchone()[0]
    finally:
        conn.close()
    testbed.remember(SOURCE_SLOT, server)
    return MaterializeResult(metadata={"version": version, "host": server.app.host,
                                       "port": server.port, "table": "shop.products",
                                       "rss_mb": server.rss_mb()})


@asset(key=STREAM, group_name="cdc", deps=[SOURCE, STORE], kinds={"delta"},
       description="The CDC stream for this environment (engine binlog, debezium or "
                   "debezium-kafka): change records land in a bronze Delta table and are applied "
                   "to the mirror, whole transactions at a time; the position is checkpointed per "
                   "flush.")
def stream(context: AssetExecutionContext, config: StreamConfig,
           testbed: TestbedEnvironment) -> MaterializeResult:
    env = testbed.environment
    server = testbed.recall(SOURCE_SLOT)
    name = f"test_{env.state.env_id[-8:]}"
    # In the ledger before anything writes them: a failed start is cleaned up too.
    bronze, mirror = (env.new_table(f"{name}_{part}", owner="cdc") for part in ("bronze", "mirror"))
    cdc.create_tables(bronze, mirror)
    broker = None
    if config.engine == "debezium-kafka":  # holds the topics: outlives restarts of the stream
        broker = env.once("kafka", lambda: env.start(KafkaBroker(env.path / "kafka")))
    running = cdc.open_stream(config.engine, server.cdc, bronze, mirror, env.path / "cdc",
                              server_id=config.server_id or None, launch=env.start,
                              broker=broker)
    started = time.perf_counter()
    running.start()
    env.adopt("cdc stream", "cdc", running.stop)
    testbed.remember(STREAM_SLOT, running)
    file, pos = running.position()
    # The engine's own processes (Debezium's JVM; Kafka Connect and the broker); binlog reads in
    # the orchestrator and has none.
    engines = [p for p in (getattr(running, "engine_process", None), broker) if p is not None]
    return MaterializeResult(metadata={"bronze": MetadataValue.path(bronze.uri),
                                       "engine_rss_mb": round(sum(p.rss_mb() for p in engines), 1),
                                       "mirror": MetadataValue.path(mirror.uri),
                                       "engine": running.engine, "server_id": running.server_id,
                                       "ready_seconds": round(time.perf_counter() - started, 3),
                                       "position": f"{file}:{pos}"})


@asset(key=MIRROR, group_name="cdc", deps=[STREAM], kinds={"delta"},
       description="The Delta mirror of shop.products, kept by the stream (upsert/delete by key).")
def products_mirror(context: AssetExecutionContext, testbed: TestbedEnvironment) -> MaterializeResult:
    running = testbed.recall(STREAM_SLOT)
    return MaterializeResult(metadata={"path": MetadataValue.path(delta.uri(running.mirror)),
                                       "engine": running.engine,
                                       "rows": delta.table(running.mirror).count(),
                                       "stream": str(running.stats),
                                       "reconnects": len(running.reconnects)})


# --- workloads and readings ----------------------------------------------------------------------


def _execute(server, statements: list[tuple[str, tuple]]) -> int:
    """One transaction; returns the number of rows it changed."""
    conn = server.app.connect()
    try:
        cursor, changed = conn.cursor(), 0
        for sql, args in statements:
            cursor.execute(sql, args)
            changed += cursor.rowcount
        conn.commit()
        return changed
    finally:
        conn.close()


def _source_rows(server) -> list[dict]:
    conn = server.app.connect()
    try:
        cursor = conn.cursor(dictionary=True)
        cursor.execute("SELECT id, name, price, stock, updated_at FROM products ORDER BY id")
        return cursor.fetchall()
    finally:
        conn.close()


def _mirror_rows(running) -> list[dict]:
    return delta.read(running.mirror).sort_by("id").to_pylist()


def _captured(running, keys: set[int] | None = None) -> list[tuple[str, int, str]]:
    data = delta.read(running.bronze).to_pylist()
    data.sort(key=lambda r: (int(r["binlog_file"].rsplit(".", 1)[-1]), r["binlog_pos"], r["row_index"]))
    return [(r["op"], r["pk"], f"{r['binlog_file']}:{r['binlog_pos']}#{r['row_index']}")
            for r in data if keys is None or r["pk"] in keys]


def _caught_up(running, written_before: int, changes: int, timeout: float = 30.0) -> None:
    """Wait until the stream has written `changes` more than it had before the workload began
    (counted before: a fast stream may land part of the workload while it still runs)."""
    target = written_before + changes
    if not running.wait_for(lambda: running.stats["changes_written"] >= target, timeout):
        raise TimeoutError(f"stream wrote {running.stats['changes_written']} of {target} changes "
                           f"within {timeout:.0f}s")


def _insert(ids) -> tuple[str, tuple]:
    rows = ", ".join(["(%s, %s, %s, %s, NOW(6))"] * len(ids))
    args = tuple(v for i in ids for v in (i, f"product-{i}", Decimal("9.99") + i, i % 50))
    return f"INSERT INTO products VALUES {rows}", args


# --- checks --------------------------------------------------------------------------------------


def _source_and_stream(testbed: TestbedEnvironment) -> tuple:
    return testbed.recall(SOURCE_SLOT), testbed.recall(STREAM_SLOT)


def _check(asset_key: AssetKey, name: str, description: str):
    """A CDC check: its verdict names the engine that captured what it judged."""

    def decorate(fn):
        def on_engine(testbed, server, running) -> Verdict:
            judged = fn(testbed, server, running)
            return Verdict(judged.passed, f"{running.engine} engine: {judged.message}",
                           {**judged.metadata, "engine": running.engine})

        on_engine.__name__ = fn.__name__
        return verdict_check(asset_key, name, description, _source_and_stream)(on_engine)

    return decorate


@_check(STREAM, "bulk_insert_captured",
        f"Insert 150 rows: all appear in bronze and mirror within {BUDGET_S:.0f}s.")
def bulk_insert_captured(testbed, server, running) -> Verdict:
    ids = list(range(1, 151))
    started = time.perf_counter()
    _execute(server, [_insert(ids)])
    def in_bronze() -> list[int]:  # the writer's second commit: a batch there is in the mirror
        return [pk for op, pk, _ in _captured(running, set(ids)) if op == "insert"]

    running.wait_for(lambda: set(ids) <= set(in_bronze()), BUDGET_S * 2)
    latency = time.perf_counter() - started
    inserted = in_bronze()
    return cdc_checks.bulk_insert_captured(
        ids, inserted, [r["id"] for r in _mirror_rows(running)], latency, BUDGET_S)


@_check(STREAM, "transaction_order_preserved",
        "A mixed INSERT/UPDATE/DELETE transaction, and two concurrent transactions committing in "
        "the opposite order to their start: changes appear in commit order, statement order "
        "within a transaction.")
def transaction_order_preserved(testbed, server, running) -> Verdict:
    written_before = running.stats["changes_written"]
    changed = _execute(server, [
        _insert([1001, 1002]),
        ("UPDATE products SET stock = stock + 5 WHERE id = %s", (1001,)),
        ("DELETE FROM products WHERE id = %s", (1002,)),
        _insert([1003])])
    expected = [("insert", 1001), ("insert", 1002), ("update", 1001), ("delete", 1002),
                ("insert", 1003)]
    # A starts first, B commits first: the binlog (and so the stream) orders by commit.
    a, b = server.app.connect(), server.app.connect()
    try:
        a.cursor().execute(*_insert([2001]))
        b.cursor().execute(*_insert([2002]))
        b.commit()
        a.commit()
    finally:
        a.close()
        b.close()
    expected += [("insert", 2002), ("insert", 2001)]
    _caught_up(running, written_before, changed + 2)
    keys = {pk for _op, pk in expected}
    return cdc_checks.transaction_order_preserved(expected, _captured(running, keys))


def _mixed_workload(server) -> int:
    changed = _execute(server, [("UPDATE products SET price = price * 2, updated_at = NOW(6) "
                                 "WHERE id BETWEEN 10 AND 40", ())])
    changed += _execute(server, [("DELETE FROM products WHERE id BETWEEN 41 AND 50", ())])
    changed += _execute(server, [_insert(range(3000, 3020))])
    return changed


@_check(MIRROR, "mirror_matches_source",
        "After a mixed workload the Delta mirror equals SELECT * FROM products row for row "
        "(keys, all columns, decimals and timestamps exact).")
def mirror_matches_source(testbed, server, running) -> Verdict:
    written_before = running.stats["changes_written"]
    _caught_up(running, written_before, _mixed_workload(server))
    return cdc_checks.mirror_matches_source(_source_rows(server), _mirror_rows(running))


@_check(MIRROR, "resume_without_loss",
        "Stop the stream mid-workload, write more, restart from the checkpoint: the mirror equals "
        "the source and no binlog position is captured twice.")
def resume_without_loss(testbed, server, running) -> Verdict:
    writer = threading.Thread(target=lambda: [
        _execute(server, [_insert([4000 + i])]) for i in range(40)])
    writer.start()
    time.sleep(0.05)
    running.stop()  # mid-workload
    writer.join()
    _execute(server, [("UPDATE products SET stock = stock + 1 WHERE id >= 4000", ())])
    restarted = running.restarted()
    restarted.start()
    testbed.environment.adopt("cdc stream (restarted)", "cdc", restarted.stop)
    testbed.remember(STREAM_SLOT, restarted)
    source = _source_rows(server)
    want = {r["id"]: r for r in source}
    restarted.wait_for(lambda: {r["id"]: r for r in _mirror_rows(restarted)} == want, 30)
    positions = [pos for _op, _pk, pos in _captured(restarted)]
    return cdc_checks.resume_without_loss(source, _mirror_rows(restarted), positions)


def build() -> tuple[list, list]:
    return ([mysql_source, stream, products_mirror],
            [bulk_insert_captured, transaction_order_preserved, mirror_matches_source,
             resume_without_loss])

