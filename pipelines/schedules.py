"""Schedules: the nightly coexistence run (stopped until someone turns it on)."""

import os

from dagster import DefaultScheduleStatus, ScheduleDefinition


def nightly_coexistence(job) -> ScheduleDefinition:
    return ScheduleDefinition(
        name="nightly_coexistence",
        job=job,
        cron_schedule="0 2 * * *",
        execution_timezone=os.environ.get("TESTBED_TIMEZONE", "UTC"),
        default_status=DefaultScheduleStatus.STOPPED,
        description="Coexistence of every catalog release, every night at 02:00 "
                    "(TESTBED_TIMEZONE, default UTC).",
    )
