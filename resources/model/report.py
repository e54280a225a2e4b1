"""A run's results as one typed tree: what a CI system or a script reads (report.json), and what
the JUnit XML (junit.xml) only re-serializes. Built from the Dagster instance by
resources/reports.py; the schema CI consumers can check report.json against is
resources/report.schema.json (generated from this model)."""

from xml.etree import ElementTree as ET

from pydantic import BaseModel, Field, computed_field

from resources.model.ledger import TeardownReport

Number = int | float


class CheckOutcome(BaseModel):
    asset: str
    check: str
    severity: str  # ERROR | WARN
    passed: bool
    description: str = ""
    metadata: dict[str, Number | str] = Field(default_factory=dict)
    seconds: float = 0.0  # of the step that evaluated it (one step may evaluate several checks)

    @computed_field  # in report.json too: what a script reads first
    @property
    def result(self) -> str:
        return "PASS" if self.passed else ("FAIL" if self.severity == "ERROR" else "WARN")


class AssetOutcome(BaseModel):
    asset: str
    materialized: bool
    numbers: dict[str, Number] = Field(default_factory=dict)  # numeric metadata: plottable


class RunReport(BaseModel):
    run_id: str
    job: str
    status: str  # SUCCESS | FAILURE | CANCELED
    platform: str | None = None
    environment: str | None = None
    started: float | None = None  # epoch seconds
    seconds: float | None = None  # wall time of the run
    steps: dict[str, float] = Field(default_factory=dict)  # step key -> seconds
    assets: list[AssetOutcome] = Field(default_factory=list)
    checks: list[CheckOutcome] = Field(default_factory=list)
    failures: list[str] = Field(default_factory=list)  # steps that failed, with their error
    teardown: TeardownReport | None = None

    @property
    def failed_errors(self) -> int:
        return sum(1 for check in self.checks if check.result == "FAIL")

    def junit(self) -> str:
        """JUnit XML as CI systems read it: one testsuite per asset, one testcase per check (a
        failed ERROR check is a <failure>, a failed WARN check a <skipped> case with its reason:
        WARN does not fail the run, so it does not turn the CI red either), the teardown as one
        testcase of its own, a failed step as an <error>."""
        suites = ET.Element("testsuites", name=f"testbed {self.job}", time=f"{self.seconds or 0:.3f}")
        by_asset: dict[str, list[CheckOutcome]] = {}
        for check in self.checks:
            by_asset.setdefault(check.asset, []).append(check)
        for asset, checks in sorted(by_asset.items()):
            suite = _suite(suites, asset, self.job)
            for check in sorted(checks, key=lambda c: c.check):
                case = ET.SubElement(suite, "testcase", classname=asset, name=check.check,
                                     time=f"{check.seconds:.3f}")
                if check.result == "FAIL":
                    ET.SubElement(case, "failure", message=check.description[:1000],
                                  type="error").text = _details(check)
                elif check.result == "WARN":
                    ET.SubElement(case, "skipped", message=f"WARN: {check.description[:1000]}")
        if self.teardown is not None:
            suite = _suite(suites, "teardown", self.job)
            case = ET.SubElement(suite, "testcase", classname="teardown",
                                 name=f"teardown of {self.teardown.env_id}",
                                 time=f"{self.teardown.seconds:.3f}")
            if self.teardown.leftovers:  # the verdict before the log: ordered schemas want it so
                ET.SubElement(case, "failure", type="error",
                              message="left after teardown: " + ", ".join(self.teardown.leftovers))
            ET.SubElement(case, "system-out").text = "\n".join(self.teardown.lines())
        if self.failures:
            suite = _suite(suites, "run", self.job)
            for failure in self.failures:
                step = failure.split(":", 1)[0]
                case = ET.SubElement(suite, "testcase", classname="run", name=step, time="0")
                ET.SubElement(case, "error", message=failure[:1000], type="step failure")
        for suite in suites:
            cases = suite.findall("testcase")
            suite.set("tests", str(len(cases)))
            suite.set("failures", str(sum(1 for c in cases if c.find("failure") is not None)))
            suite.set("errors", str(sum(1 for c in cases if c.find("error") is not None)))
            suite.set("skipped", str(sum(1 for c in cases if c.find("skipped") is not None)))
            suite.set("time", f"{sum(float(c.get('time', 0)) for c in cases):.3f}")
        # <testsuites> carries no "skipped" (Jenkins' junit-10.xsd allows name, time, tests,
        # failures, errors there); each <testsuite> has its own.
        for total in ("tests", "failures", "errors"):
            suites.set(total, str(sum(int(s.get(total)) for s in suites)))
        ET.indent(suites)
        return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def _suite(parent: ET.Element, name: str, job: str) -> ET.Element:
    return ET.SubElement(parent, "testsuite", name=name, package=f"testbed.{job}")


def _details(check: CheckOutcome) -> str:
    lines = [check.description, ""] + [f"{key}: {value}" for key, value in check.metadata.items()
                                       if key != "message"]
    return "\n".join(lines)
