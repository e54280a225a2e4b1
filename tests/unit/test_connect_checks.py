"""The Connect suites' checks judge what clients reported: each fails on crafted wrong input with a
message that names the client, the scenario and the version."""

import pytest

from resources.connect import E2E_FILE, taxi
from resources.connect.expected import answers
from resources.criteria import connect_checks
from resources.criteria.baseline import higher_is_better, no_regression_against_baseline
from resources.model.catalog import ConnectTarget, load_catalog
from resources.model.connect import SMOKE, ScenarioResult, SuiteRun, load_scenarios
from resources.model.errors import ConfigError

SCENARIOS = load_scenarios(E2E_FILE)


def result(client="go", scenario="sql_literal", suite="smoke", status="passed", version="4.1.0",
           **fields) -> ScenarioResult:
    return ScenarioResult(client=client, suite=suite, scenario=scenario, version=version,
                          status=status, **fields)


def smoke_run(*extra: ScenarioResult, version="4.1.0") -> SuiteRun:
    passing = [result(client, name, version=version) for client in ("go", "python")
               for name in SMOKE]
    replaced = {(r.client, r.scenario) for r in extra}
    return SuiteRun(version=version, suite="smoke", results=[
        r for r in passing if (r.client, r.scenario) not in replaced] + list(extra))


def test_smoke_passes_when_every_scenario_passed():
    verdict = connect_checks.smoke_passes(smoke_run(), SMOKE, ("go", "python"))
    assert verdict.passed, verdict.message
    assert verdict.metadata["passed"] == 24


def test_a_leaked_session_fails_smoke_naming_client_scenario_and_version():
    leak = result("go", "lifecycle_sessions_release", status="failed", version="3.5.7",
                  error="10 sessions closed left 10 sockets open to the server",
                  metrics={"leaked_sockets": 10})
    verdict = connect_checks.smoke_passes(smoke_run(leak, version="3.5.7"), SMOKE,
                                          ("go", "python"))
    assert not verdict.passed
    assert "go/lifecycle_sessions_release on 3.5.7: 10 sessions closed left 10 sockets" \
        in verdict.message


def test_an_unreported_or_unsupported_smoke_scenario_is_not_a_pass():
    run = smoke_run()
    run.results = [r for r in run.results if r.scenario != "df_schema" or r.client != "python"]
    run.results.append(result("python", "df_schema", status="unsupported", reason="no schema API"))
    run.results = [r for r in run.results if (r.client, r.scenario) != ("go", "sql_literal")]
    verdict = connect_checks.smoke_passes(run, SMOKE, ("go", "python"))
    assert not verdict.passed
    assert "go/sql_literal on 4.1.0: not reported" in verdict.message
    assert "python/df_schema on 4.1.0 (no schema API)" in verdict.message
    assert verdict.metadata["passed"] == 22


@pytest.fixture(scope="module")
def expected(tmp_path_factory):
    root = tmp_path_factory.mktemp("taxi")
    taxi.write(root, 5_000)
    return answers(root, SCENARIOS)


def e2e_run(expected, client="python", version="4.1.0", **changes) -> SuiteRun:
    results = []
    for s in SCENARIOS:
        if s.expect_error:
            results.append(result(client, s.name, "e2e", version=version,
                                  error=f"[{s.expect_error}] boom"))
        else:
            results.append(result(client, s.name, "e2e", version=version,
                                  rows=changes.get(s.name, expected[s.name])))
    return SuiteRun(version=version, suite="e2e", results=results)


def test_e2e_answers_match_the_independent_engine(expected):
    verdict = connect_checks.e2e_answers_match(e2e_run(expected), SCENARIOS, expected)
    assert verdict.passed, verdict.message


def test_a_wrong_answer_fails_e2e_with_the_first_difference(expected):
    wrong = [list(row) for row in expected["taxi_totals"]]
    wrong[0][0] += 1
    verdict = connect_checks.e2e_answers_match(
        e2e_run(expected, client="go", version="3.5.8", taxi_totals=wrong), SCENARIOS, expected)
    assert not verdict.passed
    assert (f"go/taxi_totals on 3.5.8: answer differs from DuckDB's: row 1 column 1: expected "
            f"{expected['taxi_totals'][0][0]}, got {wrong[0][0]}") in verdict.message


