"""The releases and services deployed together for one run, and their ledger.

Everything started for the environment registers itself the moment it exists (`record`), as a typed
handle persisted in env.json; teardown walks the ledger newest first, stops each item (with its live
object when this process started it, else through the platform from the handle alone) and reports
one timed entry per item. Releases deploy in parallel; when one fails, the others stop waiting
(`cancel`) and the run tears everything down.
"""

import contextlib
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, TypeVar

import psutil

from resources import progress
from resources.model.catalog import ReleaseSpec
from resources.model.facts import Deployment, Facts, JobResult
from resources.model.ledger import (
    FILE_KINDS,
    Handle,
    InProcessHandle,
    ProcessHandle,
    TableHandle,
    TeardownEntry,
    TeardownReport,
)
from resources.model.state import EnvironmentState
from resources.model.storage import Storage, TableLocation
from resources.platforms.base import Platform
from resources.probes import Cancelled
from resources.processes import stop_job
from resources.services.base import Service

T = TypeVar("T")
Stop = Callable[[float], str]  # stop(grace seconds) -> what happened


class DeployError(RuntimeError):
    """One or more releases failed to deploy; the message names each with its reason."""


@dataclass
class _Live:
    """A ledger handle of something this process started, with the object that can stop it."""

    handle: Handle
    stop: Stop


