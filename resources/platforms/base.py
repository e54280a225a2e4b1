"""What every platform does: preflight, deploy a release, read its facts back, submit jobs, run
services, and remove a ledger handle from the handle alone.

A platform knows how to run things of its kind (a process here, a container on compose, a chart on
Kubernetes) and which services it can run; it knows nothing about PostgreSQL or AlertManager.
When to tear down (teardown order, keep-on-failure, the reaper's rules) is not a platform's
business: environment.py walks the ledger, reaper.py decides what is abandoned.
"""

import os
import shutil
import threading
from abc import ABC, abstractmethod
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Callable, ClassVar, Protocol, TypeVar, get_args

from resources.model.catalog import ReleaseSpec
from resources.model.errors import ConfigError
from resources.model.facts import Deployment, Facts, JobResult
from resources.model.ledger import Handle
from resources.model.state import EnvironmentState
from resources.model.storage import Storage, TableLocation
from resources.platforms import reaper
from resources.services.base import KINDS, Service
from resources.services.objectstore import ObjectStore
from resources.spark import connect_probe

T = TypeVar("T")


class Environment(Protocol):
    """What a platform may use of the environment it is handed (platforms/environment.py): where
    it lives, its state and ledger, the services it runs, and its cancel signal."""

    path: Path
    state: EnvironmentState
    services: dict[str, object]
    cancel: threading.Event

    def record(self, handle: Handle, stop: Callable[[float], str] | None = None) -> Handle: ...

    def once(self, key: str, make: Callable[[], T]) -> T: ...

    def start(self, service: Service) -> Service: ...

    def exclusive(self, key: str) -> AbstractContextManager: ...


