"""Shared fixtures: a state dir PostgreSQL can reach, leak snapshots, one deployed environment."""

import os
import shutil
import tempfile
from pathlib import Path

import psutil
import pytest

from resources.platforms.base import Catalog, Environment, load_catalog
from resources.settings import spark_home


def _listening() -> set[tuple[str, int]]:
    return {(c.laddr.ip, c.laddr.port) for c in psutil.net_connections(kind="inet")
            if c.status == psutil.CONN_LISTEN}


class LeakWatch:
    """What this test process started and left: child processes, listening ports, env dirs."""

    def __init__(self, state_dir: Path):
        self.state_dir = state_dir
        self.ports = _listening()
        self.children = {p.pid for p in psutil.Process().children(recursive=True)}

    def leaks(self) -> list[str]:
        found = [f"process {p.pid} {' '.join(p.cmdline()[:3])}"
                 for p in psutil.Process().children(recursive=True)
                 if p.pid not in self.children and _alive(p)]
        found += [f"listening {ip}:{port}" for ip, port in _listening() - self.ports]
        envs = self.state_dir / "envs"
        found += [f"env dir {d}" for d in envs.glob("env-*")] if envs.exists() else []
        return found


def _alive(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.fixture(scope="session")
def state_root():
    # Not under pytest's tmp (mode 700 under /tmp/pytest-of-root): postgres must reach it.
    root = Path(tempfile.mkdtemp(prefix="testbed-tests-", dir="/var/tmp"))
    root.chmod(0o755)
    old = os.environ.get("TESTBED_STATE_DIR")
    os.environ["TESTBED_STATE_DIR"] = str(root)
    yield root
    if old is None:
        os.environ.pop("TESTBED_STATE_DIR", None)
    else:
        os.environ["TESTBED_STATE_DIR"] = old
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def state_dir(state_root: Path, request) -> Path:
    """A fresh state dir per test, so leak checks see only that test's environments."""
    # Short and unique: a MariaDB socket path under it must stay within 107 characters.
    name = request.node.name.replace("[", "_").replace("]", "")[:16]
    path = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=state_root))
    path.chmod(0o755)
    os.environ["TESTBED_STATE_DIR"] = str(path)
    yield path
    os.environ["TESTBED_STATE_DIR"] = str(state_root)


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog()


def _installed(catalog: Catalog) -> bool:
    return all((spark_home(s.version) / "bin" / "spark-class").exists() for s in catalog.releases)


@pytest.fixture(scope="session")
def releases_installed(catalog):
    if not _installed(catalog):
        pytest.fail("Spark releases are not installed: run `make setup` (make test does it)")


@pytest.fixture(scope="session")
def coexisting(state_root, catalog, releases_installed):
    """Both releases deployed side by side once for the whole session, jobs run once.

    Yields (environment, {release: JobResult}). Tests that sabotage build their own environment.
    """
    from resources.environment import make_platform
    from resources.environment import run_acceptance_job

    shared = state_root / "shared-session"
    shared.mkdir()
    platform = make_platform("local", str(shared), 60, 10)
    env = Environment.create(platform, run_id="pytest-session")
    try:
        for spec in catalog.releases:
            env.deploy(spec)
        jobs = {spec.name: run_acceptance_job(env, spec) for spec in catalog.releases}
        yield env, jobs
    finally:
        report = env.teardown()
    assert report.leftovers == [], report.leftovers
