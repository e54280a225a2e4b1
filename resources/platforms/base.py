"""What every platform shares: the release catalog, environment state, facts, and the lifecycle.

A platform deploys `ReleaseSpec`s into an `Environment`, reads `Facts` back from what runs, submits
jobs, and tears down. Everything about *when* to tear down (idempotence, keep-on-failure, the reaper's
rules for abandoned environments) lives here, so local, compose and kubernetes cannot drift apart.
"""

import os
import re
import shutil
import socket
import threading
import time
import uuid
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Literal

import psutil
import yaml
from pydantic import BaseModel, Field, field_validator, model_validator

ComponentKind = Literal["metastore", "history", "master", "worker", "connect"]
CATALOG_FILE = Path(__file__).resolve().parent.parent / "catalog.yaml"


class ConfigError(ValueError):
    """Bad input, found before anything starts. The message names the field and the fix."""


# Delta line -> the Spark versions it runs on (Delta's compatibility table). Delta 4.1.0 is
# binary-incompatible with Spark 4.1.2+ (NoClassDefFoundError IgnoreCachedData).
DELTA_SUPPORT = (("3.3", "3.5.0", "3.5.99"), ("4.0", "4.0.0", "4.0.99"), ("4.1", "4.1.0", "4.1.1"))


def _v(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def _delta_for(spark_version: str) -> str:
    lines = [f"Delta {minor}.x" for minor, low, high in DELTA_SUPPORT
             if _v(low) <= _v(spark_version) <= _v(high)]
    return " or ".join(lines) or "no Delta line (none supports it yet)"


class ReleaseSpec(BaseModel):
    """One deployable unit at one version, e.g. spark-3.5 at 3.5.7 with its metastore and history."""

    model_config = {"frozen": True, "extra": "forbid"}

    name: str = Field(pattern=r"^[a-z][a-z0-9]*(-[a-z0-9.]+)*$")
    version: str = Field(pattern=r"^\d+\.\d+\.\d+$")
    components: tuple[ComponentKind, ...]
    metastore_db: str = Field(pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    event_log_prefix: str = Field(pattern=r"^[A-Za-z0-9._/-]+$")
    # Fixed ports per component role ("master.rpc": 7077); unset roles get a free port.
    ports: dict[str, int] = Field(default_factory=dict)
    # JVM sizes (sized for a 2-core box): a number with m or g, as Spark takes them.
    worker_memory: str = Field("1g", pattern=r"^\d+[mg]$")
    daemon_memory: str = Field("512m", pattern=r"^\d+[mg]$")
    driver_memory: str = Field("512m", pattern=r"^\d+[mg]$")
    # Delta Lake on this release (jars from Maven Central, cached by `make setup`); None: no Delta.
    delta_version: str | None = Field(None, pattern=r"^\d+\.\d+\.\d+$")

    @model_validator(mode="after")
    def _delta_fits_spark(self) -> "ReleaseSpec":
        if self.delta_version is None:
            return self
        delta_minor = ".".join(self.delta_version.split(".")[:2])
        for minor, lowest, highest in DELTA_SUPPORT:
            if minor == delta_minor:
                if _v(lowest) <= _v(self.version) <= _v(highest):
                    return self
                raise ValueError(
                    f"delta_version {self.delta_version} supports Spark {lowest} to {highest}, not "
                    f"{self.version}: pick the Delta line for Spark {self.minor} "
                    f"({_delta_for(self.version)})")
        raise ValueError(f"delta_version {self.delta_version} is not a known Delta line; "
                         f"for Spark {self.version} use {_delta_for(self.version)}")

    @property
    def scala(self) -> str:
        return "2.12" if self.version.startswith("3.") else "2.13"

    @property
    def maven_packages(self) -> tuple[str, ...]:
        """Jars this release needs from Maven Central, resolved without their dependencies (Spark
        ships the rest; a transitive resolve would pull hadoop-aws and the AWS SDK)."""
        if self.delta_version is None:
            return ()
        return (f"io.delta:delta-spark_{self.scala}:{self.delta_version}",
                f"io.delta:delta-storage:{self.delta_version}")

    @field_validator("components")
    @classmethod
    def _components_make_sense(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if "worker" in value and "master" not in value:
            raise ValueError("a worker needs a master: add 'master' to components")
        if "metastore" not in value:
            raise ValueError("every release needs its own 'metastore'")
        if len(set(value)) != len(value):
            raise ValueError("components are listed twice")
        return value

    @field_validator("event_log_prefix")
    @classmethod
    def _relative_prefix(cls, value: str) -> str:
        if value.startswith("/") or ".." in value.split("/"):
            raise ValueError("event_log_prefix must be a relative path like spark-logs/3.5/events")
        return value

    @property
    def key(self) -> str:
        """spark-3.5 -> spark_3_5: the asset key prefix and a safe identifier."""
        return re.sub(r"[^a-z0-9]", "_", self.name)

    @property
    def minor(self) -> str:
        return ".".join(self.version.split(".")[:2])


class Catalog(BaseModel):
    releases: tuple[ReleaseSpec, ...]

    @model_validator(mode="after")
    def _distinct(self) -> "Catalog":
        for field in ("name", "metastore_db", "event_log_prefix"):
            seen: dict[str, str] = {}
            for spec in self.releases:
                value = getattr(spec, field)
                if value in seen:
                    raise ValueError(
                        f"releases {seen[value]} and {spec.name} share {field}={value!r}: "
                        f"give each release its own {field}"
                    )
                seen[value] = spec.name
        return self

    def get(self, name: str) -> ReleaseSpec:
        for spec in self.releases:
            if spec.name == name:
                return spec
        known = ", ".join(spec.name for spec in self.releases)
        raise ConfigError(f"unknown release {name!r}: the catalog has {known}")


def load_catalog(path: Path = CATALOG_FILE) -> Catalog:
    try:
        return Catalog.model_validate(yaml.safe_load(path.read_text()))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"release catalog {path} is invalid: {exc}") from exc


# --- what runs, read back ---------------------------------------------------------------------


class ComponentFacts(BaseModel):
    release: str
    kind: str
    name: str
    ports: dict[str, int]
    data_dir: str | None = None
    conf_dir: str | None = None
    pid: int | None = None
    ready: bool = False
    probe: str = ""


class HistoryApp(BaseModel):
    id: str
    name: str
    spark_version: str


class Facts(BaseModel):
    """One deployed release as the running system reports it (not as it was configured)."""

    release: str
    version: str
    components: list[ComponentFacts]
    metastore_uri: str
    metastore_db: str  # from the JDBC URL the metastore process was started with
    metastore_tables: list[str]  # "<db>.<table>" from TBLS/DBS in that database
    event_log_dir: str  # where this release's applications write their event logs
    history_log_dir: str  # what its History Server reads (from the History UI)
    history_apps: list[HistoryApp]


class JobResult(BaseModel):
    release: str
    job: str
    returncode: int
    seconds: float
    output: str = ""  # stdout tail (or the client's answer)
    error: str = ""  # stderr tail (or the exception)
    values: dict[str, float | int | str] = Field(default_factory=dict)


class Deployment(BaseModel):
    """What a platform returns for a deployed release: endpoints and where it lives."""

    spec: ReleaseSpec
    env_id: str
    root: str
    endpoints: dict[str, str]
    startup_seconds: float
    component_seconds: dict[str, float]


# --- environment state and lifecycle ----------------------------------------------------------


class EnvironmentState(BaseModel):
    env_id: str
    platform: str
    owner_run_id: str
    owner_pid: int
    owner_pid_started: float
    owner_host: str
    created: float
    ttl_seconds: float
    root: str
    keep_on_failure: bool = False
    failed: bool = False
    # Platform handles the reaper needs without the owner (pids, release names, ...).
    handles: list[dict] = Field(default_factory=list)
    # Data written for this environment outside its dir (Delta tables under the tables root).
    tables: list[str] = Field(default_factory=list)

    @classmethod
    def new(cls, platform: str, root: Path, run_id: str, ttl_seconds: float, keep_on_failure: bool):
        env_id = f"env-{uuid.uuid4().hex[:10]}"
        me = psutil.Process()
        return cls(
            env_id=env_id,
            platform=platform,
            owner_run_id=run_id,
            owner_pid=me.pid,
            owner_pid_started=me.create_time(),
            owner_host=socket.gethostname(),
            created=time.time(),
            ttl_seconds=ttl_seconds,
            root=str(root / "envs" / env_id),
            keep_on_failure=keep_on_failure,
        )

    @property
    def path(self) -> Path:
        return Path(self.root)

    def owner_alive(self) -> bool:
        if self.owner_host != socket.gethostname():
            return True  # cannot tell from here; the TTL decides
        try:
            return abs(psutil.Process(self.owner_pid).create_time() - self.owner_pid_started) < 1.0
        except psutil.NoSuchProcess:
            return False

    def abandoned(self, now: float | None = None) -> str | None:
        """Why the reaper may remove this environment, or None while it is owned and fresh."""
        now = time.time() if now is None else now
        kept = self.failed and self.keep_on_failure
        # A kept environment outlives its run on purpose (someone is debugging it): TTL only.
        if not kept and not self.owner_alive():
            return f"owner pid {self.owner_pid} on {self.owner_host} is gone"
        if now - self.created > self.ttl_seconds:
            return f"TTL {self.ttl_seconds:.0f}s expired ({now - self.created:.0f}s old)"
        return None

    def save(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        tmp = self.path / "env.json.tmp"
        tmp.write_text(self.model_dump_json(indent=2))
        os.replace(tmp, self.path / "env.json")

    @classmethod
    def load(cls, env_dir: Path) -> "EnvironmentState":
        return cls.model_validate_json((env_dir / "env.json").read_text())


class TeardownReport(BaseModel):
    env_id: str
    stopped: list[str]
    leftovers: list[str]  # processes, ports or dirs still there afterwards: should be empty
    kept_dir: str | None = None  # set when keep_on_failure kept a failed environment's files


class Platform(ABC):
    """Deploy, read facts, submit, tear down, sweep. Subclasses do the platform-specific parts."""

    name: str

    def __init__(self, state_dir: Path, grace_seconds: float = 10.0):
        self.state_dir = Path(state_dir)
        self.grace_seconds = grace_seconds

    @abstractmethod
    def preflight(self, specs: list[ReleaseSpec]) -> None:
        """Raise ConfigError for anything that would make a deploy fail, before anything starts."""

    @abstractmethod
    def deploy(self, env: "Environment", spec: ReleaseSpec) -> Deployment: ...

    @abstractmethod
    def facts(self, env: "Environment", deployment: Deployment) -> Facts: ...

    @abstractmethod
    def submit(self, env: "Environment", deployment: Deployment, job: str, args: list[str],
               timeout: float) -> JobResult: ...

    def connect_job(self, env: "Environment", deployment: Deployment, table: str,
                    timeout: float) -> JobResult:
        """The Spark Connect probe (job "connect_probe") against the release's Connect server,
        from wherever its endpoint is reachable. Here: from this process, which can reach a
        server it started; platforms whose endpoints only resolve inside them override this."""
        from resources.spark import connect_probe  # pyspark-client; resources.spark imports us

        return connect_probe(deployment.spec.name, deployment.endpoints["connect"], table)

    @abstractmethod
    def stop_environment(self, env: "Environment") -> list[str]:
        """Stop what this process started for env, in reverse order; returns what was stopped."""

    @abstractmethod
    def destroy_abandoned(self, state: EnvironmentState) -> list[str]:
        """Remove an environment from its recorded state alone (its owner may be gone)."""

    @property
    def tables_root(self) -> Path:
        """Where runs write their test tables (`test_<8 hex>`), like a shared bucket."""
        return self.state_dir / "delta-tables"

    def mysql_source(self, env: "Environment"):
        """The environment's MariaDB (CDC source); platforms without one say so."""
        raise ConfigError(f"the {self.name} platform has no MariaDB source yet; use platform local")

    def alerting_stack(self, env: "Environment"):
        """The environment's AlertManager + Prometheus, configurable but not started yet."""
        raise ConfigError(f"the {self.name} platform has no alerting stack yet; use platform local")

    def start_alerting(self, env: "Environment"):
        """Start the alerting stack with the configs written into it; returns it."""
        raise ConfigError(f"the {self.name} platform has no alerting stack yet; use platform local")

    def check_state_dir(self) -> None:
        try:
            (self.state_dir / "envs").mkdir(parents=True, exist_ok=True)
            probe = self.state_dir / "envs" / f".write-test-{os.getpid()}"
            probe.write_text("ok")
            probe.unlink()
        except OSError as exc:
            raise ConfigError(
                f"state dir {self.state_dir} is not writable ({exc.strerror}); "
                f"set TESTBED_STATE_DIR to a writable directory"
            ) from None

    @abstractmethod
    def leftovers(self, env: "Environment") -> list[str]:
        """After a stop: whatever of env still runs or listens (empty when all is gone)."""

    def teardown(self, env: "Environment") -> "TeardownReport":
        """Idempotent. Keeps a failed environment's files when asked (the reaper removes them)."""
        for close in reversed(env.runtime.pop("closers", [])):
            close()  # in-process clients (streams) first: they hold connections to the servers
        stopped = self.stop_environment(env)
        keep = env.state.failed and env.state.keep_on_failure
        if not keep:
            for table in env.state.tables:
                shutil.rmtree(table, ignore_errors=True)
            shutil.rmtree(env.state.path, ignore_errors=True)
        left = self.leftovers(env)
        if not keep:
            left += [f"table {t}" for t in env.state.tables if Path(t).exists()]
            if env.state.path.exists():
                left.append(f"environment dir {env.state.path}")
        if keep and env.state.path.exists():
            env.state.handles = []  # nothing runs any more; the reaper only removes files
            env.state.save()
        return TeardownReport(env_id=env.state.env_id, stopped=stopped, leftovers=left,
                              kept_dir=str(env.state.path) if keep else None)

    def states(self) -> list[EnvironmentState]:
        found = []
        envs = self.state_dir / "envs"
        for env_dir in sorted(envs.glob("env-*")) if envs.exists() else []:
            try:
                found.append(EnvironmentState.load(env_dir))
            except (OSError, ValueError):
                continue  # not ours to judge: env.json is written before anything starts
        return found

    def _remove(self, state: EnvironmentState) -> None:
        self.destroy_abandoned(state)
        for table in state.tables:
            shutil.rmtree(table, ignore_errors=True)
        shutil.rmtree(state.path, ignore_errors=True)

    def reap_run(self, run_id: str) -> list[str]:
        """Teardown layer 3: remove what run `run_id` left, once the run has finished. Idempotent
        (a run that tore down after itself left nothing); a failed environment kept for debugging
        stays until its TTL. Returns one line per environment of the run: what happened to it."""
        lines = []
        for state in self.states():
            if state.platform != self.name or state.owner_run_id != run_id:
                continue
            if state.failed and state.keep_on_failure:
                lines.append(f"{state.env_id}: kept for debugging (keep_on_failure) until its "
                             f"TTL; `testbed sweep` removes it then")
                continue
            self._remove(state)
            lines.append(f"{state.env_id}: removed, left by run {run_id}")
        return lines

    def sweep(self, now: float | None = None, table_ttl_seconds: float = 4 * 3600) -> list[str]:
        """Remove environments of this platform whose owner is gone or whose TTL expired, with
        their tables; then `test_*` tables no live environment claims, older than the TTL."""
        now = time.time() if now is None else now
        removed = []
        claimed: set[str] = set()
        for state in self.states():
            reason = state.abandoned(now) if state.platform == self.name else None
            if reason is None:
                claimed.update(state.tables)
                continue
            self._remove(state)
            removed.append(f"{state.env_id}: {reason}")
        root = self.tables_root
        for table in sorted(root.glob("test_*")) if root.exists() else []:
            age = now - table.stat().st_mtime
            if str(table) not in claimed and age > table_ttl_seconds:
                shutil.rmtree(table, ignore_errors=True)
                removed.append(f"table {table.name}: unclaimed, {age:.0f}s old")
        return removed


class Environment:
    """The releases deployed together for one run. Thread-safe: releases deploy in parallel."""

    def __init__(self, platform: Platform, state: EnvironmentState):
        self.platform = platform
        self.state = state
        self.deployments: dict[str, Deployment] = {}
        self.runtime: dict = {}  # the platform's live handles (processes, clients) for this env
        self.lock = threading.RLock()
        self.torn_down = False

    @classmethod
    def create(cls, platform: Platform, run_id: str, ttl_seconds: float = 4 * 3600,
               keep_on_failure: bool = False) -> "Environment":
        platform.check_state_dir()
        state = EnvironmentState.new(platform.name, platform.state_dir, run_id, ttl_seconds,
                                     keep_on_failure)
        state.save()
        return cls(platform, state)

    @property
    def path(self) -> Path:
        return self.state.path

    def deploy(self, spec: ReleaseSpec) -> Deployment:
        with self.lock:
            if spec.name in self.deployments:
                return self.deployments[spec.name]
        try:
            deployment = self.platform.deploy(self, spec)
        except BaseException:
            self.mark_failed()
            raise
        with self.lock:
            self.deployments[spec.name] = deployment
        return deployment

    def facts(self, release: str) -> Facts:
        return self.platform.facts(self, self.deployments[release])

    def record(self, handle: dict) -> None:
        with self.lock:
            self.state.handles.append(handle)
            self.state.save()

    def on_teardown(self, close) -> None:
        """Run close() at teardown, before any server stops (e.g. stop a CDC stream)."""
        with self.lock:
            self.runtime.setdefault("closers", []).append(close)

    def record_table(self, path: str) -> None:
        with self.lock:
            self.state.tables.append(path)
            self.state.save()

    def mark_failed(self) -> None:
        with self.lock:
            self.state.failed = True
            if self.state.path.exists():
                self.state.save()

    def teardown(self) -> TeardownReport:
        with self.lock:
            report = self.platform.teardown(self)
            self.torn_down = True
            return report

    def __enter__(self) -> "Environment":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.mark_failed()
        self.teardown()
