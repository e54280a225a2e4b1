"""The Iceberg REST catalog review: drives a catalog through every criterion (contract, errors,
clients, health, metrics, events, load figures, resilience) and returns what it answered, as a
CatalogReview (resources/model/iceberg.py). It judges nothing itself: the criteria in
resources/criteria/iceberg_checks.py do. What it creates it drops again at its end.
"""

import time
from collections.abc import Callable
from typing import TypeVar

import httpx

from resources.criteria.iceberg_checks import LIVENESS, READINESS
from resources.iceberg_client import (
    TABLE_SCHEMA,
    CatalogTarget,
    RestCatalogClient,
    new_namespace,
    remove_namespaces,
    with_prefix,
    with_timeout,
)
from resources.iceberg_pyiceberg import pyiceberg_scenarios
from resources.iceberg_resilience import Resilience, database_failure, graceful_shutdown
from resources.model.iceberg import (
    CatalogReview,
    ClientScenario,
    ErrorProbe,
    Exchange,
    FuzzRun,
)

T = TypeVar("T")
HEALTH_PATHS = LIVENESS + READINESS  # what health_endpoints judges


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
            review.outage = database_failure(client, main, tables, resilience)
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
        review.shutdown = graceful_shutdown(target, review, resilience)
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
    path = with_prefix(path, client.review.prefix)
    client.review.events = client.call(None, f"{method} {path}", method, path,
                                       body={} if method == "POST" else None,
                                       sent="after the review's changes")


def _health(client: RestCatalogClient) -> None:
    client.review.health = {path: client.call(None, f"GET {path}", "GET", path)
                            for path in HEALTH_PATHS}
