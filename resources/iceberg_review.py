"""The Iceberg REST catalog review's client: drives a catalog through every operation a criterion
needs, over HTTP, and records each request and answer (resources/model/iceberg.py) for the pure
criteria in resources/criteria/iceberg_checks.py. It judges nothing itself.

Everything it creates lives in namespaces named `testbed_<8 hex>`, created by this review and
dropped at its end (tables and views first): that is all it ever deletes, so it can point at a
catalog someone else runs. Every request has a timeout; a dead or hanging server gives an
exchange with no answer, never a hung review.
"""

import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote, unquote

import httpx

from resources.criteria.iceberg_checks import LIVENESS, READINESS
from resources.model.iceberg import (
    CatalogReview,
    ClientScenario,
    DatabaseOutage,
    ErrorProbe,
    Exchange,
    FuzzRun,
    LoadRequest,
    ShutdownObservation,
)
from resources.model.openapi import OpenApiContract

T = TypeVar("T")
SPEC_FILE = Path(__file__).resolve().parent / "iceberg" / "iceberg-rest-catalog-open-api-1.11.0.yaml"
HEALTH_PATHS = LIVENESS + READINESS  # what health_endpoints judges
CLIENT_TIMEOUT_S = 60.0  # a client scenario suite against a hung server gives up after this

# The operations each contract criterion needs (a server that does not advertise one of them does
# not support the criterion). The HEAD "exists" operations came later to the spec: they are
# exercised where advertised and are never what makes a criterion unsupported.
OPERATIONS = {
    "config_contract": ("getConfig",),
    "namespace_crud_contract": ("createNamespace", "listNamespaces", "loadNamespaceMetadata",
                                "updateProperties", "dropNamespace"),
    "table_crud_contract": ("createTable", "listTables", "loadTable", "updateTable",
                            "renameTable", "dropTable"),
    "view_crud_contract": ("createView", "listViews", "loadView", "replaceView", "dropView"),
    "scan_planning_contract": ("planTableScan",),
    "multi_table_transaction_contract": ("commitTransaction", "loadTable"),
}
# What a server that sends no `endpoints` list supports: the default set of Iceberg's own Java
# client (RESTSessionCatalog), namespaces and tables without HEAD; views and planning are opt-in.
DEFAULT_OPERATIONS = frozenset({
    "getConfig", "listNamespaces", "loadNamespaceMetadata", "createNamespace", "updateProperties",
    "dropNamespace", "listTables", "loadTable", "createTable", "updateTable", "dropTable",
    "renameTable", "registerTable", "reportMetrics", "commitTransaction"})
TABLE_SCHEMA = {"type": "struct", "schema-id": 0, "fields": [
    {"id": 1, "name": "id", "type": "long", "required": True},
    {"id": 2, "name": "name", "type": "string", "required": False}]}


@cache
def contract() -> OpenApiContract:
    """The vendored Iceberg REST OpenAPI document, `nullable` normalised (loaded once)."""
    return OpenApiContract.load(SPEC_FILE)


@dataclass(frozen=True)
class CatalogTarget:
    name: str  # the catalog's name in the review ("apache_rest", "external")
    url: str  # base URL; /v1/config is under it
    token: str | None = None
    warehouse: str | None = None
    timeout: float = 10.0
    prefix: str | None = None  # the path prefix when /v1/config does not give one
    # Where the review's namespaces go: a catalog that keeps tables under fixed top-level
    # namespaces (Lakana: bronze, silver, gold) gets testbed_<8 hex> beneath one of them.
    parent: tuple[str, ...] = ()

    def client_properties(self) -> dict[str, str]:
        """What a client (PyIceberg, Spark's REST catalog) needs beyond the URI."""
        found = {"token": self.token, "warehouse": self.warehouse, "prefix": self.prefix}
        return {key: value for key, value in found.items() if value}

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}


