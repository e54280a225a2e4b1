"""The whole code location loads: assets, checks, jobs and schedule are present by name."""

from dagster import AssetCheckKey, AssetKey, DefaultScheduleStatus

from pipelines.definitions import defs


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
