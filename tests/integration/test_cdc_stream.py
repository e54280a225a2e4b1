"""The CDC stream against a real MariaDB, on each engine (binlog, debezium, debezium-kafka): bad
sources and settings are refused before streaming, a dropped connection, a killed engine or a
restart loses nothing and duplicates nothing, and every CDC check fails on tampered real output."""

import os
import re
import signal
import tempfile
import threading
from pathlib import Path

import mysql.connector
import pyarrow.compute as pc
import pytest
from deltalake import DeltaTable, write_deltalake

from assets.cdc import _captured, _execute, _insert, _mirror_rows, _source_rows
from resources import cdc, delta
from resources.criteria import cdc_checks
from resources.services.kafka import KafkaBroker
from resources.services.mariadb import Credentials, MariaDBServer

ENGINES = list(cdc.ENGINES)


@pytest.fixture
def source(state_dir):
    root = state_dir / "mariadb"
    server = MariaDBServer(root)
    process = server.start()
    conn = server.app.connect()
    conn.cursor().execute(cdc.PRODUCTS_DDL)
    conn.commit()
    conn.close()
    yield server
    process.stop(10)


def root_sql(server, sql: str) -> None:
    conn = mysql.connector.connect(unix_socket=server.socket, user="root")
    conn.cursor().execute(sql)
    conn.close()


@pytest.fixture(scope="module")
def kafka(state_root):
    """One broker for the module's debezium-kafka streams: each has its own topics, as connectors
    share a cluster."""
    broker = KafkaBroker(Path(tempfile.mkdtemp(prefix="kafka-", dir=state_root)))
    broker.start()
    yield broker
    broker.stop(10)


def open_stream(engine, source, state_dir, **kwargs):
    bronze, mirror = str(state_dir / "bronze"), str(state_dir / "mirror")
    if not os.path.exists(bronze):
        cdc.create_tables(bronze, mirror)
    return cdc.open_stream(engine, source.cdc, bronze, mirror, state_dir / "stream", **kwargs)


@pytest.fixture(params=ENGINES)
def stream(request, source, state_dir):
    broker = request.getfixturevalue("kafka") if request.param == "debezium-kafka" else None
    running = open_stream(request.param, source, state_dir, broker=broker)
    running.start()
    yield running
    running.stop()


def test_wrong_credentials_are_refused_before_streaming(source):
    wrong = Credentials("cdc", "not-the-password", source.cdc.host, source.cdc.port)
    with pytest.raises(cdc.StreamConfigError, match=r"cannot log in to 127.0.0.1:\d+ as 'cdc'.*check the CDC user"):
        cdc.verify_source(wrong, cdc.BinlogStream.needs, 4242)


@pytest.mark.parametrize("engine, variable, value, says", [
    ("binlog", "binlog_row_metadata", "MINIMAL", "binlog_row_metadata=MINIMAL (needs FULL)"),
    ("binlog", "binlog_format", "STATEMENT", "binlog_format=STATEMENT (needs ROW)"),
    ("binlog", "binlog_row_image", "MINIMAL", "binlog_row_image=MINIMAL (needs FULL)"),
    ("debezium", "binlog_format", "MIXED", "binlog_format=MIXED (needs ROW)"),
    ("debezium", "binlog_row_image", "NOBLOB", "binlog_row_image=NOBLOB (needs FULL)"),
])
def test_a_source_without_full_row_binlog_is_refused(source, state_dir, engine, variable, value,
                                                     says):
    root_sql(source, f"SET GLOBAL {variable} = '{value}'")
    running = open_stream(engine, source, state_dir)
    with pytest.raises(cdc.StreamConfigError,
                       match=rf"cannot feed a {engine} CDC stream: .*{re.escape(says)}.*my.cnf"):
        running.start()
    assert not list((state_dir / "stream").glob("debezium/events-*"))  # no engine started


def test_debezium_tolerates_minimal_row_metadata(source, state_dir):
    """binlog_row_metadata is the binlog engine's need only (Debezium keeps a schema history)."""
    root_sql(source, "SET GLOBAL binlog_row_metadata = 'MINIMAL'")
    cdc.verify_source(source.cdc, cdc.DebeziumStream.needs, 5400)
    with pytest.raises(cdc.StreamConfigError, match="binlog_row_metadata=MINIMAL"):
        cdc.verify_source(source.cdc, cdc.BinlogStream.needs, 4242)


@pytest.mark.parametrize("engine, revoke, says", [
    ("debezium", "SELECT ON shop.*", "lacks SELECT ON shop.products, which the debezium engine "
                                     "needs; run: GRANT SELECT ON shop.* TO 'cdc'@'127.0.0.1'"),
    ("binlog", "REPLICATION SLAVE ON *.*", "lacks REPLICATION SLAVE, which the binlog engine "
                                           "needs; run: GRANT REPLICATION SLAVE ON *.*"),
    ("debezium", "BINLOG MONITOR ON *.*", "lacks BINLOG MONITOR, which the debezium engine needs"),
])
def test_missing_grants_are_named_with_the_grant_to_run(source, state_dir, engine, revoke, says):
    root_sql(source, f"REVOKE {revoke} FROM 'cdc'@'127.0.0.1'")
    running = open_stream(engine, source, state_dir)
    with pytest.raises(cdc.StreamConfigError, match=re.escape(says)):
        running.start()