@dataclass(frozen=True)
class Resilience:
    """Control over a catalog Testbed deployed: its database and its process. The review stops
    and starts the database (database_failure), then stops the server (graceful_shutdown)."""

    stop_database: Callable[[], None]
    start_database: Callable[[], None]
    terminate: Callable[[float], None]  # our own stop: SIGTERM, wait the grace, then SIGKILL
    running: Callable[[], bool]
    server_pid: Callable[[], int | None]
    grace_s: float = 10.0
    answer_budget_s: float = 5.0  # while the database is down, answers come within this
    recovery_timeout_s: float = 60.0
    load_threads: int = 4


def new_namespace() -> str:
    return f"testbed_{secrets.token_hex(4)}"


class RestCatalogClient:
    """Calls a catalog's REST API and records every exchange in the review."""

    def __init__(self, target: CatalogTarget, review: CatalogReview):
        self.target = target
        self.review = review
        self.http = httpx.Client(base_url=target.url.rstrip("/"), headers=target.headers(),
                                 timeout=target.timeout)

    def close(self) -> None:
        self.http.close()

    def ns_path(self, name: str) -> list[str]:
        """A namespace of the review as the API names it: the parent's levels, then name."""
        return [*self.target.parent, name]

    def ns_param(self, name: str) -> str:
        """The {namespace} path parameter: levels joined by the server's separator (0x1F unless
        its config says otherwise)."""
        return unquote(self.review.separator).join(self.ns_path(name))

    def path(self, operation_id: str, **params: str) -> str:
        if "namespace" in params:  # a name of the review's, under the target's parent
            params["namespace"] = self.ns_param(params["namespace"])
        if "raw_namespace" in params:  # a path as listed by the server
            params["namespace"] = params.pop("raw_namespace")
        template = contract().operation(operation_id).path
        if self.review.prefix:
            template = template.replace("{prefix}", quote(self.review.prefix, safe=""))
        else:
            template = template.replace("/{prefix}", "")
        for key, value in params.items():
            template = template.replace("{" + key.replace("_", "-") + "}", quote(value, safe=""))
        return template

    def op(self, criterion: str | None, operation_id: str, sent: str = "", body=None,
           content: bytes | None = None, query: dict | None = None, **params: str) -> Exchange:
        method = contract().operation(operation_id).method
        return self.call(criterion, operation_id, method, self.path(operation_id, **params),
                         sent=sent, body=body, content=content, query=query)

    def call(self, criterion: str | None, label: str, method: str, path: str, sent: str = "",
             body=None, content: bytes | None = None, query: dict | None = None) -> Exchange:
        started = time.perf_counter()
        headers = {"Content-Type": "application/json"} if content is not None else None
        try:
            response = self.http.request(method, path, json=body, content=content, params=query,
                                         headers=headers)
        except httpx.HTTPError as exc:
            exchange = Exchange(label, method, path, None, seconds=time.perf_counter() - started,
                                sent=sent, error=f"{type(exc).__name__}: {exc}"[:300])
        else:
            kind = response.headers.get("content-type", "")
            try:
                parsed = response.json() if response.content else None
            except (json.JSONDecodeError, UnicodeDecodeError):
                parsed = None
            exchange = Exchange(label, method, path, response.status_code, parsed,
                                # whole: a /metrics page is long, and a cut one does not parse
                                "" if parsed is not None else response.text[:2_000_000],
                                kind.split(";")[0], round(time.perf_counter() - started, 4), sent)
        return self.review.add(criterion, exchange) if criterion else exchange

    # --- what a criterion needs ------------------------------------------------------------------

    def advertised(self, operation_id: str) -> bool:
        if self.review.endpoints is None:  # no list: what Iceberg's clients then assume
            return operation_id in DEFAULT_OPERATIONS
        return contract().operation(operation_id).endpoint in self.review.endpoints

    def supported(self, criterion: str) -> bool:
        missing = [contract().operation(op).endpoint for op in OPERATIONS[criterion]
                   if not self.advertised(op)]
        if missing and self.review.endpoints is None:
            self.review.unsupported[criterion] = (
                f"its /v1/config lists no endpoints, and {', '.join(missing)} is not in the "
                f"default set Iceberg clients then assume")
        elif missing:
            self.review.unsupported[criterion] = (
                f"the server does not advertise {', '.join(missing)} in /v1/config endpoints")
        return not missing


