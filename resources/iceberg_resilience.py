"""Resilience of a catalog Testbed deployed (seed 004 US1): its database stopped and started again
under requests (`database_failure`), then SIGTERM under a steady load (`graceful_shutdown`). Both
only observe and record (resources/model/iceberg.py); the criteria judge.
"""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from resources.iceberg_client import (
    CatalogTarget,
    RestCatalogClient,
    new_namespace,
    operation_path,
)
from resources.model.iceberg import (
    CatalogReview,
    DatabaseOutage,
    LoadRequest,
    ShutdownObservation,
)


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


def database_failure(client: RestCatalogClient, namespace: str, tables: list[str],
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


def graceful_shutdown(target: CatalogTarget, review: CatalogReview,
                       resilience: Resilience) -> ShutdownObservation:
    """SIGTERM (our own stop) while threads keep listing namespaces; every request is timed and
    classified, and the load goes on briefly after the process is gone."""
    path = operation_path("listNamespaces", review.prefix)
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
