"""Iceberg REST catalog production-readiness review as assets (seed 004).

`iceberg/<catalog>/catalog` deploys the catalog under review on the environment's platform (Apache
Iceberg's REST catalog server 1.11.0 on a PostgreSQL of its own, warehouse in the environment dir),
or, with `catalog_url`, points at a catalog someone else runs and deploys nothing.
`iceberg/<catalog>/review` drives it through every criterion (resources/iceberg_review.py) and
reports each criterion as an asset check judged by a pure function
(resources/criteria/iceberg_checks.py): WARN findings by default, blocking ERRORs with `gate: true`.
`iceberg/readiness` is the side-by-side table (criterion x catalog: pass / finding / not supported),
written as JSON and JUnit XML next to the run.
"""

import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import httpx
from dagster import (
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    Config,
    MaterializeResult,
    MetadataValue,
    asset,
)
from pydantic import Field

from assets.common import to_result
from resources.criteria import iceberg_checks
from resources.environment import Slot, TestbedEnvironment
from resources.iceberg_bench import measure
from resources.iceberg_client import CatalogTarget, contract
from resources.iceberg_fuzz import fuzz_catalog
from resources.iceberg_resilience import Resilience
from resources.iceberg_review import MoreClients, review_catalog
from resources.iceberg_spark import spark_scenarios
from resources.model.errors import ConfigError
from resources.model.iceberg import CatalogReview, ReadinessReport, ReadinessRow
from resources.model.openapi import OpenApiContract
from resources.model.verdict import Verdict
from resources.platforms.environment import Environment
from resources.processes import MARKER, listening_ports
from resources.services.iceberg_rest import VERSION, IcebergRestServer
from resources.services.lakana import ENVIRONMENT as LAKANA_ENVIRONMENT
from resources.services.lakana import VERSION as LAKANA_VERSION
from resources.services.lakana import LakanaServer
from resources.services.postgres import PostgresServer

# The catalogs the review deploys itself, side by side in one run (a second implementation is
# one more entry and one deploy function).
CATALOGS = ("apache_rest", "lakana")
READINESS = AssetKey(["iceberg", "readiness"])
TEARDOWN = AssetKey(["iceberg", "teardown"])
SERVICES = (PostgresServer.kind, IcebergRestServer.kind, LakanaServer.kind)
DATABASE = "iceberg_catalog"
# The review's concurrent figure ends here: what has not answered by then counts as an error.
BENCH_DEADLINE_S = 15.0
# What each criterion asks, and the pure function that judges the review's answers for it.
Judge = Callable[[CatalogReview, OpenApiContract], Verdict]


def _on_review(judge: Callable[[CatalogReview], Verdict]) -> Judge:
    """A criterion judged on the review alone (not on the spec)."""
    return lambda review, _contract: judge(review)