# Runs other clients (Spark releases) in a namespace where PyIceberg wrote `trips`; appends any
# namespace it creates to the list (dropped with the review's, whatever happens).
MoreClients = Callable[[CatalogTarget, str, list[str]], list[ClientScenario]]


def review_catalog(target: CatalogTarget, run_clients: bool = True,
                   clients: Callable[[CatalogTarget, str], list[ClientScenario]] | None = None,
                   resilience: Resilience | None = None,
                   more_clients: MoreClients | None = None,
                   fuzz: Callable[[CatalogTarget, str], FuzzRun] | None = None,
                   bench: Callable[[CatalogTarget, str, str], dict[str, float]] | None = None
                   ) -> CatalogReview:
    """Exercise the catalog for every criterion; drop what the review created, also on error.
    With `resilience` (a catalog Testbed deployed) the database is stopped and started again at
    the end, and last of all the server is sent SIGTERM under load: it is gone afterwards."""
    review = CatalogReview(catalog=target.name, url=target.url)
    if resilience is None:
        review.resilience_unavailable = (f"{target.name} was not deployed by Testbed: the review "
                                         f"controls neither its process nor its database")
    client = RestCatalogClient(target, review)
    reached = False
    try:
        _config(client)
        if review.exchanges["config_contract"][-1].status != 200:
            return review  # nothing else can be addressed without a config
        main = _namespace(client)
        if main is None:
            return review
        tables = _tables(client, main)
        _views(client, main)
        if run_clients:
            py_namespace = _create_namespace(client, None)
            review.created_namespaces.append(f"{py_namespace}_ns")  # PyIceberg's own, if left
            review.clients = with_timeout((clients or pyiceberg_scenarios), target, py_namespace)
            if more_clients is not None:
                review.clients += _step(review, "Spark clients", lambda: more_clients(
                    target, py_namespace, review.created_namespaces), [
                    ClientScenario("spark", "client suite", False, "the Spark clients failed "
                                   "to run (see step_errors)")])
            _scan_planning(client, py_namespace)
        _transactions(client, main)
        _errors(client, main, tables)
        if fuzz is not None:
            review.fuzz = _step(review, "fuzzing", lambda: fuzz(target, review.prefix), None)
        _counts(client)
        _events(client)
        _health(client)
        if bench is not None:  # while it still runs as deployed
            review.figures = _step(review, "load figures", lambda: bench(
                target, review.prefix, review.separator), {})
        if resilience is not None:
            review.outage = _database_failure(client, main, tables, resilience)
        reached = True
    finally:
        try:
            review.left_behind = remove_namespaces(target, review.created_namespaces,
                                                   review.prefix, review.separator)
        except httpx.HTTPError as exc:
            review.left_behind = [f"{', '.join(review.created_namespaces)}: {exc}"]
        finally:
            client.close()
    if reached and resilience is not None:  # last: the server does not survive it
        review.shutdown = _graceful_shutdown(target, review, resilience)
    return review


def _step(review: CatalogReview, what: str, run: Callable[[], T], failed: T) -> T:
    """An optional step (clients, fuzzing, figures): its failure to run is recorded and the
    review goes on; what it would have judged is reported as not evaluated."""
    try:
        return run()
    except Exception as exc:
        review.step_errors.append(f"{what}: {type(exc).__name__}: {exc}"[:400])
        return failed


def _config(client: RestCatalogClient) -> None:
    query = {"warehouse": client.target.warehouse} if client.target.warehouse else None
    exchange = client.op("config_contract", "getConfig", query=query)
    if exchange.status == 200 and isinstance(exchange.body, dict):
        overrides, defaults = (value if isinstance(value, dict) else {} for value in (
            exchange.body.get("overrides"), exchange.body.get("defaults")))
        client.review.prefix = str(overrides.get("prefix") or defaults.get("prefix")
                                   or client.target.prefix or "")
        client.review.separator = str(overrides.get("namespace-separator")
                                      or defaults.get("namespace-separator") or "%1F")
        endpoints = exchange.body.get("endpoints")
        client.review.endpoints = [e for e in endpoints if isinstance(e, str)] \
            if isinstance(endpoints, list) else None


