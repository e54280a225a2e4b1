"""Jobs: deploy -> verify -> teardown, in-process (one environment resource for the whole run)."""

from dagster import AssetSelection, define_asset_job, in_process_executor

from dagster import AssetKey

from assets import alerting, cdc
from assets.common import teardown_asset
from assets.delta_tables import SEEDED
from assets.releases import TEARDOWN_KEY, release_key
from resources.platforms.base import Catalog


def coexistence_job(catalog: Catalog):
    return define_asset_job(
        "coexistence",
        selection=AssetSelection.assets(*[release_key(s) for s in catalog.releases], TEARDOWN_KEY),
        executor_def=in_process_executor,
        description="Seed 000: deploy every catalog release side by side, run a job on each, "
                    "verify isolated metastores, History Servers and services, tear down.",
        tags={"testbed/kind": "coexistence"},
    )


ALERTING_ASSETS = [alerting.AM_CONFIG, alerting.RULES, alerting.STACK]
ALERTING_TEARDOWN = AssetKey(["alerting", "teardown"])
INFRA_ASSETS = [SEEDED, cdc.SOURCE, cdc.STREAM, cdc.MIRROR, *ALERTING_ASSETS]
INFRA_TEARDOWN = AssetKey(["test_infrastructure", "teardown"])


def test_infrastructure_teardown():
    """Waits on every blocking check of the job's assets (Delta and CDC)."""
    return teardown_asset(INFRA_TEARDOWN, INFRA_ASSETS, group="test_infrastructure")


def test_infrastructure_job():
    return define_asset_job(
        "test_infrastructure",
        selection=AssetSelection.assets(*INFRA_ASSETS, INFRA_TEARDOWN),
        executor_def=in_process_executor,
        description="Seed 003: a Delta table seeded by real Spark + Delta (or delta-rs in light "
                    "mode) and verified by an independent engine; a MariaDB CDC stream into Delta; "
                    "AlertManager + Prometheus with test receivers; tear down.",
        tags={"testbed/kind": "test_infrastructure"},
    )


def alerting_teardown():
    return teardown_asset(ALERTING_TEARDOWN, ALERTING_ASSETS, group="alerting")


def alerting_job():
    return define_asset_job(
        "alerting",
        selection=AssetSelection.assets(*ALERTING_ASSETS, ALERTING_TEARDOWN),
        executor_def=in_process_executor,
        description="Seed 003 story 2: an AlertManager config and Prometheus rules validated, "
                    "loaded into a real AlertManager + Prometheus, and checked by delivered "
                    "alerts (routing, silences, SEC-001/002); tear down.",
        tags={"testbed/kind": "alerting"},
    )
