"""Schedules: the nightly coexistence run (stopped until someone turns it on)."""

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
