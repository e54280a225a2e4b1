"""The connect_suites job on real Connect servers (3.5.7 with the Maven jar, 4.1.0 from its pip
install), through the Go and the Python client: every check evaluated, findings in the metadata,
one server at a time, nothing left. The full four-version matrix and the long load profile run in
the job and in benchmarks/connect.py, not here (make test's time budget)."""

import pytest
from dagster import AssetKey

from assets.connect import DATASET, TEARDOWN, suite_key
from pipelines.definitions import defs
from resources.model.catalog import load_catalog
from resources.model.connect import SMOKE
from tests.conftest import LeakWatch, run_ephemeral

CATALOG = load_catalog()
V357, V410 = CATALOG.connect_target("3.5.7"), CATALOG.connect_target("4.1.0")
# Small and short: every scenario runs, the figures are not the point here.
QUICK = {"rows": 20_000, "load_seconds": 0.3, "sustained_seconds": 0.5,
         "call_timeout_seconds": 60.0, "warm_up_queries": 0}


def _run(state_dir, selection: list[AssetKey], **config):
    return run_ephemeral(
        defs.resolve_job_def("connect_suites"), raise_on_error=False, asset_selection=selection,
        run_config={"resources": {
            "testbed": {"config": {"state_dir": str(state_dir), "storage": "local"}},
            "connect_suites": {"config": {**QUICK, **config}}}})


def _checks(result) -> dict[tuple[str, str], object]:
    return {(e.asset_key.to_user_string(), e.check_name): e
            for e in result.get_asset_check_evaluations()}


@pytest.mark.e2e
def test_both_clients_pass_smoke_and_e2e_on_3_5_7_and_4_1_0_and_leave_nothing(state_dir):
    watch = LeakWatch(state_dir)
    selection = [DATASET, suite_key(V357, "smoke"), suite_key(V357, "e2e"),
                 suite_key(V410, "smoke"), suite_key(V410, "e2e"), suite_key(V410, "load"),
                 TEARDOWN]
    result = _run(state_dir, selection)
    checks = _checks(result)
    for version in ("3_5_7", "4_1_0"):
        smoke = checks[(f"connect/spark_{version}/smoke", "smoke_passes")]
        assert smoke.passed, smoke.description
        assert f"{2 * len(SMOKE)} smoke scenarios passed" in smoke.description
        e2e = checks[(f"connect/spark_{version}/e2e", "e2e_answers_match")]
        assert e2e.passed, e2e.description
    # Where a client or a version cannot: said, with the reason, never counted as passed.
    e2e_35 = checks[("connect/spark_3_5_7/e2e", "e2e_answers_match")].description
    assert "python/error_divide_by_zero on 3.5.7 (ANSI mode is off by default" in e2e_35
    assert "go/top_zones_per_borough on 3.5.7 (the Python client builds this one with the " \
           "DataFrame Window API" in e2e_35
    load = checks[("connect/spark_4_1_0/load", "load_within_budget")]
    assert load.passed, load.description
    ratio = checks[("connect/spark_4_1_0/load", "go_vs_python_throughput")]
    assert ratio.metadata["ratio/concurrent_8"].value > 0  # judged WARN either way
    baseline = checks[("connect/spark_4_1_0/load", "no_regression_against_baseline")]
    assert "no baseline yet" in baseline.description  # a fresh instance has no history
    smoke35 = result.asset_materializations_for_node("connect_spark_3_5_7")
    by_key = {m.asset_key.to_user_string(): m for m in smoke35}
    findings = by_key["connect/spark_3_5_7/smoke"].metadata["findings"].value
    assert "SEC-003: the Spark 3.5.7 Connect server listens on all interfaces" in findings
    assert "spark-connect-go: SparkSession.Stop() left 5 of 5 sessions' sockets open" in findings
    smoke41 = {m.asset_key.to_user_string(): m
               for m in result.asset_materializations_for_node("connect_spark_4_1_0")}
    table = smoke41["connect/spark_4_1_0/smoke"].metadata["scenarios"].value
    assert "| go | lifecycle_sessions_release | passed |" in table
    # The server restarted under each client (same port): a new session answers afterwards.
    assert "| go | lifecycle_reconnect_after_restart | passed |" in table
    assert "| python | lifecycle_reconnect_after_restart | passed |" in table
    assert smoke41["connect/spark_4_1_0/smoke"].metadata[
        "python/lifecycle_reconnect_after_restart/restart_seconds"].value > 0
    figures = smoke41["connect/spark_4_1_0/load"].metadata
    assert figures["go/concurrent_8/qps"].value > 0 and figures["python/scan_1/p95_ms"].value > 0
    nothing_left = checks[("connect/teardown", "nothing_left")]
    assert nothing_left.passed, nothing_left.description
    assert result.success
    assert watch.leaks() == []


@pytest.mark.e2e
def test_unknown_clients_are_refused_before_anything_starts(state_dir):
    watch = LeakWatch(state_dir)
    result = _run(state_dir, [DATASET, suite_key(V410, "smoke"), TEARDOWN], clients=["java"])
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "connect_suites.clients: ['java']: use go and/or python" in str(
        failure.event_specific_data.error)
    assert watch.leaks() == []
