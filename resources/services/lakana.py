"""lakana-server 0.20.0 (PyPI, Apache-2.0) as a service: a second, independent Iceberg REST catalog
implementation (FastAPI on PostgreSQL) for the readiness review to compare side by side.

It runs from a venv of its own in TESTBED_CACHE (its FastAPI and pydantic-settings stay out of the
orchestrator's), bound to 127.0.0.1. Its metadata database is migrated before the start; the
bootstrap administrator gets a credential generated per environment, and `bootstrap()` creates the
environment `testbed` (file storage in the service dir) whose name is the Iceberg `{prefix}`: its
/v1/config names no prefix, so clients are told it. Ready when GET /v1/config answers 200; its own
/readyz answers 503 without a Lakana worker, which the review reports (FIELD_NOTES).
"""

import secrets
import subprocess
from pathlib import Path

import httpx

from resources.model.errors import ConfigError
from resources.ports import HOST
from resources.probes import HttpOk, Probe
from resources.processes import ProcessSpec, child_env
from resources.services.base import Service
from resources.settings import cache_dir

VERSION = "0.20.0"
PACKAGES = (f"lakana-server=={VERSION}", "psycopg[binary]>=3.2")
ENVIRONMENT = "testbed"  # the Lakana environment: the Iceberg REST {prefix}


def venv_dir() -> Path:
    return cache_dir() / "lakana" / VERSION / "venv"


def binary() -> Path:
    path = venv_dir() / "bin" / "lakana-server"
    if not path.exists():
        raise ConfigError(f"lakana-server {VERSION} is not installed in {venv_dir()}: run make "
                          f"setup (pip installs it into a venv of its own)")
    return path


class LakanaServer(Service):
    kind = "lakana"
    what = "the Lakana Iceberg REST catalog"
    port_role = "http"

    def __init__(self, root: Path, database_url: str, ready_timeout: float = 60.0,
                 name: str = "lakana", owner: str = "lakana"):
        super().__init__(name, root, ready_timeout, owner=owner)
        self.database_url = database_url  # postgresql+psycopg://user:password@host:port/db
        self.key_id = f"testbed{secrets.token_hex(4)}"
        self.secret = secrets.token_hex(16)
        self.warehouse = root / "warehouse"

    @classmethod
    def check_installed(cls) -> None:
        binary()

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def token(self) -> str:
        return f"lakana_pat_{self.key_id}_{self.secret}"

    def settings(self) -> dict[str, str]:
        return {"LAKANA_DATABASE__URL": self.database_url, "LAKANA_HOST": HOST,
                "LAKANA_PORT": str(self.port), "LAKANA_BOOTSTRAP_PAT_KEY_ID": self.key_id,
                "LAKANA_BOOTSTRAP_PAT_SECRET": self.secret}

    def prepare(self) -> None:
        (self.root / "logs").mkdir(parents=True, exist_ok=True)
        self.warehouse.mkdir(exist_ok=True)
        done = subprocess.run([str(binary()), "migrate"], env=child_env(self.settings()),
                              capture_output=True,
                              text=True, cwd=self.root, timeout=120)
        (self.root / "logs" / "migrate.log").write_text(done.stdout + done.stderr)
        if done.returncode != 0:
            raise RuntimeError(f"lakana-server migrate failed:\n{done.stderr[-1500:]}")

    def recipe(self) -> ProcessSpec:
        return ProcessSpec(name=self.name, argv=[str(binary())],
                           log_file=self.root / "logs" / f"{self.name}.log", cwd=self.root,
                           env=self.settings())

    def probe(self) -> Probe:
        return HttpOk(f"{self.url}/v1/config")

    def bootstrap(self) -> None:
        """The environment whose name is the catalog's {prefix}, storing tables in its dir."""
        answer = httpx.post(f"{self.url}/api/v1/environments", timeout=30,
                            headers={"Authorization": f"Bearer {self.token}"},
                            json={"name": ENVIRONMENT, "storage": {
                                "scheme": "file", "root": self.warehouse.as_uri()}})
        if answer.status_code not in (201, 409):
            raise RuntimeError(f"creating the Lakana environment {ENVIRONMENT} answered "
                               f"{answer.status_code}: {answer.text[:300]}")
