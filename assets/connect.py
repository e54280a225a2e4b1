"""Spark Connect client suites (seed 002) as assets: smoke, E2E and load, per Spark version of the
catalog's `connect` list, through the Go client (tests/go, `go test -json`) and the Python client.

`connect/dataset` writes the NYC-taxi-like dataset once per run where the servers read it, and
takes the E2E answers from DuckDB over the same files. Each version is one step,
`connect/<spark_x_y_z>/{smoke,e2e,load}` (subsettable): it deploys that version's Connect server
(`connect-<version>`), warms it up, runs the selected suites through both clients and stops the
server again, so one server runs at a time on this 2-core box. Every suite's acceptance is a
check (pure functions in resources/criteria/connect_checks); each version's history is its own
assets' history, side by side in the UI, and the load figures are compared with their own rolling
median (no_regression_against_baseline, generic in resources/criteria/baseline).
"""

import time
from collections.abc import Iterator
from pathlib import Path

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    ConfigurableResource,
    MaterializeResult,
    MetadataValue,
    asset,
    multi_asset,
)
from pydantic import Field

from assets.common import to_result
from resources.connect import E2E_FILE, taxi
from resources.connect.expected import answers
from resources.connect.runner import (
    Server,
    SuiteSettings,
    bind_finding,
    check_go,
    run_suite,
    warm_up,
)
from resources.criteria import connect_checks
from resources.criteria.baseline import no_regression_against_baseline
from resources.environment import Slot, TestbedEnvironment
from resources.model.catalog import Catalog, ConnectTarget
from resources.model.connect import LOAD, SMOKE, SuiteRun, load_scenarios
from resources.model.errors import ConfigError
from resources.model.verdict import Verdict
from resources.services.postgres import PostgresServer
from resources.services.spark import ConnectServer, Metastore

DATASET = AssetKey(["connect", "dataset"])
TEARDOWN = AssetKey(["connect", "teardown"])
SERVICES = (PostgresServer.kind, Metastore.kind, ConnectServer.kind)
SUITE_ORDER = ("smoke", "e2e", "load")


class ConnectSuites(ConfigurableResource):
    """How the Connect suites run: data size, load durations and budgets (the nightly schedule
    raises the durations)."""

    rows: int = Field(1_000_000, ge=1, description="rows of the generated taxi dataset")
    load_seconds: float = Field(10.0, gt=0, description="each load scenario's duration")
    sustained_seconds: float = Field(60.0, gt=0, description="the sustained-load scenario's "
                                                             "duration (nightly: 1800)")
    call_timeout_seconds: float = Field(60.0, gt=0, description="every client call's timeout")
    p95_budget_ms: float = Field(5000.0, gt=0, description="load_within_budget: p95 per scenario")
    max_error_rate: float = Field(0.0, ge=0, le=1, description="load_within_budget: errors/queries")
    throughput_workload: str = Field("concurrent_8", description="go_vs_python_throughput judges "
                                                                 "this load scenario")
    baseline_runs: int = Field(5, ge=1, description="rolling median over this many earlier runs")
    baseline_margin: float = Field(0.25, ge=0, description="worse than the median by more: WARN")
    clients: list[str] = Field(["go", "python"], description="go and/or python")
    warm_up_queries: int = Field(20, ge=0, description="queries a fresh server answers before "
                                                       "the suites (its first are ~3x slower)")

    def settings(self) -> SuiteSettings:
        unknown = sorted(set(self.clients) - {"go", "python"})
        if unknown or not self.clients:
            raise ConfigError(f"connect_suites.clients: {unknown or 'empty'}: use go and/or python")
        if self.throughput_workload not in LOAD:
            raise ConfigError(f"connect_suites.throughput_workload {self.throughput_workload!r} is "
                              f"not a load scenario: use one of {', '.join(LOAD)}")
        return SuiteSettings(self.load_seconds, self.sustained_seconds, self.call_timeout_seconds,
                             tuple(self.clients))


# What connect/dataset made, for the version steps of the same run.
DATA: Slot[tuple[Path, dict[str, list[list]]]] = Slot("connect/dataset")


def suite_key(target: ConnectTarget, suite: str) -> AssetKey:
    return AssetKey(["connect", target.key, suite])


@asset(key=DATASET, group_name="connect",
       description="The NYC-yellow-taxi-like dataset (the real schema, seeded RNG, a 265-zone "
                   "lookup) written where the Connect servers read it, and every E2E scenario's "
                   "answer from DuckDB over the same files (an engine that is not Spark).")
