"""PyIceberg as an Iceberg REST catalog client (seed 004 US2, `pyiceberg_compatible`): namespace
CRUD, create/load table, append Arrow data, schema evolution, snapshot history, time travel, each a
scenario with its own result."""

import time
from collections.abc import Callable

from resources.iceberg_client import CatalogTarget
from resources.model.iceberg import (
    ClientScenario,
)


def rest_catalog(target: CatalogTarget, name: str | None = None):
    """PyIceberg's client of the catalog, with what the target needs beyond the URI."""
    from pyiceberg.catalog.rest import RestCatalog

    return RestCatalog(name or target.name, uri=target.url, **target.client_properties())


def pyiceberg_scenarios(target: CatalogTarget, namespace: str) -> list[ClientScenario]:
    """PyIceberg against the catalog: namespace CRUD, create/load, append Arrow data, schema
    evolution, snapshot history, time travel (seed 004 US2)."""
    import pyarrow as pa
    from pyiceberg import __version__
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

    catalog = rest_catalog(target)
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