def _create_namespace(client: RestCatalogClient, criterion: str | None) -> str:
    name = new_namespace()
    client.review.created_namespaces.append(name)  # dropped at the end whatever happens next
    client.op(criterion, "createNamespace", sent=f"namespace {name}",
              body={"namespace": client.ns_path(name), "properties": {"owner": "testbed"}})
    return name


def _namespace(client: RestCatalogClient) -> str | None:
    """CRUD on a namespace of its own, then the namespace the later criteria work in."""
    criterion = "namespace_crud_contract"
    if client.supported(criterion):
        name = _create_namespace(client, criterion)
        client.op(criterion, "listNamespaces")
        client.op(criterion, "loadNamespaceMetadata", namespace=name)
        if client.advertised("namespaceExists"):
            client.op(criterion, "namespaceExists", namespace=name)
        client.op(criterion, "updateProperties", namespace=name,
                  body={"updates": {"testbed.reviewed": "true"}, "removals": ["owner"]})
        client.op(criterion, "dropNamespace", namespace=name, sent="empty namespace")
    if not client.advertised("createNamespace"):
        return None
    main = _create_namespace(client, None)
    return main


def _create_table(client: RestCatalogClient, criterion: str | None, namespace: str,
                  name: str) -> Exchange:
    return client.op(criterion, "createTable", namespace=namespace, sent=f"table {name}",
                     body={"name": name, "schema": TABLE_SCHEMA,
                           "properties": {"owner": "testbed"}})


def _uuid(exchange: Exchange) -> str:
    body = exchange.body if isinstance(exchange.body, dict) else {}
    return str((body.get("metadata") or {}).get("table-uuid") or
               (body.get("metadata") or {}).get("view-uuid") or "")


def _tables(client: RestCatalogClient, namespace: str) -> list[str]:
    """Table CRUD; returns the tables left in the namespace (for the 409 on a non-empty drop)."""
    criterion = "table_crud_contract"
    if not client.supported(criterion):
        if client.advertised("createTable"):
            _create_table(client, None, namespace, "kept")
            return ["kept"]
        return []
    created = _create_table(client, criterion, namespace, "trips")
    client.op(criterion, "listTables", namespace=namespace)
    loaded = client.op(criterion, "loadTable", namespace=namespace, table="trips")
    if client.advertised("tableExists"):
        client.op(criterion, "tableExists", namespace=namespace, table="trips")
    client.op(criterion, "updateTable", namespace=namespace, table="trips",
              sent="set-properties",
              body={"requirements": [{"type": "assert-table-uuid",
                                      "uuid": _uuid(loaded) or _uuid(created)}],
                    "updates": [{"action": "set-properties",
                                 "updates": {"testbed.reviewed": "true"}}]})
    client.op(criterion, "renameTable", sent="trips -> trips_renamed",
              body={"source": {"namespace": client.ns_path(namespace), "name": "trips"},
                    "destination": {"namespace": client.ns_path(namespace),
                                    "name": "trips_renamed"}})
    client.op(criterion, "dropTable", namespace=namespace, table="trips_renamed",
              query={"purgeRequested": "true"})
    _create_table(client, None, namespace, "kept")
    return ["kept"]


def _views(client: RestCatalogClient, namespace: str) -> None:
    criterion = "view_crud_contract"
    if not client.supported(criterion):
        return
    version = {"version-id": 1, "timestamp-ms": int(time.time() * 1000), "schema-id": 0,
               "summary": {"engine-name": "testbed"},
               "default-namespace": client.ns_path(namespace),
               "representations": [{"type": "sql", "sql": "SELECT 1 AS id", "dialect": "spark"}]}
    schema = {"type": "struct", "schema-id": 0,
              "fields": [{"id": 1, "name": "id", "type": "int", "required": False}]}
    created = client.op(criterion, "createView", namespace=namespace, sent="view reviewed",
                        body={"name": "reviewed", "schema": schema, "view-version": version,
                              "properties": {}})
    client.op(criterion, "listViews", namespace=namespace)
    client.op(criterion, "loadView", namespace=namespace, view="reviewed")
    if client.advertised("viewExists"):
        client.op(criterion, "viewExists", namespace=namespace, view="reviewed")
    client.op(criterion, "replaceView", namespace=namespace, view="reviewed",
              sent="set-properties",
              body={"requirements": [{"type": "assert-view-uuid", "uuid": _uuid(created)}],
                    "updates": [{"action": "set-properties",
                                 "updates": {"testbed.reviewed": "true"}}]})
    client.op(criterion, "dropView", namespace=namespace, view="reviewed")