def test_the_binlog_engine_needs_no_select(source, state_dir):
    root_sql(source, "REVOKE SELECT ON shop.* FROM 'cdc'@'127.0.0.1'")
    cdc.verify_source(source.cdc, cdc.BinlogStream.needs, 4242)


def test_a_server_id_in_use_is_refused_before_streaming(source, state_dir):
    conn = mysql.connector.connect(unix_socket=source.socket, user="root")
    cursor = conn.cursor()
    cursor.execute("SELECT @@server_id")
    own = cursor.fetchone()[0]
    conn.close()
    with pytest.raises(cdc.StreamConfigError, match=rf"server_id {own} is the server id of source "
                                                    rf"127.0.0.1:\d+ itself; give the stream another"):
        open_stream("debezium", source, state_dir, server_id=own).start()
    first = open_stream("binlog", source, state_dir, server_id=7001)
    first.start()
    try:
        with pytest.raises(cdc.StreamConfigError,
                           match=r"server_id 7001 is in use by the binlog stream into bronze .*"
                                 r"kick each other off"):
            open_stream("debezium", source, state_dir / "other", server_id=7001).start()
        assert first.running and first.errors == []
    finally:
        first.stop()
    # Released on stop: the id may be used again.
    again = open_stream("debezium", source, state_dir, server_id=7001)
    again.start()
    again.stop()


def test_missing_server_binaries_name_the_packages(monkeypatch):
    from resources.services import mariadb

    monkeypatch.setattr(mariadb.shutil, "which", lambda *_a, **_k: None)
    with pytest.raises(mariadb.ConfigError, match="apt-get install --no-install-recommends mariadb-server-core"):
        mariadb.find_binaries()


def test_a_missing_debezium_or_kafka_install_names_make_setup(monkeypatch, tmp_path):
    from resources.services import debezium, kafka

    monkeypatch.setattr(debezium, "debezium_dir", lambda: tmp_path)
    with pytest.raises(debezium.ConfigError, match=r"Debezium 3.5.0.Final engine is not installed "
                                                   r".*run make setup"):
        debezium.DebeziumEngine.check_installed()
    monkeypatch.setattr(kafka, "kafka_dir", lambda: tmp_path)
    with pytest.raises(kafka.ConfigError, match=r"Kafka 4.1.1 is not installed .*run make setup"):
        kafka.KafkaBroker.check_installed()


def test_debezium_kafka_without_a_broker_is_refused(source, state_dir):
    with pytest.raises(cdc.StreamConfigError, match="debezium-kafka engine needs a running Kafka "
                                                    "broker"):
        open_stream("debezium-kafka", source, state_dir)
    with pytest.raises(cdc.StreamConfigError, match="unknown CDC engine 'kafka': choose one of "
                                                    "binlog, debezium, debezium-kafka"):
        open_stream("kafka", source, state_dir)


@pytest.mark.parametrize("stream", ["binlog", "debezium"], indirect=True)  # Kafka Connect runs
def test_dropped_connection_and_restart_lose_and_duplicate_nothing(source, stream):  # the same
    # binlog client as the embedded engine; its restart is in the e2e job and the SIGKILL test
    _execute(source, [_insert(range(1, 151))])
    assert stream.wait_for(lambda: stream.stats["changes_written"] >= 150, 10)
    # Drop the replication connection under the reader: each engine reconnects at its position
    # (mysql-replication from our last commit, Debezium's binlog client from its offsets).
    conn = mysql.connector.connect(unix_socket=source.socket, user="root")
    cursor = conn.cursor()
    cursor.execute("SELECT id FROM information_schema.processlist WHERE user = 'cdc'")
    for (thread_id,) in cursor.fetchall():
        cursor.execute(f"KILL {thread_id}")
    conn.close()
    _execute(source, [("UPDATE products SET stock = stock + 1 WHERE id <= 20", ())])
    assert stream.wait_for(lambda: stream.stats["changes_written"] >= 170, 30), stream.errors
    assert stream.errors == []
    stream.stop()
    _execute(source, [("DELETE FROM products WHERE id > 140", ())])
    restarted = stream.restarted()
    restarted.start()
    try:
        want = _source_rows(source)
        assert restarted.wait_for(lambda: _mirror_rows(restarted) == want, 30)
    finally:
        restarted.stop()
    positions = [pos for _op, _pk, pos in _captured(restarted)]
    verdict = cdc_checks.resume_without_loss(want, _mirror_rows(restarted), positions)
    assert verdict.passed, verdict.message
    assert len(positions) == 150 + 20 + 10
    assert set(delta.read(restarted.bronze).column("engine").to_pylist()) == {stream.engine}


