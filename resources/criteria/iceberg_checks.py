"""Iceberg REST catalog readiness criteria (seed 004: US1 contract, US2 clients, US3 monitoring) as
pure functions over what a catalog answered during the review (resources/model/iceberg.py).

A criterion the server does not offer (an endpoint it does not advertise) is "not supported": a
verdict that is not evaluated, reported as such, never counted as passed and never as a failure of
the server's code. Each message names the catalog, the request and what was wrong.
"""

import json

from prometheus_client.parser import text_string_to_metric_families

from resources.model.iceberg import CatalogReview, ClientScenario, ErrorProbe, Exchange
from resources.model.openapi import OpenApiContract
from resources.model.verdict import Verdict, not_evaluated, verdict

NOT_SUPPORTED = "not supported"
LIVENESS = ("/health", "/healthz", "/livez")
READINESS = ("/ready", "/readyz")


def not_supported(catalog: str, reason: str) -> Verdict:
    return Verdict(False, f"{NOT_SUPPORTED} by {catalog}: {reason}", {"outcome": NOT_SUPPORTED},
                   evaluated=False)


def outcome(v: Verdict) -> str:
    """How the review's table shows a verdict: pass, finding, not supported, not evaluated."""
    if v.passed:
        return "pass"
    if v.metadata.get("outcome") == NOT_SUPPORTED:
        return NOT_SUPPORTED
    return "finding" if v.evaluated else "not evaluated"


def _conformance(exchange: Exchange, contract: OpenApiContract) -> list[str]:
    if exchange.status is None:
        return [f"{exchange.line()}: {exchange.answer()}"]
    if not 200 <= exchange.status < 300:
        return [f"{exchange.line()} answered {exchange.answer()}"]
    declared = contract.operations.get(exchange.operation)
    if declared is not None and not declared.declares(exchange.status):
        return [f"{exchange.line()} answered {exchange.status}, which the spec does not declare "
                f"for {exchange.operation} (it declares "
                f"{', '.join(s for s in declared.statuses if s.startswith('2'))})"]
    if exchange.method != "HEAD" and exchange.status != 204 and exchange.body is None \
            and contract.response_schema(exchange.operation, exchange.status) is not None:
        return [f"{exchange.line()} answered {exchange.status} without a JSON body "
                f"({exchange.content_type or 'no content type'})"]
    return [f"{exchange.line()} {exchange.status}: {problem}"
            for problem in contract.violations(exchange.operation, exchange.status, exchange.body)]


def _gate(review: CatalogReview, criterion: str) -> Verdict | None:
    if criterion in review.unsupported:
        return not_supported(review.catalog, review.unsupported[criterion])
    if not review.exchanges.get(criterion):
        return not_evaluated(f"the review of {review.catalog} did not reach {criterion} (an "
                             f"earlier step failed, see config_contract, or it was left out)")
    return None


def contract_conforms(review: CatalogReview, criterion: str, contract: OpenApiContract) -> Verdict:
    """Every request made for the criterion succeeded and each answer's body matches the schema
    the spec gives for that operation and status."""
    gated = _gate(review, criterion)
    if gated is not None:
        return gated
    exchanges = review.exchanges[criterion]
    problems = [p for exchange in exchanges for p in _conformance(exchange, contract)]
    return _judged(review, problems, exchanges,
                   f"{review.catalog}: {len(exchanges)} operations "
                   f"({', '.join(dict.fromkeys(e.operation for e in exchanges))}) answered as "
                   f"{contract.source} says")


def _judged(review: CatalogReview, problems: list[str], exchanges: list[Exchange],
            ok: str) -> Verdict:
    seconds = sorted(e.seconds for e in exchanges if e.status is not None)
    metadata = {"operations": len(exchanges), "findings": len(problems),
                "slowest_ms": round(seconds[-1] * 1000, 1) if seconds else 0.0}
    if problems:
        return Verdict(False, f"{review.catalog}: " + "; ".join(problems[:6])
                       + (f"; and {len(problems) - 6} more" if len(problems) > 6 else ""),
                       metadata)
    return Verdict(True, ok, metadata)


