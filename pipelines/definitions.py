"""The Testbed code location: `dagster dev -w workspace.yaml` loads `defs` from here."""

from dagster import Definitions

from assets import cdc, delta_tables, releases
from pipelines.jobs import coexistence_job, test_infrastructure_job, test_infrastructure_teardown
from pipelines.schedules import nightly_coexistence
from resources.environment import TestbedEnvironment
from resources.platforms.base import Catalog, load_catalog


def build_definitions(catalog: Catalog, testbed: TestbedEnvironment | None = None) -> Definitions:
    release_assets, release_checks = releases.build(catalog)
    delta_assets, delta_checks = delta_tables.build()
    cdc_assets, cdc_checks = cdc.build()
    coexistence = coexistence_job(catalog)
    return Definitions(
        assets=release_assets + delta_assets + cdc_assets + [test_infrastructure_teardown()],
        asset_checks=release_checks + delta_checks + cdc_checks,
        jobs=[coexistence, test_infrastructure_job()],
        schedules=[nightly_coexistence(coexistence)],
        # The platform (local | compose | kubernetes) comes from TESTBED_PLATFORM, default local.
        resources={"testbed": testbed or TestbedEnvironment()},
    )


defs = build_definitions(load_catalog())
