"""Jobs: deploy -> verify -> teardown, in-process (one environment resource for the whole run)."""

from dagster import AssetKey, AssetSelection, define_asset_job, in_process_executor

from assets import alerting, cdc, connect, iceberg
from assets.common import teardown_asset
from assets.delta_tables import SEEDED, release_deps
from assets.releases import TEARDOWN_KEY, release_key
from assets.storage import STORE
from resources.environment import SERVICES_TAG
from resources.model.catalog import Catalog


def environment_job(name: str, selection: AssetSelection, teardown: AssetKey, description: str,
                    services: tuple[str, ...] = ()):
    """A job that drives one environment: its assets, then its teardown step, all in one process
    (checks recall what their asset made; one resource tears down once). `services` are the
    service kinds its assets start: preflight refuses a platform that cannot run them."""
    return define_asset_job(
        name,
        selection=selection | AssetSelection.assets(teardown),
        executor_def=in_process_executor,
        description=description,
        tags={"testbed/kind": name, SERVICES_TAG: ",".join(services)},
    )


def coexistence_job(catalog: Catalog):
    return environment_job(
        "coexistence", AssetSelection.assets(STORE, *[release_key(s) for s in catalog.releases]),
        TEARDOWN_KEY,
        "Seed 000: deploy every catalog release side by side, run a job on each, verify isolated "
        "metastores, History Servers and services, tear down.")


ALERTING_ASSETS = [alerting.AM_CONFIG, alerting.RULES, alerting.STACK]
ALERTING_TEARDOWN = AssetKey(["alerting", "teardown"])
INFRA_ASSETS = [STORE, SEEDED, cdc.SOURCE, cdc.STREAM, cdc.MIRROR, *ALERTING_ASSETS]
INFRA_TEARDOWN = AssetKey(["test_infrastructure", "teardown"])


def infra_releases(catalog: Catalog) -> list[AssetKey]:
    """The releases the Delta table is written and read back with (engine spark)."""
    writer, reader = release_deps(catalog)
    return list(dict.fromkeys(writer + reader))


def test_infrastructure_teardown(catalog: Catalog):
    """Waits on every blocking check of the job's assets (Delta, CDC and alerting)."""
    return teardown_asset(INFRA_TEARDOWN, INFRA_ASSETS + infra_releases(catalog),
                          group="test_infrastructure")


def test_infrastructure_job(catalog: Catalog):
    # The releases deploy (side by side) but their own acceptance checks belong to coexistence.
    releases = AssetSelection.assets(*infra_releases(catalog)).without_checks()
    return environment_job(
        "test_infrastructure", AssetSelection.assets(*INFRA_ASSETS) | releases, INFRA_TEARDOWN,
        "Seed 003: a Delta table seeded by real Spark + Delta (or delta-rs in light mode) and "
        "verified by an independent engine; a MariaDB CDC stream into Delta; AlertManager + "
        "Prometheus with test receivers; tear down.",
        services=cdc.SERVICES + alerting.SERVICES)


# test_infrastructure without the Spark releases: what engine deltars needs (light mode, no JVM).
LIGHT_SELECTION = [*INFRA_ASSETS, INFRA_TEARDOWN]


CDC_ASSETS = [cdc.SOURCE, cdc.STREAM, cdc.MIRROR]
CDC_TEARDOWN = AssetKey(["cdc", "teardown"])


def cdc_teardown():
    return teardown_asset(CDC_TEARDOWN, CDC_ASSETS, group="cdc")


def cdc_job():
    return environment_job(
        "cdc", AssetSelection.assets(*CDC_ASSETS), CDC_TEARDOWN,
        "Seed 003 story 3 alone: a MariaDB source, a CDC stream into Delta on the engine the "
        "stream's config names (binlog, debezium or debezium-kafka), the mirror; bulk capture, "
        "transaction order, mirror equality, resume without loss; tear down.",
        services=cdc.SERVICES)


def alerting_teardown():
    return teardown_asset(ALERTING_TEARDOWN, ALERTING_ASSETS, group="alerting")


def alerting_job():
    return environment_job(
        "alerting", AssetSelection.assets(*ALERTING_ASSETS), ALERTING_TEARDOWN,
        "Seed 003 story 2: an AlertManager config and Prometheus rules validated, loaded into a "
        "real AlertManager + Prometheus, and checked by delivered alerts (routing, silences, "
        "SEC-001/002); tear down.", services=alerting.SERVICES)


ICEBERG_ASSETS = [key for name in iceberg.CATALOGS
                  for key in (iceberg.catalog_key(name), iceberg.review_key(name))] + [
    iceberg.READINESS]


def iceberg_teardown():
    return teardown_asset(iceberg.TEARDOWN, [iceberg.READINESS], group="iceberg")


def iceberg_readiness_job():
    return environment_job(
        "iceberg_readiness", AssetSelection.assets(*ICEBERG_ASSETS), iceberg.TEARDOWN,
        "Seed 004: deploy the Iceberg REST catalog(s) under review (or point at yours with "
        "catalog_url), review the OpenAPI contract, error answers, PyIceberg compatibility, "
        "health and metrics, write the side-by-side readiness table, tear down.",
        services=iceberg.SERVICES)


def connect_keys(catalog: Catalog) -> list[AssetKey]:
    return [connect.suite_key(target, suite) for target in catalog.connect
            for suite in connect.SUITE_ORDER]


def connect_teardown(catalog: Catalog):
    return teardown_asset(connect.TEARDOWN, [connect.DATASET, *connect_keys(catalog)],
                          group="connect")


def connect_suites_job(catalog: Catalog):
    return environment_job(
        "connect_suites", AssetSelection.assets(connect.DATASET, *connect_keys(catalog)),
        connect.TEARDOWN,
        "Seed 002: the Spark Connect client suites (smoke, E2E against DuckDB's answers, a short "
        "load) through the Go and the Python client on every Spark version of the catalog's "
        "connect list, one Connect server at a time; tear down.", services=connect.SERVICES)
