"""The Testbed code location: `dagster dev -w workspace.yaml` loads `defs` from here."""

from dagster import Definitions, in_process_executor

from assets import alerting, cdc, connect, delta_tables, iceberg, releases, storage
from pipelines import sensors
from pipelines.check_alerts import AlertSink
from pipelines.jobs import (
    alerting_job,
    alerting_teardown,
    cdc_job,
    cdc_teardown,
    coexistence_job,
    connect_suites_job,
    connect_teardown,
    iceberg_readiness_job,
    iceberg_teardown,
    test_infrastructure_job,
    test_infrastructure_teardown,
)
from pipelines.schedules import nightly_coexistence, nightly_connect_load
from resources.environment import TestbedEnvironment
from resources.model.catalog import Catalog, load_catalog
from resources.settings import alertmanager_url, catalog_file, ui_url


def build_definitions(catalog: Catalog, testbed: TestbedEnvironment | None = None,
                      alert_sink: AlertSink | None = None) -> Definitions:
    release_assets, release_checks = releases.build(catalog)
    delta_assets, delta_checks = delta_tables.build(catalog)
    cdc_assets, cdc_checks = cdc.build()
    alerting_assets, alerting_checks = alerting.build()
    storage_assets, storage_checks = storage.build()
    iceberg_assets, _ = iceberg.build()  # its criteria are checks of the review assets
    coexistence = coexistence_job(catalog)
    connect_suites = connect_suites_job(catalog)
    return Definitions(
        assets=storage_assets + release_assets + delta_assets + cdc_assets + alerting_assets
        + iceberg_assets + connect.build(catalog)
        + [test_infrastructure_teardown(catalog), alerting_teardown(), cdc_teardown(),
           iceberg_teardown(), connect_teardown(catalog)],
        asset_checks=storage_checks + release_checks + delta_checks + cdc_checks
        + alerting_checks,
        jobs=[coexistence, test_infrastructure_job(catalog), alerting_job(), cdc_job(),
              iceberg_readiness_job(), connect_suites,
              sensors.environment_teardown, sensors.sweep],
        schedules=[nightly_coexistence(coexistence), nightly_connect_load(connect_suites),
                   sensors.reaper],
        sensors=sensors.sensors(),
        # Also for what the UI materializes ad hoc: checks recall what their asset made in the
        # same process, and one environment resource must serve the whole run.
        executor=in_process_executor,
        # The platform (local | kubernetes): TESTBED_PLATFORM, else DEPLOY_TARGET, else local.
        resources={"testbed": testbed or TestbedEnvironment(),
                   "alert_sink": alert_sink or AlertSink(url=alertmanager_url(), ui_url=ui_url()),
                   "connect_suites": connect.ConnectSuites()},
    )


# TESTBED_CATALOG: a catalog of your own for the code location (make ui), else the package's;
# testbed run --catalog builds its own definitions from the file it is given.
defs = build_definitions(load_catalog(catalog_file()))