class Environment:
    """Thread-safe: releases deploy in parallel and record into one ledger."""

    def __init__(self, platform: Platform, state: EnvironmentState):
        self.platform = platform
        self.state = state
        self.deployments: dict[str, Deployment] = {}
        self.services: dict[str, object] = {}  # by name: what runs for this env (for facts)
        # Set while a deploy is failing (the other releases and components stop waiting) and
        # from the start of teardown on.
        self.cancel = threading.Event()
        self._tearing_down = False
        self.lock = threading.RLock()
        self.torn_down = False
        self._live: list[_Live] = []
        self._made: dict[str, object] = {}
        self._key_locks: dict[str, threading.Lock] = {}

    @classmethod
    def create(cls, platform: Platform, run_id: str, ttl_seconds: float = 4 * 3600,
               keep_on_failure: bool = False, storage: Storage | None = None) -> "Environment":
        """storage: s3 (an object store of its own) or local (directories); default: what the
        platform keeps by default (TESTBED_STORAGE on the local platform)."""
        platform.check_state_dir()
        state = EnvironmentState.new(platform.name, platform.state_dir, run_id, ttl_seconds,
                                     keep_on_failure, platform.resolve_storage(storage))
        state.save()
        return cls(platform, state)

    @property
    def path(self) -> Path:
        return self.state.path

    # --- the ledger ------------------------------------------------------------------------------

    def record(self, handle: Handle, stop: Stop | None = None) -> Handle:
        """Write handle into the ledger (and env.json) now; stop is how this process stops it."""
        with self.lock:
            self.state.handles.append(handle)
            if stop is not None:
                self._live.append(_Live(handle, stop))
            self.state.save(create=False)
        return handle

    def adopt(self, name: str, owner: str, stop: Callable[[float], None],
              ports: dict[str, int] | None = None) -> None:
        """Something running inside this process (a stream, the webhook receiver): teardown stops
        it in its turn; it dies with the process, so the reaper has nothing to do for it."""

        def stopped(grace: float) -> str:
            stop(grace)
            return "stopped"

        self.record(InProcessHandle(name=name, owner=owner, ports=ports or {}), stopped)

    def record_job(self, name: str, owner: str, process: subprocess.Popen, log: Path) -> None:
        """A child job started in a session of its own (a client suite, a local-mode driver) in
        the ledger, killed with its group at teardown: nothing in it needs draining."""
        try:
            created = psutil.Process(process.pid).create_time()
        except psutil.NoSuchProcess:  # exited at once: nothing left to find by pid
            created = time.time()
        self.record(ProcessHandle(name=name, owner=owner, pid=process.pid, create_time=created,
                                  log_file=str(log)), lambda grace: stop_job(process))

    def record_table(self, path: str, owner: str = "") -> None:
        """Before writing it: a failed write is cleaned up too."""
        self.record(TableHandle(name=Path(path).name, owner=owner, path=path))

    def new_table(self, name: str, owner: str = "") -> TableLocation:
        """Where table `name` goes (the object store or the tables dir), in the ledger before
        anything writes it: a failed write is cleaned up too."""
        location = self.platform.table_location(self, name)
        self.record_table(location.local_path, owner=owner)
        return location

    def _key_lock(self, key: str) -> threading.Lock:
        with self.lock:
            return self._key_locks.setdefault(key, threading.Lock())

    @contextlib.contextmanager
    def exclusive(self, key: str):
        """One thread at a time for key (e.g. two metastores creating one database's schema)."""
        with self._key_lock(f"exclusive {key}"):
            yield

    def once(self, key: str, make: Callable[[], T]) -> T:
        """What make() returns, made once per environment even when threads ask together."""
        with self._key_lock(f"once {key}"):
            if key not in self._made:
                self._made[key] = make()
            return self._made[key]  # type: ignore[return-value]

    def start(self, service: Service) -> Service:
        """Run service on this environment's platform (refused before it starts when the platform
        cannot run it); its handle is in the ledger from the moment it exists."""
        self.platform.require(service.kind)
        if self.cancel.is_set():
            raise Cancelled(f"not starting {service.name}: another part of this deploy failed, "
                            f"or the environment is being torn down")
        with self.lock:
            self.services[service.name] = service
        progress.emit("service", service.name, "starting", owner=service.owner)
        began = time.monotonic()
        try:
            self.platform.start(self, service)
        except Cancelled:
            progress.emit("service", service.name, "cancelled", owner=service.owner)
            raise
        except Exception as exc:
            progress.emit("service", service.name, "failed", owner=service.owner,
                          error=(str(exc).splitlines() or [type(exc).__name__])[0][:200])
            raise
        progress.emit("service", service.name, "ready", owner=service.owner,
                      seconds=round(time.monotonic() - began, 2))
        return service

    # --- releases --------------------------------------------------------------------------------

    def deploy(self, spec: ReleaseSpec) -> Deployment:
        return self.deploy_all([spec])[spec.name]

    def deploy_all(self, specs: list[ReleaseSpec], parallel: bool = True) -> dict[str, Deployment]:
        """Deploy releases side by side (or one after the other); already deployed ones are kept.
        The first failure cancels the others' waits; the error names every release that failed."""
        with self.lock:
            todo = [spec for spec in specs if spec.name not in self.deployments]
        try:
            if parallel and len(todo) > 1:
                self._deploy_parallel(todo)
            else:
                for spec in todo:
                    self._deploy_one(spec)
        except BaseException:
            self.mark_failed()
            raise
        finally:
            with self.lock:
                if not self._tearing_down:
                    # The failed deploy is over: what the run does next (other assets, checks
                    # that say why) may start services again.
                    self.cancel.clear()
        return {spec.name: self.deployments[spec.name] for spec in specs}

    def _deploy_one(self, spec: ReleaseSpec) -> None:
        with self._key_lock(f"release {spec.name}"):
            if spec.name not in self.deployments:
                progress.emit("release", spec.name, "deploying", version=spec.version)
                try:
                    deployment = self.platform.deploy(self, spec)
                except BaseException as exc:
                    progress.emit("release", spec.name,
                                  "cancelled" if isinstance(exc, Cancelled) else "failed")
                    raise
                progress.emit("release", spec.name, "ready", seconds=deployment.startup_seconds)
                with self.lock:
                    self.deployments[spec.name] = deployment

    def _deploy_parallel(self, specs: list[ReleaseSpec]) -> None:
        failures: dict[str, BaseException] = {}
        with ThreadPoolExecutor(max_workers=len(specs), thread_name_prefix="deploy") as pool:
            futures = {pool.submit(self._deploy_one, spec): spec for spec in specs}
            for future in as_completed(futures):
                error = future.exception()
                if error is not None:
                    failures[futures[future].name] = error
                    self.cancel.set()  # the others stop waiting for readiness
        real = {name: error for name, error in failures.items() if not isinstance(error, Cancelled)}
        if real:
            if len(real) == 1:
                raise next(iter(real.values()))
            raise DeployError("\n".join(f"{name}: {error}" for name, error in real.items()))
        if failures:
            raise next(iter(failures.values()))

    def facts(self, release: str) -> Facts:
        return self.platform.facts(self, self.deployments[release])

    def retire(self, release: str) -> list[TeardownEntry]:
        """Stop one release's processes before the run ends (the Connect suites keep one server
        up at a time on 2 cores), newest first; its files go with the environment's teardown."""
        with self.lock:
            live = {id(item.handle): item.stop for item in self._live}
            mine = [h for h in self.state.pending() if h.owner == release and h.kind == "process"]
            self.deployments.pop(release, None)
        return [self._remove(handle, live, keep=False) for handle in mine]

    # --- failure and teardown --------------------------------------------------------------------

    def mark_failed(self) -> None:
        with self.lock:
            self.state.failed = True
            self.state.save(create=False)

    def teardown(self) -> TeardownReport:
        """Idempotent. Newest first: jobs and clients before the servers they use, servers before
        their files, the env dir last; a run of processes next to each other in the ledger stops
        side by side (each waits out its own grace). A failed environment with keep_on_failure
        keeps its files (the reaper removes them after the TTL) but nothing of it keeps running."""
        with self.lock:
            self._tearing_down = True
            self.cancel.set()  # a deploy still waiting gives up instead of racing the teardown
        began = time.monotonic()
        progress.emit("teardown", self.state.env_id, "starting")
        with self._key_lock("teardown"):  # one teardown at a time; stops run in worker threads
            with self.lock:
                keep = self.state.failed and self.state.keep_on_failure
                live = {id(item.handle): item.stop for item in self._live}
                pending = self.state.pending()
            entries: list[TeardownEntry] = []
            for batch in _batches(pending):
                if batch[0].kind == "directory" and any(e.result.startswith("failed")
                                                        for e in entries):
                    # env.json says what could not be removed: the reaper retries from it.
                    entries.append(TeardownEntry(what=batch[0].describe(), kind="directory",
                                                 result="kept: the reaper retries what failed",
                                                 seconds=0.0))
                    continue
                if len(batch) == 1:
                    entries.append(self._remove(batch[0], live, keep))
                    continue
                with ThreadPoolExecutor(max_workers=len(batch), thread_name_prefix="stop") as pool:
                    entries += list(pool.map(lambda h: self._remove(h, live, keep), batch))
            leftovers = self.platform.leftovers(self)
            if not keep:
                leftovers += [handle.describe()
                              for handle in [*self.state.handles, self.state.directory]
                              if handle.kind in FILE_KINDS and Path(handle.path).exists()]
            with self.lock:
                self._live.clear()
                self.torn_down = True
            progress.emit("teardown", self.state.env_id, "done", items=len(entries),
                          seconds=round(time.monotonic() - began, 2), left=len(leftovers))
            return TeardownReport(env_id=self.state.env_id, platform=self.platform.name,
                                  entries=entries, leftovers=leftovers,
                                  kept_dir=str(self.path) if keep and self.path.exists() else None,
                                  seconds=round(time.monotonic() - began, 2))

    def _remove(self, handle: Handle, live: dict[int, Stop], keep: bool) -> TeardownEntry:
        """Stop or remove one ledger item, with its live object when this process started it,
        else from the handle alone; record that it is done."""
        started = time.monotonic()
        if keep and handle.kind in FILE_KINDS:
            result = "kept"
        else:
            grace = self.platform.grace_seconds
            try:
                stop = live.get(id(handle))
                result = stop(grace) if stop else self.platform.destroy(handle, grace)
                handle.done = True
            except Exception as exc:  # reported; the item stays pending for the reaper
                result = f"failed: {type(exc).__name__}: {exc}"
            with self.lock:
                self.state.save(create=False)
        return TeardownEntry(what=handle.describe(), kind=handle.kind, result=result,
                             seconds=round(time.monotonic() - started, 3))

    def __enter__(self) -> "Environment":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.mark_failed()
        self.teardown()