CRITERIA: dict[str, tuple[str, Judge]] = {
    "config_contract": (
        "US1: GET /v1/config answers a CatalogConfig as the Iceberg REST spec 1.11.0 says.",
        lambda r, c: iceberg_checks.contract_conforms(r, "config_contract", c)),
    "namespace_crud_contract": (
        "US1: create, list, load, exists, update properties and drop of a namespace succeed "
        "and every answer matches the spec's schema.",
        lambda r, c: iceberg_checks.contract_conforms(r, "namespace_crud_contract", c)),
    "table_crud_contract": (
        "US1: create, list, load, exists, commit, rename and drop of a table succeed and every "
        "answer matches the spec's schema.",
        lambda r, c: iceberg_checks.contract_conforms(r, "table_crud_contract", c)),
    "view_crud_contract": (
        "US1: create, list, load, exists, replace and drop of a view (not supported when the "
        "server does not advertise view endpoints).",
        lambda r, c: iceberg_checks.contract_conforms(r, "view_crud_contract", c)),
    "scan_planning_contract": (
        "US1: server-side scan planning of a table with data answers a PlanTableScanResult.",
        lambda r, c: iceberg_checks.contract_conforms(r, "scan_planning_contract", c)),
    "multi_table_transaction_contract": (
        "US1: a two-table commit applies to both; one with a failing requirement gets 409 and "
        "applies to neither.", iceberg_checks.multi_table_transaction),
    "error_responses": (
        "US1: malformed JSON and a missing field get 400, unknown namespace/table 404, an "
        "existing namespace and dropping a non-empty one 409, each with an ErrorModel body.",
        iceberg_checks.error_responses),
    "health_endpoints": (
        "US3: a liveness and a readiness endpoint answer 200.",
        _on_review(iceberg_checks.health_endpoints)),
    "metrics_exposed": (
        "US3: Prometheus /metrics with a request latency histogram, a DB pool gauge and entity "
        "counts that agree with what the catalog lists.",
        _on_review(iceberg_checks.metrics_exposed)),
    "event_stream": (
        "US3: where the catalog advertises a change-event endpoint, it lists the review's "
        "namespace changes (not supported otherwise).",
        _on_review(iceberg_checks.event_stream)),
    "database_failure": (
        "US1 resilience: with the catalog's PostgreSQL stopped every request gets a 5xx within "
        "5 s (no hang); started again, the same server process answers 200 again.",
        _on_review(iceberg_checks.database_failure)),
    "graceful_shutdown": (
        "US1 resilience: SIGTERM under a steady load: requests in flight complete, new ones are "
        "refused cleanly, no connection reset, exit within the grace period.",
        _on_review(iceberg_checks.graceful_shutdown)),
    "fuzzed_contract": (
        "US1: property-based requests generated from the spec (schemathesis, seeded, bounded "
        "in time) for the namespace and table operations find no server error or answer "
        "outside the spec.",
        _on_review(iceberg_checks.fuzzed_contract)),
    "spark_compatible": (
        "US2: each Spark release of the catalog (iceberg-spark-runtime 1.11.0) does namespaces, "
        "create, insert, select, time travel and the snapshots/history tables, reads the table "
        "PyIceberg wrote, and PyIceberg reads the one Spark wrote.",
        lambda r, c: iceberg_checks.clients_compatible(r, "spark")),
    "pyiceberg_compatible": (
        "US2: PyIceberg 0.12 does namespace CRUD, create/load table, appends Arrow data, evolves "
        "the schema, lists snapshot history and reads a past snapshot.",
        lambda r, c: iceberg_checks.clients_compatible(r, "pyiceberg")),
}
# What the run made, for the review and the table of the same run.
VERDICTS: Slot[dict[tuple[str, str], ReadinessRow]] = Slot("iceberg/verdicts")


def catalog_key(name: str) -> AssetKey:
    return AssetKey(["iceberg", name, "catalog"])


def review_key(name: str) -> AssetKey:
    return AssetKey(["iceberg", name, "review"])


class CatalogSettings(Config):
    catalog_url: str | None = Field(
        None, description="review this catalog instead of deploying one (its base URL, "
                          "/v1/config under it); nothing is deployed, and nothing of it is "
                          "deleted but the testbed_<8 hex> namespaces the review creates")
    token: str | None = Field(None, description="bearer token for catalog_url")
    prefix: str | None = Field(None, description="the path prefix for catalog_url when its "
                                                 "/v1/config names none")
    parent_namespace: list[str] = Field(
        default_factory=list, description="for catalog_url: the namespace the review's own "
                                          "testbed_<8 hex> namespaces go under (a catalog that "
                                          "allows tables only under fixed top-level ones)")
    warehouse: str | None = Field(None, description="the warehouse to ask /v1/config for")
    gate: bool = Field(False, description="findings fail the run (blocking ERROR checks) "
                                          "instead of being reported as WARN")
    spark: bool = Field(True, description="run spark_compatible: every Spark release of the "
                                          "catalog as a client (local mode, ~20 s each)")
    bench_rounds: int = Field(100, ge=0, le=100000,
                              description="requests per measure of the load figures in the "
                                          "review's metadata (0 leaves them out); "
                                          "benchmarks/iceberg.py runs the long profile")
    bench_connections: int = Field(20, ge=1, le=1000,
                                   description="clients at once for the concurrent figure "
                                               "(each on its own connection, bounded in time). "
                                               "Kept small: the review goes on with the same "
                                               "server, and lakana-server stalls for ~45 s after "
                                               "100 (its pool); benchmarks/iceberg.py runs 100 "
                                               "and 1000")
    fuzz_seconds: float = Field(30.0, ge=0, le=3600,
                                description="time budget of fuzzed_contract (schemathesis); 0 "
                                            "leaves it out. Only GET/HEAD on a catalog_url")


