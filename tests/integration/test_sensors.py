"""Teardown layer 3 and failed-check alerts, driven through run-status sensor contexts on a real
Dagster instance, with a real AlertManager receiving the alerts and real processes to tear down."""

import os
import time

import pytest
import yaml
from dagster import (
    AssetCheckKey,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetKey,
    AssetSelection,
    DagsterEventType,
    DagsterInstance,
    Definitions,
    RunRequest,
    asset,
    asset_check,
    build_run_status_sensor_context,
    define_asset_job,
    in_process_executor,
    materialize,
)

from assets.alerting import alerting_stack
from pipelines import sensors
from pipelines.check_alerts import AlertSink, failed_checks
from pipelines.definitions import defs
from resources import alerting
from resources.alerting import AlertingStack
from resources.platforms.environment import Environment
from resources.platforms.registry import housekeeping_platform
from tests.conftest import LeakWatch


@asset
def probe() -> None:
    return None


@asset_check(asset=probe, description="fails, WARN: the run still succeeds")
def freshness() -> AssetCheckResult:
    return AssetCheckResult(passed=False, severity=AssetCheckSeverity.WARN,
                            description="probe is 3 days old")


@asset_check(asset=probe, description="fails, ERROR but non-blocking: the run still succeeds")
def row_count() -> AssetCheckResult:
    return AssetCheckResult(passed=False, severity=AssetCheckSeverity.ERROR,
                            description="0 rows, expected 1000")


@asset_check(asset=probe, description="passes")
def schema() -> AssetCheckResult:
    return AssetCheckResult(passed=True)


@asset_check(asset=probe, blocking=True, description="fails, blocking: the run fails")
def gate() -> AssetCheckResult:
    return AssetCheckResult(passed=False, description="gate closed")


PROBE_DEFS = Definitions(
    assets=[probe], asset_checks=[freshness, row_count, schema, gate],
    jobs=[define_asset_job("checked", selection=["probe"], executor_def=in_process_executor)])


@pytest.fixture
def instance(tmp_path):
    (tmp_path / "home").mkdir()
    with DagsterInstance.local_temp(str(tmp_path / "home")) as real:
        yield real


def _finished(instance, result):
    """The run and the event a run-status sensor would be handed for it."""
    run = instance.get_run_by_id(result.run_id)
    kind = DagsterEventType.RUN_SUCCESS if result.success else DagsterEventType.RUN_FAILURE
    event = instance.get_records_for_run(result.run_id, of_type=kind).records[0]
    return run, event.event_log_entry.dagster_event


def _run_without_gate(instance, selection):
    """A run of probe with some of its checks: without `gate`, the run succeeds."""
    return materialize([probe, freshness, row_count, schema], instance=instance,
                       selection=AssetSelection.assets(probe).without_checks()
                       | AssetSelection.checks(*[AssetCheckKey(AssetKey("probe"), name)
                                                 for name in selection]))


@pytest.fixture
def alertmanager(state_dir):
    stack = AlertingStack(state_dir / "am")
    stack.write_alertmanager_config(yaml.safe_dump(
        alerting.render_alertmanager_config(stack.webhook.url)))
    stack.start_alertmanager()
    yield stack
    stack.stop(grace_seconds=5)
    stack.webhook.close()


def test_failed_checks_reads_each_failed_check_once(instance):
    result = _run_without_gate(instance, {"freshness", "row_count", "schema"})
    assert result.success  # the point: WARN and non-blocking failures leave the run green
    failed = {(f.asset, f.check, f.severity) for f in failed_checks(instance, result.run_id)}
    assert failed == {("probe", "freshness", "WARN"), ("probe", "row_count", "ERROR")}


def test_failed_checks_of_a_successful_run_become_alerts(instance, alertmanager):
    result = _run_without_gate(instance, {"freshness", "row_count", "schema"})
    run, event = _finished(instance, result)
    sink = AlertSink(url=alertmanager.am_url, ui_url="http://dagster.test:3000")
    sensor = _sensor("check_failure_alerts_on_success")
    for _ in range(2):  # a second tick for the same run must not add alerts
        context = build_run_status_sensor_context(
            sensor_name=sensor.name, dagster_event=event, dagster_instance=instance,
            dagster_run=run, resources={"alert_sink": sink})
        assert sensor(context) is None
    alerts = alertmanager.alerts(alertname="AssetCheckFailed", run_id=run.run_id)
    by_check = {a["labels"]["check"]: a for a in alerts}
    assert sorted(by_check) == ["freshness", "row_count"]
    labels = by_check["row_count"]["labels"]
    assert labels == {"alertname": "AssetCheckFailed", "asset": "probe", "check": "row_count",
                      "severity": "critical", "job": run.job_name, "run_id": run.run_id,
                      "environment": "test"}
    assert by_check["freshness"]["labels"]["severity"] == "warning"
    assert by_check["row_count"]["annotations"]["run_url"] == \
        f"http://dagster.test:3000/runs/{run.run_id}"
    assert "0 rows, expected 1000" in by_check["row_count"]["annotations"]["description"]
    # ... and the environment's routing delivers them to the right receivers.
    delivered = alertmanager.webhook.wait_for("AssetCheckFailed", 15)
    assert {d.receiver for d in delivered} <= {"test-critical", "test-warning"} and delivered


