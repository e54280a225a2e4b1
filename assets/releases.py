"""Release assets and their acceptance checks, built by one factory from the release catalog.

`<release key>/release` (e.g. spark_3_5/release): materializing it deploys that release and waits
until every component is ready. Checks per release (release_ready, and the release's own job) and
across releases (metastore, history and service isolation) are pure functions in release_checks;
here they only gather facts. `coexistence/teardown` is the explicit teardown step: blocking checks
make it wait for every check of the releases it depends on.
"""

from collections.abc import Callable, Iterator

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    MaterializeResult,
    MetadataValue,
    asset,
    asset_check,
    multi_asset_check,
)

from assets import release_checks
from assets.common import guarded, teardown_asset, to_result
from assets.verdict import Verdict
from resources.environment import TestbedEnvironment, probe_table
from resources.platforms.base import Catalog, ReleaseSpec
from resources.processes import rss_bytes

TEARDOWN_KEY = AssetKey(["coexistence", "teardown"])


def release_key(spec: ReleaseSpec) -> AssetKey:
    return AssetKey([spec.key, "release"])


def release_asset(spec: ReleaseSpec):
    @asset(key=release_key(spec), group_name="releases", kinds={"spark"},
           description=f"Spark {spec.version} ({spec.name}): {', '.join(spec.components)}, "
                       f"deployed and ready. Metastore database {spec.metastore_db}, event logs "
                       f"under {spec.event_log_prefix}.",
           metadata={"version": spec.version, "components": ", ".join(spec.components)})
    def release(context: AssetExecutionContext, testbed: TestbedEnvironment) -> MaterializeResult:
        deployment = testbed.deploy(spec)
        facts = testbed.facts(spec.name)
        pids = [c.pid for c in facts.components if c.pid]
        endpoints = {
            name: MetadataValue.url(value) if value.startswith("http") else MetadataValue.text(value)
            for name, value in deployment.endpoints.items()}
        context.log.info(f"{spec.name} ready in {deployment.startup_seconds}s: "
                         f"{deployment.component_seconds}")
        return MaterializeResult(metadata={
            "version": spec.version,
            "environment": deployment.env_id,
            **endpoints,
            "startup_seconds": deployment.startup_seconds,
            "component_ready_seconds": MetadataValue.json(deployment.component_seconds),
            "rss_mb": round(rss_bytes(pids) / 2**20, 1),
        })

    return release


def release_ready_check(spec: ReleaseSpec):
    @asset_check(asset=release_key(spec), name="release_ready", blocking=True,
                 description="Every component of the release answers its readiness probe.")
    def release_ready(testbed: TestbedEnvironment) -> AssetCheckResult:
        return guarded(testbed, lambda: to_result(
            release_checks.release_ready(testbed.facts(spec.name)), testbed))

    return release_ready


def job_check(spec: ReleaseSpec):
    if "master" in spec.components:
        name, verdict_of = "sparkpi_completes", release_checks.sparkpi_completes
        description = ("spark-submit a pi job to the release's master: exits 0 and prints a pi "
                       f"within {release_checks.PI_TOLERANCE} of {release_checks.PI}.")
    elif "connect" in spec.components:
        name, verdict_of = "connect_job_completes", release_checks.connect_job_completes
        description = "Through Spark Connect: SQL and a DataFrame aggregation with known answers."
    else:
        return None

    @asset_check(asset=release_key(spec), name=name, blocking=True, description=description)
    def job_completes(testbed: TestbedEnvironment) -> AssetCheckResult:
        return guarded(testbed, lambda: to_result(verdict_of(testbed.job_result(spec)), testbed))

    return job_completes


def isolation_check(catalog: Catalog, name: str, description: str,
                    verdict_of: Callable[[TestbedEnvironment, list[ReleaseSpec]], Verdict]):
    """One multi-asset check over all releases: one op, one result per release asset."""
    specs = list(catalog.releases)
    keys = [release_key(spec) for spec in specs]

    @multi_asset_check(
        name=name, description=description,
        specs=[AssetCheckSpec(name, asset=key, blocking=True, description=description,
                              additional_deps=[k for k in keys if k != key]) for key in keys])
    def isolation(context: AssetCheckExecutionContext,
                  testbed: TestbedEnvironment) -> Iterator[AssetCheckResult]:
        missing = [spec.name for spec in specs if not testbed.deployed(spec.name)]
        if missing:
            # Materializing one release alone cannot say anything about coexistence.
            verdict = Verdict(
                False, f"not evaluated: {', '.join(missing)} not deployed in this run; "
                       f"materialize all releases together (job coexistence)")
            severity = AssetCheckSeverity.WARN
        else:
            # Jobs first: these checks read what the jobs left (tables, event logs).
            for spec in specs:
                testbed.job_result(spec)
            verdict = guarded(testbed, lambda: verdict_of(testbed, specs))
            severity = AssetCheckSeverity.ERROR
        for key in keys:
            yield to_result(verdict, testbed, asset_key=key, check_name=name, severity=severity)

    return isolation


def _metastore(testbed: TestbedEnvironment, specs: list[ReleaseSpec]) -> Verdict:
    facts = [testbed.facts(spec.name) for spec in specs]
    return release_checks.metastore_isolated(
        facts, {spec.name: f"default.{probe_table(spec)}" for spec in specs})


def _history(testbed: TestbedEnvironment, specs: list[ReleaseSpec]) -> Verdict:
    return release_checks.history_isolated([testbed.facts(spec.name) for spec in specs])


def _services(testbed: TestbedEnvironment, specs: list[ReleaseSpec]) -> Verdict:
    return release_checks.services_isolated([testbed.facts(spec.name) for spec in specs])


def build(catalog: Catalog) -> tuple[list, list]:
    """(assets, checks) for every release in the catalog, plus the coexistence checks."""
    assets = [release_asset(spec) for spec in catalog.releases]
    assets.append(teardown_asset(TEARDOWN_KEY, [release_key(s) for s in catalog.releases],
                                 group="coexistence"))
    checks = [release_ready_check(spec) for spec in catalog.releases]
    checks += [c for c in (job_check(spec) for spec in catalog.releases) if c is not None]
    checks += [
        isolation_check(catalog, "metastore_isolated",
                        "Distinct metastore databases; each release's job creates a table that "
                        "appears in its own database only (read from PostgreSQL TBLS/DBS).",
                        _metastore),
        isolation_check(catalog, "history_isolated",
                        "Distinct event-log prefixes; each History Server lists only its own "
                        "version's applications.", _history),
        isolation_check(catalog, "services_isolated",
                        "No two components share a name, port, data dir or conf dir.", _services),
    ]
    return assets, checks
