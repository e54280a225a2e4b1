"""Prometheus (Debian) as a service, sending to one AlertManager only.

`--rules.alert.resend-delay=1s` and `--web.external-url`: without them its first alert waits about a
minute. Ready is not enough: an alert fired before Prometheus discovered AlertManager is dropped,
so readiness also waits for /api/v1/alertmanagers to list ours.
"""

from pathlib import Path

import yaml

from resources.ports import HOST
from resources.probes import HttpJson, HttpOk, Probe, all_of
from resources.processes import ProcessSpec
from resources.services.alertmanager import find_binaries
from resources.services.base import Service


class Prometheus(Service):
    kind = "prometheus"
    what = "Prometheus"
    packages = ("prometheus",)
    port_role = "http"

    def __init__(self, root: Path, alertmanager_port: int, ready_timeout: float = 60.0,
                 name: str = "prometheus"):
        super().__init__(name, root, ready_timeout, owner="alerting")
        self.alertmanager = f"{HOST}:{alertmanager_port}"
        self.rules_file = root / "rules" / "testbed.rules.yml"  # written before start
        self.config = root / "prometheus.yml"

    @classmethod
    def check_installed(cls) -> None:
        find_binaries()

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def prepare(self) -> None:
        self.config.write_text(yaml.safe_dump({
            "global": {"scrape_interval": "5s", "evaluation_interval": "1s"},
            "alerting": {"alertmanagers": [{"api_version": "v2", "static_configs": [
                {"targets": [self.alertmanager]}]}]},
            "rule_files": [str(self.rules_file)],
            "scrape_configs": [{"job_name": "alertmanager", "static_configs": [
                {"targets": [self.alertmanager]}]}],
        }, sort_keys=False))

    def recipe(self) -> ProcessSpec:
        return ProcessSpec(
            name=self.name,
            argv=[find_binaries()["prometheus"], f"--config.file={self.config}",
                  f"--storage.tsdb.path={self.root / 'prom-data'}",
                  f"--web.listen-address={HOST}:{self.port}",
                  f"--web.external-url={self.url}/", "--rules.alert.resend-delay=1s",
                  "--storage.tsdb.retention.time=1h"],
            log_file=self.root / "logs" / "prometheus.log", cwd=self.root)

    def probe(self) -> Probe:
        discovered = HttpJson(
            f"{self.url}/api/v1/alertmanagers",
            accept=lambda doc: any(self.alertmanager in am["url"]
                                   for am in doc["data"]["activeAlertmanagers"]),
            what=f"lists AlertManager {self.alertmanager}")
        return all_of(HttpOk(f"{self.url}/-/ready"), discovered)