def _scan_planning(client: RestCatalogClient, namespace: str) -> None:
    """Plan a scan of the table the client scenarios wrote (it has data files)."""
    criterion = "scan_planning_contract"
    if not client.supported(criterion):
        return
    plan = client.op(criterion, "planTableScan", namespace=namespace, table="trips",
                     sent="whole table", body={})
    body = plan.body if isinstance(plan.body, dict) else {}
    if plan.status == 200 and body.get("status") == "submitted" and body.get("plan-id"):
        client.op(criterion, "fetchPlanningResult", namespace=namespace, table="trips",
                  plan_id=str(body["plan-id"]))
    for task in (body.get("plan-tasks") or [])[:2]:
        client.op(criterion, "fetchScanTasks", namespace=namespace, table="trips",
                  body={"plan-task": task})


def _transactions(client: RestCatalogClient, namespace: str) -> None:
    """A two-table commit applies to both; one whose second requirement fails applies to none."""
    criterion = "multi_table_transaction_contract"
    if not client.supported(criterion):
        return
    uuids = {}
    for name in ("txn_a", "txn_b"):
        uuids[name] = _uuid(_create_table(client, None, namespace, name))

    def change(name: str, uuid: str, value: str) -> dict:
        return {"identifier": {"namespace": client.ns_path(namespace), "name": name},
                "requirements": [{"type": "assert-table-uuid", "uuid": uuid}],
                "updates": [{"action": "set-properties", "updates": {"testbed.txn": value}}]}

    client.op(criterion, "commitTransaction", sent="both tables",
              body={"table-changes": [change(n, u, "1") for n, u in uuids.items()]})
    client.op(criterion, "commitTransaction", sent="second requirement fails",
              body={"table-changes": [change("txn_a", uuids["txn_a"], "2"),
                                      change("txn_b", "00000000-0000-0000-0000-000000000000",
                                             "2")]})
    for name in uuids:
        client.op(criterion, "loadTable", namespace=namespace, table=name,
                  sent=f"{name} after both commits")


def _errors(client: RestCatalogClient, namespace: str, tables: list[str]) -> None:
    missing = f"{namespace}_missing"
    probes = [
        ("createNamespace", 400, client.op(None, "createNamespace", sent="malformed JSON",
                                           content=b'{"namespace": ["unterminated"')),
        ("createNamespace", 400, client.op(None, "createNamespace", sent="no namespace field",
                                           body={"properties": {}})),
        ("loadNamespaceMetadata", 404, client.op(None, "loadNamespaceMetadata",
                                                 sent="unknown namespace", namespace=missing)),
        ("loadTable", 404, client.op(None, "loadTable", sent="unknown table",
                                     namespace=namespace, table="missing_table")),
        ("createNamespace", 409, client.op(None, "createNamespace", sent="existing namespace",
                                           body={"namespace": client.ns_path(namespace)})),
    ]
    if tables:
        probes.append(("dropNamespace", 409, client.op(None, "dropNamespace",
                                                       sent="non-empty namespace",
                                                       namespace=namespace)))
    client.review.error_probes = [ErrorProbe(exchange, expected, operation)
                                  for operation, expected, exchange in probes]


