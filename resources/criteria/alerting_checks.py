"""Alerting acceptance criteria (seed 003 user story 2, seed 001 research task 2, SEC-001/002) as pure
functions over what the tools said, what AlertManager answered and what the webhook received."""

import ipaddress
import re
from urllib.parse import urlsplit

from resources.model.facts import ToolResult
from resources.model.verdict import Verdict, verdict


def config_valid(results: list[ToolResult]) -> Verdict:
    bad = [f"{r.tool} rejected the file: {r.output.splitlines()[0] if r.output else 'no output'}"
           + (f" ({_first_failure(r.output)})" if _first_failure(r.output) else "")
           for r in results if not r.ok]
    return verdict(bad, " and ".join(f"{r.tool} accepts the file" for r in results),
                   **{r.tool: r.output[-2000:] for r in results})


def _first_failure(output: str) -> str:
    for line in output.splitlines():
        if "FAILED" in line or "error" in line.lower():
            return line.strip()
    return ""


def alert_visible_fast(latency_s: float | None, budget_s: float) -> Verdict:
    if latency_s is None:
        return Verdict(False, f"the posted test alert never showed in GET /api/v2/alerts "
                              f"(waited {budget_s:.0f}s)", {"budget_s": budget_s})
    return verdict([f"the test alert took {latency_s:.3f}s to show, over the {budget_s:.1f}s "
                    f"budget"] if latency_s > budget_s else [],
                   f"test alert listed by the API after {latency_s * 1000:.0f} ms "
                   f"(budget {budget_s:.0f}s)", latency_s=round(latency_s, 4), budget_s=budget_s)


def severity_routing(expected: dict[str, str], delivered: dict[str, list[str]],
                     amtool: list[tuple[dict[str, str], str, str]]) -> Verdict:
    """delivered: severity -> receivers whose webhook got that severity's alert (in delivery order).
    amtool: (label set, expected receiver, receiver amtool named)."""
    problems = []
    for severity, receiver in expected.items():
        got = delivered.get(severity, [])
        if not got:
            problems.append(f"the {severity} alert reached no receiver (expected {receiver})")
        elif set(got) != {receiver}:
            wrong = sorted(set(got) - {receiver})
            problems.append(f"the {severity} alert reached {', '.join(wrong)} instead of {receiver}"
                            if receiver not in got else
                            f"the {severity} alert reached {', '.join(wrong)} as well as {receiver}")
    for labels, want, said in amtool:
        if said != want:
            problems.append(f"amtool routes {_labels(labels)} to {said or 'nothing'}, expected {want}")
    table = "\n".join(f"| {_labels(labels)} | {want} | {said} |" for labels, want, said in amtool)
    return verdict(problems, f"each of {len(expected)} severities delivered to exactly its receiver; "
                             f"amtool agrees on {len(amtool)} label sets",
                   routes="| labels | expected | amtool |\n|---|---|---|\n" + table,
                   delivered=", ".join(f"{s}->{'+'.join(r) or 'nothing'}"
                                       for s, r in delivered.items()))


def _labels(labels: dict[str, str]) -> str:
    return "{" + ", ".join(f"{k}={v}" for k, v in labels.items()) + "}"


def silence_suppresses(state_while_silenced: str | None, silenced_delivered: bool,
                       control_delivered: bool, delivered_after_expiry: bool) -> Verdict:
    problems = []
    if state_while_silenced != "suppressed":
        problems.append(f"the silenced alert is {state_while_silenced or 'not listed'}, "
                        f"not suppressed")
    if silenced_delivered:
        problems.append("the silenced alert was delivered anyway")
    if not control_delivered:
        problems.append("the control alert (not matched by the silence) was not delivered")
    if not delivered_after_expiry:
        problems.append("the alert was not delivered after its silence was deleted")
    return verdict(problems, "a silenced alert is suppressed and undelivered, a control alert is "
                             "delivered, and deleting the silence delivers it",
                   state_while_silenced=state_while_silenced or "missing")


