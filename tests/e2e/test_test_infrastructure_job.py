"""The test_infrastructure job: a Delta table written by real Spark 3.5 + Delta, checked by delta-rs
and Spark 4.1; two concurrent runs that do not touch each other's tables; keep_on_failure and the
reaper. After each run no process, port, env dir or table dir of that run is left."""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipelines import cli
from pipelines.definitions import defs
from pipelines.jobs import LIGHT_SELECTION
from resources.model import delta_script
from tests.conftest import LeakWatch, run_ephemeral

TESTBED = str(Path(sys.executable).parent / "testbed")
DELTA_CHECKS = {"row_count_and_schema", "cdf_complete", "schema_evolution", "time_travel",
                "cross_version_readable"}
CDC_CHECKS = {"bulk_insert_captured", "transaction_order_preserved", "mirror_matches_source",
              "resume_without_loss"}
ALERTING_CHECKS = {"config_valid", "no_production_receivers", "alert_visible_fast",
                   "severity_routing", "silence_suppresses", "prometheus_to_alertmanager"}


def rows_of(table: str) -> list[str]:
    return [line for line in table.splitlines() if line.startswith(("PASS", "FAIL", "WARN"))]


@pytest.mark.spark
@pytest.mark.e2e
def test_spark_written_table_passes_every_check_and_is_removed(state_dir, tmp_path, monkeypatch,
                                                               capsys, releases_installed):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    watch = LeakWatch(state_dir)
    assert cli.main(["run", "test_infrastructure"]) == 0
    table = capsys.readouterr().out
    rows = rows_of(table)
    assert {row.split()[2] for row in rows} == (DELTA_CHECKS | CDC_CHECKS | ALERTING_CHECKS
                                                   | {"nothing_left", "object_store_ready"}), table
    assert all(row.startswith("PASS") for row in rows), table
    # the releases the job deploys are assets of its own, listed with what they deployed
    assert re.search(r"spark_3_5/release +deployed: Spark 3\.5\.7, ready in", table), table
    assert re.search(r"spark_4_1/release +deployed: Spark 4\.1\.0, ready in", table), table
    cdc_rows = [row for row in rows if row.split()[2] in CDC_CHECKS]
    assert all(" binlog engine: " in row for row in cdc_rows), cdc_rows  # the default engine
    assert "Spark 3.5.7 + Delta 3.3.2 readChangeFeed" in table  # both engines read the CDF
    assert "Spark 4.1.0 + Delta 4.1.0 (Connect)" in table  # the other release read it
    assert re.search(r"s3://tables/test_[0-9a-f]{8}", table)  # in the environment's store
    assert watch.leaks() == []  # the store's data went with its env dir
    assert list(state_dir.glob("**/test_*")) == []


def test_two_runs_at_once_use_their_own_tables(state_dir, tmp_path):
    watch = LeakWatch(state_dir)
    runs = []
    for index in range(2):
        env = {**os.environ, "DAGSTER_HOME": str(tmp_path / f"home{index}"),
               "TESTBED_STATE_DIR": str(state_dir)}
        runs.append(subprocess.Popen([TESTBED, "run", "test_infrastructure", "--engine", "deltars",
                                      "--rows", "20000"], env=env, text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT))
    outputs = [run.communicate(timeout=600)[0] for run in runs]
    failures = [line for out in outputs for line in out.splitlines()
                if line.startswith(("FAIL", "step ")) or "Error" in line]
    assert [run.returncode for run in runs] == [0, 0], failures
    assert not [out for out in outputs if "ProgrammingError" in out]  # SQLite across threads
    tables = [set(re.findall(r"s3://tables/(test_[0-9a-f]{8}) ", out)) for out in outputs]
    assert all(len(t) == 1 for t in tables) and tables[0] != tables[1], tables
    for out in outputs:  # had they shared a table, versions and change feeds would not match
        assert re.search(r"PASS +delta/seeded_table +time_travel", out), out
        assert re.search(r"PASS +delta/seeded_table +cdf_complete", out), out
        assert re.search(r"PASS +cdc/products_mirror +mirror_matches_source", out), out
    assert watch.leaks() == []
    assert list(state_dir.glob("**/test_*")) == []


def test_keep_on_failure_keeps_the_table_until_the_reaper_takes_it(state_dir, monkeypatch):
    from resources.platforms.registry import make_platform

    # Hold the table to another seed's expectations: every data check must fail.
    real_expected = delta_script.expected
    monkeypatch.setattr(delta_script, "expected",
                        lambda inputs: real_expected(delta_script.batches(100, 99)))
    result = run_ephemeral(
        defs.resolve_job_def("test_infrastructure"), raise_on_error=False,
        asset_selection=LIGHT_SELECTION,  # light mode: no Spark release (as testbed run does)
        run_config={"resources": {"testbed": {"config": {"state_dir": str(state_dir),
                                                         "keep_on_failure": True}}},
                    "ops": {"delta__seeded_table": {"config": {"engine": "deltars"}}}})
    assert not result.success
    failed = {e.check_name for e in result.get_asset_check_evaluations() if not e.passed}
    assert {"row_count_and_schema", "time_travel"} <= failed
    # In the failed environment's store (kept with its dir): objects are files there.
    kept = list(state_dir.glob("envs/*/s3/data/tables/test_*"))
    assert len(kept) == 3 and all((table / "_delta_log").is_dir() for table in kept)  # + CDC
    platform = make_platform("local", str(state_dir), 60, 10)
    assert platform.sweep() == []
    removed = platform.sweep(now=time.time() + 5 * 3600)
    assert any("TTL" in line for line in removed)
    assert not any(table.exists() for table in kept)