def _counts(client: RestCatalogClient) -> None:
    """What the catalog holds now (top-level namespaces, their tables), and its /metrics at the
    same moment: metrics_exposed compares the two."""
    listed = client.op(None, "listNamespaces", sent="count")
    body = listed.body if isinstance(listed.body, dict) else {}
    names = [ns for ns in body.get("namespaces") or [] if isinstance(ns, list) and ns]
    counts: dict[str, int] = {}
    # Only a complete, answered listing is something a metric can be held to.
    if listed.status == 200 and not body.get("next-page-token") and len(names) <= 50:
        counts["namespaces"] = len(names)
        tables = 0
        for namespace in names:  # top-level namespaces only: what a namespace listing shows
            answer = client.op(None, "listTables", sent="count", raw_namespace=str(namespace[0]))
            found = answer.body if isinstance(answer.body, dict) else {}
            if answer.status != 200 or found.get("next-page-token"):
                break
            tables += len(found.get("identifiers") or [])
        else:
            counts["tables"] = tables
    client.review.entity_counts = counts
    client.review.metrics = client.call(None, "GET /metrics", "GET", "/metrics")


def _events(client: RestCatalogClient) -> None:
    """Read an advertised change-event endpoint after the review's changes (the 1.11.0 spec
    defines none; some catalogs add one)."""
    advertised = [e for e in client.review.endpoints or [] if "/events" in e.split(" ")[-1]]
    if not advertised:
        return
    method, path = advertised[0].split(" ", 1)
    path = (path.replace("{prefix}", quote(client.review.prefix, safe="")) if client.review.prefix
            else path.replace("/{prefix}", ""))
    client.review.events = client.call(None, f"{method} {path}", method, path,
                                       body={} if method == "POST" else None,
                                       sent="after the review's changes")


def _health(client: RestCatalogClient) -> None:
    client.review.health = {path: client.call(None, f"GET {path}", "GET", path)
                            for path in HEALTH_PATHS}


def _database_failure(client: RestCatalogClient, namespace: str, tables: list[str],
                      resilience: Resilience) -> DatabaseOutage:
    """Stop the database: every request must fail fast (5xx within the budget), none may hang.
    Start it again: the same server process must answer 200 again by itself."""
    outage = DatabaseOutage(budget_s=resilience.answer_budget_s,
                            recovery_timeout_s=resilience.recovery_timeout_s)
    pid = resilience.server_pid()
    resilience.stop_database()
    try:
        requests = [("listNamespaces", {}), ("loadNamespaceMetadata", {"namespace": namespace})]
        if tables:
            requests.append(("loadTable", {"namespace": namespace, "table": tables[0]}))
        for operation, params in requests:
            outage.during.append(client.op(None, operation, sent="database stopped", **params))
        name = new_namespace()
        client.review.created_namespaces.append(name)  # should it get through after all
        outage.during.append(client.op(None, "createNamespace", sent="database stopped",
                                       body={"namespace": client.ns_path(name)}))
    finally:
        resilience.start_database()
    began = time.monotonic()
    while time.monotonic() - began < resilience.recovery_timeout_s:
        if client.op(None, "listNamespaces", sent="database back").status == 200:
            outage.recovered_after_s = round(time.monotonic() - began, 3)
            break
        time.sleep(0.5)
    outage.server_restarted = resilience.server_pid() != pid
    return outage


def _graceful_shutdown(target: CatalogTarget, review: CatalogReview,
                       resilience: Resilience) -> ShutdownObservation:
    """SIGTERM (our own stop) while threads keep listing namespaces; every request is timed and
    classified, and the load goes on briefly after the process is gone."""
    path = "/v1/" + (f"{quote(review.prefix, safe='')}/" if review.prefix else "") + "namespaces"
    origin = time.perf_counter()
    done = threading.Event()
    requests: list[LoadRequest] = []
    lock = threading.Lock()

    def load() -> None:
        with httpx.Client(base_url=target.url, headers=target.headers(),
                          timeout=resilience.grace_s) as http:
            while not done.is_set():
                started = time.perf_counter() - origin
                outcome, detail = "ok", ""
                try:
                    status = http.get(path).status_code
                    if not 200 <= status < 300:
                        outcome, detail = "status", str(status)
                except httpx.ConnectError as exc:
                    outcome, detail = "refused", type(exc).__name__
                except httpx.TimeoutException as exc:
                    outcome, detail = "timeout", type(exc).__name__
                except httpx.HTTPError as exc:  # RemoteProtocolError, ReadError: broken mid-way
                    outcome, detail = "reset", f"{type(exc).__name__}: {exc}"[:200]
                with lock:
                    requests.append(LoadRequest(round(started, 4),
                                                round(time.perf_counter() - origin, 4),
                                                outcome, detail))
                if outcome == "refused":
                    time.sleep(0.05)  # a closed port answers at once: do not spin

    workers = [threading.Thread(target=load, daemon=True, name=f"load-{i}")
               for i in range(resilience.load_threads)]
    for worker in workers:
        worker.start()
    time.sleep(1.0)  # a steady load first
    sigterm_at = time.perf_counter() - origin
    stopper = threading.Thread(target=resilience.terminate, args=(resilience.grace_s,),
                               daemon=True, name="terminate")
    stopper.start()
    exited = None
    while time.perf_counter() - origin - sigterm_at < resilience.grace_s + 5:
        if not resilience.running():
            exited = round(time.perf_counter() - origin - sigterm_at, 3)
            break
        time.sleep(0.02)
    time.sleep(0.5)  # new requests after the exit: refused cleanly?
    done.set()
    for worker in workers:
        worker.join(resilience.grace_s + 1)
    stopper.join(60)
    return ShutdownObservation(resilience.grace_s, round(sigterm_at, 4), exited,
                               sorted(requests, key=lambda r: r.started))


