"""The whole code location loads: assets, checks, jobs and schedule are present by name."""

import re

import pytest
from dagster import AssetCheckKey, AssetKey, DefaultScheduleStatus

from pipelines.definitions import defs
from tests.conftest import run_ephemeral


def test_definitions_load_with_every_release_check_job_and_schedule():
    defs.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    assert {AssetKey(["spark_3_5", "release"]), AssetKey(["spark_4_1", "release"]),
            AssetKey(["coexistence", "teardown"])} <= set(graph.get_all_asset_keys())
    checks = set(graph.asset_check_keys)
    for release in ("spark_3_5", "spark_4_1"):
        key = AssetKey([release, "release"])
        for name in ("release_ready", "metastore_isolated", "history_isolated", "services_isolated"):
            assert AssetCheckKey(key, name) in checks, (release, name)
    assert AssetCheckKey(AssetKey(["spark_3_5", "release"]), "sparkpi_completes") in checks
    assert AssetCheckKey(AssetKey(["spark_4_1", "release"]), "connect_job_completes") in checks
    assert AssetCheckKey(AssetKey(["coexistence", "teardown"]), "nothing_left") in checks


def test_coexistence_job_runs_in_process_and_schedule_is_nightly_and_stopped():
    job = defs.resolve_job_def("coexistence")
    assert job.executor_def.name == "in_process"
    schedule = defs.resolve_schedule_def("nightly_coexistence")
    assert schedule.cron_schedule == "0 2 * * *"
    assert schedule.default_status == DefaultScheduleStatus.STOPPED
    assert schedule.job_name == "coexistence"


def test_every_acceptance_check_is_blocking():
    graph = defs.resolve_asset_graph()
    for key in graph.asset_check_keys:
        assert graph.get_check_spec(key).blocking, key


def test_delta_asset_checks_and_test_infrastructure_job_are_present():
    graph = defs.resolve_asset_graph()
    seeded = AssetKey(["delta", "seeded_table"])
    assert seeded in graph.get_all_asset_keys()
    for name in ("row_count_and_schema", "cdf_complete", "schema_evolution", "time_travel",
                 "cross_version_readable"):
        assert AssetCheckKey(seeded, name) in graph.asset_check_keys, name
    job = defs.resolve_job_def("test_infrastructure")
    assert job.executor_def.name == "in_process"
    assert {node.name for node in job.nodes} >= {"delta__seeded_table", "test_infrastructure__teardown"}


def test_bad_engine_is_refused_by_run_config_before_anything_starts():
    from pipelines import cli

    job = defs.resolve_job_def("test_infrastructure")
    with pytest.raises(Exception, match="engine"):
        run_ephemeral(job, run_config={"ops": {"delta__seeded_table": {"config": {"engine": "duckdb"}}}})
    assert cli.main(["run", "coexistence", "--engine", "deltars"]) == 2


def test_guaranteed_teardown_sensors_and_reaper_run_by_default():
    from dagster import DefaultSensorStatus

    repo = defs.get_repository_def()
    sensors = {sensor.name: sensor for sensor in repo.sensor_defs}
    assert set(sensors) == {"teardown_on_success", "teardown_on_failure", "teardown_on_canceled",
                            "check_failure_alerts_on_success", "check_failure_alerts_on_failure"}
    assert all(s.default_status == DefaultSensorStatus.RUNNING for s in sensors.values())
    for name in ("teardown_on_success", "teardown_on_failure", "teardown_on_canceled"):
        assert sensors[name].job_name == "environment_teardown"
    reaper = defs.resolve_schedule_def("reaper")
    assert reaper.job_name == "sweep" and reaper.default_status == DefaultScheduleStatus.RUNNING
    for name in ("environment_teardown", "sweep", "alerting", "test_infrastructure", "cdc"):
        assert defs.resolve_job_def(name).executor_def.name == "in_process", name
    # What the UI materializes ad hoc too: a check must see what its asset made in the same run.
    assert defs.resolve_implicit_global_asset_job_def().executor_def.name == "in_process"


def test_alerting_assets_and_checks_are_present():
    graph = defs.resolve_asset_graph()
    expected = {
        ("alerting", "alertmanager_config"): {"config_valid", "no_production_receivers"},
        ("alerting", "prometheus_rules"): {"config_valid"},
        ("alerting", "stack"): {"alert_visible_fast", "severity_routing", "silence_suppresses",
                                "prometheus_to_alertmanager"},
    }
    for path, names in expected.items():
        found = {key.name for key in graph.asset_check_keys if key.asset_key == AssetKey(list(path))}
        assert found == names, path


def test_the_cdc_job_offers_every_engine_and_refuses_an_unknown_one():
    """The engine is stream config: a Literal, so the launchpad lists the three and Dagster
    refuses anything else before the run starts."""
    from dagster import DagsterInvalidConfigError

    job = defs.resolve_job_def("cdc")
    assert {node.name for node in job.nodes} >= {"cdc__mysql_source", "cdc__stream",
                                                  "cdc__products_mirror", "cdc__teardown"}
    with pytest.raises(DagsterInvalidConfigError, match="not in enum type Literal.*got kafka"):
        run_ephemeral(job, run_config={"ops": {"cdc__stream": {"config": {"engine": "kafka"}}}})


def test_a_cdc_engine_that_is_not_installed_is_named_before_anything_starts(monkeypatch, tmp_path,
                                                                            capsys):
    from pipelines import cli
    from resources.services import kafka

    assert cli.main(["run", "coexistence", "--cdc-engine", "debezium"]) == 2
    assert "--cdc-engine applies to jobs with cdc/stream" in capsys.readouterr().err
    monkeypatch.setattr(kafka, "kafka_dir", lambda: tmp_path)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    assert cli.main(["run", "cdc", "--cdc-engine", "debezium-kafka"]) == 2
    assert re.search(r"Kafka 4\.1\.1 is not installed in .*: run make setup",
                     capsys.readouterr().err)
    assert not (tmp_path / "home").exists()  # no run was started


def test_test_infrastructure_shows_the_releases_it_deploys_in_its_lineage():
    """The writer and the cross-version reader are release assets the UI draws, not hidden
    deployments inside a table asset or a check."""
    graph = defs.resolve_asset_graph()
    seeded = AssetKey(["delta", "seeded_table"])
    assert AssetKey(["spark_3_5", "release"]) in graph.get(seeded).parent_keys
    reader = graph.get_check_spec(AssetCheckKey(seeded, "cross_version_readable"))
    assert [dep.asset_key for dep in reader.additional_deps] == [AssetKey(["spark_4_1", "release"])]
    job = defs.resolve_job_def("test_infrastructure")
    assert {AssetKey(["spark_3_5", "release"]), AssetKey(["spark_4_1", "release"])} <= set(
        job.asset_layer.selected_asset_keys)
