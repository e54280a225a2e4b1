"""Acceptance criteria of the Spark Connect client suites (seed 002), as pure functions over what
the clients reported. Every message names the client, the scenario and the Spark version."""

import math

from resources.model.connect import E2EScenario, ScenarioResult, SuiteRun
from resources.model.verdict import Verdict, not_evaluated, verdict


def _counts(run: SuiteRun) -> dict[str, int]:
    return {status: sum(1 for r in run.results if r.status == status)
            for status in ("passed", "failed", "unsupported")}


def _judged(problems: list[str], ok: str, run: SuiteRun) -> Verdict:
    """verdict(), with the scenarios that were not supported (and why) said either way."""
    items = [f"{r.label} ({r.reason})" for r in run.results if r.status == "unsupported"]
    note = f"; not supported: {'; '.join(items)}" if items else ""
    found = verdict(problems, ok, **_counts(run))
    return Verdict(found.passed, found.message + note, found.metadata)


def smoke_passes(run: SuiteRun, expected: tuple[str, ...], clients: tuple[str, ...]) -> Verdict:
    """Every smoke scenario passed on every client; an unsupported one is reported, never
    counted as passed; a scenario a client did not report at all fails."""
    problems = [f"{r.label}: {r.error[:300]}" for r in run.results if r.status == "failed"]
    for client in clients:
        reported = {r.scenario for r in run.of(client)}
        problems += [f"{client}/{name} on {run.version}: not reported"
                     for name in expected if name not in reported]
    return _judged(problems, f"{_counts(run)['passed']} smoke scenarios passed on Spark "
                             f"{run.version}", run)


def same_value(want, got) -> bool:
    if isinstance(want, float) or isinstance(got, float):
        if want is None or got is None or isinstance(want, str) or isinstance(got, str):
            return False
        # Sums of doubles differ in their last digits with the order they were added in.
        return math.isclose(float(want), float(got), rel_tol=1e-6, abs_tol=0.011)
    return want == got


def answer_difference(want: list[list], got: list[list]) -> str | None:
    """Where two answers differ first, in words (None: the same)."""
    if len(want) != len(got):
        return f"expected {len(want)} rows, got {len(got)}"
    for index, (w, g) in enumerate(zip(want, got), start=1):
        if len(w) != len(g):
            return f"row {index}: expected {len(w)} columns, got {len(g)}"
        for column, (a, b) in enumerate(zip(w, g), start=1):
            if not same_value(a, b):
                return f"row {index} column {column}: expected {a!r}, got {b!r}"
    return None


def e2e_answers_match(run: SuiteRun, scenarios: tuple[E2EScenario, ...],
                      expected: dict[str, list[list]]) -> Verdict:
    """Every E2E answer equals the independent engine's (DuckDB over the same files); an error
    scenario answered with its error class."""
    by_name = {s.name: s for s in scenarios}
    problems = []
    for r in run.results:
        scenario = by_name.get(r.scenario)
        if r.status == "unsupported":
            continue
        if r.status == "failed":
            problems.append(f"{r.label}: {r.error[:300]}")
        elif scenario is None:
            problems.append(f"{r.label}: not a scenario of this suite")
        elif scenario.expect_error:
            if scenario.expect_error not in r.error:
                problems.append(f"{r.label}: expected the error {scenario.expect_error}, "
                                f"got {r.error[:200] or 'no error'}")
        elif scenario.name not in expected:
            problems.append(f"{r.label}: no expected answer from the independent engine")
        else:
            difference = answer_difference(expected[scenario.name], r.rows or [])
            if difference:
                problems.append(f"{r.label}: answer differs from DuckDB's: {difference}")
    return _judged(problems, f"{_counts(run)['passed']} E2E answers on Spark {run.version} match "
                             f"the independent engine (DuckDB)", run)


def load_within_budget(run: SuiteRun, p95_budget_ms: float,
                       max_error_rate: float = 0.0) -> Verdict:
    """Every load scenario ran, its error rate is at most max_error_rate and its p95 latency is
    under the budget."""
    problems, worst = [], 0.0
    for r in run.results:
        if r.status == "failed":
            problems.append(f"{r.label}: did not run: {r.error[:200]}")
            continue
        if r.status == "unsupported":
            continue
        queries, errors = r.metrics.get("queries", 0.0), r.metrics.get("errors", 0.0)
        rate = errors / (queries + errors) if queries + errors else 1.0
        if queries + errors == 0:
            problems.append(f"{r.label}: no query completed")
        elif rate > max_error_rate:
            problems.append(f"{r.label}: error rate {rate:.1%} ({errors:g} of "
                            f"{queries + errors:g} queries) is above {max_error_rate:.1%}")
        p95 = r.metrics.get("p95_ms", 0.0)
        worst = max(worst, p95)
        if p95 > p95_budget_ms:
            problems.append(f"{r.label}: p95 {p95:g} ms is over the {p95_budget_ms:g} ms budget")
    return verdict(problems, f"{len(run.results)} load scenarios on Spark {run.version}: no errors "
                             f"above {max_error_rate:.1%}, worst p95 {worst:g} ms "
                             f"<= {p95_budget_ms:g} ms", worst_p95_ms=worst)


def throughput_ratios(run: SuiteRun) -> dict[str, float]:
    """go qps / python qps per load scenario both clients ran."""
    ratios = {}
    for go in run.of("go"):
        py = run.get("python", go.scenario)
        if py and go.status == py.status == "passed" and py.metrics.get("qps"):
            ratios[go.scenario] = round(go.metrics.get("qps", 0.0) / py.metrics["qps"], 3)
    return ratios


def go_vs_python_throughput(run: SuiteRun, workload: str = "concurrent_8",
                            minimum: float = 1.0) -> Verdict:
    """Same workload, same server, same run: Go's throughput over Python's. Reported for every
    load scenario; judged (a WARN) on the concurrent workload."""
    ratios = throughput_ratios(run)
    metadata = {f"ratio/{name}": value for name, value in ratios.items()}
    if workload not in ratios:
        return not_evaluated(f"{workload} did not pass on both clients on Spark {run.version}",
                             **metadata)
    ratio = ratios[workload]
    if ratio < minimum:
        return Verdict(False, f"go/{workload} on {run.version}: Go reached {ratio:.2f}x Python's "
                              f"throughput, below {minimum:.2f}x", metadata)
    return Verdict(True, f"go/{workload} on {run.version}: Go reached {ratio:.2f}x Python's "
                         f"throughput", metadata)


def load_figures(results: list[ScenarioResult]) -> dict[str, float]:
    """The numbers a baseline compares: client/scenario/metric -> value."""
    keep = ("qps", "p50_ms", "p95_ms", "p99_ms", "client_cpu_ms_per_query", "rows_per_second")
    return {f"{r.client}/{r.scenario}/{name}": value for r in results if r.status == "passed"
            for name, value in r.metrics.items() if name in keep}
