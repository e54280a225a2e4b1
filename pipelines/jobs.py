"""Jobs: deploy -> verify -> teardown, in-process (one environment resource for the whole run)."""

from dagster import AssetSelection, define_asset_job, in_process_executor

from assets.delta_tables import SEEDED
from assets.delta_tables import TEARDOWN_KEY as DELTA_TEARDOWN
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


def test_infrastructure_job():
    return define_asset_job(
        "test_infrastructure",
        selection=AssetSelection.assets(SEEDED, DELTA_TEARDOWN),
        executor_def=in_process_executor,
        description="Seed 003: seed a Delta table with real Spark + Delta (or delta-rs in light "
                    "mode), run its change script, verify it with an independent engine, tear down.",
        tags={"testbed/kind": "test_infrastructure"},
    )
