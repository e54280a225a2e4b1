"""The Iceberg REST review's criteria as pure functions: each one FAILS on crafted answers that
break it (a wrong schema, a 500 instead of a 404, an HTML error page, a non-atomic transaction, a
wrong entity count, a failed client scenario) with a message naming the catalog and the request,
passes on conforming answers, and an endpoint the server does not advertise is "not supported"."""

import hashlib
import json
from pathlib import Path

import pytest

from resources.criteria import iceberg_checks as checks
from resources.iceberg_client import OPERATIONS, SPEC_FILE, contract
from resources.iceberg_fuzz import parse_junit, prepared_spec
from resources.model.iceberg import (
    CatalogReview,
    ClientScenario,
    DatabaseOutage,
    ErrorProbe,
    Exchange,
    FuzzFinding,
    FuzzRun,
    LoadRequest,
    ReadinessReport,
    ReadinessRow,
    ShutdownObservation,
)
from resources.model.openapi import normalise_nullable

ORIGINAL_SHA256 = "80d2ec83a70eeff6e7194853f8791c17cceb14610fae6a0e6afdd2921806ee4a"
ERROR_404 = {"error": {"message": "Namespace does not exist: x", "type": "NoSuchNamespaceException",
                       "code": 404}}
NAMESPACE = {"namespace": ["testbed_0a1b2c3d"], "properties": {"owner": "testbed"}}


def review(**exchanges: list[Exchange]) -> CatalogReview:
    found = CatalogReview(catalog="crafted", url="http://127.0.0.1:1")
    found.exchanges = dict(exchanges)
    return found


def ex(operation: str, status: int | None, body=None, text: str = "", sent: str = "",
       content_type: str = "application/json") -> Exchange:
    op = contract().operation(operation)
    return Exchange(operation, op.method, op.path.replace("/{prefix}", ""), status, body, text,
                    content_type, 0.01, sent)


def test_the_vendored_spec_is_the_published_document_under_a_provenance_header():
    text = SPEC_FILE.read_text()
    assert text.startswith("# Vendored by Testbed") and "Licensed to the Apache Software" in text
    body = "".join(text.splitlines(keepends=True)[5:])
    assert hashlib.sha256(body.encode()).hexdigest() == ORIGINAL_SHA256
    assert set(OPERATIONS["table_crud_contract"]) <= set(contract().operations)


def test_nullable_becomes_json_schema_2020_12():
    assert normalise_nullable({"type": "string", "nullable": True}) == {"type": ["string", "null"]}
    assert normalise_nullable({"$ref": "#/x", "nullable": True}) == \
        {"anyOf": [{"$ref": "#/x"}, {"type": "null"}]}
    assert normalise_nullable({"properties": {"a": {"type": "integer", "nullable": False}}}) == \
        {"properties": {"a": {"type": "integer"}}}
    # In the real document: next-page-token is nullable, so a conforming null passes.
    assert contract().violations("listNamespaces", 200,
                                 {"namespaces": [], "next-page-token": None}) == []


def test_conforming_answers_pass():
    found = review(namespace_crud_contract=[ex("createNamespace", 200, NAMESPACE),
                                            ex("namespaceExists", 204)])
    verdict = checks.contract_conforms(found, "namespace_crud_contract", contract())
    assert verdict.passed, verdict.message
    assert checks.outcome(verdict) == "pass"


def test_a_body_of_the_wrong_schema_fails_naming_the_operation_and_field():
    wrong = {"namespace": "testbed_0a1b2c3d"}  # a string where the spec wants an array
    found = review(namespace_crud_contract=[ex("createNamespace", 200, wrong, sent="ns")])
    verdict = checks.contract_conforms(found, "namespace_crud_contract", contract())
    assert not verdict.passed and checks.outcome(verdict) == "finding"
    assert "crafted: createNamespace POST /v1/namespaces (ns) 200: CreateNamespaceResponse: " \
           "'testbed_0a1b2c3d' is not of type 'array' at /namespace" in verdict.message


