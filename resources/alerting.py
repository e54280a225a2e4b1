"""AlertManager + Prometheus for an environment, and the webhook receiver that records deliveries.

Both servers come from Debian (`prometheus-alertmanager`, `prometheus`) and run as our own child
processes: own ports on 127.0.0.1, own storage dirs, no gossip (`--cluster.listen-address=`).
Prometheus gets `--rules.alert.resend-delay=1s` and `--web.external-url`; without them its first
alert waits about a minute. Configs are validated with amtool/promtool before they are loaded.
"""

import json
import os
import shutil
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import yaml

from resources.platforms.base import ConfigError
from resources.ports import HOST, free_port
from resources.probes import HttpJson, HttpOk, all_of
from resources.processes import ManagedProcess, ProcessSpec, start

BINARIES = {"alertmanager": "prometheus-alertmanager", "amtool": "amtool",
            "prometheus": "prometheus", "promtool": "promtool"}

# The routing the rendered config promises, and the severity -> receiver table checks hold it to.
EXPECTED_ROUTES = {"critical": "test-critical", "warning": "test-warning", "info": "test-default"}


def find_binaries() -> dict[str, str]:
    found = {role: shutil.which(name, path="/usr/bin:/usr/sbin:" + os.environ.get("PATH", ""))
             for role, name in BINARIES.items()}
    missing = [BINARIES[role] for role, path in found.items() if not path]
    if missing:
        raise ConfigError(f"alerting binaries missing: {', '.join(missing)}; apt-get install "
                          f"--no-install-recommends prometheus-alertmanager prometheus "
                          f"(make setup does it)")
    return found  # type: ignore[return-value]


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


@dataclass(frozen=True)
class ToolResult:
    tool: str
    ok: bool
    output: str


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


# --- the webhook receiver ------------------------------------------------------------------------


@dataclass
class Delivery:
    path: str
    receiver: str
    alerts: list[dict]
    at: float

    def alertnames(self) -> set[str]:
        return {alert["labels"].get("alertname", "") for alert in self.alerts}


