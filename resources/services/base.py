"""What a service is: one running thing an environment needs, as one small class.

A service module gives only what is particular to it (in the spirit of testcontainers' service
modules): its configuration, `recipe()` (how to run it as a process), `probe()` (when it is ready),
`prepare()` (files it needs first), `bootstrap()` (what to do once it answers: users, databases).
The lifecycle around those is here and the same for every service: `start(launch)` prepares,
launches, waits, bootstraps; `stop(grace)` stops. Where it runs is the launcher's business: by
default a local child process (tests and benchmarks use services standalone like that); a platform
passes its own launcher, which records the process in the environment's ledger the moment it is
spawned. Services know nothing about platforms, ledgers or Dagster.
"""

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Callable, ClassVar

from resources.model.errors import ConfigError
from resources.model.facts import ComponentFacts
from resources.ports import HOST, free_port
from resources.probes import Probe, TcpOpen
from resources.processes import ManagedProcess, ProcessSpec, rss_bytes
from resources.processes import start as start_process

# (recipe, probe, timeout) -> the running process, ready. The local platform's launcher adds the
# environment's marker, the ledger record and cancellation.
Launcher = Callable[[ProcessSpec, Probe, float], ManagedProcess]

# Every service kind that exists, by kind (filled as service modules are imported): preflight looks
# a kind up here to check its software is installed, with no list of services to keep.
KINDS: dict[str, type["Service"]] = {}


class Service(ABC):
    kind: ClassVar[str]  # e.g. "postgres", "spark-master"; what platforms declare they provide
    what: ClassVar[str] = ""  # a few words for messages, e.g. "the CDC source"
    port_role: ClassVar[str | None] = None  # a one-port service: its port's role ("sql", "http")
    # Others write to it until they stop (an object store): stopped after them, not beside them.
    serves_others: ClassVar[bool] = False
    # Debian packages its recipe's binaries come from: a platform that runs it in a container
    # builds an image FROM Debian with them (the same paths as here), and runs the same recipe.
    packages: ClassVar[tuple[str, ...]] = ()

    def __init__(self, name: str, root: Path, ready_timeout: float = 60.0, owner: str = ""):
        self.name = name  # unique in its environment, e.g. "postgres", "spark-3.5-master"
        self.root = root  # its own directory
        self.ready_timeout = ready_timeout
        self.owner = owner  # the release or group it belongs to
        # Picked when it is made, so configs (its own, its clients') can name it before it starts.
        self.port = free_port() if self.port_role else 0
        self.process: ManagedProcess | None = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "kind" in cls.__dict__:
            KINDS[cls.kind] = cls

    @classmethod
    def check_installed(cls) -> None:
        """Raise ConfigError naming the package when its software is missing (preflight)."""

    @property
    def ports(self) -> dict[str, int]:
        """Port role -> port, chosen before it starts (so configs can name them)."""
        return {self.port_role: self.port} if self.port_role else {}

    def prepare(self) -> None:
        """Write what it needs before it starts (configs, data dirs). Runs once, before launch."""

    @abstractmethod
    def recipe(self) -> ProcessSpec:
        """How to run it as a process."""

    @abstractmethod
    def probe(self) -> Probe:
        """True once it is ready to be used."""

    def bootstrap(self) -> None:
        """Once it answers: create users, databases, ..."""

    def start(self, launch: Launcher | None = None) -> ManagedProcess:
        """prepare -> launch -> wait ready -> bootstrap. Standalone, a local child process."""
        self.check_installed()
        self.prepare()
        self.process = (launch or start_process)(self.recipe(), self.probe(), self.ready_timeout)
        self.bootstrap()
        return self.process

    def stop(self, grace_seconds: float = 10.0) -> None:
        if self.process is not None:
            self.process.stop(grace_seconds)

    def running(self) -> bool:
        return self.process is not None and self.process.running()

    def rss_mb(self) -> float:
        """Resident memory of its process and children now (0 when it does not run): a number
        its asset records, so the UI plots it across runs."""
        return round(rss_bytes([self.process.pid]) / 2**20, 1) if self.running() else 0.0

    def facts(self) -> ComponentFacts:
        """What runs, read back: its process, and whether it listens on its ports now."""
        running = self.running()
        listening = running and all(TcpOpen(HOST, port)() for port in self.ports.values())
        return ComponentFacts(
            release=self.owner, kind=self.kind, name=self.name, ports=self.ports,
            pid=self.process.pid if running else None, ready=listening,
            probe="running and listening on " + ", ".join(map(str, self.ports.values()))
            if listening else "not running or not listening")


def service_kind(kind: str) -> type[Service]:
    try:
        return KINDS[kind]
    except KeyError:
        raise ConfigError(f"unknown service {kind!r} (known: {', '.join(sorted(KINDS))})") from None
