"""The cdc job on the Debezium engines (embedded, and Kafka Connect + a Kafka broker): every CDC
check passes on real Debezium + MariaDB, the checks name the engine, and nothing is left: no JVM,
port, offset file, events file or topic data. A stream refused before streaming (a server id taken
by the source) fails the run and leaves nothing. (binlog runs in the test_infrastructure job.)"""

import re

import mysql.connector
import pytest

from pipelines.definitions import defs
from tests.conftest import LeakWatch, run_ephemeral

CDC_CHECKS = {"bulk_insert_captured", "transaction_order_preserved", "mirror_matches_source",
              "resume_without_loss"}


def _run(state_dir, **stream):
    return run_ephemeral(
        defs.resolve_job_def("cdc"), raise_on_error=False,
        run_config={"resources": {"testbed": {"config": {"state_dir": str(state_dir)}}},
                    "ops": {"cdc__stream": {"config": stream}}})


def _checks(result) -> dict[str, tuple[bool, str]]:
    return {e.check_name: (e.passed, e.description or "")
            for e in result.get_asset_check_evaluations()}


@pytest.mark.e2e
@pytest.mark.parametrize("engine", ["debezium", "debezium-kafka"])
def test_debezium_engines_pass_every_cdc_check_and_leave_nothing(state_dir, engine):
    watch = LeakWatch(state_dir)
    result = _run(state_dir, engine=engine)
    checks = _checks(result)
    assert result.success, checks
    assert CDC_CHECKS <= set(checks)
    for name in CDC_CHECKS:
        passed, message = checks[name]
        assert passed and message.startswith(f"{engine} engine: "), (name, message)
    stream = next(m for m in (e.step_materialization_data.materialization
                              for e in result.get_asset_materialization_events())
                  if m.asset_key.to_user_string() == "cdc/stream")
    assert stream.metadata["engine"].value == engine
    assert stream.metadata["engine_rss_mb"].value > 50  # the engine's JVM(s), plottable
    assert watch.leaks() == []
    left = [p for pattern in ("offsets.dat", "connect.offsets", "events-*.jsonl", "*.log")
            for p in state_dir.rglob(pattern)]
    topic_data = list(state_dir.rglob("*.shop.products-*"))  # a partition dir: cdc_<hex>.shop.products-0
    assert left == [] and topic_data == []


@pytest.mark.e2e
def test_a_refused_stream_fails_the_run_and_leaves_nothing(state_dir, monkeypatch):
    """server_id equal to the source's own: refused before the engine starts."""
    from assets import cdc as cdc_assets

    watch = LeakWatch(state_dir)
    taken = {}
    original = cdc_assets.MariaDBServer.bootstrap

    def remember_id(server):
        original(server)
        conn = mysql.connector.connect(unix_socket=server.socket, user="root")
        cursor = conn.cursor()
        cursor.execute("SET GLOBAL server_id = 5400")  # Debezium's default id
        conn.close()
        taken["id"] = 5400

    monkeypatch.setattr(cdc_assets.MariaDBServer, "bootstrap", remember_id)
    result = _run(state_dir, engine="debezium")
    assert not result.success and taken
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert re.search(r"server_id 5400 is the server id of source 127\.0\.0\.1:\d+ itself; give the "
                     r"stream another \(stream config server_id\)",
                     failure.step_failure_data.error.to_string())
    assert watch.leaks() == []