def multi_table_transaction(review: CatalogReview, contract: OpenApiContract) -> Verdict:
    """A commit over two tables applies to both (204); one whose second requirement fails is
    refused with 409 and applies to neither (atomic)."""
    criterion = "multi_table_transaction_contract"
    gated = _gate(review, criterion)
    if gated is not None:
        return gated
    exchanges = review.exchanges[criterion]
    commits = [e for e in exchanges if e.operation == "commitTransaction"]
    loads = [e for e in exchanges if e.operation == "loadTable"]
    problems = []
    if len(commits) != 2 or len(loads) != 2:
        return not_evaluated(f"{review.catalog}: the review made {len(commits)} commits and "
                             f"{len(loads)} loads (want 2 and 2)")
    applied, rejected = commits
    problems += _conformance(applied, contract)
    if rejected.status != 409:
        problems.append(f"{rejected.line()} answered {rejected.answer()} (want 409 "
                        f"CommitFailedException: a requirement did not hold)")
    elif rejected.body is None or contract.violations("commitTransaction", 409, rejected.body):
        problems.append(f"{rejected.line()} 409 body is not an IcebergErrorResponse: "
                        + "; ".join(contract.violations("commitTransaction", 409, rejected.body)
                                    or [f"not JSON ({rejected.content_type})"]))
    for load in loads:
        problems += _conformance(load, contract)
        body = load.body if isinstance(load.body, dict) else {}
        value = ((body.get("metadata") or {}).get("properties") or {}).get("testbed.txn")
        if load.status == 200 and value != "1":
            problems.append(f"{load.line()}: testbed.txn is {value!r}, want '1' (the first "
                            f"commit applies, the refused one must not)")
    return _judged(review, problems, exchanges,
                   f"{review.catalog}: a two-table commit applied to both tables; one with a "
                   f"failing requirement was refused with 409 and applied to neither")


def error_responses(review: CatalogReview, contract: OpenApiContract) -> Verdict:
    """Bad requests get 400, unknown things 404, conflicts 409, each with an ErrorModel body."""
    if not review.error_probes:
        return not_evaluated(f"the review of {review.catalog} made no error requests (its "
                             f"config or namespace endpoint failed first)")
    problems = [p for probe in review.error_probes for p in _error_problems(probe, contract)]
    return _judged(review, problems, [p.exchange for p in review.error_probes],
                   f"{review.catalog}: {len(review.error_probes)} error cases answered with the "
                   f"spec's status and an IcebergErrorResponse body")


def _error_problems(probe: ErrorProbe, contract: OpenApiContract) -> list[str]:
    exchange = probe.exchange
    if exchange.status != probe.expected:
        return [f"{exchange.line()} answered {exchange.answer()} (want {probe.expected})"]
    if exchange.body is None:
        return [f"{exchange.line()} answered {exchange.status} with a "
                f"{exchange.content_type or 'non-JSON'} body (want an IcebergErrorResponse)"]
    violations = contract.violations(probe.schema_operation, exchange.status, exchange.body) \
        or contract.schema_violations("IcebergErrorResponse", exchange.body)
    return [f"{exchange.line()} {exchange.status}: {v}" for v in violations]


def health_endpoints(review: CatalogReview) -> Verdict:
    """A liveness and a readiness endpoint that answer 200 while the catalog serves."""
    if not review.health:
        return not_evaluated(f"the review of {review.catalog} did not reach its health checks")
    answered = {path: e.status for path, e in review.health.items()}
    live = [p for p in LIVENESS if answered.get(p) == 200]
    ready = [p for p in READINESS if answered.get(p) == 200]
    problems = []
    if not live:
        problems.append(f"no liveness endpoint answers 200 ({_statuses(review, LIVENESS)})")
    if not ready:
        problems.append(f"no readiness endpoint answers 200 ({_statuses(review, READINESS)})")
    metadata = {"liveness": ", ".join(live) or "none", "readiness": ", ".join(ready) or "none"}
    if problems:
        return Verdict(False, f"{review.catalog}: " + "; ".join(problems)
                       + "; an orchestrator (Kubernetes probes, a load balancer) has nothing to "
                         "poll but the API itself", metadata)
    return Verdict(True, f"{review.catalog}: liveness {live[0]} and readiness {ready[0]} answer "
                         f"200", metadata)


def _statuses(review: CatalogReview, paths: tuple[str, ...]) -> str:
    return ", ".join(f"{p} {review.health[p].status if review.health[p].status is not None else 'no answer'}"
                     for p in paths if p in review.health)