def dataset(context: AssetExecutionContext, testbed: TestbedEnvironment,
            connect_suites: ConnectSuites) -> MaterializeResult:
    connect_suites.settings()
    if "go" in connect_suites.clients:
        check_go()
    platform = testbed.environment.platform
    if platform.name != "local":
        # The clients run here and measure the server's process (RSS, what it listens on).
        raise ConfigError(f"connect_suites runs its clients beside the Connect servers on the "
                          f"local platform, not on {platform.name}: TESTBED_PLATFORM=local")
    # Bad input before anything starts: every version this run selected is installed.
    chosen = context.run.asset_selection  # None: the whole job
    targets = [t for t in testbed.catalog.connect
               if chosen is None or any(suite_key(t, s) in chosen for s in SUITE_ORDER)]
    platform.preflight([t.release for t in targets])
    root = testbed.environment.path / "connect-data"
    began = time.monotonic()
    counts = taxi.write(root, connect_suites.rows)
    written = time.monotonic() - began
    scenarios = load_scenarios(E2E_FILE)
    began = time.monotonic()
    expected = answers(root, scenarios)
    testbed.remember(DATA, (root, expected))
    return MaterializeResult(metadata={
        "trips": counts["trips"], "zones": counts["zones"], "path": str(root),
        "write_seconds": round(written, 2), "duckdb_seconds": round(time.monotonic() - began, 2),
        "bytes": sum(p.stat().st_size for p in root.rglob("*.parquet")),
        "scenarios": MetadataValue.md("\n".join(f"- `{s.name}` ({s.category})" for s in scenarios)),
    })


def _table(run: SuiteRun) -> MetadataValue:
    lines = ["| client | scenario | result | seconds | note |", "|---|---|---|---|---|"]
    for r in sorted(run.results, key=lambda r: (r.scenario, r.client)):
        note = r.reason or (r.error.splitlines() or [""])[0][:120]
        lines.append(f"| {r.client} | {r.scenario} | {r.status} | {r.seconds:g} | "
                     f"{note.replace('|', '/')} |")
    return MetadataValue.md("\n".join(lines))


def _numbers(run: SuiteRun) -> dict[str, float]:
    """What the UI plots over time: per client totals and every scenario's own figures
    (`go/concurrent_8/qps`, `python/lifecycle_reconnect_after_restart/restart_seconds`)."""
    numbers: dict[str, float] = {f"server/{k}": v for k, v in run.server.items()}
    for client in ("go", "python"):
        mine = run.of(client)
        if mine:
            numbers[f"{client}/passed"] = sum(1 for r in mine if r.status == "passed")
            numbers[f"{client}/seconds"] = round(sum(r.seconds for r in mine), 2)
    numbers.update({f"{r.client}/{r.scenario}/{name}": value for r in run.results
                    for name, value in r.metrics.items()})
    return numbers


def _history(context: AssetExecutionContext, key: AssetKey, runs: int) -> list[dict[str, float]]:
    """The numeric metadata of the asset's last `runs` materializations before this run's (which
    is already stored: it was yielded first), newest first."""
    records = context.instance.fetch_materializations(key, limit=runs + 1).records
    history = []
    for record in records:
        materialization = record.asset_materialization
        if materialization is None or record.run_id == context.run.run_id:
            continue
        history.append({name: value.value for name, value in materialization.metadata.items()
                        if isinstance(value.value, (int, float))
                        and not isinstance(value.value, bool)})
    return history[:runs]


def _checks(target: ConnectTarget) -> list[AssetCheckSpec]:
    return [
        AssetCheckSpec("smoke_passes", asset=suite_key(target, "smoke"), blocking=True,
                       description=f"All {len(SMOKE)} smoke scenarios (basic SQL, DataFrame "
                                   f"operations, connection lifecycle: sessions released, dead "
                                   f"server bounded, sessions isolated) pass on every client."),
        AssetCheckSpec("e2e_answers_match", asset=suite_key(target, "e2e"), blocking=True,
                       description="Every E2E answer (dataset queries, aggregations, joins, "
                                   "windows) equals DuckDB's over the same files; error "
                                   "scenarios answer with their error class."),
        AssetCheckSpec("load_within_budget", asset=suite_key(target, "load"), blocking=True,
                       description="Every load scenario ran with an error rate within the budget "
                                   "(0 by default) and its p95 under p95_budget_ms."),
        # Soft criteria: blocking like every check here, but they only ever answer WARN.
        AssetCheckSpec("go_vs_python_throughput", asset=suite_key(target, "load"), blocking=True,
                       description="Same workload, same server, same run: Go's throughput over "
                                   "Python's per scenario; WARN below 1.0 on the concurrent one."),
        AssetCheckSpec("no_regression_against_baseline", asset=suite_key(target, "load"),
                       blocking=True,
                       description="WARN when a load figure is worse than the rolling median of "
                                   "this version's last runs by more than the margin."),
    ]


