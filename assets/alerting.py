"""Alert configurations as assets: the AlertManager config and Prometheus rules an ops team would
ship, validated and loaded into a real AlertManager + Prometheus of this environment, and checked by
what the servers answer and what the webhook receiver actually got (seed 003 user story 2).

`alerting/alertmanager_config` renders (or takes a user's) alertmanager.yml, `alerting/prometheus_rules`
the rule files, `alerting/stack` runs both servers with them.
"""

import time
from pathlib import Path

import httpx
import yaml
from dagster import (
    AssetExecutionContext,
    AssetKey,
    Config,
    MaterializeResult,
    MetadataValue,
    asset,
)
from pydantic import Field

from assets.common import verdict_check
from resources import alerting
from resources.alerting import EXPECTED_ROUTES, AlertingStack, probe_alert, probe_name
from resources.criteria import alerting_checks
from resources.environment import Slot, TestbedEnvironment
from resources.model.errors import ConfigError
from resources.model.facts import ToolResult
from resources.model.verdict import Verdict
from resources.platforms.environment import Environment
from resources.probes import wait_for
from resources.services.alertmanager import AlertManager
from resources.services.prometheus import Prometheus

AM_CONFIG = AssetKey(["alerting", "alertmanager_config"])
RULES = AssetKey(["alerting", "prometheus_rules"])
STACK = AssetKey(["alerting", "stack"])
VISIBLE_BUDGET_S = 5.0  # seed 003: an alert shows within 5 seconds
DELIVERY_TIMEOUT_S = 15.0
PROMETHEUS_TIMEOUT_S = 30.0
# What the assets made, for the checks of the same run.
AM_CHECK: Slot[ToolResult] = Slot("alerting/am_check")
AM_TEXT: Slot[str] = Slot("alerting/am_text")
EXPECT_ROUTES: Slot[dict[str, str]] = Slot("alerting/expect_routes")
RULES_CHECK: Slot[ToolResult] = Slot("alerting/rules_check")
RUNNING: Slot[AlertingStack] = Slot("alerting/stack")
# Service kinds these assets start (the job's preflight refuses a platform that cannot).
SERVICES = (AlertManager.kind, Prometheus.kind)


def alerting_stack(env: Environment) -> AlertingStack:
    """The environment's stack, made once: ports chosen and the webhook receiver listening (in
    this process, in the ledger), servers not started until the configs are written."""

    def make() -> AlertingStack:
        for kind in SERVICES:  # refused before the receiver even listens
            env.platform.require(kind)
        stack = AlertingStack(env.path / "alerting", env.platform.ready_timeout)
        env.adopt(stack.webhook.name, "alerting", stack.webhook.close, stack.webhook.ports)
        return stack

    return env.once("alerting", make)


class AlertmanagerConfigSettings(Config):
    config_file: str | None = Field(
        None, description="test this alertmanager.yml instead of the rendered one; `{webhook}` in "
                          "a receiver URL becomes this environment's webhook receiver")
    group_wait: str = Field("1s", description="group_wait of the rendered config (short for tests)")
    expect_routes: dict[str, str] = Field(
        dict(EXPECTED_ROUTES), description="severity -> receiver an environment=test alert must "
                                           "reach (severity_routing holds the config to it)")


class PrometheusRulesSettings(Config):
    rules_file: str | None = Field(
        None, description="test this rule file instead of the rendered one; keep an always-firing "
                          "TestbedAlwaysFiring rule for prometheus_to_alertmanager")