def with_timeout(run: Callable[[CatalogTarget, str], list[ClientScenario]],
                 target: CatalogTarget, namespace: str,
                 client: str = "pyiceberg") -> list[ClientScenario]:
    """Clients have no timeouts of their own: a hung server must not hang the review."""
    found: list[list[ClientScenario]] = []
    failed: list[BaseException] = []

    def work() -> None:
        try:
            found.append(run(target, namespace))
        except BaseException as exc:  # reported as a scenario, not raised in a thread
            failed.append(exc)

    thread = threading.Thread(target=work, name=f"clients-{target.name}", daemon=True)
    thread.start()
    thread.join(CLIENT_TIMEOUT_S)
    if found:
        return found[0]
    reason = (f"{type(failed[0]).__name__}: {failed[0]}" if failed
              else f"no answer within {CLIENT_TIMEOUT_S:.0f}s")
    return [ClientScenario(client, "client suite", False, reason[:400])]


def remove_namespaces(target: CatalogTarget, names: list[str], prefix: str = "",
                      separator: str = "%1F") -> list[str]:
    """Drop the review's own namespaces with their views and tables; what could not be dropped
    (left: `<namespace>: <why>`). Idempotent: a namespace already gone counts as dropped."""
    review = CatalogReview(catalog=target.name, url=target.url, prefix=prefix,
                           separator=separator)
    client = RestCatalogClient(target, review)
    left = []
    try:
        for name in names:
            for kind, list_op, drop_op, key in (("views", "listViews", "dropView", "view"),
                                                ("tables", "listTables", "dropTable", "table")):
                listed = client.op(None, list_op, namespace=name)
                body = listed.body if isinstance(listed.body, dict) else {}
                for ident in body.get("identifiers") or []:
                    if isinstance(ident, dict) and isinstance(ident.get("name"), str):
                        client.op(None, drop_op, namespace=name,
                                  query={"purgeRequested": "true"} if kind == "tables" else None,
                                  **{key: ident["name"]})
            dropped = client.op(None, "dropNamespace", namespace=name)
            if dropped.status not in (204, 200, 404):
                left.append(f"{name}: drop answered {dropped.answer()}")
    finally:
        client.close()
    return left


