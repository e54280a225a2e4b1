"""What an Iceberg REST catalog answered during a review: plain data the review criteria judge.

An `Exchange` is one request and its answer as seen on the wire. A `CatalogReview` holds, per
criterion, the exchanges made for it, plus what the clients saw (`ClientScenario`) and the
server's /metrics text; a criterion whose endpoints the server does not advertise is listed in
`unsupported` with the reason, so it can be reported as "not supported" rather than as a failure.
"""

import re
from dataclasses import dataclass, field
from xml.etree import ElementTree as ET

from pydantic import BaseModel, Field


@dataclass(frozen=True)
class Exchange:
    operation: str  # the spec's operationId, or a label for endpoints outside it ("GET /health")
    method: str
    path: str
    status: int | None  # None: no answer (refused, timed out)
    body: object = None  # the parsed JSON body, None when it was not JSON
    text: str = ""  # the start of a body that was not JSON (an HTML error page ...)
    content_type: str = ""
    seconds: float = 0.0
    sent: str = ""  # what was sent, in a few words ("malformed JSON", "namespace testbed_...")
    error: str = ""  # why there was no answer

    def line(self) -> str:
        """How a message names it: `createNamespace POST /v1/namespaces (malformed JSON)`."""
        return f"{self.operation} {self.method} {self.path}" + (f" ({self.sent})" if self.sent
                                                                 else "")

    def answer(self) -> str:
        if self.status is None:
            return f"no answer: {self.error}"
        shown = ""
        if self.body is None:  # an HTML error page says most in its title
            title = re.search(r"<title>(.*?)</title>", self.text, re.S | re.I)
            shown = (title.group(1) if title else self.text)[:120].replace("\n", " ").strip()
        kind = f" {self.content_type}" if self.body is None and self.text else ""
        return f"{self.status}{kind}" + (f" {shown!r}" if shown else "")


@dataclass(frozen=True)
class ErrorProbe:
    """A request made to provoke an error, and the status the spec wants for it."""

    exchange: Exchange
    expected: int
    schema_operation: str  # the operation whose error responses the body must match


@dataclass(frozen=True)
class ClientScenario:
    client: str  # "pyiceberg 0.12.0"
    name: str  # "append Arrow data"
    passed: bool
    detail: str = ""  # what went wrong, or what was seen
    seconds: float = 0.0


class ReadinessRow(BaseModel):
    criterion: str
    catalog: str
    outcome: str  # pass | finding | not supported | not evaluated
    message: str
    severity: str = "WARN"  # ERROR when the review gates (gate: true)


class ReadinessReport(BaseModel):
    """The review's side-by-side table (criterion x catalog); JSON and JUnit only serialize it."""

    run_id: str
    catalogs: list[str]
    rows: list[ReadinessRow] = Field(default_factory=list)

    def outcome(self, criterion: str, catalog: str) -> str:
        return next((r.outcome for r in self.rows
                     if r.criterion == criterion and r.catalog == catalog), "-")

    def table(self) -> str:
        criteria = list(dict.fromkeys(r.criterion for r in self.rows))
        width = max([len(c) for c in criteria] + [9])
        cols = [max(len(c), 13) for c in self.catalogs]
        lines = [f"{'CRITERION':{width}}  " + "  ".join(f"{c:{w}}" for c, w in
                                                       zip(self.catalogs, cols))]
        for criterion in criteria:
            lines.append(f"{criterion:{width}}  " + "  ".join(
                f"{self.outcome(criterion, c):{w}}" for c, w in zip(self.catalogs, cols)))
        return "\n".join(lines)

    def junit(self) -> str:
        suites = ET.Element("testsuites", name=f"iceberg readiness {self.run_id}")
        for catalog in self.catalogs:
            rows = [r for r in self.rows if r.catalog == catalog]
            failing = [r for r in rows if r.outcome == "finding"]
            skipped = [r for r in rows if r.outcome not in ("pass", "finding")]
            suite = ET.SubElement(suites, "testsuite", name=catalog, tests=str(len(rows)),
                                  failures=str(len(failing)), errors="0",
                                  skipped=str(len(skipped)))
            for row in rows:
                case = ET.SubElement(suite, "testcase", classname=f"iceberg.{catalog}",
                                     name=row.criterion)
                if row.outcome == "finding":
                    ET.SubElement(case, "failure", message=row.message[:1000],
                                  type=row.severity).text = row.message
                elif row.outcome != "pass":
                    ET.SubElement(case, "skipped", message=f"{row.outcome}: {row.message[:1000]}")
        ET.indent(suites)
        return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