def metrics_exposed(review: CatalogReview) -> Verdict:
    """Prometheus /metrics with a request latency histogram, a DB pool gauge, and entity counts
    that agree with what the catalog lists."""
    answer = review.metrics
    if answer is None:
        return not_evaluated(f"the review of {review.catalog} did not reach /metrics")
    if answer.status != 200:
        return Verdict(False, f"{review.catalog}: GET /metrics answered {answer.answer()}: no "
                              f"Prometheus metrics (request latency, DB pool, entity counts "
                              f"cannot be scraped)", {"families": 0})
    try:
        families = list(text_string_to_metric_families(answer.text))
    except (ValueError, TypeError) as exc:
        return Verdict(False, f"{review.catalog}: GET /metrics is not Prometheus text format: "
                              f"{exc}", {"families": 0})
    problems = []
    histograms = [f.name for f in families if f.type == "histogram"
                  and any(word in f.name for word in ("request", "http", "latency", "duration"))]
    if not histograms:
        problems.append("no request latency histogram (a histogram named for requests or their "
                        "duration)")
    pools = [f.name for f in families if f.type == "gauge"
             and any(word in f.name for word in ("pool", "connection"))]
    if not pools:
        problems.append("no database pool gauge (a gauge named for the pool or its connections)")
    if not review.entity_counts:
        problems.append("entity counts could not be compared: the catalog's own listing did "
                        "not answer in full")
    for entity, count in review.entity_counts.items():
        family = next((f for f in families if f.type == "gauge" and entity in f.name), None)
        if family is None:
            problems.append(f"no gauge counts {entity} (the catalog lists {count})")
            continue
        value = sum(sample.value for sample in family.samples)
        if value != count:
            problems.append(f"{family.name} says {value:g} {entity}, the catalog lists {count}")
    metadata = {"families": len(families), "histograms": ", ".join(histograms) or "none",
                "pool_gauges": ", ".join(pools) or "none"}
    return verdict([f"{review.catalog}: {p}" for p in problems],
                   f"{review.catalog}: /metrics has {histograms[0] if histograms else ''}, "
                   f"{pools[0] if pools else ''} and entity counts that agree", **metadata)


def clients_compatible(review: CatalogReview, client: str) -> Verdict:
    """Every scenario of the client (its name's start, e.g. "pyiceberg") passed."""
    scenarios: list[ClientScenario] = [s for s in review.clients
                                       if s.client.startswith(client)]
    if not scenarios:
        return not_evaluated(f"no {client} scenarios ran against {review.catalog}")
    failed = [s for s in scenarios if not s.passed]
    metadata = {"scenarios": len(scenarios), "failed": len(failed),
                "seconds": round(sum(s.seconds for s in scenarios), 3)}
    if failed:
        return Verdict(False, f"{review.catalog}: " + "; ".join(
            f"{s.client} {s.name}: {s.detail}" for s in failed), metadata)
    by_client: dict[str, list[str]] = {}
    for s in scenarios:
        by_client.setdefault(s.client, []).append(s.name)
    names = list(by_client.values())
    what = ", ".join(names[0]) if all(n == names[0] for n in names) else "; ".join(
        f"{client}: {', '.join(n)}" for client, n in by_client.items())
    return Verdict(True, f"{review.catalog}: {' and '.join(by_client)} passed {what}", metadata)


def database_failure(review: CatalogReview) -> Verdict:
    """With its database stopped the catalog answers every request with a 5xx within the budget
    (no hang, no success made up); with the database back the same process answers again."""
    outage = review.outage
    if outage is None:
        return not_evaluated(review.resilience_unavailable or
                             f"the review of {review.catalog} did not reach the database outage")
    problems = []
    for exchange in outage.during:
        if exchange.status is None:
            problems.append(f"{exchange.line()}: {exchange.answer()} (a hang: want a 5xx within "
                            f"{outage.budget_s:g}s)")
        elif exchange.status < 500:
            problems.append(f"{exchange.line()} answered {exchange.answer()} (want a 5xx: the "
                            f"database is down)")
        elif exchange.seconds > outage.budget_s:
            problems.append(f"{exchange.line()} answered {exchange.status} after "
                            f"{exchange.seconds:.1f}s (want within {outage.budget_s:g}s)")
    if outage.recovered_after_s is None:
        problems.append(f"no 200 for listNamespaces within {outage.recovery_timeout_s:g}s after "
                        f"the database came back")
    elif outage.server_restarted:
        problems.append("it answered again only after its process restarted")
    slowest = max((e.seconds for e in outage.during), default=0.0)
    metadata = {"requests_while_down": len(outage.during), "slowest_answer_s": round(slowest, 3),
                "recovered_after_s": outage.recovered_after_s if outage.recovered_after_s
                is not None else -1.0}
    return verdict([f"{review.catalog}: {p}" for p in problems],
                   f"{review.catalog}: {len(outage.during)} requests with the database down got "
                   f"5xx within {slowest:.2f}s; answered again {outage.recovered_after_s}s after "
                   f"the database came back, without a restart", **metadata)


