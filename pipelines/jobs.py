"""Jobs: deploy -> verify -> teardown, in-process (one environment resource for the whole run)."""

from dagster import AssetKey, AssetSelection, define_asset_job, in_process_executor

from assets import alerting, cdc
from assets.common import teardown_asset
from assets.delta_tables import SEEDED
from assets.releases import TEARDOWN_KEY, release_key
from resources.platforms.base import Catalog


def environment_job(name: str, assets: list[AssetKey], teardown: AssetKey, description: str):
    """A job that drives one environment: its assets, then its teardown step, all in one process
    (checks recall what their asset made; one resource tears down once)."""
    return define_asset_job(
        name,
        selection=AssetSelection.assets(*assets, teardown),
        executor_def=in_process_executor,
        description=description,
        tags={"testbed/kind": name},
    )


def coexistence_job(catalog: Catalog):
    return environment_job(
        "coexistence", [release_key(s) for s in catalog.releases], TEARDOWN_KEY,
        "Seed 000: deploy every catalog release side by side, run a job on each, verify isolated "
        "metastores, History Servers and services, tear down.")


ALERTING_ASSETS = [alerting.AM_CONFIG, alerting.RULES, alerting.STACK]
ALERTING_TEARDOWN = AssetKey(["alerting", "teardown"])
INFRA_ASSETS = [SEEDED, cdc.SOURCE, cdc.STREAM, cdc.MIRROR, *ALERTING_ASSETS]
INFRA_TEARDOWN = AssetKey(["test_infrastructure", "teardown"])


def test_infrastructure_teardown():
    """Waits on every blocking check of the job's assets (Delta, CDC and alerting)."""
    return teardown_asset(INFRA_TEARDOWN, INFRA_ASSETS, group="test_infrastructure")


def test_infrastructure_job():
    return environment_job(
        "test_infrastructure", INFRA_ASSETS, INFRA_TEARDOWN,
        "Seed 003: a Delta table seeded by real Spark + Delta (or delta-rs in light mode) and "
        "verified by an independent engine; a MariaDB CDC stream into Delta; AlertManager + "
        "Prometheus with test receivers; tear down.")


def alerting_teardown():
    return teardown_asset(ALERTING_TEARDOWN, ALERTING_ASSETS, group="alerting")


def alerting_job():
    return environment_job(
        "alerting", ALERTING_ASSETS, ALERTING_TEARDOWN,
        "Seed 003 story 2: an AlertManager config and Prometheus rules validated, loaded into a "
        "real AlertManager + Prometheus, and checked by delivered alerts (routing, silences, "
        "SEC-001/002); tear down.")
