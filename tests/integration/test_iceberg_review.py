"""The Iceberg REST review against servers that answer for real.

A small misbehaving catalog (a test double: a wrong schema, a 500 instead of a 404, a table listing
whose database call hangs, a wrong namespace count in /metrics) makes the matching criteria fail
with messages that name the request; the review stays bounded by its timeouts. Apache Iceberg's
REST catalog server 1.11.0, deployed by another environment, passes what it complies with, shows
its known findings, and keeps what is not the review's: only testbed_<8 hex> namespaces the review
created are dropped. Pointing a whole `iceberg_readiness` run at it (catalog_url) deploys nothing.
"""

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from assets.iceberg import (
    CRITERIA,
    READINESS,
    TEARDOWN,
    catalog_key,
    deploy_apache_rest,
    review_key,
)
from pipelines.definitions import defs
from resources.iceberg_client import CatalogTarget, contract
from resources.iceberg_resilience import Resilience
from resources.iceberg_review import review_catalog
from resources.platforms.environment import Environment
from resources.platforms.registry import make_platform
from tests.conftest import LeakWatch, run_ephemeral

HANG_S = 6.0  # the double's "database call" for listTables; the review's timeout is shorter


class MisbehavingCatalog(BaseHTTPRequestHandler):
    """Namespaces and tables endpoints only, each with one crafted defect."""

    namespaces: set[str] = set()
    hung = False
    database_down = False  # while true every request waits on a database that never answers
    lock = threading.Lock()

    def log_message(self, *args):  # quiet
        pass

    def _send(self, status: int, body=None, text: str | None = None, kind="application/json"):
        data = json.dumps(body).encode() if body is not None else (text or "").encode()
        self.send_response(status)
        self.send_header("Content-Type", kind if body is not None or text else "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _error(self, status: int, kind: str, message: str):
        self._send(status, {"error": {"message": message, "type": kind, "code": status}})

    def _body(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        return json.loads(raw) if raw else None

    def _database_hangs(self) -> bool:
        if self.database_down:
            time.sleep(HANG_S)  # then fails, long after the client gave up
            self._error(500, "SQLTimeoutException", "database did not answer")
        return self.database_down

    def do_GET(self):
        path = self.path.split("?")[0]
        if path.startswith("/v1/namespaces") and self._database_hangs():
            return
        if path == "/v1/config":
            ops = [contract().operation(op) for op in
                   ("listNamespaces", "createNamespace", "loadNamespaceMetadata",
                    "namespaceExists", "updateProperties", "dropNamespace", "listTables",
                    "createTable", "loadTable", "tableExists", "updateTable", "renameTable",
                    "dropTable")]
            return self._send(200, {"defaults": {}, "overrides": {},
                                    "endpoints": [op.endpoint for op in ops]})
        if path in ("/healthz", "/readyz"):
            return self._send(200, {"status": "ok"})
        if path == "/metrics":  # one namespace too many: a count that does not agree
            text = ("# TYPE http_requests_seconds histogram\n"
                    "http_requests_seconds_bucket{le=\"+Inf\"} 1\n"
                    "http_requests_seconds_count 1\nhttp_requests_seconds_sum 0.1\n"
                    "# TYPE db_pool_connections gauge\ndb_pool_connections 1\n"
                    f"# TYPE catalog_namespaces gauge\ncatalog_namespaces "
                    f"{len(self.namespaces) + 1}\n")
            return self._send(200, text=text, kind="text/plain; version=0.0.4")
        if path == "/v1/namespaces":
            with self.lock:
                return self._send(200, {"namespaces": [[n] for n in sorted(self.namespaces)]})
        match = re.fullmatch(r"/v1/namespaces/([^/]+)(/tables)?(/[^/]+)?", path)
        if match and match.group(2) and not match.group(3):
            with self.lock:
                hang, MisbehavingCatalog.hung = not self.hung, True
            if hang:  # the first table listing's database call hangs
                time.sleep(HANG_S)
            return self._send(200, {"identifiers": []})
        if match and not match.group(2):
            if match.group(1) not in self.namespaces:  # a 500 where the spec says 404
                return self._send(500, text="<html><title>Error 500 NoSuchNamespaceException"
                                            "</title></html>", kind="text/html")
            return self._send(200, {"namespace": [match.group(1)], "properties": {}})
        self._error(404, "NoSuchTableException", f"not found: {path}")

    def do_HEAD(self):
        self._send(204)

    def do_POST(self):
        path = self.path.split("?")[0]
        if self._database_hangs():
            return
        try:
            body = self._body()
        except json.JSONDecodeError:
            return self._error(400, "BadRequestException", "malformed JSON")
        if path == "/v1/namespaces":
            if not isinstance(body, dict) or "namespace" not in body:
                return self._error(400, "BadRequestException", "namespace is required")
            name = body["namespace"][0]
            with self.lock:
                if name in self.namespaces:
                    return self._error(409, "AlreadyExistsException", f"exists: {name}")
                self.namespaces.add(name)
            return self._send(200, {"namespace": name})  # a string: the spec wants an array
        if path.endswith("/properties"):
            return self._send(200, {"updated": [], "removed": [], "missing": []})
        self._error(406, "UnsupportedOperationException", "tables are not kept")

    def do_DELETE(self):
        match = re.fullmatch(r"/v1/namespaces/([^/]+)", self.path.split("?")[0])
        with self.lock:
            if match and match.group(1) in self.namespaces:
                self.namespaces.discard(match.group(1))
                return self._send(204)
        self._error(404, "NoSuchNamespaceException", "no such namespace")


@pytest.fixture
def misbehaving():
    server = ThreadingHTTPServer(("127.0.0.1", 0), MisbehavingCatalog)
    server.daemon_threads = True
    MisbehavingCatalog.namespaces, MisbehavingCatalog.hung = set(), False
    MisbehavingCatalog.database_down = False
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def database(down: bool) -> None:
        MisbehavingCatalog.database_down = down

    # Its "process": stopping stops serving but keeps the socket open (a server that neither
    # drains nor closes its listener: new connections hang).
    resilience = Resilience(
        stop_database=lambda: database(True), start_database=lambda: database(False),
        terminate=lambda grace: server.shutdown(), running=thread.is_alive,
        server_pid=lambda: 1, grace_s=1.0, answer_budget_s=0.5, recovery_timeout_s=5.0,
        load_threads=2)
    yield f"http://127.0.0.1:{server.server_address[1]}", resilience
    server.shutdown()
    server.server_close()


def _verdicts(found) -> dict:
    return {name: judge(found, contract()) for name, (_, judge) in CRITERIA.items()}


def test_a_misbehaving_catalog_fails_the_matching_criteria_and_the_review_stays_bounded(misbehaving):
    url, resilience = misbehaving
    started = time.monotonic()
    found = review_catalog(CatalogTarget("double", url, timeout=1.0), run_clients=False,
                           resilience=resilience)
    took = time.monotonic() - started
    verdicts = _verdicts(found)
    namespace = verdicts["namespace_crud_contract"]
    assert not namespace.passed
    assert re.search(r"createNamespace POST /v1/namespaces \(namespace testbed_[0-9a-f]{8}\) 200: "
                     r"CreateNamespaceResponse: 'testbed_[0-9a-f]{8}' is not of type 'array' at "
                     r"/namespace", namespace.message), namespace.message
    errors = verdicts["error_responses"]
    assert re.search(r"loadNamespaceMetadata GET /v1/namespaces/testbed_[0-9a-f]{8}_missing "
                     r"\(unknown namespace\) answered 500 text/html 'Error 500 "
                     r"NoSuchNamespaceException' \(want 404\)", errors.message), errors.message
    tables = verdicts["table_crud_contract"]  # the hanging database call
    assert re.search(r"listTables GET /v1/namespaces/testbed_[0-9a-f]{8}/tables: no answer: "
                     r"ReadTimeout", tables.message), tables.message
    metrics = verdicts["metrics_exposed"]
    assert re.search(r"catalog_namespaces says (\d+) namespaces, the catalog lists (\d+)",
                     metrics.message), metrics.message
    assert verdicts["health_endpoints"].passed, verdicts["health_endpoints"].message
    assert verdicts["view_crud_contract"].message.startswith(
        "not supported by double: the server does not advertise POST /v1/{prefix}/namespaces/"
        "{namespace}/views")
    assert not verdicts["pyiceberg_compatible"].evaluated
    outage = verdicts["database_failure"]  # its database calls hang instead of failing fast
    assert re.search(r"listNamespaces GET /v1/namespaces \(database stopped\): no answer: "
                     r"ReadTimeout: timed out \(a hang: want a 5xx within 0.5s\)",
                     outage.message), outage.message
    shutdown = verdicts["graceful_shutdown"]  # the listener stays open: requests hang
    # Which requests hang depends on timing: those in flight at SIGTERM (on a busy machine every
    # load thread is in one), or those sent after it. Either way, as timeouts.
    assert re.search(r"(\d+ of \d+ requests in flight at SIGTERM did not complete|\d+ requests "
                     r"after SIGTERM were not refused cleanly) \(\d+ timeout", shutdown.message), \
        shutdown.message
    # Bounded: a hanging call costs its timeout, not the server's HANG_S sleep each time.
    assert took < 40, f"review took {took:.1f}s"
    assert MisbehavingCatalog.namespaces == set()  # what the review created it dropped


@pytest.fixture(scope="module")
def other_environment(state_root):
    """Apache Iceberg's REST server 1.11.0 deployed by an environment of its own (the catalog
    "someone else runs"), holding a namespace that is not the review's."""
    platform = make_platform("local", str(state_root), 90.0, 10.0)
    env = Environment.create(platform, "iceberg-other")
    try:
        url = deploy_apache_rest(env, "apache_rest")[0].url
        httpx.post(f"{url}/v1/namespaces", json={"namespace": ["theirs"]}).raise_for_status()
        yield env, url
    finally:
        report = env.teardown()
        assert report.leftovers == []


def _namespaces(url: str) -> list[list[str]]:
    return httpx.get(f"{url}/v1/namespaces").json()["namespaces"]


def test_the_real_server_passes_what_it_complies_with_and_shows_its_findings(other_environment):
    _, url = other_environment
    found = review_catalog(CatalogTarget("apache_rest", url))
    verdicts = _verdicts(found)
    for name in ("config_contract", "namespace_crud_contract", "table_crud_contract",
                 "view_crud_contract", "multi_table_transaction_contract",
                 "pyiceberg_compatible"):
        assert verdicts[name].passed, f"{name}: {verdicts[name].message}"
    # Measured findings of the 1.11.0 server (FIELD_NOTES, "Iceberg REST catalog").
    assert "(malformed JSON) answered 500" in verdicts["error_responses"].message
    assert "(want 400)" in verdicts["error_responses"].message
    assert "no liveness endpoint answers 200" in verdicts["health_endpoints"].message
    assert "GET /metrics answered" in verdicts["metrics_exposed"].message
    assert "residual-filter" in verdicts["scan_planning_contract"].message
    assert _namespaces(url) == [["theirs"]]  # the review's namespaces are gone, theirs is kept


@pytest.mark.e2e
def test_a_gated_run_pointed_at_another_environments_catalog_deploys_nothing(
        other_environment, state_dir, tmp_path):
    other, url = other_environment
    watch = LeakWatch(state_dir, others=tuple(
        s.process.pid for s in other.services.values() if s.process and s.process.pid))
    result = run_ephemeral(
        defs.resolve_job_def("iceberg_readiness"), raise_on_error=False,
        asset_selection=[catalog_key("apache_rest"), review_key("apache_rest"), READINESS,
                         TEARDOWN],  # one catalog pointed at theirs; lakana is not needed here
        run_config={"resources": {"testbed": {"config": {"state_dir": str(state_dir),
                                                         "report_dir": str(tmp_path)}}},
                    "ops": {"iceberg__apache_rest__catalog": {
                        "config": {"catalog_url": url, "gate": True, "spark": False,
                                   "fuzz_seconds": 2, "bench_rounds": 5}}}})
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert set(CRITERIA) <= set(evaluations)
    assert evaluations["table_crud_contract"].passed
    fuzzed = evaluations["fuzzed_contract"]  # their catalog: generated reads only
    assert fuzzed.metadata["methods"].value == "GET,HEAD", fuzzed.description
    resilience = evaluations["database_failure"]  # neither their process nor their database
    assert not resilience.passed and "was not deployed by Testbed" in resilience.description
    gated = evaluations["error_responses"]  # gate: true makes a finding a blocking ERROR
    assert not gated.passed and gated.severity.value == "ERROR"
    assert not result.success
    assert not result.asset_materializations_for_node("iceberg__readiness")  # blocked ...
    table = json.loads((tmp_path / "iceberg-readiness.json").read_text())  # ... table written
    assert {r["severity"] for r in table["rows"]} == {"ERROR"}
    assert _namespaces(url) == [["theirs"]]  # only the review's own namespaces were dropped
    assert watch.leaks() == []  # nothing was deployed, nothing is left
