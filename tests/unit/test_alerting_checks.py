"""SEC-001/002 and the routing/silence verdicts fail on production-like configs and wrong deliveries."""

import copy

from resources.alerting import EXPECTED_ROUTES, ToolResult, render_alertmanager_config
from resources.criteria import alerting_checks

GOOD = render_alertmanager_config("http://127.0.0.1:5001")


def _receiver(config: dict, name: str) -> dict:
    return next(r for r in config["receivers"] if r["name"] == name)


def test_the_rendered_config_has_no_production_receivers():
    verdict = alerting_checks.no_production_receivers(GOOD)
    assert verdict.passed, verdict.message


def test_a_non_local_webhook_fails_sec_001():
    config = copy.deepcopy(GOOD)
    _receiver(config, "test-critical")["webhook_configs"][0]["url"] = "https://hooks.example.com/pager"
    verdict = alerting_checks.no_production_receivers(config)
    assert not verdict.passed
    assert "receiver test-critical posts to https://hooks.example.com: not a loopback test endpoint" \
        in verdict.message


def test_credentials_in_a_url_an_http_config_or_global_fail_sec_001():
    config = copy.deepcopy(GOOD)
    _receiver(config, "test-warning")["webhook_configs"][0]["url"] = "http://ops:hunter2@127.0.0.1:9/x"
    _receiver(config, "test-default")["webhook_configs"][0]["http_config"] = {
        "basic_auth": {"username": "ops", "password": "hunter2"}}
    config["global"] = {"slack_api_url": "https://hooks.slack.com/services/T0/B0/XXX"}
    message = alerting_checks.no_production_receivers(config).message
    assert "receiver test-warning webhook 127.0.0.1 carries credentials in its URL" in message
    assert "receiver test-default webhook sets basic_auth" in message
    assert "global sets slack_api_url" in message


def test_a_slack_receiver_fails_sec_002():
    config = copy.deepcopy(GOOD)
    config["receivers"].append({"name": "team-slack", "slack_configs": [{"channel": "#ops"}]})
    verdict = alerting_checks.no_production_receivers(config)
    assert not verdict.passed and "receiver team-slack uses slack_configs" in verdict.message


def test_a_route_without_environment_test_fails_sec_002():
    config = copy.deepcopy(GOOD)
    config["route"]["routes"].append({"matchers": ['severity="critical"'], "receiver": "test-critical"})
    verdict = alerting_checks.no_production_receivers(config)
    assert not verdict.passed
    assert "route route.routes[1] (test-critical) does not require environment=test" in verdict.message


def test_a_default_route_that_delivers_fails_sec_002():
    config = copy.deepcopy(GOOD)
    config["route"]["receiver"] = "test-default"
    verdict = alerting_checks.no_production_receivers(config)
    assert not verdict.passed and "the default route delivers to test-default" in verdict.message


def test_legacy_match_and_unquoted_matchers_count_as_requiring_test():
    config = copy.deepcopy(GOOD)
    config["route"]["routes"] = [{"match": {"environment": "test"}, "receiver": "test-default"},
                                 {"matchers": ["environment = test", "severity=~critical"],
                                  "receiver": "test-critical"},
                                 {"matchers": ['environment!="test"'], "receiver": "blackhole"}]
    verdict = alerting_checks.no_production_receivers(config)
    assert not verdict.passed and "route.routes[2] (blackhole)" in verdict.message
    assert "routes[0]" not in verdict.message and "routes[1]" not in verdict.message


def test_severity_routing_names_a_misrouted_and_a_duplicated_delivery():
    expect = dict(EXPECTED_ROUTES)
    good = {s: [r] for s, r in expect.items()}
    table = [({"environment": "test", "severity": "critical"}, "test-critical", "test-critical")]
    assert alerting_checks.severity_routing(expect, good, table).passed
    wrong = {**good, "critical": ["test-warning"], "warning": ["test-warning", "test-default"]}
    verdict = alerting_checks.severity_routing(expect, wrong, table)
    assert "the critical alert reached test-warning instead of test-critical" in verdict.message
    assert "the warning alert reached test-default as well as test-warning" in verdict.message
    bad_table = [({"severity": "critical"}, "blackhole", "test-critical")]
    verdict = alerting_checks.severity_routing(expect, good, bad_table)
    assert not verdict.passed
    assert "amtool routes {severity=critical} to test-critical, expected blackhole" in verdict.message


def test_silence_verdict_lists_every_broken_promise():
    assert alerting_checks.silence_suppresses("suppressed", False, True, True).passed
    verdict = alerting_checks.silence_suppresses("active", True, False, False)
    assert not verdict.passed
    for part in ("the silenced alert is active, not suppressed", "delivered anyway",
                 "control alert", "not delivered after its silence was deleted"):
        assert part in verdict.message


def test_config_valid_quotes_the_tool():
    bad = ToolResult("amtool", False, "Checking 'x.yml'  FAILED: undefined receiver \"nope\" used in route")
    verdict = alerting_checks.config_valid([bad])
    assert not verdict.passed and 'undefined receiver "nope" used in route' in verdict.message


def test_visibility_fails_when_slow_or_never():
    assert alerting_checks.alert_visible_fast(0.04, 5).passed
    assert "over the 5.0s budget" in alerting_checks.alert_visible_fast(6.2, 5).message
    assert "never showed" in alerting_checks.alert_visible_fast(None, 5).message
