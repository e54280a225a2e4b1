"""Failed asset checks of a finished run, turned into AlertManager alerts.

OSS Dagster alerts on failed runs, not on failed checks (dagster issues 29896, 17573): a WARN or
non-blocking failure leaves the run SUCCESS. `failed_checks` is the one place that reads check
evaluations off the instance (`get_records_for_run` is not public API: if Dagster moves it, only
this function and its test change).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import httpx
from dagster import ConfigurableResource, DagsterEventType, DagsterInstance
from pydantic import Field
from tenacity import (
    retry,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

SEVERITY_LABEL = {"ERROR": "critical", "WARN": "warning"}


@dataclass(frozen=True)
class FailedCheck:
    asset: str
    check: str
    severity: str  # ERROR | WARN
    description: str


def failed_checks(instance: DagsterInstance, run_id: str) -> list[FailedCheck]:
    """One entry per (asset, check) that failed in the run; a check evaluated twice counts once,
    by its last evaluation."""
    connection = instance.get_records_for_run(run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION)
    latest = {}
    for record in connection.records:
        event = record.event_log_entry.dagster_event
        evaluation = event.event_specific_data if event is not None else None
        if evaluation is None:
            continue
        latest[(evaluation.asset_key.to_user_string(), evaluation.check_name)] = evaluation
    return [FailedCheck(asset, check, evaluation.severity.value, evaluation.description or "")
            for (asset, check), evaluation in latest.items() if not evaluation.passed]


class AlertSink(ConfigurableResource):
    """Where failed-check alerts go: an AlertManager API v2 (the environment's own in tests, a
    configured one in production). No URL: the sensors do nothing."""

    url: str | None = Field(None, description="AlertManager base URL, e.g. http://alertmanager:9093 "
                                              "(default: TESTBED_ALERTMANAGER_URL)")
    ui_url: str = Field("http://127.0.0.1:3000", description="Dagster UI base URL for run links")
    environment: str = Field("test", description="the `environment` label of every alert")
    alert_hours: float = Field(24.0, description="how long an alert stays active (endsAt)")


def alerts_for(failed: list[FailedCheck], job: str, run_id: str, sink: AlertSink,
               now: datetime | None = None) -> list[dict]:
    """One alert per failed check; `failed_checks` already gives each (asset, check) once, and
    the labels carry run id + check, so AlertManager keeps one alert per pair."""
    now = now or datetime.now(timezone.utc)
    run_url = f"{sink.ui_url.rstrip('/')}/runs/{run_id}"
    return [{
        "labels": {"alertname": "AssetCheckFailed", "asset": f.asset, "check": f.check,
                   "severity": SEVERITY_LABEL.get(f.severity, "warning"), "job": job,
                   "run_id": run_id, "environment": sink.environment},
        "annotations": {"summary": f"{f.asset} {f.check} failed in {job} run {run_id[:8]}",
                        "description": f.description[:1000], "run_url": run_url},
        "generatorURL": run_url,
        "startsAt": now.isoformat(),
        "endsAt": (now + timedelta(hours=sink.alert_hours)).isoformat(),
    } for f in failed]


@retry(retry=retry_if_exception_type(httpx.TransportError), stop=stop_after_attempt(4),
       wait=wait_exponential(multiplier=0.5, max=5), reraise=True)
def post_alerts(url: str, alerts: list[dict]) -> None:
    """Posting the same labels twice updates one alert: a retried tick does not duplicate."""
    httpx.post(f"{url.rstrip('/')}/api/v2/alerts", json=alerts, timeout=10).raise_for_status()