class Platform(ABC):
    name: ClassVar[str]
    # Service kinds this platform can run (see resources/services); releases deploy through
    # `deploy`, whatever the platform runs them on.
    provides: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, state_dir: Path, grace_seconds: float = 10.0, ready_timeout: float = 60.0):
        self.state_dir = Path(state_dir)
        self.grace_seconds = grace_seconds
        self.ready_timeout = ready_timeout

    # --- before anything starts -----------------------------------------------------------------

    @abstractmethod
    def preflight(self, specs: list[ReleaseSpec], services: tuple[str, ...] = ()) -> None:
        """Raise ConfigError for anything that would make a deploy fail, before anything starts."""

    def require(self, kind: str) -> None:
        """Refuse a service this platform cannot run, naming the platform and the service."""
        if kind not in self.provides:
            what = getattr(KINDS.get(kind), "what", "") or kind
            runs = ", ".join(sorted(self.provides)) or "releases only"
            raise ConfigError(f"the {self.name} platform cannot run service {kind!r} ({what}); "
                              f"it runs {runs}; use platform local, which runs every service "
                              f"(TESTBED_PLATFORM=local)")

    def check_state_dir(self) -> None:
        try:
            (self.state_dir / "envs").mkdir(parents=True, exist_ok=True)
            # Per thread: releases deploying side by side each check it.
            probe = self.state_dir / "envs" / f".write-test-{os.getpid()}-{threading.get_ident()}"
            probe.write_text("ok")
            probe.unlink()
        except OSError as exc:
            raise ConfigError(
                f"state dir {self.state_dir} is not writable ({exc.strerror}); "
                f"set TESTBED_STATE_DIR to a writable directory"
            ) from None

    @property
    def tables_root(self) -> Path:
        """Where runs write their test tables (`test_<8 hex>`) with storage local."""
        return self.state_dir / "delta-tables"

    def default_storage(self) -> str:
        """Where environments keep event logs and tables unless told otherwise."""
        return "local"

    def resolve_storage(self, storage: str | None = None) -> Storage:
        """storage, or the platform's default; refused (naming the setting) unless local or s3."""
        storage = storage or self.default_storage()
        if storage not in get_args(Storage):
            raise ConfigError(f"storage {storage!r} is not one of {', '.join(get_args(Storage))}: "
                              f"fix TESTBED_STORAGE or the resource's `storage` field")
        return storage  # type: ignore[return-value]

    def object_store(self, env: Environment) -> ObjectStore | None:
        """The environment's own object store (started on first use); None where it has none."""
        return None

    def table_location(self, env: Environment, name: str) -> TableLocation:
        """Where the environment's table `name` goes: a directory under tables_root (made here,
        so writers need not), unless the platform keeps tables in an object store (storage s3)."""
        self.tables_root.mkdir(parents=True, exist_ok=True)
        return TableLocation.directory(str(self.tables_root / name))

    def table_roots(self) -> list[Path]:
        """Every directory `test_*` tables of this platform's environments are in (the sweep)."""
        return [self.tables_root]

    # --- running ---------------------------------------------------------------------------------

    @abstractmethod
    def deploy(self, env: Environment, spec: ReleaseSpec) -> Deployment: ...

    @abstractmethod
    def facts(self, env: Environment, deployment: Deployment) -> Facts: ...

    @abstractmethod
    def submit(self, env: Environment, deployment: Deployment, job: str, args: list[str],
               timeout: float) -> JobResult: ...

    def connect_job(self, env: Environment, deployment: Deployment, table: str,
                    timeout: float) -> JobResult:
        """The Spark Connect probe (job "connect_probe") against the release's Connect server,
        from wherever its endpoint is reachable. Here: from this process, which can reach a
        server it started; platforms whose endpoints only resolve inside them override this."""
        if deployment.endpoints.connect is None:
            raise ConfigError(f"release {deployment.spec.name} has no Connect server to probe")
        return connect_probe(deployment.spec.name, deployment.endpoints.connect, table)

    def start(self, env: Environment, service: Service) -> None:
        """Run a service for env, its handle in env's ledger from the moment it exists."""
        self.require(service.kind)
        raise NotImplementedError(f"{type(self).__name__} provides {service.kind} but cannot start it")

    # --- removing, from the ledger alone ---------------------------------------------------------

    @abstractmethod
    def destroy(self, handle: Handle, grace_seconds: float) -> str:
        """Remove what handle names, from the handle alone (its owner may be gone). Idempotent.
        Returns what happened: stopped | removed | already gone | ..."""

    def destroy_plain(self, handle: Handle) -> str:
        """What every platform removes the same way: files (plain paths everywhere), and what
        ran inside the orchestrator (it ended with its process); anything else is not its own."""
        if handle.kind in ("directory", "table"):
            return remove_tree(handle.path)
        if handle.kind == "in_process":
            return "nothing to do (it ended with its process)"
        raise ConfigError(f"the {self.name} platform cannot remove {handle.describe()}")

    @abstractmethod
    def remains(self, handle: Handle) -> list[str]:
        """What of handle still runs or listens (empty when it is gone). Files (tables, the env
        dir) are the environment's to check: they are plain paths on every platform."""

    def leftovers(self, env: Environment) -> list[str]:
        """What of env still runs or listens, from its ledger (and its env dir's label) alone."""
        return [left for handle in [*env.state.handles, env.state.directory]
                for left in self.remains(handle)]

    # --- the reaper's entry points (its policy is in reaper.py) ----------------------------------

    def sweep(self, now: float | None = None, table_ttl_seconds: float = 4 * 3600) -> list[str]:
        return reaper.sweep(self, now, table_ttl_seconds)

    def reap_run(self, run_id: str) -> list[str]:
        return reaper.reap_run(self, run_id)

    def strays(self, known: set[str], now: float) -> list[tuple[str, Handle]]:
        """(line, handle) for things carrying this platform's labels that no environment in
        `known` (env dirs) accounts for and that may go; the line says what and why. The reaper
        removes them with destroy."""
        return []


def remove_tree(path: str) -> str:
    """Remove a file tree; say whether there was one."""
    if not Path(path).exists():
        return "already gone"
    shutil.rmtree(path, ignore_errors=True)
    return "removed" if not Path(path).exists() else "failed: still there"
