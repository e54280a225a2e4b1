"""Shared fixtures: a state dir PostgreSQL can reach, leak snapshots, one deployed environment."""

import os
import shutil
import tempfile
from pathlib import Path

import psutil
import pytest

from resources.model.catalog import Catalog, load_catalog
from resources.platforms.environment import Environment
from resources.processes import listening_ports, marked
from resources.settings import spark_home


class LeakWatch:
    """What the run under test started and left, judged on that run alone (the machine is shared:
    other programs may start and stop servers meanwhile):
    - processes: new descendants of this test process, and every process labelled with an env
      dir under this test's state dir (the ledger's label, also on processes that left our tree);
    - ports: what those processes, or this process itself (in-process servers), listen on now
      that this process did not listen on before;
    - env dirs left under the state dir."""

    def __init__(self, state_dir: Path, others: tuple[int, ...] = ()):
        self.state_dir = state_dir
        # Servers the test set up beforehand (another environment's): they may fork children
        # meanwhile (a PostgreSQL backend per connection), which are not the run's.
        self.others = set(others)
        self.me = psutil.Process()
        self.children = {p.pid for p in self.me.children(recursive=True)}
        self.own_ports = set(listening_ports({self.me.pid}))

    def _theirs(self, process: psutil.Process) -> bool:
        try:
            return any(parent.pid in self.others for parent in process.parents())
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            return False

    def processes(self) -> list[psutil.Process]:
        found = {p.pid: p for p in self.me.children(recursive=True)
                 if p.pid not in self.children and _alive(p) and not self._theirs(p)}
        found.update({p.pid: p for p in marked(str(self.state_dir), under=True)})
        return list(found.values())

    def leaks(self) -> list[str]:
        processes = self.processes()
        found = [f"process {p.pid} {_command(p)}" for p in processes]
        held = listening_ports({p.pid for p in processes} | {self.me.pid})
        found += [f"listening 127.0.0.1:{port} (pid {pid})" for port, pid in sorted(held.items())
                  if not (pid == self.me.pid and port in self.own_ports)]
        envs = self.state_dir / "envs"
        found += [f"env dir {d}" for d in envs.glob("env-*")] if envs.exists() else []
        return found


def _alive(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _command(process: psutil.Process) -> str:
    try:
        return " ".join(process.cmdline()[:3])
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return "(gone)"


def pytest_configure(config):
    """A session started as a background shell job (CI scripts often are) would otherwise give
    everything it spawns SIGTERM ignored: answer interrupts as `testbed` does."""
    from pipelines.cli import answer_interrupts

    answer_interrupts()


def run_ephemeral(job, **kwargs):
    """job.execute_in_process on an ephemeral instance that is disposed here, in this thread (left
    to the garbage collector, its SQLite connections get finalized in whatever thread collects)."""
    from dagster import DagsterInstance

    with DagsterInstance.ephemeral() as instance:
        return job.execute_in_process(instance=instance, **kwargs)


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
    from resources.platforms.environment import run_acceptance_jobs
    from resources.platforms.registry import make_platform

    shared = state_root / "shared-session"
    shared.mkdir()
    platform = make_platform("local", str(shared), 60, 10)
    env = Environment.create(platform, run_id="pytest-session")
    try:
        env.deploy_all(list(catalog.releases))
        jobs = run_acceptance_jobs(env, list(catalog.releases))
        yield env, jobs
    finally:
        report = env.teardown()
    assert report.leftovers == [], report.leftovers
