"""Release assets and their acceptance checks, built by one factory from the release catalog.

`<release key>/release` (e.g. spark_3_5/release): materializing it deploys that release and waits
until every component is ready. The releases are one multi-asset (one step, subsettable), so the
releases of a run deploy side by side. Checks per release (release_ready, and the release's own job:
all releases' jobs run side by side in one step) and across releases (metastore, history and
service isolation) are pure functions in resources/criteria/release_checks; here they only gather
facts. `coexistence/teardown` is the explicit teardown step: blocking checks make it wait for every
check of the releases it depends on.
"""

from collections.abc import Callable, Iterator

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    MaterializeResult,
    MetadataValue,
    asset_check,
    multi_asset,
    multi_asset_check,
)

from assets.common import guarded, teardown_asset, to_result
from assets.storage import STORE
from resources.criteria import release_checks
from resources.environment import TestbedEnvironment
from resources.model.catalog import Catalog, ReleaseSpec
from resources.model.verdict import Verdict
from resources.platforms.environment import probe_table
from resources.processes import rss_bytes

TEARDOWN_KEY = AssetKey(["coexistence", "teardown"])


def release_key(spec: ReleaseSpec) -> AssetKey:
    return AssetKey([spec.key, "release"])


def release_spec(spec: ReleaseSpec) -> AssetSpec:
    return AssetSpec(
        release_key(spec), group_name="releases", kinds={"spark"}, deps=[STORE],
        description=f"Spark {spec.version} ({spec.name}): {', '.join(spec.components)}, deployed "
                    f"and ready. Metastore database {spec.metastore_db}, event logs under "
                    f"{spec.event_log_prefix}.",
        metadata={"version": spec.version, "components": ", ".join(spec.components)})


def releases_asset(catalog: Catalog):
    """Every catalog release as one subsettable multi-asset: the selected ones deploy side by side
    (`parallel_deploy` on the resource switches to one after the other)."""
    by_key = {release_key(spec): spec for spec in catalog.releases}

    @multi_asset(name="releases", specs=[release_spec(spec) for spec in catalog.releases],
                 can_subset=True)
    def releases(context: AssetExecutionContext,
                 testbed: TestbedEnvironment) -> Iterator[MaterializeResult]:
        selected = [spec for key, spec in by_key.items() if key in context.selected_asset_keys]
        deployments = testbed.deploy_all(selected)
        for spec in selected:
            deployment = deployments[spec.name]
            facts = testbed.facts(spec.name)
            pids = [c.pid for c in facts.components if c.pid]
            endpoints = {
                name: MetadataValue.url(value) if value.startswith("http") else MetadataValue.text(value)
                for name, value in deployment.endpoints.present().items()}
            context.log.info(f"{spec.name} ready in {deployment.startup_seconds}s: "
                             f"{deployment.component_seconds}")
            yield MaterializeResult(asset_key=release_key(spec), metadata={
                "version": spec.version,
                "environment": deployment.env_id,
                **endpoints,
                "startup_seconds": deployment.startup_seconds,
                "component_ready_seconds": MetadataValue.json(deployment.component_seconds),
                # One number per component as well: the UI plots them across runs.
                **{f"ready_seconds/{kind}": seconds
                   for kind, seconds in deployment.component_seconds.items()},
                "rss_mb": round(rss_bytes(pids) / 2**20, 1),
            })

    return releases


def release_ready_check(spec: ReleaseSpec):
    @asset_check(asset=release_key(spec), name="release_ready", blocking=True,
                 description="Every component of the release answers its readiness probe.")
    def release_ready(context: AssetCheckExecutionContext,
                      testbed: TestbedEnvironment) -> AssetCheckResult:
        return guarded(testbed, lambda: to_result(
            release_checks.release_ready(testbed.facts(spec.name)), testbed,
            asset_key=release_key(spec), check_name="release_ready", context=context))

    return release_ready