class WebhookReceiver:
    """A small HTTP server inside the environment; every POST AlertManager makes is recorded."""

    def __init__(self):
        self.deliveries: list[Delivery] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    payload = json.loads(body)
                except json.JSONDecodeError:
                    payload = {}
                with receiver._lock:
                    receiver.deliveries.append(Delivery(
                        self.path, payload.get("receiver", ""), payload.get("alerts", []),
                        time.monotonic()))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass  # AlertManager posts often; the deliveries list is the record

        self._server = ThreadingHTTPServer((HOST, 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="webhook",
                                        daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def received(self, alertname: str) -> list[Delivery]:
        with self._lock:
            return [d for d in self.deliveries if alertname in d.alertnames()]

    def wait_for(self, alertname: str, timeout: float) -> list[Delivery]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.received(alertname)
            if found:
                return found
            time.sleep(0.05)
        return []

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


# --- the stack -----------------------------------------------------------------------------------


def _utc(offset_seconds: float = 0.0) -> str:
    return (datetime.now(timezone.utc) + timedelta(seconds=offset_seconds)).isoformat()


@dataclass
class AlertingStack:
    """One environment's AlertManager + Prometheus. Ports are chosen when it is created, so the
    configs can be rendered before anything starts."""

    root: Path
    ready_timeout: float = 60.0
    webhook: WebhookReceiver = field(default_factory=WebhookReceiver)
    am_port: int = field(default_factory=free_port)
    prom_port: int = field(default_factory=free_port)
    started: list[ManagedProcess] = field(default_factory=list)

    @property
    def am_url(self) -> str:
        return f"http://{HOST}:{self.am_port}"

    @property
    def prom_url(self) -> str:
        return f"http://{HOST}:{self.prom_port}"

    @property
    def am_config(self) -> Path:
        return self.root / "alertmanager.yml"

    @property
    def rules_file(self) -> Path:
        return self.root / "rules" / "testbed.rules.yml"

    def write_alertmanager_config(self, text: str) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        self.am_config.write_text(text)
        return self.am_config

    def write_rules(self, text: str) -> Path:
        self.rules_file.parent.mkdir(parents=True, exist_ok=True)
        self.rules_file.write_text(text)
        return self.rules_file

    def start_alertmanager(self) -> ManagedProcess:
        bins = find_binaries()
        process = start(ProcessSpec(
            name="alertmanager",
            argv=[bins["alertmanager"], f"--config.file={self.am_config}",
                  f"--storage.path={self.root / 'am-data'}",
                  f"--web.listen-address={HOST}:{self.am_port}",
                  f"--web.external-url={self.am_url}/", "--cluster.listen-address="],
            log_file=self.root / "logs" / "alertmanager.log", cwd=self.root),
            HttpOk(f"{self.am_url}/-/ready"), timeout=self.ready_timeout)
        self.started.append(process)
        return process

    def start_prometheus(self) -> ManagedProcess:
        bins = find_binaries()
        config = self.root / "prometheus.yml"
        config.write_text(yaml.safe_dump({
            "global": {"scrape_interval": "5s", "evaluation_interval": "1s"},
            "alerting": {"alertmanagers": [{"api_version": "v2", "static_configs": [
                {"targets": [f"{HOST}:{self.am_port}"]}]}]},
            "rule_files": [str(self.rules_file)],
            "scrape_configs": [{"job_name": "alertmanager", "static_configs": [
                {"targets": [f"{HOST}:{self.am_port}"]}]}],
        }, sort_keys=False))
        ours = f"{HOST}:{self.am_port}"
        # Ready is not enough: an alert fired before Prometheus discovered AlertManager is dropped.
        discovered = HttpJson(
            f"{self.prom_url}/api/v1/alertmanagers",
            accept=lambda doc: any(ours in am["url"] for am in doc["data"]["activeAlertmanagers"]),
            what=f"lists AlertManager {ours}")
        process = start(ProcessSpec(
            name="prometheus",
            argv=[bins["prometheus"], f"--config.file={config}",
                  f"--storage.tsdb.path={self.root / 'prom-data'}",
                  f"--web.listen-address={HOST}:{self.prom_port}",
                  f"--web.external-url={self.prom_url}/", "--rules.alert.resend-delay=1s",
                  "--storage.tsdb.retention.time=1h"],
            log_file=self.root / "logs" / "prometheus.log", cwd=self.root),
            all_of(HttpOk(f"{self.prom_url}/-/ready"), discovered), timeout=self.ready_timeout)
        self.started.append(process)
        return process

    def stop(self, grace_seconds: float = 10.0) -> list[str]:
        stopped = []
        for process in reversed(self.started):
            if process.running():
                process.stop(grace_seconds)
                stopped.append(process.spec.name)
        self.started.clear()
        return stopped

    # --- AlertManager API v2 ---------------------------------------------------------------------

    def post_alerts(self, alerts: list[dict], timeout: float = 10) -> None:
        httpx.post(f"{self.am_url}/api/v2/alerts", json=alerts, timeout=timeout).raise_for_status()

    def alerts(self, timeout: float = 10, **labels: str) -> list[dict]:
        matchers = [f'{key}="{value}"' for key, value in labels.items()]
        response = httpx.get(f"{self.am_url}/api/v2/alerts", params={"filter": matchers},
                             timeout=timeout)
        response.raise_for_status()
        return response.json()

    def silence(self, labels: dict[str, str], minutes: float = 10) -> str:
        response = httpx.post(f"{self.am_url}/api/v2/silences", timeout=10, json={
            "matchers": [{"name": k, "value": v, "isRegex": False, "isEqual": True}
                         for k, v in labels.items()],
            "startsAt": _utc(), "endsAt": _utc(minutes * 60), "createdBy": "testbed",
            "comment": "silence_suppresses check"})
        response.raise_for_status()
        return response.json()["silenceID"]

    def expire_silence(self, silence_id: str) -> None:
        httpx.delete(f"{self.am_url}/api/v2/silence/{silence_id}", timeout=10).raise_for_status()


def probe_alert(alertname: str, **labels: str) -> dict:
    """A test alert as API v2 takes it; a unique alertname keeps checks from seeing each other."""
    return {"labels": {"alertname": alertname, "environment": "test", **labels},
            "annotations": {"summary": "Testbed probe alert"},
            "startsAt": _utc(), "endsAt": _utc(600)}


def probe_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"