def target_slot(name: str) -> Slot[tuple[CatalogTarget, CatalogSettings, Resilience | None]]:
    return Slot(f"iceberg/{name}/target")


def _own_postgres(env: Environment, name: str) -> tuple[PostgresServer, str, str]:
    """A PostgreSQL of the catalog's own (database_failure stops it without touching anything
    else), with its database; (server, user, password)."""
    root = env.path / "iceberg" / name
    postgres = env.once(f"{name} postgres", lambda: env.start(
        PostgresServer(root / "postgres", name=f"{name}-postgres")))
    user, password = postgres.create_database(DATABASE)
    return postgres, user, password


def _resilience(env: Environment, postgres: PostgresServer, server) -> Resilience:
    return Resilience(
        stop_database=lambda: postgres.stop(env.platform.grace_seconds),
        start_database=lambda: env.start(postgres),  # same data dir: roles and catalog kept
        terminate=server.stop, running=server.running,
        server_pid=lambda: server.process.pid if server.process else None)


def deploy_apache_rest(env: Environment, name: str) -> tuple[CatalogTarget, Resilience, dict]:
    """Apache Iceberg's REST catalog server on a PostgreSQL of its own, warehouse in the
    environment dir."""
    root = env.path / "iceberg" / name
    postgres, user, password = _own_postgres(env, name)
    server = IcebergRestServer(root, f"jdbc:postgresql://127.0.0.1:{postgres.port}/{DATABASE}",
                               user, password, name=f"{name}-server", owner=name)
    env.start(server)
    bound = sorted({f"port {port}" for port in listening_ports({server.process.pid})})
    return CatalogTarget(name, server.url), _resilience(env, postgres, server), {
        "implementation": f"Apache Iceberg RESTCatalogServer {VERSION}",
        "database": f"postgresql 127.0.0.1:{postgres.port}/{DATABASE}",
        "warehouse": MetadataValue.path(str(server.warehouse)),
        "listens": ", ".join(bound) + " on all interfaces (the server has no host setting)",
        "ready_seconds": round(server.process.ready_seconds, 3),
        "rss_mb": server.rss_mb(), "postgres_rss_mb": postgres.rss_mb()}


def deploy_lakana(env: Environment, name: str) -> tuple[CatalogTarget, Resilience, dict]:
    """lakana-server on a PostgreSQL of its own; its environment `testbed` is the prefix."""
    postgres, user, password = _own_postgres(env, name)
    server = LakanaServer(env.path / "iceberg" / name, f"postgresql+psycopg://{user}:{password}"
                          f"@127.0.0.1:{postgres.port}/{DATABASE}", name=f"{name}-server",
                          owner=name)
    env.start(server)
    # Its tables may live only under bronze, silver or gold: the review works beneath bronze.
    target = CatalogTarget(name, server.url, token=server.token, prefix=LAKANA_ENVIRONMENT,
                           parent=("bronze",))
    return target, _resilience(env, postgres, server), {
        "implementation": f"lakana-server {LAKANA_VERSION} (PyPI)",
        "database": f"postgresql 127.0.0.1:{postgres.port}/{DATABASE}",
        "warehouse": MetadataValue.path(str(server.warehouse)),
        "prefix": LAKANA_ENVIRONMENT,
        "ready_seconds": round(server.process.ready_seconds, 3),
        "rss_mb": server.rss_mb(), "postgres_rss_mb": postgres.rss_mb()}


