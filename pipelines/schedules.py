"""Schedules: the nightly coexistence run and the nightly Connect load profile (both stopped
until someone turns them on)."""

from dagster import DefaultScheduleStatus, ScheduleDefinition

from resources.settings import schedule_timezone


def nightly_coexistence(job) -> ScheduleDefinition:
    return ScheduleDefinition(
        name="nightly_coexistence",
        job=job,
        cron_schedule="0 2 * * *",
        execution_timezone=schedule_timezone(),
        default_status=DefaultScheduleStatus.STOPPED,
        description="Coexistence of every catalog release, every night at 02:00 "
                    "(TESTBED_TIMEZONE, default UTC).",
    )


# The full load profile: what a 30-minute sustained run finds that the job's short one cannot.
NIGHTLY_LOAD = {"resources": {"connect_suites": {"config": {
    "load_seconds": 60.0, "sustained_seconds": 1800.0}}}}


def nightly_connect_load(job) -> ScheduleDefinition:
    return ScheduleDefinition(
        name="nightly_connect_load",
        job=job,
        cron_schedule="0 3 * * *",
        execution_timezone=schedule_timezone(),
        default_status=DefaultScheduleStatus.STOPPED,
        run_config=NIGHTLY_LOAD,
        description="The Connect client suites with the full load profile (60 s per load "
                    "scenario, 30 min sustained) every night at 03:00 (TESTBED_TIMEZONE).",
    )
