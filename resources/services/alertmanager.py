"""AlertManager (Debian's prometheus-alertmanager) as a service, and a client for its API v2.

Own port on 127.0.0.1, own storage dir, no gossip (`--cluster.listen-address=`); ready on /-/ready.
"""

import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx

from resources.model.errors import ConfigError
from resources.ports import HOST
from resources.probes import HttpOk, Probe
from resources.processes import ProcessSpec
from resources.services.base import Service
from resources.settings import search_path

BINARIES = {"alertmanager": "prometheus-alertmanager", "amtool": "amtool",
            "prometheus": "prometheus", "promtool": "promtool"}


def find_binaries() -> dict[str, str]:
    found = {role: shutil.which(name, path=search_path()) for role, name in BINARIES.items()}
    missing = [BINARIES[role] for role, path in found.items() if not path]
    if missing:
        raise ConfigError(f"alerting binaries missing: {', '.join(missing)}; apt-get install "
                          f"--no-install-recommends prometheus-alertmanager prometheus "
                          f"(make setup does it)")
    return found  # type: ignore[return-value]


def utc(offset_seconds: float = 0.0) -> str:
    return (datetime.now(timezone.utc) + timedelta(seconds=offset_seconds)).isoformat()


class AlertManager(Service):
    kind = "alertmanager"
    what = "AlertManager"
    packages = ("prometheus-alertmanager",)
    port_role = "http"

    def __init__(self, root: Path, ready_timeout: float = 60.0, name: str = "alertmanager"):
        super().__init__(name, root, ready_timeout, owner="alerting")
        self.config = root / "alertmanager.yml"  # written by whoever configures it, before start

    @classmethod
    def check_installed(cls) -> None:
        find_binaries()

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def recipe(self) -> ProcessSpec:
        return ProcessSpec(
            name=self.name,
            argv=[find_binaries()["alertmanager"], f"--config.file={self.config}",
                  f"--storage.path={self.root / 'am-data'}",
                  f"--web.listen-address={HOST}:{self.port}",
                  f"--web.external-url={self.url}/", "--cluster.listen-address="],
            log_file=self.root / "logs" / "alertmanager.log", cwd=self.root)

    def probe(self) -> Probe:
        return HttpOk(f"{self.url}/-/ready")

    # --- API v2 ----------------------------------------------------------------------------------

    def post_alerts(self, alerts: list[dict], timeout: float = 10) -> None:
        httpx.post(f"{self.url}/api/v2/alerts", json=alerts, timeout=timeout).raise_for_status()

    def alerts(self, timeout: float = 10, **labels: str) -> list[dict]:
        matchers = [f'{key}="{value}"' for key, value in labels.items()]
        response = httpx.get(f"{self.url}/api/v2/alerts", params={"filter": matchers},
                             timeout=timeout)
        response.raise_for_status()
        return response.json()

    def silence(self, labels: dict[str, str], minutes: float = 10) -> str:
        response = httpx.post(f"{self.url}/api/v2/silences", timeout=10, json={
            "matchers": [{"name": k, "value": v, "isRegex": False, "isEqual": True}
                         for k, v in labels.items()],
            "startsAt": utc(), "endsAt": utc(minutes * 60), "createdBy": "testbed",
            "comment": "silence_suppresses check"})
        response.raise_for_status()
        return response.json()["silenceID"]

    def expire_silence(self, silence_id: str) -> None:
        httpx.delete(f"{self.url}/api/v2/silence/{silence_id}", timeout=10).raise_for_status()