def test_a_failed_operation_and_a_missing_answer_fail():
    found = review(table_crud_contract=[
        ex("loadTable", 500, None, "<html><title>Error 500 NullPointerException</title>",
           content_type="text/html"),
        Exchange("listTables", "GET", "/v1/namespaces/x/tables", None, error="ReadTimeout: timed out")])
    verdict = checks.contract_conforms(found, "table_crud_contract", contract())
    assert not verdict.passed
    assert "loadTable GET /v1/namespaces/{namespace}/tables/{table} answered 500 text/html " \
           "'Error 500 NullPointerException'" in verdict.message
    assert "listTables GET /v1/namespaces/x/tables: no answer: ReadTimeout" in verdict.message


def test_an_unadvertised_criterion_is_not_supported_not_failed_and_not_passed():
    found = review()
    found.unsupported["view_crud_contract"] = "the server does not advertise POST /v1/{prefix}/..."
    verdict = checks.contract_conforms(found, "view_crud_contract", contract())
    assert not verdict.passed and not verdict.evaluated
    assert checks.outcome(verdict) == "not supported"
    assert verdict.message.startswith("not supported by crafted: the server does not advertise")


def test_a_criterion_the_review_never_reached_is_not_evaluated():
    verdict = checks.contract_conforms(review(), "table_crud_contract", contract())
    assert checks.outcome(verdict) == "not evaluated" and "did not reach" in verdict.message


def _probe(operation: str, expected: int, status: int, body=None, text="", sent="") -> ErrorProbe:
    kind = "application/json" if body is not None else "text/html"
    return ErrorProbe(ex(operation, status, body, text, sent, kind), expected, operation)


def test_error_responses_pass_with_the_right_status_and_error_model():
    found = review()
    found.error_probes = [_probe("loadNamespaceMetadata", 404, 404, ERROR_404)]
    assert checks.error_responses(found, contract()).passed


def test_a_500_instead_of_a_404_fails_naming_the_request():
    found = review()
    found.error_probes = [_probe("loadNamespaceMetadata", 404, 500, None,
                                 "<title>Error 500 NoSuchNamespaceException</title>",
                                 sent="unknown namespace")]
    verdict = checks.error_responses(found, contract())
    assert not verdict.passed
    assert "loadNamespaceMetadata GET /v1/namespaces/{namespace} (unknown namespace) answered " \
           "500 text/html 'Error 500 NoSuchNamespaceException' (want 404)" in verdict.message


def test_a_right_status_with_a_body_that_is_no_error_model_fails():
    found = review()
    found.error_probes = [
        _probe("loadNamespaceMetadata", 404, 404, None, "Not Found", sent="unknown namespace"),
        _probe("createNamespace", 409, 409, {"message": "exists"}, sent="existing namespace")]
    verdict = checks.error_responses(found, contract())
    assert "(unknown namespace) answered 404 with a text/html body (want an " \
           "IcebergErrorResponse)" in verdict.message
    assert "(existing namespace) 409: IcebergErrorResponse: 'error' is a required property" \
           in verdict.message


def _transaction(second_status: int, a_after: str) -> CatalogReview:
    def loaded(value):
        meta = {"format-version": 2, "table-uuid": "u", "properties": {"testbed.txn": value}}
        return {"metadata-location": "/w/m.json", "metadata": meta}

    # the metadata above is minimal: judge only the atomicity, not the TableMetadata schema
    return review(multi_table_transaction_contract=[
        ex("commitTransaction", 204, sent="both tables"),
        ex("commitTransaction", second_status,
           {"error": {"message": "Requirement failed: UUID does not match", "type":
                      "CommitFailedException", "code": 409}} if second_status == 409 else None,
           sent="second requirement fails"),
        ex("loadTable", 200, loaded(a_after), sent="txn_a after both commits"),
        ex("loadTable", 200, loaded("1"), sent="txn_b after both commits")])


def test_a_transaction_that_applies_half_a_refused_commit_fails():
    verdict = checks.multi_table_transaction(_transaction(409, "2"), contract())
    assert not verdict.passed
    assert "loadTable GET /v1/namespaces/{namespace}/tables/{table} (txn_a after both commits): " \
           "testbed.txn is '2', want '1'" in verdict.message