def prometheus_to_alertmanager(receivers: list[str], expected: str, latency_s: float | None,
                               timeout_s: float) -> Verdict:
    if latency_s is None or not receivers:
        return Verdict(False, f"the always-firing rule's alert did not reach the webhook through "
                              f"Prometheus within {timeout_s:.0f}s", {"timeout_s": timeout_s})
    wrong = sorted(set(receivers) - {expected})
    return verdict([f"the always-firing rule's alert reached {', '.join(wrong)}, expected "
                    f"{expected}"] if wrong else [],
                   f"the always-firing rule reached {expected} through Prometheus after "
                   f"{latency_s:.2f}s", latency_s=round(latency_s, 3))


# --- SEC-001 / SEC-002 ---------------------------------------------------------------------------

_MATCHER = re.compile(r'^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"?(.*?)"?\s*$')
_SECRET_WORDS = ("password", "secret", "api_key", "token", "api_url", "routing_key",
                 "service_key", "credentials")
_AUTH_KEYS = ("basic_auth", "authorization", "bearer_token", "bearer_token_file", "oauth2")


def _requires_test(route: dict) -> bool:
    if str((route.get("match") or {}).get("environment")) == "test":
        return True
    if str((route.get("match_re") or {}).get("environment")) in ("test", "^test$"):
        return True
    for matcher in route.get("matchers") or []:
        found = _MATCHER.match(str(matcher))
        if found and found.group(1) == "environment" and found.group(3) == "test" \
                and found.group(2) in ("=", "=~"):
            return True
    return False


def _loopback(host: str | None) -> bool:
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _secrets_in(mapping: dict, where: str) -> list[str]:
    found = []
    for key, value in (mapping or {}).items():
        if value in (None, "", {}, []):
            continue
        if any(word in key for word in _SECRET_WORDS) or key in _AUTH_KEYS:
            found.append(f"{where} sets {key} (credentials do not belong in a test config)")
        elif key == "http_config" and isinstance(value, dict):
            found += _secrets_in(value, f"{where} http_config")
    return found


def no_production_receivers(config: dict) -> Verdict:
    """Every receiver delivers only to loopback webhooks without credentials (SEC-001), and only
    alerts labelled environment=test are delivered at all (SEC-002)."""
    problems = _secrets_in(config.get("global") or {}, "global")
    receivers = {r.get("name"): r for r in config.get("receivers") or []}
    delivering = set()
    for name, receiver in receivers.items():
        for key, integrations in receiver.items():
            if not key.endswith("_configs") or not integrations:
                continue
            delivering.add(name)
            if key != "webhook_configs":
                problems.append(f"receiver {name} uses {key}: test configs deliver only to "
                                f"loopback webhooks")
                continue
            for hook in integrations:
                url = hook.get("url")
                if url is None:
                    problems.append(f"receiver {name} has a webhook without a literal url "
                                    f"(url_file cannot be checked)")
                    continue
                parts = urlsplit(str(url))
                if parts.username or parts.password:
                    problems.append(f"receiver {name} webhook {parts.hostname} carries credentials "
                                    f"in its URL")
                if not _loopback(parts.hostname):
                    problems.append(f"receiver {name} posts to {parts.scheme}://{parts.hostname}: "
                                    f"not a loopback test endpoint")
                problems += _secrets_in(hook.get("http_config") or {}, f"receiver {name} webhook")
    root = config.get("route") or {}
    if root.get("receiver") in delivering:
        problems.append(f"the default route delivers to {root.get('receiver')}: alerts without "
                        f"environment=test would be sent; make the default receiver a blackhole")

    def walk(route: dict, path: str, guarded: bool) -> None:
        for index, child in enumerate(route.get("routes") or []):
            where = f"{path}.routes[{index}]"
            child_guarded = guarded or _requires_test(child)
            if not child_guarded:
                problems.append(f"route {where} ({child.get('receiver', 'inherited receiver')}) "
                                f"does not require environment=test")
            walk(child, where, child_guarded)

    walk(root, "route", False)
    return verdict(problems, f"{len(receivers)} receivers, all loopback webhooks without credentials; "
                             f"every route requires environment=test",
                   receivers=", ".join(sorted(str(n) for n in receivers)))