@pytest.mark.parametrize("engine", ["debezium", "debezium-kafka"])
def test_sigkill_of_the_debezium_engine_mid_workload_loses_and_duplicates_nothing(
        request, source, state_dir, engine):
    """Killed without its shutdown hook, the engine (or Kafka Connect) has not confirmed its last
    batches: the restarted run publishes them again, and they are dropped by position."""
    broker = request.getfixturevalue("kafka") if engine == "debezium-kafka" else None
    running = open_stream(engine, source, state_dir, broker=broker)
    running.start()
    def transactions(first_id: int, count: int) -> None:
        for i in range(first_id, first_id + count):
            _execute(source, [_insert([i]), ("UPDATE products SET stock = stock + 1 "
                                             "WHERE id = %s", (i,))])

    try:
        first = running.engine_process
        writer = threading.Thread(target=transactions, args=(4000, 150))
        writer.start()
        assert running.wait_for(lambda: running.stats["changes_written"] >= 20, 20)
        os.kill(first.process.pid, signal.SIGKILL)  # no shutdown hook: offsets not flushed
        writer.join()
        first.process.executor.process.wait(10)
        transactions(5000, 20)  # certainly after the kill: only a restarted run can deliver these
        want = _source_rows(source)
        assert running.wait_for(lambda: _mirror_rows(running) == want, 60), running.reconnects
        assert running.engine_process is not first and running.engine_process.running()
        assert any("exited; restarting from its offsets" in r for r in running.reconnects)
    finally:
        running.stop()
    positions = [pos for _op, _pk, pos in _captured(running)]
    verdict = cdc_checks.resume_without_loss(want, _mirror_rows(running), positions)
    assert verdict.passed, verdict.message
    assert len(positions) == 2 * (150 + 20)
    assert running.stats["changes_written"] == 340  # what was repeated never reached the writer
    if engine == "debezium":  # each run writes its own file: both are there
        assert len(list((state_dir / "stream" / "debezium").glob("events-*.jsonl"))) == 2


# --- every check fails on tampered real output, on each engine ---------------------------------


def _tamper(table: str, predicate: str, updates: dict[str, str]) -> None:
    DeltaTable(table).update(predicate=predicate, updates=updates)


def test_checks_fail_on_tampered_output(source, stream):
    ids = list(range(1, 151))
    _execute(source, [_insert(ids)])
    _execute(source, [_insert([1001, 1002]), ("UPDATE products SET stock = 7 WHERE id = %s", (1001,)),
                      ("DELETE FROM products WHERE id = %s", (1002,))])
    want = _source_rows(source)
    assert stream.wait_for(lambda: _mirror_rows(stream) == want, 20)
    stream.stop()
    expected = [("insert", 1001), ("insert", 1002), ("update", 1001), ("delete", 1002)]
    assert cdc_checks.transaction_order_preserved(expected, _captured(stream, {1001, 1002})).passed

    # A dropped event: the insert of key 17 vanishes from bronze.
    DeltaTable(stream.bronze).delete("pk = 17 AND op = 'insert'")
    inserted = [pk for op, pk, _ in _captured(stream, set(ids)) if op == "insert"]
    dropped = cdc_checks.bulk_insert_captured(ids, inserted, [r["id"] for r in _mirror_rows(stream)],
                                              0.2, 5)
    assert not dropped.passed
    assert "1 of 150 inserts missing from the bronze table (ids [17])" in dropped.message

    # Swapped order: the update of 1001 now sits before its insert.
    rows = {r["op"]: r for r in delta.read(stream.bronze).to_pylist() if r["pk"] == 1001}
    insert_at, update_at = rows["insert"]["binlog_pos"], rows["update"]["binlog_pos"]
    _tamper(stream.bronze, "pk = 1001 AND op = 'insert'", {"binlog_pos": str(update_at + 1)})
    swapped = cdc_checks.transaction_order_preserved(expected, _captured(stream, {1001, 1002}))
    assert not swapped.passed
    assert re.search(r"change #0 at mysql-bin\.\d+:\d+#\d+ is insert of key 1002, expected insert "
                     r"of key 1001", swapped.message), swapped.message
    _tamper(stream.bronze, "pk = 1001 AND op = 'insert'", {"binlog_pos": str(insert_at)})

    # A duplicate: one change captured twice.
    bronze = delta.read(stream.bronze)
    write_deltalake(stream.bronze, bronze.filter(pc.equal(bronze["pk"], 5)), mode="append")
    duplicated = cdc_checks.resume_without_loss(want, _mirror_rows(stream),
                                                [pos for *_x, pos in _captured(stream)])
    assert not duplicated.passed and re.search(r"mysql-bin\.\d+:\d+#\d+ captured 2 times",
                                               duplicated.message)

    # A wrong value in the mirror.
    _tamper(stream.mirror, "id = 3", {"stock": "999"})
    wrong = cdc_checks.mirror_matches_source(want, _mirror_rows(stream))
    assert not wrong.passed and "key 3 differs: stock source=3 mirror=999" in wrong.message
