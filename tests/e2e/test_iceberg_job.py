"""`iceberg_readiness` end to end: it deploys Apache Iceberg's REST catalog server 1.11.0 on a
PostgreSQL of its own, reviews it, writes the side-by-side table as JSON and JUnit, and leaves
nothing. Bad input (a catalog_url that is no URL or does not answer, a taken port) is a clear error
before anything starts."""

import json
import socket

import pytest
from junitparser import JUnitXml

from assets.iceberg import CRITERIA, READINESS, TEARDOWN, catalog_key, review_key
from pipelines.definitions import defs
from resources.model.errors import ConfigError
from resources.services.iceberg_rest import IcebergRestServer
from tests.conftest import LeakWatch, run_ephemeral

# The long profile (fuzz 30 s, 100 requests per load figure) is the job's default; a test needs
# every criterion evaluated, not the time spent.
SHORT = {"fuzz_seconds": 3, "bench_rounds": 10}
# Spark as a client and the fuzzer run the same code against either catalog: once (on
# apache_rest) is enough for make test's time budget; the job runs both on both.
LAKANA = {"fuzz_seconds": 0, "bench_rounds": 10, "spark": False}


def _run(state_dir, report_dir=None, catalog: dict | None = None, only: str | None = None):
    testbed = {"state_dir": str(state_dir), **({"report_dir": str(report_dir)} if report_dir
                                                else {})}
    ops = {"iceberg__apache_rest__catalog": {"config": {**SHORT, **(catalog or {})}},
           "iceberg__lakana__catalog": {"config": LAKANA}}
    selection = None
    if only:  # one catalog's part of the job (the other reviews on its own, independently)
        ops = {key: value for key, value in ops.items() if f"__{only}__" in key}
        selection = [catalog_key(only), review_key(only), READINESS, TEARDOWN]
    return run_ephemeral(defs.resolve_job_def("iceberg_readiness"), raise_on_error=False,
                         asset_selection=selection,
                         run_config={"resources": {"testbed": {"config": testbed}}, "ops": ops})


@pytest.mark.e2e
def test_the_review_deploys_reviews_writes_its_table_and_leaves_nothing(state_dir, tmp_path):
    watch = LeakWatch(state_dir)
    result = _run(state_dir, report_dir=tmp_path)
    assert result.success
    evaluations = result.get_asset_check_evaluations()
    outcomes = {e.check_name: e for e in evaluations
                if e.asset_key.to_user_string() == "iceberg/apache_rest/review"}
    lakana = {e.check_name: e for e in evaluations
              if e.asset_key.to_user_string() == "iceberg/lakana/review"}
    assert set(lakana) == set(CRITERIA)  # the second implementation, side by side
    assert set(outcomes) == set(CRITERIA)
    assert all(e.severity.value == "WARN" for e in outcomes.values() if not e.passed)
    for name in ("pyiceberg_compatible", "spark_compatible", "table_crud_contract",
                 "database_failure"):  # what the 1.11.0 server complies with
        assert outcomes[name].passed, f"{name}: {outcomes[name].description}"
    assert "spark 3.5.7 and spark 4.1.0 passed" in outcomes["spark_compatible"].description
    # Its measured findings (FIELD_NOTES): evaluated, and failing with the reason.
    assert "(malformed JSON) answered 500" in outcomes["error_responses"].description
    assert "ST101 Server error" in outcomes["fuzzed_contract"].description
    shutdown = outcomes["graceful_shutdown"]
    assert shutdown.metadata["requests"].value > 0 and shutdown.metadata["exit_s"].value >= 0
    review = result.asset_materializations_for_node("iceberg__apache_rest__review")[0]
    assert review.metadata["list_namespaces/p50_ms"].value > 0  # load figures, plotted
    assert review.metadata["concurrent_20/errors"].value == 0
    catalog = result.asset_materializations_for_node("iceberg__apache_rest__catalog")[0]
    assert "on all interfaces" in catalog.metadata["listens"].value  # a finding, in metadata
    report = json.loads((tmp_path / "iceberg-readiness.json").read_text())
    rows = {(r["criterion"], r["catalog"]): r["outcome"] for r in report["rows"]}
    assert rows[("table_crud_contract", "apache_rest")] == "pass"
    assert rows[("health_endpoints", "apache_rest")] == "finding"
    assert rows[("event_stream", "apache_rest")] == "not supported"
    assert rows[("pyiceberg_compatible", "lakana")] == "pass"  # beneath bronze, its rule
    assert "renameTable POST /v1/testbed/tables/rename (trips -> trips_renamed) answered 200, " \
           "which the spec does not declare" in lakana["table_crud_contract"].description
    assert rows[("view_crud_contract", "lakana")] == "not supported"  # no endpoints list
    assert "/readyz 503" in lakana["health_endpoints"].description
    suites = {s.name: s for s in JUnitXml.fromfile(str(tmp_path / "iceberg-readiness.xml"))}
    assert set(suites) == {"apache_rest", "lakana"}
    assert suites["apache_rest"].tests == len(CRITERIA)
    assert suites["apache_rest"].failures == sum(
        1 for (_, catalog), outcome in rows.items() if catalog == "apache_rest"
        and outcome == "finding")
    teardown = result.asset_materializations_for_node("iceberg__teardown")[0]
    stopped = teardown.metadata["stopped"].value  # the servers went at graceful_shutdown
    assert "apache_rest-postgres" in stopped and "lakana-postgres" in stopped
    nothing_left = next(e for e in result.get_asset_check_evaluations()
                        if e.check_name == "nothing_left")
    assert nothing_left.passed, nothing_left.description
    assert watch.leaks() == []


@pytest.mark.parametrize("url, said", [
    ("ftp://127.0.0.1:1", "catalog_url 'ftp://127.0.0.1:1' is not an http(s) URL"),
    ("http://127.0.0.1:9", "catalog_url http://127.0.0.1:9 does not answer (ConnectError"),
])
def test_a_bad_catalog_url_is_named_before_anything_starts(state_dir, url, said):
    watch = LeakWatch(state_dir)
    result = _run(state_dir, catalog={"catalog_url": url}, only="apache_rest")
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert said in str(failure.event_specific_data.error)
    assert watch.leaks() == []


def test_a_taken_port_is_refused_before_the_server_would_share_it(tmp_path):
    server = IcebergRestServer(tmp_path, "jdbc:postgresql://127.0.0.1:1/x", "u", "p")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", server.port))
        taken.listen()
        with pytest.raises(ConfigError, match=rf"port {server.port} is already taken on "
                                              rf"127.0.0.1; the Iceberg REST server would share "
                                              rf"it silently"):
            server.prepare()