def test_a_failed_run_alerts_on_its_blocking_check(instance, alertmanager):
    result = PROBE_DEFS.resolve_job_def("checked").execute_in_process(instance=instance,
                                                                       raise_on_error=False)
    assert not result.success
    run, event = _finished(instance, result)
    sensor = _sensor("check_failure_alerts_on_failure")
    context = build_run_status_sensor_context(
        sensor_name=sensor.name, dagster_event=event, dagster_instance=instance, dagster_run=run,
        resources={"alert_sink": AlertSink(url=alertmanager.am_url)})
    assert sensor(context) is None
    checks = {a["labels"]["check"] for a in alertmanager.alerts(alertname="AssetCheckFailed")}
    assert "gate" in checks and "schema" not in checks


def test_without_an_alertmanager_url_the_alert_sensor_does_nothing(instance):
    result = _run_without_gate(instance, {"row_count"})
    run, event = _finished(instance, result)
    sensor = _sensor("check_failure_alerts_on_success")
    context = build_run_status_sensor_context(
        sensor_name=sensor.name, dagster_event=event, dagster_instance=instance, dagster_run=run,
        resources={"alert_sink": AlertSink(url=None)})
    assert sensor(context) is None


def _sensor(name: str):
    return next(s for s in sensors.sensors() if s.name == name)


def _teardown_sensor(status: str):
    return _sensor(f"teardown_on_{status}")


def test_teardown_sensors_request_one_idempotent_teardown_per_run(instance):
    ok = _run_without_gate(instance, {"schema"})
    failed = PROBE_DEFS.resolve_job_def("checked").execute_in_process(instance=instance,
                                                                       raise_on_error=False)
    canceled = instance.create_run_for_job(PROBE_DEFS.resolve_job_def("checked"))
    instance.report_run_canceled(canceled)
    canceled_event = instance.get_records_for_run(
        canceled.run_id, of_type=DagsterEventType.RUN_CANCELED).records[0].event_log_entry.dagster_event
    cases = [("success", *_finished(instance, ok)), ("failure", *_finished(instance, failed)),
             ("canceled", instance.get_run_by_id(canceled.run_id), canceled_event)]
    for status, run, event in cases:
        sensor = _teardown_sensor(status)
        request = sensor(build_run_status_sensor_context(
            sensor_name=sensor.name, dagster_event=event, dagster_instance=instance,
            dagster_run=run))
        assert isinstance(request, RunRequest), status
        assert request.run_key == f"teardown-{run.run_id}"
        assert request.run_config["ops"]["reap_run"]["config"]["run_id"] == run.run_id


def test_teardown_runs_are_not_torn_down_again(instance, state_dir):
    cleanup = defs.resolve_job_def("environment_teardown").execute_in_process(
        instance=instance, run_config={"ops": {"reap_run": {"config": {"run_id": "nothing"}}}})
    run, event = _finished(instance, cleanup)
    sensor = _teardown_sensor("success")
    assert sensor(build_run_status_sensor_context(
        sensor_name=sensor.name, dagster_event=event, dagster_instance=instance,
        dagster_run=run)) is None


def _orphan(state_dir, run_id: str, failed: bool = False, keep: bool = False) -> Environment:
    """An environment whose run ended without tearing down: a live AlertManager and its dir."""
    platform = housekeeping_platform("local", str(state_dir))
    env = Environment.create(platform, run_id, keep_on_failure=keep)
    stack = alerting_stack(env)
    stack.write_alertmanager_config(yaml.safe_dump(
        alerting.render_alertmanager_config(stack.webhook.url)))
    stack.start_alertmanager(env.start)
    stack.webhook.close()  # the in-process part of a run dies with its process
    if failed:
        env.mark_failed()
    return env


def test_the_teardown_job_removes_what_a_finished_run_left(instance, state_dir):
    watch = LeakWatch(state_dir)
    env = _orphan(state_dir, "run-that-died")
    other = _orphan(state_dir, "run-still-going")
    pid = next(h.pid for h in env.state.handles if h.kind == "process")
    config = {"ops": {"reap_run": {"config": {"run_id": "run-that-died"}}}}
    job = defs.resolve_job_def("environment_teardown")
    assert job.execute_in_process(instance=instance, run_config=config).success
    assert not env.path.exists()
    assert not os.path.exists(f"/proc/{pid}")
    assert other.path.exists()  # another run's environment is not touched
    assert job.execute_in_process(instance=instance, run_config=config).success  # idempotent
    housekeeping_platform("local", str(state_dir)).reap_run("run-still-going")
    assert watch.leaks() == []


def test_a_failed_environment_kept_for_debugging_waits_for_its_ttl(state_dir):
    env = _orphan(state_dir, "run-failed", failed=True, keep=True)
    platform = housekeeping_platform("local", str(state_dir))
    lines = platform.reap_run("run-failed")
    assert env.path.exists() and "kept for debugging" in lines[0]
    assert platform.sweep() == []  # its owner is gone soon, but someone may be debugging it
    removed = platform.sweep(now=time.time() + 5 * 3600)
    assert any("TTL" in line for line in removed) and not env.path.exists()