def pyiceberg_scenarios(target: CatalogTarget, namespace: str) -> list[ClientScenario]:
    """PyIceberg against the catalog: namespace CRUD, create/load, append Arrow data, schema
    evolution, snapshot history, time travel (seed 004 US2)."""
    import pyarrow as pa
    from pyiceberg import __version__
    from pyiceberg.catalog.rest import RestCatalog
    from pyiceberg.types import DoubleType

    client = f"pyiceberg {__version__}"
    results: list[ClientScenario] = []
    state: dict = {}

    def scenario(name: str, body: Callable[[], str]) -> None:
        started = time.perf_counter()
        try:
            detail, passed = body(), True
        except Exception as exc:
            detail, passed = f"{type(exc).__name__}: {exc}"[:400], False
        results.append(ClientScenario(client, name, passed, detail,
                                      round(time.perf_counter() - started, 3)))

    properties = {"uri": target.url, **target.client_properties()}
    catalog = RestCatalog(target.name, **properties)
    ns = (*target.parent, namespace)  # the review's namespace, under the target's parent
    extra = (*target.parent, f"{namespace}_ns")

    def namespaces() -> str:
        catalog.create_namespace(extra, {"owner": "testbed"})
        if extra not in catalog.list_namespaces(target.parent):
            raise AssertionError(f"{'.'.join(extra)} is not listed after create_namespace")
        catalog.update_namespace_properties(extra, updates={"testbed.step": "updated"})
        got = catalog.load_namespace_properties(extra).get("testbed.step")
        if got != "updated":
            raise AssertionError(f"property testbed.step is {got!r} after the update")
        catalog.drop_namespace(extra)
        if extra in catalog.list_namespaces(target.parent):
            raise AssertionError(f"{'.'.join(extra)} is still listed after drop_namespace")
        return "create, list, update properties, drop"

    first = pa.table({"id": pa.array([1, 2, 3], pa.int64()),
                      "zone": pa.array(["JFK", "LGA", "EWR"], pa.string())})

    def create() -> str:
        state["table"] = catalog.create_table((*ns, "trips"), schema=first.schema)
        loaded = catalog.load_table((*ns, "trips"))
        return f"created and loaded {'.'.join(loaded.name())}"

    def append() -> str:
        table = catalog.load_table((*ns, "trips"))
        table.append(first)
        rows = table.scan().to_arrow()
        if sorted(rows.column("id").to_pylist()) != [1, 2, 3]:
            raise AssertionError(f"read back ids {rows.column('id').to_pylist()}, wrote [1, 2, 3]")
        return "3 rows appended and read back"

    def evolve() -> str:
        table = catalog.load_table((*ns, "trips"))
        with table.update_schema() as update:
            update.add_column("tip", DoubleType())
        table = catalog.load_table((*ns, "trips"))
        second = pa.table({"id": pa.array([4, 5], pa.int64()),
                           "zone": pa.array(["JFK", "JFK"], pa.string()),
                           "tip": pa.array([2.5, 0.0], pa.float64())})
        table.append(second)
        rows = catalog.load_table((*ns, "trips")).scan().to_arrow()
        tips = dict(zip(rows.column("id").to_pylist(), rows.column("tip").to_pylist()))
        if tips != {1: None, 2: None, 3: None, 4: 2.5, 5: 0.0}:
            raise AssertionError(f"after adding column tip the rows read {tips}")
        return "column tip added; old rows read NULL, new rows their values"

    def history() -> str:
        table = catalog.load_table((*ns, "trips"))
        snapshots = table.snapshots()
        if len(snapshots) != 2 or len(table.history()) != 2:
            raise AssertionError(f"{len(snapshots)} snapshots and {len(table.history())} history "
                                 f"entries after two appends (want 2 and 2)")
        state["first_snapshot"] = snapshots[0].snapshot_id
        return f"2 snapshots: {[s.snapshot_id for s in snapshots]}"

    def time_travel() -> str:
        table = catalog.load_table((*ns, "trips"))
        old = table.scan(snapshot_id=state["first_snapshot"]).to_arrow()
        if sorted(old.column("id").to_pylist()) != [1, 2, 3]:
            raise AssertionError(f"the first snapshot reads ids {old.column('id').to_pylist()}, "
                                 f"want [1, 2, 3]")
        return f"snapshot {state['first_snapshot']} reads the 3 rows of the first append"

    for name, body in (("namespace CRUD", namespaces), ("create and load table", create),
                       ("append Arrow data", append), ("schema evolution", evolve),
                       ("snapshot history", history), ("time travel read", time_travel)):
        if name != "namespace CRUD" and results and not results[-1].passed \
                and results[-1].name != "namespace CRUD":
            results.append(ClientScenario(client, name, False,
                                          f"not run: {results[-1].name} failed first"))
            continue
        scenario(name, body)
    return results