def test_missing_rows_and_a_missing_error_class_fail_e2e(expected):
    run = e2e_run(expected, hourly_change=expected["hourly_change"][:-1])
    missing = next(r for r in run.results if r.scenario == "error_missing_table")
    missing.error = "some other error"
    verdict = connect_checks.e2e_answers_match(run, SCENARIOS, expected)
    assert "python/hourly_change on 4.1.0: answer differs from DuckDB's: expected 24 rows, " \
           "got 23" in verdict.message
    assert "python/error_missing_table on 4.1.0: expected the error TABLE_OR_VIEW_NOT_FOUND" \
        in verdict.message


def test_floats_differing_in_their_last_digits_are_the_same_answer():
    assert connect_checks.answer_difference([[1, 21596740.08]], [[1, 21596740.080000002]]) is None
    assert connect_checks.answer_difference([[1.0]], [[1.05]]) is not None
    assert connect_checks.answer_difference([[None]], [[0.0]]) is not None


def load_run(*results: ScenarioResult, version="4.1.0") -> SuiteRun:
    return SuiteRun(version=version, suite="load", results=list(results))


def figures(qps=100.0, p95=50.0, errors=0.0, queries=500.0) -> dict:
    return {"qps": qps, "p95_ms": p95, "errors": errors, "queries": queries}


def test_load_within_budget_fails_on_any_error_and_on_a_slow_p95():
    ok = result("go", "concurrent_8", "load", metrics=figures())
    verdict = connect_checks.load_within_budget(load_run(ok), p95_budget_ms=100)
    assert verdict.passed, verdict.message
    errors = result("python", "concurrent_32", "load", version="3.5.7",
                    metrics=figures(errors=3, queries=297))
    slow = result("go", "scan_8", "load", version="3.5.7", metrics=figures(p95=250))
    verdict = connect_checks.load_within_budget(load_run(ok, errors, slow, version="3.5.7"),
                                                p95_budget_ms=100)
    assert not verdict.passed
    assert "python/concurrent_32 on 3.5.7: error rate 1.0% (3 of 300 queries) is above 0.0%" \
        in verdict.message
    assert "go/scan_8 on 3.5.7: p95 250 ms is over the 100 ms budget" in verdict.message


def test_go_vs_python_throughput_reports_every_ratio_and_warns_below_one():
    run = load_run(result("go", "concurrent_8", "load", metrics=figures(qps=40)),
                   result("python", "concurrent_8", "load", metrics=figures(qps=50)),
                   result("go", "scan_1", "load", metrics=figures(qps=30)),
                   result("python", "scan_1", "load", metrics=figures(qps=15)))
    verdict = connect_checks.go_vs_python_throughput(run)
    assert not verdict.passed
    assert "go/concurrent_8 on 4.1.0: Go reached 0.80x Python's throughput, below 1.00x" \
        in verdict.message
    assert verdict.metadata == {"ratio/concurrent_8": 0.8, "ratio/scan_1": 2.0}
    assert not connect_checks.go_vs_python_throughput(load_run()).evaluated


def test_a_regression_against_a_fabricated_baseline_warns_with_the_numbers():
    history = [{"go/concurrent_8/qps": q, "go/concurrent_8/p95_ms": p}
               for q, p in ((50, 40), (48, 42), (52, 38), (51, 41), (49, 39))]
    fine = no_regression_against_baseline({"go/concurrent_8/qps": 47, "go/concurrent_8/p95_ms": 45},
                                          history, margin=0.25, what="Spark 4.1.0: ")
    assert fine.passed, fine.message
    assert fine.metadata["baseline/go/concurrent_8/qps"] == 50
    worse = no_regression_against_baseline({"go/concurrent_8/qps": 30,
                                            "go/concurrent_8/p95_ms": 80},
                                           history, margin=0.25, what="Spark 4.1.0: ")
    assert not worse.passed
    assert "Spark 4.1.0: go/concurrent_8/qps is 30, 40% worse than the median 50 of the last " \
           "5 runs (margin 25%)" in worse.message
    assert "go/concurrent_8/p95_ms is 80, 100% worse than the median 40" in worse.message


