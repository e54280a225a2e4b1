"""The run report's model: report.json matches the schema committed for CI consumers, and the JUnit
file is what Jenkins' junit-10.xsd and junitparser accept, with the right counts and messages."""

import json
from xml.etree import ElementTree as ET

import jsonschema
from junitparser import Error, Failure, JUnitXml, Skipped

from resources.model.ledger import TeardownEntry, TeardownReport
from resources.model.report import CheckOutcome, RunReport
from resources.reports import SCHEMA_FILE, schema

# What Jenkins' junit-10.xsd (xunit plugin) allows on each element; a CI server that validates
# rejects a file with anything else.
ALLOWED = {
    "testsuites": {"name", "time", "tests", "failures", "errors"},
    "testsuite": {"name", "tests", "failures", "errors", "group", "time", "skipped", "timestamp",
                  "hostname", "id", "package", "file", "log", "url"},
    "testcase": {"name", "time", "classname", "group"},
}
REQUIRED = {"testsuite": {"name", "tests", "failures", "errors"}, "testcase": {"name"}}


def made_up() -> RunReport:
    return RunReport(
        run_id="r1", job="alerting", status="FAILURE", platform="local", environment="env-0",
        checks=[CheckOutcome(asset="alerting/stack", check="fires", severity="ERROR", passed=True),
                CheckOutcome(asset="alerting/stack", check="routes", severity="ERROR", passed=False,
                             description="alert went to team-b, not team-a", seconds=1.5,
                             metadata={"receiver": "team-b"}),
                CheckOutcome(asset="alerting/rules", check="slow", severity="WARN", passed=False,
                             description="took 9 s")],
        failures=["alerting__stack: RuntimeError: boom"],
        teardown=TeardownReport(env_id="env-0", leftovers=["pid 7"], seconds=0.5, entries=[
            TeardownEntry(what="prometheus", kind="process", result="stopped", seconds=0.2)]))


def test_the_committed_schema_is_the_model_s():
    assert json.loads(SCHEMA_FILE.read_text()) == schema(), (
        "resources/report.schema.json is stale: regenerate it from resources.reports.schema()")


def test_report_json_carries_each_check_s_result_and_validates():
    document = json.loads(made_up().model_dump_json())
    jsonschema.validate(document, schema())
    assert [c["result"] for c in document["checks"]] == ["PASS", "FAIL", "WARN"]


def test_junit_counts_messages_and_only_what_the_xsd_allows():
    text = made_up().junit()
    for element in ET.fromstring(text).iter():
        if element.tag in ALLOWED:
            assert set(element.attrib) <= ALLOWED[element.tag], (element.tag, element.attrib)
            assert REQUIRED.get(element.tag, set()) <= set(element.attrib), element.tag
    junit = JUnitXml.fromstring(text)
    assert (junit.tests, junit.failures, junit.errors, junit.skipped) == (5, 2, 1, 1)
    results = {f"{suite.name}:{case.name}": case.result for suite in junit for case in suite}
    [failure] = results["alerting/stack:routes"]
    assert isinstance(failure, Failure) and failure.message == "alert went to team-b, not team-a"
    assert "receiver: team-b" in failure.text
    [skipped] = results["alerting/rules:slow"]
    assert isinstance(skipped, Skipped) and skipped.message == "WARN: took 9 s"
    [leftover] = results["teardown:teardown of env-0"]
    assert isinstance(leftover, Failure) and leftover.message == "left after teardown: pid 7"
    [error] = results["run:alerting__stack"]
    assert isinstance(error, Error) and "boom" in error.message