def probe_table(spec: ReleaseSpec) -> str:
    return f"testbed_probe_{spec.key}"


def run_acceptance_job(env: Environment, spec: ReleaseSpec, timeout: float = 300.0) -> JobResult:
    """The release's own end-to-end job: SparkPi via spark-submit to a master, or a Connect probe.
    Both leave a probe table in the release's metastore and an application in its event log."""
    deployment = env.deployments[spec.name]
    job = "sparkpi" if "master" in spec.components else "connect_probe"
    progress.emit("job", f"{spec.name} {job}", "running")
    if job == "sparkpi":
        result = env.platform.submit(env, deployment, "sparkpi", ["10", probe_table(spec)], timeout)
    else:
        result = env.platform.connect_job(env, deployment, probe_table(spec), timeout)
    progress.emit("job", f"{spec.name} {job}", "done" if result.returncode == 0 else "failed",
                  seconds=result.seconds)
    return result


def run_acceptance_jobs(env: Environment, specs: list[ReleaseSpec], timeout: float = 300.0,
                        parallel: bool = True) -> dict[str, JobResult]:
    """Each release's acceptance job, side by side (a SparkPi on 3.5 does not wait for a probe on
    4.1), or one after the other."""
    if not parallel or len(specs) == 1:
        return {spec.name: run_acceptance_job(env, spec, timeout) for spec in specs}
    with ThreadPoolExecutor(max_workers=len(specs), thread_name_prefix="job") as pool:
        futures = {spec.name: pool.submit(run_acceptance_job, env, spec, timeout) for spec in specs}
        return {name: future.result() for name, future in futures.items()}


def _batches(handles: list[Handle]) -> list[list[Handle]]:
    """Consecutive processes form one batch (stopped side by side); anything else (an in-process
    stream, a table, the env dir), and a process others write to until they stop, begins a batch
    of its own, so it keeps its place in the order."""
    batches: list[list[Handle]] = []
    for handle in handles:
        if handle.kind == "process" and batches and batches[-1][0].kind == "process" \
                and not handle.serves_others:  # type: ignore[union-attr]
            batches[-1].append(handle)
        else:
            batches.append([handle])
    return batches
