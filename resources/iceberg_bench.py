"""Load figures of an Iceberg REST catalog (seed 004 US3): health, list namespaces, create table,
load table, and concurrent connections, each as throughput, p50/p95/p99 latency and errors.

Everything runs in a namespace of its own (`testbed_<8 hex>`, dropped afterwards) on loopback; the
concurrent profile opens N connections at once with asyncio, bounded by a deadline, so a catalog
that stops answering ends the measurement instead of hanging it.
"""

import asyncio
import statistics
import time
from dataclasses import dataclass, field

import httpx

from resources.criteria.iceberg_checks import LIVENESS
from resources.iceberg_client import (
    TABLE_SCHEMA,
    CatalogTarget,
    namespace_param,
    new_namespace,
    operation_path,
    remove_namespaces,
)


@dataclass
class Figures:
    name: str  # "list_namespaces", "concurrent_100", ...
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, float]:
        lat = sorted(self.latencies_ms) or [0.0]

        def pct(p: float) -> float:
            return round(lat[min(len(lat) - 1, int(p / 100 * len(lat)))], 2)

        return {f"{self.name}/rps": round(self.requests / self.seconds, 1) if self.seconds else 0.0,
                f"{self.name}/p50_ms": round(statistics.median(lat), 2),
                f"{self.name}/p95_ms": pct(95), f"{self.name}/p99_ms": pct(99),
                f"{self.name}/errors": self.errors}


def _health_path(target: CatalogTarget, http: httpx.Client) -> str:
    """The catalog's own health endpoint, else /v1/config (the 1.11.0 server has none)."""
    for path in LIVENESS:
        try:
            if http.get(path).status_code == 200:
                return path
        except httpx.HTTPError:
            pass
    return "/v1/config"


def _serial(http: httpx.Client, name: str, count: int, request,
            budget_s: float = 120.0) -> Figures:
    """count requests one after the other, or fewer when budget_s is spent (a slow catalog)."""
    figures = Figures(name)
    started = time.perf_counter()
    for i in range(count):
        if time.perf_counter() - started > budget_s:
            break
        began = time.perf_counter()
        try:
            ok = request(http, i).status_code < 400
        except httpx.HTTPError:
            ok = False
        figures.latencies_ms.append((time.perf_counter() - began) * 1000)
        figures.requests += 1
        figures.errors += 0 if ok else 1
    figures.seconds = time.perf_counter() - started
    return figures


async def _concurrent(target: CatalogTarget, path: str, connections: int,
                      deadline_s: float) -> Figures:
    """`connections` clients at once, one request each over its own connection; a request not
    answered by the deadline is an error (and its connection is dropped, not waited for)."""
    figures = Figures(f"concurrent_{connections}")
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=0)
    http = httpx.AsyncClient(base_url=target.url, headers=target.headers(), limits=limits,
                             timeout=deadline_s)
    started = time.perf_counter()

    async def one() -> None:
        began = time.perf_counter()
        try:
            answer = await asyncio.wait_for(http.get(path), deadline_s - (began - started))
            ok = answer.status_code < 400
        except (httpx.HTTPError, asyncio.TimeoutError):
            ok = False
        if ok:
            figures.latencies_ms.append((time.perf_counter() - began) * 1000)
        figures.errors += 0 if ok else 1

    try:
        await asyncio.gather(*(one() for _ in range(connections)))
    finally:
        figures.seconds = time.perf_counter() - started
        figures.requests = connections
        try:
            await asyncio.wait_for(http.aclose(), 5)
        except asyncio.TimeoutError:
            pass
    return figures


def measure(target: CatalogTarget, prefix: str = "", rounds: int = 200,
            connections: tuple[int, ...] = (100,), deadline_s: float = 60.0,
            separator: str = "%1F") -> dict[str, float]:
    """Every figure, flat (`<measure>/<figure>`), as asset metadata and benchmark rows take it."""
    name = new_namespace()
    path = [*target.parent, name]
    namespace = namespace_param(path, separator)
    namespaces = operation_path("listNamespaces", prefix)  # also where one is created
    tables = operation_path("createTable", prefix, namespace=namespace)
    table = operation_path("loadTable", prefix, namespace=namespace, table="t0")
    out: dict[str, float] = {}
    with httpx.Client(base_url=target.url, headers=target.headers(), timeout=10) as http:
        try:
            http.post(namespaces, json={"namespace": path}).raise_for_status()
            health = _health_path(target, http)
            runs = [
                _serial(http, "health", rounds, lambda h, i: h.get(health)),
                _serial(http, "list_namespaces", rounds, lambda h, i: h.get(namespaces)),
                _serial(http, "create_table", max(1, rounds // 4), lambda h, i: h.post(
                    tables, json={"name": f"t{i}", "schema": TABLE_SCHEMA})),
                _serial(http, "load_table", rounds, lambda h, i: h.get(table)),
            ]
            for figures in runs:
                out.update(figures.summary())
            for n in connections:
                figures = asyncio.run(_concurrent(target, namespaces, n, deadline_s))
                out.update(figures.summary())
        finally:
            remove_namespaces(target, [name], prefix, separator)
    return out
