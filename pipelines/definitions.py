"""The Testbed code location: `dagster dev -w workspace.yaml` loads `defs` from here."""

from dagster import Definitions

from assets import releases
from pipelines.jobs import coexistence_job
from pipelines.schedules import nightly_coexistence
from resources.environment import TestbedEnvironment
from resources.platforms.base import load_catalog

catalog = load_catalog()
release_assets, release_checks = releases.build(catalog)
coexistence = coexistence_job(catalog)

defs = Definitions(
    assets=release_assets,
    asset_checks=release_checks,
    jobs=[coexistence],
    schedules=[nightly_coexistence(coexistence)],
    # The platform (local | compose | kubernetes) comes from TESTBED_PLATFORM, default local.
    resources={"testbed": TestbedEnvironment()},
)