def _read_user_file(path: str, name: str) -> str:
    """Read before the environment exists: a wrong path starts nothing."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise ConfigError(f"{name}: {file} is not a readable file; give the path of the file to "
                          f"test or leave {name} unset for the rendered default")
    return file.read_text()


@asset(key=AM_CONFIG, group_name="alerting", kinds={"yaml"},
       description="alertmanager.yml for this environment: default route to a blackhole, an "
                   "environment=test route with severity child routes (critical, warning) to "
                   "webhook receivers; validated with amtool check-config before it is loaded.")
def alertmanager_config(context: AssetExecutionContext, config: AlertmanagerConfigSettings,
                        testbed: TestbedEnvironment) -> MaterializeResult:
    user_text = _read_user_file(config.config_file, "config_file") if config.config_file else None
    stack = alerting_stack(testbed.environment)
    if user_text is not None:
        text = alerting.substitute_webhook(user_text, stack.webhook.url)
    else:
        text = yaml.safe_dump(alerting.render_alertmanager_config(stack.webhook.url,
                                                                  config.group_wait),
                              sort_keys=False)
    path = stack.write_alertmanager_config(text)
    began = time.monotonic()
    result = alerting.check_alertmanager_config(path)
    amtool_seconds = round(time.monotonic() - began, 3)
    testbed.remember(AM_CHECK, result)
    testbed.remember(AM_TEXT, text)
    testbed.remember(EXPECT_ROUTES, dict(config.expect_routes))
    tree = alerting.routing_tree(path) if result.ok else result.output
    parsed = yaml.safe_load(text) if result.ok else None
    return MaterializeResult(metadata={
        "path": MetadataValue.path(str(path)),
        "source": config.config_file or "rendered",
        "routing_tree": MetadataValue.md(f"```\n{tree}\n```"),
        "amtool": result.output,
        # Numbers: the UI plots them across runs.
        "receivers": len((parsed or {}).get("receivers") or []),
        "amtool_seconds": amtool_seconds})


@asset(key=RULES, group_name="alerting", kinds={"yaml"},
       description="Prometheus rule files for this environment (an always-firing rule that "
                   "proves the alert path, and a target-down rule); validated with promtool.")
def prometheus_rules(context: AssetExecutionContext, config: PrometheusRulesSettings,
                     testbed: TestbedEnvironment) -> MaterializeResult:
    text = (_read_user_file(config.rules_file, "rules_file") if config.rules_file
            else yaml.safe_dump(alerting.render_rules(), sort_keys=False))
    stack = alerting_stack(testbed.environment)
    path = stack.write_rules(text)
    result = alerting.check_rules(path)
    testbed.remember(RULES_CHECK, result)
    return MaterializeResult(metadata={"path": MetadataValue.path(str(path)),
                                       "source": config.rules_file or "rendered",
                                       "promtool": result.output})


@asset(key=STACK, group_name="alerting", deps=[AM_CONFIG, RULES], kinds={"prometheus"},
       description="AlertManager 0.25 and Prometheus 2.42 of this environment, running with these "
                   "configs: own ports on 127.0.0.1, own storage, no gossip; Prometheus sends to "
                   "this AlertManager only.")
def stack(context: AssetExecutionContext, testbed: TestbedEnvironment) -> MaterializeResult:
    for slot in (AM_CHECK, RULES_CHECK):
        result = testbed.recall(slot)
        if not result.ok:  # never load what the tools rejected
            raise ConfigError(f"{result.tool} rejected {slot.name.split('/')[1]}: {result.output}")
    env = testbed.environment
    started = time.monotonic()
    running = alerting_stack(env)
    running.start_alertmanager(env.start)
    running.start_prometheus(env.start)
    testbed.remember(RUNNING, running)
    return MaterializeResult(metadata={
        "alertmanager": MetadataValue.url(running.am_url),
        "prometheus": MetadataValue.url(running.prom_url),
        "webhook": running.webhook.url,
        "startup_s": round(time.monotonic() - started, 2),
        "rss_mb": round(running.alertmanager.rss_mb() + running.prometheus.rss_mb(), 1)})


# --- checks --------------------------------------------------------------------------------------


@verdict_check(AM_CONFIG, "config_valid", "amtool check-config accepts alertmanager.yml.",
               lambda testbed: (testbed.recall(AM_CHECK),))
def am_config_valid(testbed, result) -> Verdict:
    return alerting_checks.config_valid([result])


@verdict_check(RULES, "config_valid", "promtool check rules accepts the rule files.",
               lambda testbed: (testbed.recall(RULES_CHECK),))
def rules_valid(testbed, result) -> Verdict:
    return alerting_checks.config_valid([result])


@verdict_check(AM_CONFIG, "no_production_receivers",
               "SEC-001/002: every receiver is a loopback webhook without credentials and only "
               "environment=test alerts are delivered.",
               lambda testbed: (testbed.recall(AM_TEXT),))
def no_production_receivers(testbed, text) -> Verdict:
    try:
        parsed = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        return Verdict(False, f"alertmanager.yml is not YAML: {exc}")
    if not isinstance(parsed, dict):
        return Verdict(False, "alertmanager.yml is not a mapping")
    return alerting_checks.no_production_receivers(parsed)


def _stack(testbed: TestbedEnvironment) -> tuple:
    return (testbed.recall(RUNNING),)


def _stack_and_routes(testbed: TestbedEnvironment) -> tuple:
    return (testbed.recall(RUNNING), testbed.recall(EXPECT_ROUTES))


def measure_visibility(running: AlertingStack, budget_s: float) -> float | None:
    """Seconds from POST to listed; None when it never shows (a hung AlertManager counts)."""
    name = probe_name("TestbedVisible")
    started = time.monotonic()
    try:
        running.post_alerts([probe_alert(name, severity="info")], timeout=budget_s * 2)
        if wait_for(lambda: running.alerts(alertname=name), bool, budget_s * 2, interval=0.01):
            return time.monotonic() - started
    except httpx.HTTPError:
        pass
    return None


@verdict_check(STACK, "alert_visible_fast",
               "A test alert posted to API v2 shows in GET /api/v2/alerts within 5 s.", _stack)
def alert_visible_fast(testbed, running: AlertingStack) -> Verdict:
    return alerting_checks.alert_visible_fast(measure_visibility(running, VISIBLE_BUDGET_S),
                                              VISIBLE_BUDGET_S)


def measure_routing(running: AlertingStack, expect: dict[str, str]) -> Verdict:
    names = {severity: probe_name(f"TestbedRoute_{severity}") for severity in expect}
    running.post_alerts([probe_alert(names[s], severity=s) for s in expect])
    for name in names.values():
        running.webhook.wait_for(name, DELIVERY_TIMEOUT_S)
    time.sleep(1.5)  # a second, wrong delivery would come within a group_interval
    delivered = {s: [d.receiver for d in running.webhook.received(name)]
                 for s, name in names.items()}
    root = (yaml.safe_load(running.am_config.read_text()).get("route") or {}).get("receiver", "")
    table = [({"environment": "test", "severity": s}, want) for s, want in expect.items()]
    table += [({"severity": s}, root) for s in expect]  # unlabelled: must fall to the default
    amtool = [(labels, want, alerting.routes_test(running.am_config, labels))
              for labels, want in table]
    return alerting_checks.severity_routing(expect, delivered, amtool)


@verdict_check(STACK, "severity_routing",
               "Alerts of each severity reach exactly the expected webhook receiver (delivered "
               "payloads), and amtool's route table agrees.", _stack_and_routes)
def severity_routing(testbed, running: AlertingStack, expect: dict[str, str]) -> Verdict:
    return measure_routing(running, expect)


def measure_silence(running: AlertingStack, timeout_s: float = DELIVERY_TIMEOUT_S) -> Verdict:
    silenced, control = probe_name("TestbedSilenced"), probe_name("TestbedControl")
    silence_id = running.silence({"alertname": silenced})
    running.post_alerts([probe_alert(silenced, severity="warning"),
                         probe_alert(control, severity="warning")])
    control_delivered = bool(running.webhook.wait_for(control, timeout_s))
    time.sleep(1.0)  # one more group_interval for a delivery that should not come
    listed = running.alerts(alertname=silenced)
    state = listed[0]["status"]["state"] if listed else None
    silenced_delivered = bool(running.webhook.received(silenced))
    running.expire_silence(silence_id)
    after = bool(running.webhook.wait_for(silenced, timeout_s))
    return alerting_checks.silence_suppresses(state, silenced_delivered, control_delivered, after)


@verdict_check(STACK, "silence_suppresses",
               "A silence makes a matching alert suppressed and undelivered, a control alert is "
               "still delivered, deleting the silence delivers it.", _stack)
def silence_suppresses(testbed, running: AlertingStack) -> Verdict:
    return measure_silence(running)


def measure_prometheus_path(running: AlertingStack, expected: str,
                            timeout_s: float = PROMETHEUS_TIMEOUT_S) -> Verdict:
    started = time.monotonic()
    got = running.webhook.wait_for("TestbedAlwaysFiring", timeout_s)
    latency = time.monotonic() - started if got else None
    return alerting_checks.prometheus_to_alertmanager([d.receiver for d in got], expected,
                                                      latency, timeout_s)


@verdict_check(STACK, "prometheus_to_alertmanager",
               "An always-firing Prometheus rule reaches the webhook through AlertManager.",
               _stack_and_routes)
def prometheus_to_alertmanager(testbed, running: AlertingStack, expect: dict[str, str]) -> Verdict:
    return measure_prometheus_path(running, expect.get("warning", EXPECTED_ROUTES["warning"]))


def build() -> tuple[list, list]:
    return ([alertmanager_config, prometheus_rules, stack],
            [am_config_valid, rules_valid, no_production_receivers, alert_visible_fast,
             severity_routing, silence_suppresses, prometheus_to_alertmanager])