def _judge(suite: str, run: SuiteRun, context: AssetExecutionContext, testbed: TestbedEnvironment,
           config: ConnectSuites, expected: dict[str, list[list]],
           target: ConnectTarget) -> Iterator[AssetCheckResult]:
    key = suite_key(target, suite)

    def result(name: str, verdict: Verdict, severity=AssetCheckSeverity.ERROR):
        return to_result(verdict, testbed, asset_key=key, check_name=name, severity=severity,
                         context=context)

    if suite == "smoke":
        yield result("smoke_passes", connect_checks.smoke_passes(run, SMOKE, tuple(config.clients)))
    elif suite == "e2e":
        yield result("e2e_answers_match",
                     connect_checks.e2e_answers_match(run, load_scenarios(E2E_FILE), expected))
    else:
        yield result("load_within_budget", connect_checks.load_within_budget(
            run, config.p95_budget_ms, config.max_error_rate))
        yield result("go_vs_python_throughput", connect_checks.go_vs_python_throughput(
            run, config.throughput_workload), AssetCheckSeverity.WARN)
        yield result("no_regression_against_baseline", no_regression_against_baseline(
            connect_checks.load_figures(run.results), _history(context, key, config.baseline_runs),
            config.baseline_margin, what=f"Spark {target.version}: "), AssetCheckSeverity.WARN)


def version_asset(target: ConnectTarget):
    specs = [AssetSpec(suite_key(target, suite), group_name="connect", kinds={"spark", "go"},
                       deps=[DATASET], metadata={"version": target.version},
                       description=f"The Connect {suite} suite on Spark {target.version}, Go and "
                                   f"Python clients.")
             for suite in SUITE_ORDER]

    @multi_asset(name=f"connect_{target.key}", specs=specs, check_specs=_checks(target),
                 can_subset=True)
    def suites(context: AssetExecutionContext, testbed: TestbedEnvironment,
               connect_suites: ConnectSuites) -> Iterator:
        selected = [s for s in SUITE_ORDER if suite_key(target, s) in context.selected_asset_keys]
        root, expected = testbed.recall(DATA)
        env = testbed.environment
        spec = target.release
        deployment = testbed.deploy(spec)

        def record(process, log: Path) -> None:
            env.record_job(f"{spec.name}-{log.stem}", spec.name, process, log)

        try:
            server = Server(target, deployment.endpoints.connect, root,
                            service=env.services[f"{spec.name}-connect"], env_dir=str(env.path))
            exposed = bind_finding(server)
            if exposed:
                server.findings.append(exposed)
            began = time.monotonic()
            warm_up(server, connect_suites.warm_up_queries)
            context.log.info(f"connect-{target.version} ready in {deployment.startup_seconds}s, "
                             f"warmed in {time.monotonic() - began:.1f}s")
            for suite in selected:
                run = run_suite(server, suite, connect_suites.settings(),
                                env.path / "connect-runs" / target.version, record,
                                restart=lambda: _restart(env, server))
                run.server["startup_seconds"] = deployment.startup_seconds
                yield MaterializeResult(asset_key=suite_key(target, suite), metadata={
                    "version": target.version, "remote": server.remote,
                    "scenarios": _table(run),
                    "findings": MetadataValue.md("\n".join(f"- {f}" for f in run.findings)
                                                 or "none"),
                    **_numbers(run)})
                yield from _judge(suite, run, context, testbed, connect_suites, expected, target)
        finally:
            env.retire(spec.name)  # one server at a time: the next version starts on free cores

    return suites


def _restart(env, server: Server) -> None:
    """Stop the release's Connect server and start it again (same port, same settings): the
    reconnect scenario's server restart. The new process replaces the old one in the ledger."""
    server.service.stop(env.platform.grace_seconds)
    env.start(server.service)


def build(catalog: Catalog) -> list:
    return [dataset, *(version_asset(target) for target in catalog.connect)]

