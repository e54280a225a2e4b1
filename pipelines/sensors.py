"""Sensors and housekeeping jobs that need a daemon (`dagster dev` runs one).

- Teardown layer 3: when a run of this code location ends (success, failure or cancel), launch the
  idempotent `environment_teardown` job for it (run_key teardown-<run id>, so once per run).
- Layer 4: the `reaper` schedule runs `sweep` (what `testbed sweep` does).
- Failed asset checks become AlertManager alerts, one per failed check of a finished run.

Run-status sensors return None when they have nothing to do: mixing SkipReason with RunRequests
makes them repeat work.
"""

from dagster import (
    Config,
    DagsterRunStatus,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    OpExecutionContext,
    RunConfig,
    RunRequest,
    RunStatusSensorContext,
    ScheduleDefinition,
    in_process_executor,
    job,
    op,
    run_status_sensor,
)
from pydantic import Field

from pipelines.check_alerts import AlertSink, alerts_for, failed_checks, post_alerts
from resources.platforms.registry import housekeeping_platform

TEARDOWN_JOB, SWEEP_JOB = "environment_teardown", "sweep"
HOUSEKEEPING = {TEARDOWN_JOB, SWEEP_JOB}
FINISHED = (DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED)


class PlatformConfig(Config):
    platform: str | None = Field(None, description="default: TESTBED_PLATFORM, else DEPLOY_TARGET, else local")
    state_dir: str | None = Field(None, description="default: TESTBED_STATE_DIR")


class ReapRunConfig(PlatformConfig):
    run_id: str = Field(description="the finished run whose environments to remove")


@op(description="Removes every environment the given run left behind (none if it tore down "
                "after itself). A failed environment kept for debugging stays until its TTL.")
def reap_run(context: OpExecutionContext, config: ReapRunConfig) -> None:
    lines = housekeeping_platform(config.platform, config.state_dir).reap_run(config.run_id)
    for line in lines:
        context.log.info(line)
    if not lines:
        context.log.info(f"run {config.run_id} left nothing behind")


@op(description="The reaper: removes environments whose owner is gone or whose TTL expired, "
                "and unclaimed old test tables.")
def sweep_environments(context: OpExecutionContext, config: PlatformConfig) -> None:
    removed = housekeeping_platform(config.platform, config.state_dir).sweep()
    for line in removed:
        context.log.info(f"removed {line}")
    context.log.info(f"sweep: {len(removed)} removed")


# Housekeeping takes no `testbed` resource: its preflight checks Spark installs, and tearing down
# must work even where a deploy could not.
@job(name=TEARDOWN_JOB, executor_def=in_process_executor, tags={"testbed/kind": "housekeeping"},
     description="Teardown layer 3: removes what one finished run left behind. Idempotent.")
def environment_teardown():
    reap_run()


@job(name=SWEEP_JOB, executor_def=in_process_executor, tags={"testbed/kind": "housekeeping"},
     description="Teardown layer 4: the reaper (same as `testbed sweep`).")
def sweep():
    sweep_environments()


# Dagster checks a sensor every 30 s by default: an ended run's environment would wait that long
# for its teardown, a failed check that long for its alert. Each tick reads a few events.
RUN_STATUS_INTERVAL_S = 5


def _teardown_sensor(status: DagsterRunStatus):
    @run_status_sensor(
        run_status=status, name=f"teardown_on_{status.value.lower()}",
        minimum_interval_seconds=RUN_STATUS_INTERVAL_S,
        request_job=environment_teardown, default_status=DefaultSensorStatus.RUNNING,
        description=f"Teardown layer 3: a run that ends in {status.value} gets the idempotent "
                    f"environment_teardown job (run_key teardown-<run id>).")
    def teardown_sensor(context: RunStatusSensorContext):
        run = context.dagster_run
        if run.job_name in HOUSEKEEPING:
            return None
        return RunRequest(run_key=f"teardown-{run.run_id}",
                          run_config=RunConfig(ops={"reap_run": ReapRunConfig(run_id=run.run_id)}),
                          tags={"testbed/teardown-of": run.run_id})

    return teardown_sensor


def _check_alert_sensor(status: DagsterRunStatus):
    @run_status_sensor(
        run_status=status, name=f"check_failure_alerts_on_{status.value.lower()}",
        minimum_interval_seconds=RUN_STATUS_INTERVAL_S,
        default_status=DefaultSensorStatus.RUNNING,
        description=f"Posts one AlertManager alert (alertname=AssetCheckFailed) per failed asset "
                    f"check of a run that ends in {status.value}; needs alert_sink.url "
                    f"(TESTBED_ALERTMANAGER_URL).")
    def check_alert_sensor(context: RunStatusSensorContext, alert_sink: AlertSink):
        run = context.dagster_run
        if not alert_sink.url or run.job_name in HOUSEKEEPING:
            return None
        failed = failed_checks(context.instance, run.run_id)
        if failed:
            post_alerts(alert_sink.url, alerts_for(failed, run.job_name, run.run_id, alert_sink))
            context.log.info(f"posted {len(failed)} failed-check alert(s) for run {run.run_id}")
        return None

    return check_alert_sensor


def sensors() -> list:
    return ([_teardown_sensor(status) for status in FINISHED]
            + [_check_alert_sensor(status) for status in FINISHED[:2]])


reaper = ScheduleDefinition(
    name="reaper", job=sweep, cron_schedule="*/30 * * * *",
    default_status=DefaultScheduleStatus.RUNNING,
    description="Teardown layer 4: every 30 minutes, remove abandoned or expired environments.")
