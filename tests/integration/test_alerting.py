"""Real AlertManager + Prometheus (Debian) with good and broken configs: every stack-level check passes
on the rendered config and fails on a config that breaks its promise, with a message that says how."""

import copy
import os
import signal

import pytest
import yaml

from assets import alerting as alerting_assets
from resources import alerting
from resources.alerting import EXPECTED_ROUTES, AlertingStack
from resources.criteria import alerting_checks
from tests.conftest import LeakWatch


@pytest.fixture
def stacks(state_dir):
    """Start stacks with a given alertmanager config (a function of the webhook URL) and rules."""
    watch = LeakWatch(state_dir)
    made: list[AlertingStack] = []

    def make(config=None, rules=None, prometheus: bool = False) -> AlertingStack:
        stack = AlertingStack(state_dir / f"alerting-{len(made)}")
        made.append(stack)
        rendered = (config or alerting.render_alertmanager_config)(stack.webhook.url)
        stack.write_alertmanager_config(yaml.safe_dump(rendered))
        assert alerting.check_alertmanager_config(stack.am_config).ok
        stack.start_alertmanager()
        if prometheus:
            stack.write_rules(yaml.safe_dump(rules or alerting.render_rules()))
            stack.start_prometheus()
        return stack

    yield make
    for stack in made:
        for process in stack.started:
            os.killpg(process.pid, signal.SIGCONT)  # a paused server must be able to stop
        stack.stop(grace_seconds=5)
        stack.webhook.close()
    assert [leak for leak in watch.leaks() if "env dir" not in leak] == []


def _misrouted(url: str) -> dict:
    """critical alerts go to the warning receiver: the classic copy-paste slip."""
    config = alerting.render_alertmanager_config(url)
    config["route"]["routes"][0]["routes"][0]["receiver"] = "test-warning"
    return config


def _delivers_nothing(url: str) -> dict:
    """No environment=test route: everything falls to the blackhole."""
    config = alerting.render_alertmanager_config(url)
    config["route"]["routes"] = []
    return config


def test_the_rendered_config_passes_every_stack_check(stacks):
    stack = stacks(prometheus=True)
    latency = alerting_assets.measure_visibility(stack, 5.0)
    assert alerting_checks.alert_visible_fast(latency, 5.0).passed
    routing = alerting_assets.measure_routing(stack, dict(EXPECTED_ROUTES))
    assert routing.passed, routing.message
    silence = alerting_assets.measure_silence(stack)
    assert silence.passed, silence.message
    prom = alerting_assets.measure_prometheus_path(stack, "test-warning")
    assert prom.passed, prom.message


def test_severity_routing_fails_when_critical_reaches_the_warning_receiver(stacks):
    verdict = alerting_assets.measure_routing(stacks(_misrouted), dict(EXPECTED_ROUTES))
    assert not verdict.passed
    assert "the critical alert reached test-warning instead of test-critical" in verdict.message
    assert "amtool routes {environment=test, severity=critical} to test-warning, expected " \
           "test-critical" in verdict.message


def test_silence_check_fails_when_nothing_is_delivered(stacks):
    verdict = alerting_assets.measure_silence(stacks(_delivers_nothing), timeout_s=4)
    assert not verdict.passed
    assert "the control alert (not matched by the silence) was not delivered" in verdict.message
    assert "not delivered after its silence was deleted" in verdict.message


def test_visibility_fails_on_a_hung_alertmanager(stacks):
    stack = stacks()
    os.killpg(stack.started[0].pid, signal.SIGSTOP)
    latency = alerting_assets.measure_visibility(stack, 1.0)
    verdict = alerting_checks.alert_visible_fast(latency, 1.0)
    assert latency is None and not verdict.passed and "never showed" in verdict.message


def test_prometheus_path_fails_when_the_rule_never_fires(stacks):
    rules = copy.deepcopy(alerting.render_rules())
    rules["groups"][0]["rules"][0]["expr"] = "vector(1) == 0"  # an always-empty result
    stack = stacks(rules=rules, prometheus=True)
    verdict = alerting_assets.measure_prometheus_path(stack, "test-warning", timeout_s=6)
    assert not verdict.passed
    assert "did not reach the webhook through Prometheus within 6s" in verdict.message


def test_amtool_rejects_a_broken_route_and_promtool_a_broken_rule(state_dir):
    stack = AlertingStack(state_dir / "broken")
    try:
        config = alerting.render_alertmanager_config(stack.webhook.url)
        config["route"]["routes"][0]["routes"][1]["receiver"] = "pagerduty-prod"
        stack.write_alertmanager_config(yaml.safe_dump(config))
        am = alerting_checks.config_valid([alerting.check_alertmanager_config(stack.am_config)])
        assert not am.passed and 'undefined receiver "pagerduty-prod" used in route' in am.message
        rules = alerting.render_rules()
        rules["groups"][0]["rules"][0]["expr"] = "vector(1"
        stack.write_rules(yaml.safe_dump(rules))
        prom = alerting_checks.config_valid([alerting.check_rules(stack.rules_file)])
        assert not prom.passed and "promtool rejected the file" in prom.message
        assert "unclosed left parenthesis" in prom.metadata["promtool"]
    finally:
        stack.webhook.close()