DEPLOY = {"apache_rest": deploy_apache_rest, "lakana": deploy_lakana}
IMPLEMENTATIONS = {
    "apache_rest": f"Apache Iceberg RESTCatalogServer {VERSION}, a JDBC catalog on its own "
                   f"PostgreSQL",
    "lakana": f"lakana-server {LAKANA_VERSION} from PyPI, FastAPI on its own PostgreSQL"}


def spark_clients(env: Environment, owner: str, versions: list[str], work: Path) -> MoreClients:
    """Every Spark release as a client, two at a time (2 cores), each job in the ledger."""

    def record(process: subprocess.Popen, log: Path) -> None:
        env.record_job(f"{owner}-{log.stem}", owner, process, log)

    def run(target: CatalogTarget, namespace: str, created: list[str]):
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="spark-client") as pool:
            futures = [pool.submit(spark_scenarios, version, target, namespace,
                                   work / f"spark-{version}", created,
                                   env={MARKER: str(env.path)}, on_spawn=record)
                       for version in versions]
            return [scenario for future in futures for scenario in future.result()]

    return run


def _external(name: str, config: CatalogSettings) -> CatalogTarget:
    """A catalog the user runs: checked to answer before the review touches it."""
    url = config.catalog_url or ""
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"iceberg/{name}/catalog: catalog_url {url!r} is not an http(s) URL; "
                          f"give the catalog's base URL, e.g. http://127.0.0.1:8181")
    target = CatalogTarget(name, url.rstrip("/"), config.token, config.warehouse,
                           prefix=config.prefix, parent=tuple(config.parent_namespace))
    try:
        httpx.get(f"{target.url}/v1/config", headers=target.headers(), timeout=10)
    except httpx.HTTPError as exc:
        raise ConfigError(f"iceberg/{name}/catalog: catalog_url {url} does not answer "
                          f"({type(exc).__name__}: {exc}); start the catalog or fix the URL") from None
    return target


def catalog_asset(name: str):
    @asset(key=catalog_key(name), group_name="iceberg", kinds={"iceberg"},
           description=f"The Iceberg REST catalog under review as {name}: deployed by Testbed "
                       f"({IMPLEMENTATIONS[name]}) and ready on GET /v1/config, or a catalog_url "
                       f"of yours.")
    def catalog(context: AssetExecutionContext, config: CatalogSettings,
                testbed: TestbedEnvironment) -> MaterializeResult:
        resilience = None
        if config.catalog_url:
            target = _external(name, config)
            metadata = {"implementation": "external (not deployed by Testbed)"}
        else:
            env = testbed.environment
            target, resilience, metadata = DEPLOY[name](env, name)
            if config.warehouse:
                target = replace(target, warehouse=config.warehouse)
        testbed.remember(target_slot(name), (target, config, resilience))
        return MaterializeResult(metadata={"url": MetadataValue.url(target.url),
                                           "gate": config.gate, **metadata})

    return catalog