def test_a_refused_commit_must_be_a_409():
    verdict = checks.multi_table_transaction(_transaction(204, "1"), contract())
    assert "(second requirement fails) answered 204 (want 409 CommitFailedException" \
           in verdict.message


def test_health_endpoints_need_liveness_and_readiness():
    found = review()
    found.health = {p: Exchange(f"GET {p}", "GET", p, 404) for p in
                    ("/health", "/healthz", "/livez", "/ready", "/readyz")}
    verdict = checks.health_endpoints(found)
    assert not verdict.passed
    assert "no liveness endpoint answers 200 (/health 404, /healthz 404, /livez 404)" \
           in verdict.message
    found.health["/healthz"] = Exchange("GET /healthz", "GET", "/healthz", 200)
    found.health["/readyz"] = Exchange("GET /readyz", "GET", "/readyz", 503)
    verdict = checks.health_endpoints(found)
    assert "readiness" in verdict.message and "liveness endpoint" not in verdict.message
    found.health["/readyz"] = Exchange("GET /readyz", "GET", "/readyz", 200)
    assert checks.health_endpoints(found).passed


METRICS = """# TYPE http_server_requests_seconds histogram
http_server_requests_seconds_bucket{le="0.1"} 3
http_server_requests_seconds_bucket{le="+Inf"} 4
http_server_requests_seconds_count 4
http_server_requests_seconds_sum 0.5
# TYPE db_pool_active_connections gauge
db_pool_active_connections 2
# TYPE catalog_namespaces gauge
catalog_namespaces %d
# TYPE catalog_tables gauge
catalog_tables 4
"""


def _metrics(text: str, status: int = 200) -> CatalogReview:
    found = review()
    found.entity_counts = {"namespaces": 3, "tables": 4}
    found.metrics = Exchange("GET /metrics", "GET", "/metrics", status, None, text, "text/plain")
    return found


def test_metrics_pass_when_counts_agree():
    verdict = checks.metrics_exposed(_metrics(METRICS % 3))
    assert verdict.passed, verdict.message


def test_a_wrong_entity_count_fails_naming_both_numbers():
    verdict = checks.metrics_exposed(_metrics(METRICS % 7))
    assert not verdict.passed
    assert "crafted: catalog_namespaces says 7 namespaces, the catalog lists 3" in verdict.message


def test_no_metrics_endpoint_is_a_finding():
    verdict = checks.metrics_exposed(_metrics("Not Found", 404))
    assert not verdict.passed and verdict.evaluated
    assert "GET /metrics answered 404" in verdict.message
    bare = checks.metrics_exposed(_metrics("# TYPE up gauge\nup 1\n"))
    assert "no request latency histogram" in bare.message
    assert "no database pool gauge" in bare.message and "no gauge counts namespaces" in bare.message


def test_a_failed_client_scenario_fails_naming_client_and_scenario():
    found = review()
    found.clients = [ClientScenario("pyiceberg 0.12.0", "append Arrow data", True),
                     ClientScenario("pyiceberg 0.12.0", "time travel read", False,
                                    "the first snapshot reads ids [1, 2, 3, 4, 5]")]
    verdict = checks.clients_compatible(found, "pyiceberg")
    assert not verdict.passed
    assert verdict.message == ("crafted: pyiceberg 0.12.0 time travel read: the first snapshot "
                               "reads ids [1, 2, 3, 4, 5]")
    assert checks.outcome(checks.clients_compatible(review(), "pyiceberg")) == "not evaluated"


def test_the_readiness_report_serializes_findings_and_unsupported_for_junit(tmp_path: Path):
    junitparser = pytest.importorskip("junitparser")
    report = ReadinessReport(run_id="r", catalogs=["a", "b"], rows=[
        ReadinessRow(criterion="config_contract", catalog="a", outcome="pass", message="ok"),
        ReadinessRow(criterion="config_contract", catalog="b", outcome="finding", message="bad"),
        ReadinessRow(criterion="view_crud_contract", catalog="b", outcome="not supported",
                     message="no views")])
    assert report.table().splitlines()[1].split() == ["config_contract", "pass", "finding"]
    assert report.table().splitlines()[2].split() == ["view_crud_contract", "-", "not", "supported"]
    path = tmp_path / "r.xml"
    path.write_text(report.junit())
    suites = {suite.name: suite for suite in junitparser.JUnitXml.fromfile(str(path))}
    assert (suites["b"].tests, suites["b"].failures, suites["b"].skipped) == (2, 1, 1)