@dataclass(frozen=True)
class LoadRequest:
    """One request of a steady load: when it started and ended (seconds from the load's start)
    and how it ended: ok (2xx), status (another HTTP status), refused (no connection), reset (the
    connection broke mid-request), timeout."""

    started: float
    ended: float
    outcome: str
    detail: str = ""


@dataclass
class ShutdownObservation:
    """SIGTERM sent to the catalog server under a steady request load."""

    grace_s: float
    sigterm_at: float  # seconds from the load's start
    exited_after_s: float | None  # from SIGTERM to the process gone; None: still running
    requests: list[LoadRequest] = field(default_factory=list)


@dataclass
class DatabaseOutage:
    """The catalog's database stopped and started again while the server kept running."""

    budget_s: float  # an answer while the database is down must come within this
    during: list[Exchange] = field(default_factory=list)  # requests while it was down
    recovered_after_s: float | None = None  # from the database back to a 200; None: never
    recovery_timeout_s: float = 0.0
    server_restarted: bool = False  # the server process changed (a recovery that needed one)



@dataclass(frozen=True)
class FuzzFinding:
    operation: str  # "POST /v1/namespaces"
    check: str  # schemathesis' check that failed, e.g. not_a_server_error
    message: str  # what it saw, e.g. "Server error" + the status
    reproduce: str = ""  # the minimal reproduction schemathesis printed (a curl command)


@dataclass
class FuzzRun:
    """Property-based requests generated from the spec (schemathesis), bounded and seeded."""

    seed: int
    max_seconds: float
    methods: tuple[str, ...]  # the methods fuzzed (read-only on a catalog Testbed did not deploy)
    operations: int = 0  # operations exercised
    seconds: float = 0.0
    findings: list[FuzzFinding] = field(default_factory=list)
    error: str = ""  # the fuzzer itself failed to run (not a finding about the catalog)


@dataclass
class CatalogReview:
    catalog: str  # the target's name, e.g. "apache_rest"
    url: str
    prefix: str = ""  # the path prefix the server's config gives ("" for none)
    separator: str = "%1F"  # joins namespace levels in a path (config namespace-separator)
    endpoints: list[str] | None = None  # advertised by /v1/config; None: not advertised at all
    exchanges: dict[str, list[Exchange]] = field(default_factory=dict)  # criterion -> exchanges
    error_probes: list[ErrorProbe] = field(default_factory=list)
    unsupported: dict[str, str] = field(default_factory=dict)  # criterion -> why not supported
    clients: list[ClientScenario] = field(default_factory=list)
    health: dict[str, Exchange] = field(default_factory=dict)  # path -> answer
    metrics: Exchange | None = None  # GET /metrics
    # What the review made and saw that a metric must agree with: "namespaces" -> count listed.
    entity_counts: dict[str, int] = field(default_factory=dict)
    created_namespaces: list[str] = field(default_factory=list)
    left_behind: list[str] = field(default_factory=list)  # review namespaces it could not drop
    step_errors: list[str] = field(default_factory=list)  # optional steps that failed to run
    # Resilience, on a catalog Testbed deployed (it controls the process and the database);
    # `resilience_unavailable` says why not otherwise.
    outage: DatabaseOutage | None = None
    shutdown: ShutdownObservation | None = None
    resilience_unavailable: str = ""
    fuzz: FuzzRun | None = None
    events: Exchange | None = None  # an advertised change-event endpoint, read after changes
    figures: dict[str, float] = field(default_factory=dict)  # load figures (iceberg_bench)

    def add(self, criterion: str, exchange: Exchange) -> Exchange:
        self.exchanges.setdefault(criterion, []).append(exchange)
        return exchange