def review_asset(name: str):
    key = review_key(name)

    @asset(key=key, group_name="iceberg", deps=[catalog_key(name)], kinds={"iceberg"},
           description=f"The readiness review of {name}: every criterion exercised against the "
                       f"running catalog (uniquely named namespaces, dropped afterwards); each "
                       f"criterion is a check.",
           # Blocking: with gate (ERROR) a finding stops the run; as WARN it never blocks.
           check_specs=[AssetCheckSpec(criterion, asset=key, description=text, blocking=True)
                        for criterion, (text, _) in CRITERIA.items()])
    def review(context: AssetExecutionContext, testbed: TestbedEnvironment):
        target, config, resilience = testbed.recall(target_slot(name))
        gate = config.gate
        env = testbed.environment  # the clients' and the fuzzer's work dirs, their processes
        work = env.path / "iceberg" / name / "review"
        versions = list(dict.fromkeys(spec.version for spec in testbed.catalog.releases))
        started = time.monotonic()
        found = review_catalog(
            target, resilience=resilience,
            more_clients=spark_clients(env, name, versions, work) if config.spark else None,
            fuzz=(lambda t, prefix: fuzz_catalog(
                t, work / "fuzz", config.fuzz_seconds, read_only=resilience is None,
                prefix=prefix, env={MARKER: str(env.path)})) if config.fuzz_seconds else None,
            bench=(lambda t, prefix, separator: measure(
                t, prefix, rounds=config.bench_rounds, connections=(config.bench_connections,),
                deadline_s=BENCH_DEADLINE_S, separator=separator))
            if config.bench_rounds else None)
        seconds = round(time.monotonic() - started, 3)
        rows = testbed.remember_default(VERDICTS, dict)
        severity = AssetCheckSeverity.ERROR if gate else AssetCheckSeverity.WARN
        results = []
        for criterion, (_, judge) in CRITERIA.items():
            verdict = judge(found, contract())
            rows[(criterion, name)] = ReadinessRow(
                criterion=criterion, catalog=name, outcome=iceberg_checks.outcome(verdict),
                message=verdict.message, severity=severity.value)
            results.append(to_result(verdict, testbed, asset_key=key, check_name=criterion,
                                     severity=severity, context=context))
        for problem in found.left_behind + found.step_errors:
            context.log.warning(f"{name}: {problem}")
        # The table so far: a gated finding stops the run before iceberg/readiness runs.
        write_readiness(context, testbed)
        exchanges = [e for group in found.exchanges.values() for e in group]
        yield MaterializeResult(metadata={
            "url": MetadataValue.url(target.url),
            "endpoints_advertised": len(found.endpoints or []),
            "requests": len(exchanges) + len(found.error_probes),
            "review_seconds": seconds,
            "findings": sum(1 for r in rows.values() if r.catalog == name
                            and r.outcome == "finding"),
            "namespaces_created": ", ".join(found.created_namespaces),
            # What the review could not drop, and optional steps that failed to run: said here.
            "namespaces_left": ", ".join(found.left_behind) or "none",
            "step_errors": "; ".join(found.step_errors) or "none",
            **found.figures})
        yield from results

    return review


@asset(key=READINESS, group_name="iceberg", deps=[review_key(name) for name in CATALOGS],
       description="The side-by-side readiness table (criterion x catalog: pass / finding / not "
                   "supported), written as iceberg-readiness.json and iceberg-readiness.xml "
                   "(JUnit) next to the run.")
def readiness(context: AssetExecutionContext, testbed: TestbedEnvironment) -> MaterializeResult:
    report, written = write_readiness(context, testbed)
    table = report.table()
    context.log.info("Iceberg REST catalog readiness\n" + table)
    counts = {f"{catalog}/{outcome.replace(' ', '_')}": sum(
        1 for r in report.rows if r.catalog == catalog and r.outcome == outcome)
        for catalog in report.catalogs for outcome in ("pass", "finding", "not supported")}
    return MaterializeResult(metadata={"readiness_table": MetadataValue.md(f"```\n{table}\n```"),
                                       "json": MetadataValue.path(str(written[0])),
                                       "junit": MetadataValue.path(str(written[1])),
                                       **counts})


def write_readiness(context: AssetExecutionContext,
                    testbed: TestbedEnvironment) -> tuple[ReadinessReport, list[Path]]:
    """The table of every verdict so far, as iceberg-readiness.json and .xml (JUnit) in the run's
    storage directory and in the resource's report_dir."""
    rows = testbed.remember_default(VERDICTS, dict)
    catalogs = list(dict.fromkeys(catalog for _, catalog in rows))
    report = ReadinessReport(run_id=context.run.run_id, catalogs=catalogs,
                             rows=list(rows.values()))
    written = []
    places = [Path(context.instance.storage_directory()) / context.run.run_id]
    if testbed.report_dir:
        places.append(Path(testbed.report_dir).expanduser())
    for place in places:
        place.mkdir(parents=True, exist_ok=True)
        (place / "iceberg-readiness.json").write_text(report.model_dump_json(indent=2) + "\n")
        (place / "iceberg-readiness.xml").write_text(report.junit())
        written += [place / "iceberg-readiness.json", place / "iceberg-readiness.xml"]
    return report, written


def build() -> tuple[list, list]:
    assets = [factory(name) for name in CATALOGS for factory in (catalog_asset, review_asset)]
    return assets + [readiness], []
