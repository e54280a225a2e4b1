"""Alerting for an environment: the configs a team ships (rendered here, or a user's file),
validated with amtool/promtool before they are loaded, and the stack that runs them: AlertManager
and Prometheus (services in resources/services, Debian's binaries) and the webhook receiver that
records what AlertManager delivers.
"""

import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from resources.model.facts import ToolResult
from resources.processes import ManagedProcess
from resources.services.alertmanager import AlertManager, find_binaries, utc
from resources.services.base import Service
from resources.services.prometheus import Prometheus
from resources.services.webhook import WebhookReceiver

# The routing the rendered config promises, and the severity -> receiver table checks hold it to.
EXPECTED_ROUTES = {"critical": "test-critical", "warning": "test-warning", "info": "test-default"}


# --- configs -------------------------------------------------------------------------------------


def render_alertmanager_config(webhook_url: str, group_wait: str = "1s") -> dict:
    """Default route to a blackhole: only `environment=test` alerts are delivered anywhere, and
    then by severity to the test receivers (seed 001, research task 2)."""

    def webhook(name: str) -> dict:
        return {"name": f"test-{name}",
                "webhook_configs": [{"url": f"{webhook_url}/{name}", "send_resolved": False}]}

    return {
        "route": {
            "receiver": "blackhole",
            "group_by": ["alertname", "severity"],
            "group_wait": group_wait, "group_interval": "1s", "repeat_interval": "1h",
            "routes": [{
                "matchers": ['environment="test"'],
                "receiver": "test-default",
                "routes": [{"matchers": [f'severity="{severity}"'], "receiver": f"test-{severity}"}
                           for severity in ("critical", "warning")],
            }],
        },
        "receivers": [{"name": "blackhole"}, webhook("default"), webhook("critical"),
                      webhook("warning")],
    }


def render_rules() -> dict:
    """An always-firing rule proves the Prometheus -> AlertManager path; `up == 0` is the kind
    of rule a real deployment carries."""
    return {"groups": [{
        "name": "testbed",
        "interval": "1s",
        "rules": [
            {"alert": "TestbedAlwaysFiring", "expr": "vector(1)",
             "labels": {"severity": "warning", "environment": "test", "source": "prometheus"},
             "annotations": {"summary": "fires on every evaluation: proves the alert path"}},
            {"alert": "TargetDown", "expr": "up == 0", "for": "1m",
             "labels": {"severity": "critical", "environment": "test"},
             "annotations": {"summary": "{{ $labels.job }} target {{ $labels.instance }} is down"}},
        ],
    }]}


def substitute_webhook(text: str, webhook_url: str) -> str:
    """A user's alertmanager.yml points its test receivers at `{webhook}`: this environment's."""
    return text.replace("{webhook}", webhook_url)


def _run(argv: list[str]) -> ToolResult:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    output = (done.stdout + done.stderr).strip()
    # amtool repeats a flag warning for every call; it says nothing about the file.
    output = "\n".join(line for line in output.splitlines()
                       if "overrides the --alertmanager.url" not in line)
    return ToolResult(Path(argv[0]).name, done.returncode == 0, output)


def check_alertmanager_config(path: Path) -> ToolResult:
    return _run([find_binaries()["amtool"], "check-config", str(path)])


def check_rules(path: Path) -> ToolResult:
    return _run([find_binaries()["promtool"], "check", "rules", str(path)])


def routes_test(config: Path, labels: dict[str, str]) -> str:
    """The receiver(s) amtool says a label set goes to (comma-separated when several)."""
    pairs = [f"{key}={value}" for key, value in labels.items()]
    result = _run([find_binaries()["amtool"], "config", "routes", "test",
                   f"--config.file={config}", *pairs])
    if not result.ok:
        raise RuntimeError(f"amtool config routes test {pairs}: {result.output}")
    return result.output.strip()


def routing_tree(config: Path) -> str:
    return _run([find_binaries()["amtool"], "config", "routes", f"--config.file={config}"]).output


# --- the stack -----------------------------------------------------------------------------------


@dataclass
class AlertingStack:
    """One environment's AlertManager + Prometheus and the webhook receiver they deliver to. Ports
    are chosen when it is made, so the configs can be rendered before anything starts; `start`
    runs the two servers (by default as local child processes; an environment passes its own
    `run`, which records them in its ledger)."""

    root: Path
    ready_timeout: float = 60.0
    webhook: WebhookReceiver = field(default_factory=WebhookReceiver)

    def __post_init__(self):
        self.alertmanager = AlertManager(self.root, self.ready_timeout)
        self.prometheus = Prometheus(self.root, self.alertmanager.port, self.ready_timeout)

    @property
    def am_port(self) -> int:
        return self.alertmanager.port

    @property
    def prom_port(self) -> int:
        return self.prometheus.port

    @property
    def am_url(self) -> str:
        return self.alertmanager.url

    @property
    def prom_url(self) -> str:
        return self.prometheus.url

    @property
    def am_config(self) -> Path:
        return self.alertmanager.config

    @property
    def rules_file(self) -> Path:
        return self.prometheus.rules_file

    @property
    def started(self) -> list[ManagedProcess]:
        return [s.process for s in (self.alertmanager, self.prometheus) if s.process is not None]

    def write_alertmanager_config(self, text: str) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        self.am_config.write_text(text)
        return self.am_config

    def write_rules(self, text: str) -> Path:
        self.rules_file.parent.mkdir(parents=True, exist_ok=True)
        self.rules_file.write_text(text)
        return self.rules_file

    def start_alertmanager(self, run: Callable[[Service], object] = Service.start) -> None:
        run(self.alertmanager)

    def start_prometheus(self, run: Callable[[Service], object] = Service.start) -> None:
        run(self.prometheus)

    def stop(self, grace_seconds: float = 10.0) -> list[str]:
        stopped = []
        for service in (self.prometheus, self.alertmanager):
            if service.running():
                service.stop(grace_seconds)
                stopped.append(service.name)
        return stopped

    # --- AlertManager API v2 (the checks speak to the stack) -------------------------------------

    def post_alerts(self, alerts: list[dict], timeout: float = 10) -> None:
        self.alertmanager.post_alerts(alerts, timeout)

    def alerts(self, timeout: float = 10, **labels: str) -> list[dict]:
        return self.alertmanager.alerts(timeout, **labels)

    def silence(self, labels: dict[str, str], minutes: float = 10) -> str:
        return self.alertmanager.silence(labels, minutes)

    def expire_silence(self, silence_id: str) -> None:
        self.alertmanager.expire_silence(silence_id)


def probe_alert(alertname: str, **labels: str) -> dict:
    """A test alert as API v2 takes it; a unique alertname keeps checks from seeing each other."""
    return {"labels": {"alertname": alertname, "environment": "test", **labels},
            "annotations": {"summary": "Testbed probe alert"},
            "startsAt": utc(), "endsAt": utc(600)}


def probe_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"
