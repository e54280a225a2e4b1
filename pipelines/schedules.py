"""Schedules: the nightly coexistence run and the nightly Connect load profile (both stopped
until someone turns them on)."""

from dagster import DefaultScheduleStatus, ScheduleDefinition

from resources.settings import schedule_timezone


def _nightly(name: str, job, cron: str, description: str,
             run_config: dict | None = None) -> ScheduleDefinition:
    """A nightly schedule in TESTBED_TIMEZONE, stopped until someone turns it on."""
    return ScheduleDefinition(name=name, job=job, cron_schedule=cron,
                              execution_timezone=schedule_timezone(),
                              default_status=DefaultScheduleStatus.STOPPED,
                              run_config=run_config, description=description)


def nightly_coexistence(job) -> ScheduleDefinition:
    return _nightly("nightly_coexistence", job, "0 2 * * *",
                    "Coexistence of every catalog release, every night at 02:00 "
                    "(TESTBED_TIMEZONE, default UTC).")


# The full load profile: what a 30-minute sustained run finds that the job's short one cannot.
NIGHTLY_LOAD = {"resources": {"connect_suites": {"config": {
    "load_seconds": 60.0, "sustained_seconds": 1800.0}}}}


def nightly_connect_load(job) -> ScheduleDefinition:
    return _nightly("nightly_connect_load", job, "0 3 * * *",
                    "The Connect client suites with the full load profile (60 s per load "
                    "scenario, 30 min sustained) every night at 03:00 (TESTBED_TIMEZONE).",
                    run_config=NIGHTLY_LOAD)
