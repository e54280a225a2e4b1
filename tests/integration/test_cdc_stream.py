"""The CDC stream against a real MariaDB: bad sources are refused before streaming, and a dropped
connection or a restart loses nothing and duplicates nothing."""

import re

import mysql.connector
import pytest

from assets.cdc import _captured, _execute, _insert, _mirror_rows, _source_rows
from resources import cdc
from resources.criteria import cdc_checks
from resources.services.mariadb import Credentials, MariaDBServer


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


@pytest.fixture
def stream(source, state_dir):
    bronze, mirror = str(state_dir / "bronze"), str(state_dir / "mirror")
    cdc.create_tables(bronze, mirror)
    running = cdc.CdcStream(source.cdc, bronze, mirror, state_dir / "checkpoint.json")
    running.start()
    yield running
    running.stop()


def test_wrong_credentials_are_refused_before_streaming(source):
    wrong = Credentials("cdc", "not-the-password", source.cdc.host, source.cdc.port)
    with pytest.raises(cdc.StreamConfigError, match=r"cannot log in to 127.0.0.1:\d+ as 'cdc'.*check the CDC user"):
        cdc.verify_source(wrong)


@pytest.mark.parametrize("variable, value, says", [
    ("binlog_row_metadata", "MINIMAL", "binlog_row_metadata=MINIMAL (needs FULL)"),
    ("binlog_format", "STATEMENT", "binlog_format=STATEMENT (needs ROW)"),
    ("binlog_row_image", "MINIMAL", "binlog_row_image=MINIMAL (needs FULL)"),
])
def test_a_source_without_full_row_binlog_is_refused(source, variable, value, says):
    root_sql(source, f"SET GLOBAL {variable} = '{value}'")
    with pytest.raises(cdc.StreamConfigError,
                       match=rf"cannot feed a CDC stream: .*{re.escape(says)}.*UNKNOWN_COL"):
        cdc.verify_source(source.cdc)


def test_missing_server_binaries_name_the_packages(monkeypatch):
    from resources.services import mariadb

    monkeypatch.setattr(mariadb.shutil, "which", lambda *_a, **_k: None)
    with pytest.raises(mariadb.ConfigError, match="apt-get install --no-install-recommends mariadb-server-core"):
        mariadb.find_binaries()


def test_dropped_connection_and_restart_lose_and_duplicate_nothing(source, stream):
    _execute(source, [_insert(range(1, 151))])
    assert stream.wait_for(lambda: stream.stats["changes_written"] >= 150, 10)
    # Drop the replication connection under the reader: mysql-replication reconnects at its
    # position (our loop restarts from the last commit if the error surfaces instead).
    conn = mysql.connector.connect(unix_socket=source.socket, user="root")
    cursor = conn.cursor()
    cursor.execute("SELECT id FROM information_schema.processlist WHERE user = 'cdc'")
    for (thread_id,) in cursor.fetchall():
        cursor.execute(f"KILL {thread_id}")
    conn.close()
    _execute(source, [("UPDATE products SET stock = stock + 1 WHERE id <= 20", ())])
    assert stream.wait_for(lambda: stream.stats["changes_written"] >= 170, 20), stream.errors
    assert stream.errors == []
    stream.stop()
    _execute(source, [("DELETE FROM products WHERE id > 140", ())])
    restarted = cdc.CdcStream(source.cdc, stream.bronze, stream.mirror, stream.checkpoint)
    restarted.start()
    try:
        want = _source_rows(source)
        assert restarted.wait_for(lambda: _mirror_rows(restarted) == want, 20)
    finally:
        restarted.stop()
    positions = [pos for _op, _pk, pos in _captured(restarted)]
    verdict = cdc_checks.resume_without_loss(want, _mirror_rows(restarted), positions)
    assert verdict.passed, verdict.message
    assert len(positions) == 150 + 20 + 10