def graceful_shutdown(review: CatalogReview) -> Verdict:
    """SIGTERM under load: requests in flight complete, new ones are refused cleanly (no
    connection, or 503), no connection is reset, and the process exits within its grace."""
    seen = review.shutdown
    if seen is None:
        return not_evaluated(review.resilience_unavailable or
                             f"the review of {review.catalog} did not reach the shutdown")
    in_flight = [r for r in seen.requests if r.started < seen.sigterm_at < r.ended]
    after = [r for r in seen.requests if r.started >= seen.sigterm_at]
    if not seen.requests or not any(r.started < seen.sigterm_at for r in seen.requests):
        return not_evaluated(f"no steady load reached {review.catalog} before SIGTERM "
                             f"({len(seen.requests)} requests recorded)")
    refused = [r for r in after if r.outcome == "refused" or r.detail == "503"]
    lost = [r for r in in_flight if r.outcome != "ok"]
    unclean = [r for r in after if r.outcome in ("reset", "timeout")
               or (r.outcome == "status" and r.detail != "503")]
    resets = sum(1 for r in seen.requests if r.outcome == "reset")
    problems = []
    if lost:
        problems.append(f"{len(lost)} of {len(in_flight)} requests in flight at SIGTERM did not "
                        f"complete ({_outcomes(lost)})")
    if unclean:
        problems.append(f"{len(unclean)} requests after SIGTERM were not refused cleanly "
                        f"({_outcomes(unclean)})")
    if seen.exited_after_s is None or seen.exited_after_s > seen.grace_s:
        problems.append(f"the process did not exit within its {seen.grace_s:g}s grace"
                        + (f" (gone after {seen.exited_after_s}s)" if seen.exited_after_s else ""))
    metadata = {"requests": len(seen.requests), "in_flight": len(in_flight),
                "in_flight_lost": len(lost), "resets": resets,
                "exit_s": seen.exited_after_s if seen.exited_after_s is not None else -1.0}
    return verdict([f"{review.catalog}: {p}" for p in problems],
                   f"{review.catalog}: SIGTERM under load: {len(in_flight)} requests in flight "
                   f"completed, {len(refused)} later ones refused cleanly, exit after "
                   f"{seen.exited_after_s}s (grace {seen.grace_s:g}s)", **metadata)


def _outcomes(requests) -> str:
    counts: dict[str, int] = {}
    for r in requests:
        key = r.outcome + (f" {r.detail.split(':')[0]}" if r.detail else "")
        counts[key] = counts.get(key, 0) + 1
    return ", ".join(f"{n} {what}" for what, n in sorted(counts.items(), key=lambda kv: -kv[1]))


def event_stream(review: CatalogReview) -> Verdict:
    """Where the catalog offers change events, they include the namespaces the review created."""
    if not any("/events" in e for e in review.endpoints or []):
        return not_supported(review.catalog, "it advertises no change-event endpoint (the Iceberg "
                                             "REST spec 1.11.0 defines none)")
    answer = review.events
    if answer is None:
        return not_evaluated(f"the review of {review.catalog} read no change events")
    if answer.status is None or not 200 <= answer.status < 300:
        return Verdict(False, f"{review.catalog}: {answer.line()} answered {answer.answer()}")
    text = json.dumps(answer.body) if answer.body is not None else answer.text
    missing = [ns for ns in review.created_namespaces[:2] if ns not in text]
    if missing:
        return Verdict(False, f"{review.catalog}: {answer.line()} lists no event for namespace "
                              f"{missing[0]}, which the review created")
    return Verdict(True, f"{review.catalog}: {answer.line()} lists the review's namespace changes")


def fuzzed_contract(review: CatalogReview) -> Verdict:
    """Generated requests (schemathesis, seeded and bounded) found no server error and no answer
    outside the spec; each finding with its operation, check and a minimal reproduction."""
    run = review.fuzz
    if run is None:
        failed = [e for e in review.step_errors if e.startswith("fuzzing")]
        return not_evaluated(f"the fuzzer failed to run against {review.catalog}: {failed[0]}"
                             if failed else f"fuzzing of {review.catalog} was off "
                                            f"(fuzz_seconds: 0) or not reached")
    if run.error:
        return not_evaluated(f"the fuzzer did not run against {review.catalog}: {run.error}")
    if run.operations == 0:
        return not_evaluated(f"the fuzzer exercised no operation of {review.catalog} "
                             f"(methods {', '.join(run.methods)})")
    metadata = {"operations": run.operations, "findings": len(run.findings),
                "seconds": run.seconds, "seed": run.seed, "methods": ",".join(run.methods)}
    if run.findings:
        shown = [f"{f.operation}: {f.check}: {f.message}"
                 + (f" (reproduce: {f.reproduce})" if f.reproduce else "")
                 for f in run.findings[:4]]
        return Verdict(False, f"{review.catalog}: {len(run.findings)} findings in "
                              f"{run.operations} operations (seed {run.seed}, {run.seconds:g}s): "
                       + "; ".join(shown)
                       + (f"; and {len(run.findings) - 4} more" if len(run.findings) > 4 else ""),
                       metadata)
    return Verdict(True, f"{review.catalog}: {run.operations} operations fuzzed for "
                         f"{run.seconds:g}s (seed {run.seed}, {', '.join(run.methods)}): no "
                         f"server error, every answer as the spec says", metadata)