def test_a_baseline_needs_history_before_it_judges():
    verdict = no_regression_against_baseline({"startup_seconds": 9.0}, [{"startup_seconds": 3.0}])
    assert not verdict.evaluated
    assert "no baseline yet: fewer than 3 earlier runs recorded startup_seconds" in verdict.message
    assert higher_is_better("go/scan_1/qps") and not higher_is_better("startup_seconds")


def test_the_dataset_is_deterministic_and_shaped_like_yellow_taxi_trips():
    first, second = taxi.trips(2_000, seed=7), taxi.trips(2_000, seed=7)
    assert first.equals(second)
    assert not first.equals(taxi.trips(2_000, seed=8))
    assert first.column_names[:3] == ["VendorID", "tpep_pickup_datetime", "tpep_dropoff_datetime"]
    assert str(first.schema.field("tpep_pickup_datetime").type) == "timestamp[us]"
    assert first.column("passenger_count").null_count > 0
    assert taxi.zones().num_rows == 265
    with pytest.raises(ValueError, match="rows must be at least 1"):
        taxi.write(None, 0)


def test_the_catalog_lists_the_four_connect_versions_and_refuses_bad_entries(tmp_path):
    catalog = load_catalog()
    assert [t.version for t in catalog.connect] == ["3.5.7", "3.5.8", "4.1.0", "4.1.1"]
    mixed = catalog.connect_target("3.5.8")
    assert mixed.release.maven_packages == ("org.apache.spark:spark-connect_2.12:3.5.7",)
    assert "Connect server jar 3.5.7 on Spark 3.5.8" in mixed.mixed_version
    assert catalog.connect_target("4.1.0").release.maven_packages == ()
    with pytest.raises(ConfigError, match="add `- version: 4.1.2` under connect:"):
        catalog.connect_target("4.1.2")
    with pytest.raises(ValueError, match="connect_jar is for Spark 3.x releases"):
        ConnectTarget(version="4.1.1", connect_jar="3.5.7")
    bad = tmp_path / "catalog.yaml"
    bad.write_text("releases: []\nconnect:\n  - version: 4.1.0\n  - version: 4.1.0\n")
    with pytest.raises(ConfigError, match="connect lists 4.1.0 twice"):
        load_catalog(bad)


def test_the_baseline_reads_earlier_runs_of_the_same_asset_from_the_instance_not_this_one():
    from types import SimpleNamespace

    from dagster import AssetKey, AssetMaterialization, DagsterInstance

    from assets.connect import _history

    key = AssetKey(["connect", "spark_4_1_0", "load"])
    with DagsterInstance.ephemeral() as instance:
        for qps in (50.0, 48.0, 52.0, 51.0):
            instance.report_runless_asset_event(AssetMaterialization(
                key, metadata={"go/concurrent_8/qps": qps, "version": "4.1.0"}))
        history = _history(SimpleNamespace(instance=instance, run=SimpleNamespace(run_id="this run")),
                           key, runs=3)
        # Runless events share one run id: as this run's own, none of them is a baseline.
        runless = instance.fetch_materializations(key, limit=1).records[0].run_id
        own = _history(SimpleNamespace(instance=instance, run=SimpleNamespace(run_id=runless)),
                       key, runs=3)
    assert [h["go/concurrent_8/qps"] for h in history] == [51.0, 52.0, 48.0]  # newest first
    assert all("version" not in h for h in history)  # numbers only
    assert own == []
    verdict = no_regression_against_baseline({"go/concurrent_8/qps": 30.0}, history, margin=0.25)
    assert "go/concurrent_8/qps is 30, 41% worse than the median 51 of the last 3 runs" \
        in verdict.message
