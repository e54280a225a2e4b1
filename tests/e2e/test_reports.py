"""Results outside the UI: report.json (valid against the schema kept in the repo) and junit.xml
(read back by a JUnit parser, as CI systems do), from `testbed run --report-dir`, from `testbed
report <run id>` and from the resource's report_dir (runs launched from the UI); and live progress
in a terminal."""

import json
import os
import pty
import re
import select
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml
from junitparser import Failure, JUnitXml, Skipped

from pipelines.definitions import defs
from resources.alerting import render_alertmanager_config
from resources.reports import SCHEMA_FILE
from tests.conftest import LeakWatch, run_ephemeral

pytestmark = pytest.mark.e2e

TESTBED = str(Path(sys.executable).parent / "testbed")
ALERTING_CHECKS = 8  # 2 on the config, 1 on the rules, 4 on the stack, nothing_left


def in_a_terminal(argv: list[str], env: dict, timeout: float = 120) -> tuple[int, str]:
    """Run argv with a pseudo-terminal as its stdout and stderr; returns (exit code, output)."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=follower, stderr=follower,
                               env={**env, "TERM": "xterm-256color", "COLUMNS": "140"})
    os.close(follower)
    chunks = []
    while True:
        ready, _, _ = select.select([leader], [], [], timeout)
        if not ready:
            process.kill()
            break
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: the program is done
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    return process.wait(timeout=30), b"".join(chunks).decode(errors="replace")


def validate(report_dir: Path) -> tuple[dict, JUnitXml]:
    report = json.loads((report_dir / "report.json").read_text())
    jsonschema.validate(report, json.loads(SCHEMA_FILE.read_text()))
    return report, JUnitXml.fromfile(str(report_dir / "junit.xml"))


def cases(junit: JUnitXml) -> dict[str, object]:
    return {f"{suite.name}:{case.name}": case for suite in junit for case in suite}


def test_a_passing_run_shows_progress_in_a_terminal_and_reports_read_back(state_dir, tmp_path):
    watch = LeakWatch(state_dir)
    env = {**os.environ, "TESTBED_STATE_DIR": str(state_dir),
           "DAGSTER_HOME": str(tmp_path / "dagster_home")}
    code, output = in_a_terminal([TESTBED, "run", "alerting", "--report-dir",
                                  str(tmp_path / "run")], env)
    assert code == 0, output
    # rich's live table: drawn with escape codes, its header, services as they become ready.
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", output)
    assert "\x1b[" in output and re.search(r"WHAT\s+STATE\s+ELAPSED", text), text[-3000:]
    assert re.search(r"service prometheus\s+ready in [\d.]+s", text), text[-3000:]
    assert "Telemetry" not in text and "Welcome to Dagster" not in text
    # instances are disposed in the thread that made them: no SQLite cross-thread tracebacks
    assert "ProgrammingError" not in text and "Exception during reset" not in text

    report, junit = validate(tmp_path / "run")
    assert (report["job"], report["status"], report["platform"]) == ("alerting", "SUCCESS", "local")
    assert re.fullmatch(r"env-[0-9a-f]{10}", report["environment"])
    assert len(report["checks"]) == ALERTING_CHECKS and all(c["passed"] for c in report["checks"])
    numbers = {a["asset"]: a["numbers"] for a in report["assets"]}
    assert numbers["alerting/stack"]["startup_s"] > 0
    assert numbers["alerting/stack"]["rss_mb"] > 10  # AlertManager + Prometheus, plottable
    assert 0 < numbers["alerting/stack"]["alert_visible_fast/latency_s"] < 5
    assert [e["result"] for e in report["teardown"]["entries"]].count("stopped") >= 2
    assert (junit.tests, junit.failures, junit.errors, junit.skipped) == (ALERTING_CHECKS + 1, 0, 0, 0)
    assert {suite.name for suite in junit} == {"alerting/alertmanager_config",
                                               "alerting/prometheus_rules", "alerting/stack",
                                               "alerting/teardown", "teardown"}

    # The same run, reported again from the instance later.
    again = subprocess.run([TESTBED, "report", report["run_id"], "--report-dir",
                            str(tmp_path / "later")], env=env, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    later, later_junit = validate(tmp_path / "later")
    assert later["checks"] == report["checks"] and later["status"] == "SUCCESS"
    assert later_junit.tests == junit.tests
    missing = subprocess.run([TESTBED, "report", "no-such-run"], env=env, capture_output=True,
                             text=True)
    assert missing.returncode == 2 and "no run no-such-run" in missing.stderr
    assert watch.leaks() == []


def test_a_failing_run_launched_as_the_ui_does_writes_its_failure(state_dir, tmp_path):
    """The resource's report_dir (what a run launched from the UI sets in its config)."""
    watch = LeakWatch(state_dir)
    config = render_alertmanager_config("{webhook}")
    config["receivers"][2]["webhook_configs"][0]["url"] = "https://events.pagerduty.com/v2/enqueue"
    config_file = tmp_path / "alertmanager.yml"
    config_file.write_text(yaml.safe_dump(config))
    result = run_ephemeral(
        defs.resolve_job_def("alerting"), raise_on_error=False,
        run_config={"resources": {"testbed": {"config": {"state_dir": str(state_dir),
                                                         "report_dir": str(tmp_path / "ui")}}},
                    "ops": {"alerting__alertmanager_config": {"config": {
                        "config_file": str(config_file)}}}})
    assert not result.success
    report, junit = validate(tmp_path / "ui")
    assert report["status"] == "FAILURE" and report["run_id"] == result.run_id
    failed = [c for c in report["checks"] if not c["passed"]]
    assert [c["check"] for c in failed] == ["no_production_receivers"]
    case = cases(junit)["alerting/alertmanager_config:no_production_receivers"]
    [failure] = [r for r in case.result if isinstance(r, Failure)]
    assert "receiver test-critical posts to https://events.pagerduty.com" in failure.message
    # one testcase per check, the teardown, and one per failed step; the one failure is the check
    assert (junit.tests, junit.failures, junit.errors) == (
        len(report["checks"]) + 1 + len(report["failures"]), 1, len(report["failures"]))
    assert not [r for c in cases(junit).values() for r in c.result if isinstance(r, Skipped)]
    assert [c["result"] for c in failed] == ["FAIL"]
    assert report["teardown"]["leftovers"] == []
    assert watch.leaks() == []
