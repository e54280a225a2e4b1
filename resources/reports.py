"""A run's RunReport (resources/model/report.py), read from the Dagster instance's event log, and
written as report.json and junit.xml. `testbed run --report-dir`, `testbed report <run id>` and
the resource's `report_dir` (runs launched from the UI) all come here."""

import json
import time
from pathlib import Path

from dagster import DagsterEventType, DagsterInstance

from resources.model.ledger import TeardownReport
from resources.model.report import AssetOutcome, CheckOutcome, RunReport

TEARDOWN_METADATA = "teardown"  # the teardown step's metadata key for its typed report
TEARDOWN_LOG = "testbed teardown report: "  # the resource's log line carrying the same report
SCHEMA_FILE = Path(__file__).resolve().parent / "report.schema.json"
FINISHED = {DagsterEventType.RUN_SUCCESS: "SUCCESS", DagsterEventType.RUN_FAILURE: "FAILURE",
            DagsterEventType.RUN_CANCELED: "CANCELED"}


def _value(metadata_value):
    return getattr(metadata_value, "value", metadata_value)


def _plain(value):
    value = _value(value)
    return value if isinstance(value, (int, float, str)) and not isinstance(value, bool) \
        else str(value)


def build(instance: DagsterInstance, run_id: str) -> RunReport:
    """Everything the event log says about the run: steps and their times, every check's last
    evaluation, every asset's numeric metadata, the teardown report."""
    run = instance.get_run_by_id(run_id)
    if run is None:
        raise LookupError(f"no run {run_id} in this Dagster instance ({instance.root_directory})")
    report = RunReport(run_id=run_id, job=run.job_name, status="STARTED")
    started: dict[str, float] = {}
    step_of_check: dict[tuple[str, str], str] = {}
    checks: dict[tuple[str, str], CheckOutcome] = {}
    assets: dict[str, AssetOutcome] = {}
    for record in instance.all_logs(run_id):
        event = record.dagster_event
        if event is None:
            if record.user_message.startswith(TEARDOWN_LOG) and report.teardown is None:
                report.teardown = TeardownReport.model_validate_json(
                    record.user_message.removeprefix(TEARDOWN_LOG))
            continue
        kind = event.event_type
        if kind == DagsterEventType.RUN_START:
            report.started = record.timestamp
        elif kind in FINISHED:
            report.status = FINISHED[kind]
            if report.started is not None:
                report.seconds = round(record.timestamp - report.started, 3)
        elif kind == DagsterEventType.STEP_START:
            started[event.step_key] = record.timestamp
        elif kind in (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE):
            report.steps[event.step_key] = round(
                record.timestamp - started.get(event.step_key, record.timestamp), 3)
            if kind == DagsterEventType.STEP_FAILURE:
                error = event.step_failure_data.error
                report.failures.append(f"{event.step_key}: "
                                       f"{error.message.strip() if error else 'failed'}")
        elif kind == DagsterEventType.ASSET_MATERIALIZATION:
            materialization = event.step_materialization_data.materialization
            key = materialization.asset_key.to_user_string()
            metadata = materialization.metadata
            outcome = assets.setdefault(key, AssetOutcome(asset=key, materialized=True))
            outcome.materialized = True
            outcome.numbers.update({
                name: _value(value) for name, value in metadata.items()
                if isinstance(_value(value), (int, float)) and not isinstance(_value(value), bool)})
            if TEARDOWN_METADATA in metadata:
                report.teardown = TeardownReport.model_validate(_value(metadata[TEARDOWN_METADATA]))
        elif kind == DagsterEventType.ASSET_OBSERVATION:  # the checks' numbers, per asset
            observation = event.event_specific_data.asset_observation
            key = observation.asset_key.to_user_string()
            outcome = assets.setdefault(key, AssetOutcome(asset=key, materialized=False))
            outcome.numbers.update({name: _value(value)
                                    for name, value in observation.metadata.items()
                                    if isinstance(_value(value), (int, float))
                                    and not isinstance(_value(value), bool)})
        elif kind == DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.event_specific_data
            key = (evaluation.asset_key.to_user_string(), evaluation.check_name)
            step_of_check[key] = event.step_key
            checks[key] = CheckOutcome(  # a check evaluated twice counts once, by its last result
                asset=key[0], check=key[1], severity=evaluation.severity.value,
                passed=evaluation.passed, description=evaluation.description or "",
                metadata={name: _plain(value) for name, value in evaluation.metadata.items()})
    for key, check in checks.items():
        check.seconds = report.steps.get(step_of_check.get(key, ""), 0.0)
    report.checks = sorted(checks.values(), key=lambda c: (c.asset, c.check))
    report.assets = sorted(assets.values(), key=lambda a: a.asset)
    if report.status == "STARTED":
        # Written from inside the run (its resource, as it ends): every step is done, so the
        # outcome is known though not yet recorded.
        report.status = "FAILURE" if report.failures or report.failed_errors else "SUCCESS"
        if report.started is not None:
            report.seconds = round(time.time() - report.started, 3)
    if report.teardown is not None:
        report.environment = report.teardown.env_id
        report.platform = report.teardown.platform or None
    return report


def write(report: RunReport, directory: Path) -> list[Path]:
    """report.json and junit.xml into directory; returns their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    json_path, junit_path = directory / "report.json", directory / "junit.xml"
    json_path.write_text(json.dumps(report.model_dump(mode="json"), indent=2) + "\n")
    junit_path.write_text(report.junit())
    return [json_path, junit_path]


def schema() -> dict:
    """The JSON schema of report.json (resources/report.schema.json is this, committed)."""
    return RunReport.model_json_schema(mode="serialization")  # with computed fields (result)