def _outage(*during: Exchange, recovered: float | None = 1.2, restarted=False) -> CatalogReview:
    found = review()
    found.outage = DatabaseOutage(budget_s=5.0, during=list(during), recovered_after_s=recovered,
                                  recovery_timeout_s=60.0, server_restarted=restarted)
    return found


def test_database_failure_passes_on_fast_5xx_and_a_recovery_without_restart():
    verdict = checks.database_failure(_outage(ex("listNamespaces", 500, ERROR_404)))
    assert verdict.passed, verdict.message


def test_a_hang_a_made_up_success_or_no_recovery_fail_database_failure():
    hung = Exchange("listNamespaces", "GET", "/v1/namespaces", None, seconds=10.0,
                    sent="database stopped", error="ReadTimeout: timed out")
    verdict = checks.database_failure(_outage(hung, ex("loadTable", 200, {}, sent="database "
                                                       "stopped"), recovered=None))
    assert "listNamespaces GET /v1/namespaces (database stopped): no answer: ReadTimeout: timed " \
           "out (a hang: want a 5xx within 5s)" in verdict.message
    assert "(database stopped) answered 200 (want a 5xx: the database is down)" in verdict.message
    assert "no 200 for listNamespaces within 60s after the database came back" in verdict.message
    restarted = checks.database_failure(_outage(ex("listNamespaces", 503, ERROR_404),
                                                restarted=True))
    assert "only after its process restarted" in restarted.message
    external = review()
    external.resilience_unavailable = "crafted was not deployed by Testbed"
    assert checks.outcome(checks.database_failure(external)) == "not evaluated"


def _shutdown(*requests: LoadRequest, exited: float | None = 1.5) -> CatalogReview:
    found = review()
    found.shutdown = ShutdownObservation(grace_s=10.0, sigterm_at=1.0, exited_after_s=exited,
                                         requests=list(requests))
    return found


def test_graceful_shutdown_passes_when_in_flight_completes_and_later_requests_are_refused():
    verdict = checks.graceful_shutdown(_shutdown(
        LoadRequest(0.5, 0.6, "ok"), LoadRequest(0.9, 1.3, "ok"),
        LoadRequest(1.4, 1.41, "refused", "ConnectError"), LoadRequest(1.5, 1.5, "status", "503")))
    assert verdict.passed, verdict.message
    assert verdict.metadata["in_flight"] == 1


def test_resets_lost_requests_and_a_late_exit_fail_graceful_shutdown():
    verdict = checks.graceful_shutdown(_shutdown(
        LoadRequest(0.9, 1.2, "reset", "RemoteProtocolError: Server disconnected"),
        LoadRequest(1.1, 1.2, "status", "500"), exited=None))
    assert "crafted: 1 of 1 requests in flight at SIGTERM did not complete (1 reset " \
           "RemoteProtocolError)" in verdict.message
    assert "1 requests after SIGTERM were not refused cleanly (1 status 500)" in verdict.message
    assert "the process did not exit within its 10s grace" in verdict.message
    assert verdict.metadata["resets"] == 1


def test_event_stream_is_not_supported_without_an_endpoint_and_fails_on_missing_events():
    found = review()
    found.endpoints = ["GET /v1/{prefix}/namespaces"]
    assert checks.outcome(checks.event_stream(found)) == "not supported"
    found.endpoints.append("GET /v1/{prefix}/events")
    found.created_namespaces = ["testbed_0a1b2c3d"]
    found.events = Exchange("GET /v1/events", "GET", "/v1/events", 200,
                            {"events": [{"type": "create-namespace", "namespace": ["other"]}]})
    verdict = checks.event_stream(found)
    assert not verdict.passed
    assert "lists no event for namespace testbed_0a1b2c3d, which the review created" in \
        verdict.message


JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="schemathesis" tests="3" failures="2">
<testcase name="POST /v1/namespaces" time="1.0"><failure type="failure" message="ST101, ST105">1. Test Case ID: m5k3nI

- ST101 Server error

- ST105 Undocumented Content-Type

    Received: text/html;charset=iso-8859-1

[500] Internal Server Error:

    `&lt;html&gt;`

Reproduce with:

    curl -X POST http://127.0.0.1:1/v1/namespaces

    st replay m5k3nI</failure></testcase>
<testcase name="QUERY /v1/namespaces/{namespace}" time="0.1"><failure message="ST101">1. Test Case ID: a1

- ST101 Server error

[501] Not Implemented:

Reproduce with:

    curl -X QUERY http://127.0.0.1:1/v1/namespaces/x</failure></testcase>
<testcase name="GET /v1/namespaces" time="1.0"/>
</testsuite></testsuites>"""


def test_fuzz_findings_are_read_from_schemathesis_junit_and_fail_fuzzed_contract():
    operations, findings = parse_junit(JUNIT)
    assert operations == 3
    assert findings == [FuzzFinding("POST /v1/namespaces", "ST101 Server error, ST105 "
                                    "Undocumented Content-Type", "500 Internal Server Error",
                                    "curl -X POST http://127.0.0.1:1/v1/namespaces")]
    found = review()
    found.fuzz = FuzzRun(seed=1729, max_seconds=10, methods=("GET", "POST"), operations=3,
                         seconds=10.2, findings=findings)
    verdict = checks.fuzzed_contract(found)
    assert not verdict.passed
    assert verdict.message == (
        "crafted: 1 findings in 3 operations (seed 1729, 10.2s): POST /v1/namespaces: ST101 "
        "Server error, ST105 Undocumented Content-Type: 500 Internal Server Error (reproduce: "
        "curl -X POST http://127.0.0.1:1/v1/namespaces)")
    found.fuzz = FuzzRun(seed=1729, max_seconds=10, methods=("GET",), operations=3, seconds=10.0)
    assert checks.fuzzed_contract(found).passed
    found.fuzz = FuzzRun(seed=1729, max_seconds=10, methods=("GET",), error="no report")
    assert checks.outcome(checks.fuzzed_contract(found)) == "not evaluated"


def test_the_fuzzed_spec_has_no_prefix_segment_and_no_idempotency_key():
    spec = prepared_spec()
    assert "/v1/namespaces" in spec["paths"] and not any("{prefix}" in p for p in spec["paths"])
    assert "idempotency-key" in json.dumps(spec["components"]).lower()  # defined, but ...
    for item in spec["paths"].values():
        for op in item.values():
            if isinstance(op, dict):
                names = [p.get("name") or p.get("$ref", "") for p in op.get("parameters", [])]
                assert not any("dempotency" in n for n in names), names  # ... used nowhere
    assert prepared_spec("cat")["paths"].get("/v1/cat/namespaces")


def test_a_success_status_the_spec_does_not_declare_is_a_finding():
    found = review(namespace_crud_contract=[ex("dropNamespace", 200, {}, sent="empty")])
    verdict = checks.contract_conforms(found, "namespace_crud_contract", contract())
    assert "dropNamespace DELETE /v1/namespaces/{namespace} (empty) answered 200, which the spec " \
           "does not declare for dropNamespace (it declares 204)" in verdict.message


def test_no_evidence_is_never_a_pass():
    empty_load = _shutdown()  # no request reached the server before SIGTERM
    assert checks.outcome(checks.graceful_shutdown(empty_load)) == "not evaluated"
    nothing_fuzzed = review()
    nothing_fuzzed.fuzz = FuzzRun(seed=1, max_seconds=5, methods=("GET",), operations=0)
    assert checks.outcome(checks.fuzzed_contract(nothing_fuzzed)) == "not evaluated"
    uncounted = _metrics(METRICS % 3)
    uncounted.entity_counts = {}  # the catalog's own listing failed
    verdict = checks.metrics_exposed(uncounted)
    assert not verdict.passed and "entity counts could not be compared" in verdict.message
