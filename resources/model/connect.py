"""The Spark Connect client suites' data: E2E scenarios as declared, and what each client reported.

Both clients (Go's `go test`, Python's resources.connect.pyclient) write one ScenarioResult per
scenario as a JSON line; the checks judge those, the assets plot them.
"""

import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

Client = Literal["go", "python"]
Suite = Literal["smoke", "e2e", "load"]
SUITES: tuple[Suite, ...] = ("smoke", "e2e", "load")
CLIENTS: tuple[Client, ...] = ("go", "python")

SMOKE = ("sql_literal", "sql_range_count", "sql_string_functions", "sql_temp_view",
         "df_filter_count", "df_select_aggregate", "df_create_dataframe", "df_schema",
         "lifecycle_sessions_release", "lifecycle_dead_server", "lifecycle_session_isolation",
         # last: the server restarts under it (a session of before is gone afterwards)
         "lifecycle_reconnect_after_restart")
LOAD = ("concurrent_1", "concurrent_8", "concurrent_32", "scan_1", "scan_8", "sustained",
        "session_churn", "large_collect")


def plain(value):
    """A collected value as JSON, the same from every engine: decimals as floats, dates and
    timestamps as ISO text (the Go client reports timestamps as microseconds)."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


class Unsupported(BaseModel):
    model_config = {"frozen": True, "extra": "forbid"}

    client: Literal["go", "python", "*"]
    versions: str  # "*" or a version prefix ("3.5")
    reason: str

    def applies(self, client: str, version: str) -> bool:
        return self.client in ("*", client) and (
            self.versions == "*" or version == self.versions
            or version.startswith(self.versions + "."))


class E2EScenario(BaseModel):
    model_config = {"frozen": True, "extra": "forbid"}

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    category: str
    sql: str  # Spark SQL, what every client sends
    duckdb: str | None = None  # the same question in DuckDB's dialect, where it differs
    expect_error: str | None = None  # the error class the server must answer with
    unsupported: tuple[Unsupported, ...] = ()

    def unsupported_reason(self, client: str, version: str) -> str | None:
        for entry in self.unsupported:
            if entry.applies(client, version):
                return entry.reason
        return None


def load_scenarios(path: Path) -> tuple[E2EScenario, ...]:
    doc = json.loads(Path(path).read_text())
    scenarios = tuple(E2EScenario.model_validate(s) for s in doc["scenarios"])
    names = [s.name for s in scenarios]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"{path}: scenario names twice: {', '.join(twice)}")
    return scenarios


class ScenarioResult(BaseModel):
    """One scenario, one client, one version, as the client reported it."""

    client: Client
    suite: Suite
    scenario: str
    version: str
    status: Literal["passed", "failed", "unsupported"]
    seconds: float = 0.0
    rows: list[list] | None = None  # e2e: the answer, in order
    error: str = ""
    reason: str = ""  # unsupported: why
    metrics: dict[str, float] = Field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.client}/{self.scenario} on {self.version}"


def read_results(path: Path) -> list[ScenarioResult]:
    """The JSON lines a client wrote (a missing file: nothing reported)."""
    if not Path(path).exists():
        return []
    return [ScenarioResult.model_validate_json(line)
            for line in Path(path).read_text().splitlines() if line.strip()]


class SuiteRun(BaseModel):
    """One suite on one version, both clients: what the checks judge and the asset records."""

    version: str
    suite: Suite
    results: list[ScenarioResult]
    # Numbers of the server the suite ran against (rss_mb before/after, seconds to ready).
    server: dict[str, float] = Field(default_factory=dict)
    # Facts worth a reader's attention that are not failures (a mixed-version jar, upstream leaks).
    findings: list[str] = Field(default_factory=list)

    def of(self, client: str) -> list[ScenarioResult]:
        return [r for r in self.results if r.client == client]

    def get(self, client: str, scenario: str) -> ScenarioResult | None:
        return next((r for r in self.results
                     if r.client == client and r.scenario == scenario), None)