def _job_check(spec: ReleaseSpec) -> tuple[str, Callable, str] | None:
    if "master" in spec.components:
        return ("sparkpi_completes", release_checks.sparkpi_completes,
                "spark-submit a pi job to the release's master: exits 0 and prints a pi within "
                f"{release_checks.PI_TOLERANCE} of {release_checks.PI}.")
    if "connect" in spec.components:
        return ("connect_job_completes", release_checks.connect_job_completes,
                "Through Spark Connect: SQL and a DataFrame aggregation with known answers.")
    return None


def job_checks(catalog: Catalog):
    """Each release's own job (SparkPi on a master, the Connect probe on a Connect server) as one
    check per release, all run side by side in one step."""
    jobs = {spec.name: (spec, *found) for spec in catalog.releases
            if (found := _job_check(spec)) is not None}
    if not jobs:
        return None
    specs = [AssetCheckSpec(name, asset=release_key(spec), blocking=True, description=description)
             for spec, name, _verdict_of, description in jobs.values()]

    @multi_asset_check(name="release_jobs", specs=specs, can_subset=True,
                       description="Each release's own job: SparkPi or the Spark Connect probe.")
    def release_jobs(context: AssetCheckExecutionContext,
                     testbed: TestbedEnvironment) -> Iterator[AssetCheckResult]:
        selected = [(spec, name, verdict_of) for spec, name, verdict_of, _ in jobs.values()
                    if any(key.asset_key == release_key(spec) and key.name == name
                           for key in context.selected_asset_check_keys)]
        results = guarded(testbed, lambda: testbed.job_results([spec for spec, *_ in selected]))
        for spec, name, verdict_of in selected:
            yield to_result(verdict_of(results[spec.name]), testbed,
                            asset_key=release_key(spec), check_name=name, context=context)

    return release_jobs


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
            def judge() -> Verdict:
                # Jobs first (side by side): these checks read what the jobs left (tables, logs).
                testbed.job_results(specs)
                return verdict_of(testbed, specs)

            verdict = guarded(testbed, judge)
            severity = AssetCheckSeverity.ERROR
        for key in keys:
            yield to_result(verdict, testbed, asset_key=key, check_name=name, severity=severity,
                            context=context)

    return isolation


def _metastore(testbed: TestbedEnvironment, specs: list[ReleaseSpec]) -> Verdict:
    facts = [testbed.facts(spec.name) for spec in specs]
    return release_checks.metastore_isolated(
        facts, {spec.name: f"default.{probe_table(spec)}" for spec in specs})


def _history(testbed: TestbedEnvironment, specs: list[ReleaseSpec]) -> Verdict:
    return release_checks.history_isolated([testbed.facts(spec.name) for spec in specs])


def _event_logs(testbed: TestbedEnvironment, specs: list[ReleaseSpec]) -> Verdict:
    return release_checks.event_logs_on_own_prefix([testbed.facts(spec.name) for spec in specs])


def _services(testbed: TestbedEnvironment, specs: list[ReleaseSpec]) -> Verdict:
    return release_checks.services_isolated([testbed.facts(spec.name) for spec in specs])


def build(catalog: Catalog) -> tuple[list, list]:
    """(assets, checks) for every release in the catalog, plus the coexistence checks."""
    assets = [releases_asset(catalog),
              teardown_asset(TEARDOWN_KEY, [STORE, *(release_key(s) for s in catalog.releases)],
                             group="coexistence")]
    checks = [release_ready_check(spec) for spec in catalog.releases]
    checks += [check for check in (job_checks(catalog),) if check is not None]
    checks += [
        isolation_check(catalog, "metastore_isolated",
                        "Distinct metastore databases; each release's job creates a table that "
                        "appears in its own database only (read from PostgreSQL TBLS/DBS).",
                        _metastore),
        isolation_check(catalog, "history_isolated",
                        "Distinct event-log prefixes; each History Server lists only its own "
                        "version's applications.", _history),
        isolation_check(catalog, "event_logs_on_own_prefix",
                        "After the jobs, each release's application event logs are in the store "
                        "(or dir) under its own prefix only, listed from it, not assumed.",
                        _event_logs),
        isolation_check(catalog, "services_isolated",
                        "No two components share a name, port, data dir or conf dir.", _services),
    ]
    return assets, checks
