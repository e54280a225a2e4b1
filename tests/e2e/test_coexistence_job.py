"""The coexistence job in-process against real releases, through the Dagster instance.

A passing run (through `testbed run`, so the CLI and the instance in DAGSTER_HOME are exercised), a
run where a check fails, and a run where deploy raises midway: after each, no process, listening port
or environment dir of that run is left.
"""

import time

import pytest
from dagster import AssetCheckSeverity, DagsterEventType, DagsterInstance

from pipelines import cli
from pipelines.definitions import build_definitions
from resources.model.catalog import Catalog
from tests.conftest import LeakWatch, run_ephemeral

pytestmark = [pytest.mark.spark, pytest.mark.e2e]

# 2 release_ready, sparkpi, connect, 4 isolation x 2 releases, object_store_ready, nothing_left
EXPECTED_CHECKS = 14


def test_coexistence_run_passes_every_check_and_leaves_nothing(state_dir, tmp_path, monkeypatch,
                                                               capsys, releases_installed):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    watch = LeakWatch(state_dir)
    assert cli.main(["run", "coexistence"]) == 0
    table = capsys.readouterr().out
    rows = [line for line in table.splitlines() if line.startswith(("PASS", "FAIL", "WARN"))]
    assert len(rows) == EXPECTED_CHECKS, table
    assert all(row.startswith("PASS") for row in rows), table
    assert "succeeded" in table
    # The run and its check evaluations are in the instance the UI reads.
    with DagsterInstance.get() as instance:
        run = instance.get_runs()[0]
        assert run.job_name == "coexistence" and run.is_success
        records = instance.get_records_for_run(
            run.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION).records
    assert len(records) == EXPECTED_CHECKS
    assert watch.leaks() == []


def sabotaged_catalog(catalog, **override_41) -> Catalog:
    # model_construct skips the catalog's own refusal of shared databases: this is the sabotage.
    return Catalog.model_construct(releases=(
        catalog.get("spark-3.5"), catalog.get("spark-4.1").model_copy(update=override_41)))


def run_job(defs, state_dir, **config):
    return run_ephemeral(
        defs.resolve_job_def("coexistence"), raise_on_error=False,
        run_config={"resources": {"testbed": {"config": {"state_dir": str(state_dir), **config}}}})


def test_failing_check_fails_the_run_stops_everything_and_keep_on_failure_keeps_files_only(
        state_dir, catalog, releases_installed):
    """One sabotaged run (a shared metastore database) with keep_on_failure, on storage local (the
    suite's run of that mode: event logs in directories, judged the same way): the checks fail the
    run, the resource layer tears down although the blocking failure skipped the teardown step,
    nothing runs or listens afterwards, the files stay for debugging until the reaper's TTL."""
    from resources.platforms.registry import make_platform

    watch = LeakWatch(state_dir)
    result = run_job(build_definitions(sabotaged_catalog(catalog, metastore_db="metastore_spark35")),
                     state_dir, keep_on_failure=True, storage="local")
    assert not result.success
    evaluations = {(e.asset_key.to_user_string(), e.check_name): e
                   for e in result.get_asset_check_evaluations()}
    failed = {key: e for key, e in evaluations.items()
              if not e.passed and e.severity == AssetCheckSeverity.ERROR}
    assert set(failed) == {("spark_3_5/release", "metastore_isolated"),
                           ("spark_4_1/release", "metastore_isolated")}
    store = evaluations[("storage/object_store", "object_store_ready")]  # no store: a warning
    assert (store.passed, store.severity) == (False, AssetCheckSeverity.WARN)
    assert store.description.startswith("not evaluated: this environment keeps its data in local")
    evaluation = failed[("spark_3_5/release", "metastore_isolated")]
    assert evaluation.severity == AssetCheckSeverity.ERROR
    assert "spark-3.5 and spark-4.1 share metastore database 'metastore_spark35'" \
        in evaluation.description
    # Read back from PostgreSQL: 4.1's table really landed in 3.5's database.
    assert "spark-4.1's table default.testbed_probe_spark_4_1 appears in spark-3.5's database" \
        in evaluation.description
    for release in ("spark_3_5/release", "spark_4_1/release"):
        for check in ("history_isolated", "event_logs_on_own_prefix"):
            assert evaluations[(release, check)].passed, evaluations[(release, check)].description
    # The blocking failure skipped the teardown step; the resource layer tore down anyway.
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert "coexistence/teardown" not in materialized
    kept = list((state_dir / "envs").glob("env-*"))
    assert len(kept) == 1 and (kept[0] / "spark-3.5" / "master" / "logs").is_dir()
    for minor in ("3.5", "4.1"):  # storage local: the event logs are plain directories
        assert list((kept[0] / "spark-logs" / minor / "events").iterdir())
    assert not (kept[0] / "s3").exists()
    # Files kept for debugging, but nothing runs or listens.
    assert [leak for leak in watch.leaks() if not leak.startswith("env dir")] == []
    platform = make_platform("local", str(state_dir), 60, 10)
    assert platform.sweep() == []  # owner alive, TTL not reached: still the owner's
    removed = platform.sweep(now=time.time() + 5 * 3600)
    assert len(removed) == 1 and "TTL" in removed[0]
    assert watch.leaks() == []


def test_deploy_that_raises_midway_leaves_nothing(state_dir, catalog, releases_installed):
    watch = LeakWatch(state_dir)
    # 3 s is enough for PostgreSQL, not for a metastore: the deploy fails after starting things.
    result = run_job(build_definitions(catalog), state_dir, ready_timeout_seconds=3)
    assert not result.success
    failures = [e for e in result.all_events if e.is_step_failure]
    assert failures and "was not ready within 3s" in failures[0].step_failure_data.error.to_string()
    assert watch.leaks() == []
