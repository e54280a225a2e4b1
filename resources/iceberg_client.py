"""An Iceberg REST catalog as the review sees it: the vendored spec as its contract, where a catalog
is (`CatalogTarget`), and an HTTP client that records every request and answer
(resources/model/iceberg.py) for the pure criteria in resources/criteria/iceberg_checks.py.

Everything the review creates lives in namespaces named `testbed_<8 hex>`, dropped at its end
(tables and views first, `remove_namespaces`): that is all it ever deletes, so it can point at a
catalog someone else runs. Every request has a timeout; a dead or hanging server gives an exchange
with no answer, never a hung review.
"""

import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import quote, unquote

import httpx

from resources.model.iceberg import (
    CatalogReview,
    ClientScenario,
    Exchange,
)
from resources.model.openapi import OpenApiContract

SPEC_FILE = Path(__file__).resolve().parent / "iceberg" / "iceberg-rest-catalog-open-api-1.11.0.yaml"
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


def with_prefix(template: str, prefix: str) -> str:
    """A spec path with the catalog's {prefix} filled in, or its segment dropped when the catalog
    has none."""
    return (template.replace("{prefix}", quote(prefix, safe="")) if prefix
            else template.replace("/{prefix}", ""))


def namespace_param(levels: list[str], separator: str) -> str:
    """The {namespace} path parameter: the levels joined by the server's separator (its config's
    namespace-separator; 0x1F unless it says otherwise)."""
    return unquote(separator).join(levels)


def operation_path(operation_id: str, prefix: str = "", **params: str) -> str:
    """The path of a spec operation on a catalog: prefix filled in, parameters quoted."""
    path = with_prefix(contract().operation(operation_id).path, prefix)
    for key, value in params.items():
        path = path.replace("{" + key.replace("_", "-") + "}", quote(value, safe=""))
    return path


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
        return namespace_param(self.ns_path(name), self.review.separator)

    def path(self, operation_id: str, **params: str) -> str:
        if "namespace" in params:  # a name of the review's, under the target's parent
            params["namespace"] = self.ns_param(params["namespace"])
        if "raw_namespace" in params:  # a path as listed by the server
            params["namespace"] = params.pop("raw_namespace")
        return operation_path(operation_id, self.review.prefix, **params)

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
