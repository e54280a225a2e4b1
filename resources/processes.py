"""Start, probe and stop child processes with mirakuru: how the local platform runs a service.

Every child gets an explicit environment (nothing inherited but PATH/LANG-like basics), writes to a
log file (never an unread pipe), runs in its own session so a stop reaches its whole group, and is
probed until ready. A child that exits while we wait fails the start at once, with its last log
lines in the error. `on_spawn` hears of the child the moment it exists, before any readiness wait,
so a ledger can record it even if the orchestrator dies during the wait.

Children of an environment carry `TESTBED_ENV_DIR=<env dir>` in their environment (a label set at
creation, inherited by their own children): `marked` finds them with no other record, which is how
the reaper finds what a killed run had not written down.
"""

import os
import pwd
import signal
import subprocess
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import psutil
from mirakuru import Executor, SimpleExecutor
from mirakuru.base import ENV_UUID
from mirakuru.exceptions import (
    ProcessExitedWithError,
    ProcessFinishedWithError,
    TimeoutExpired,
)

from resources.probes import Cancelled, Probe

INHERITED_ENV = ("PATH", "LANG", "LC_ALL", "TZ", "HOME")
MARKER = "TESTBED_ENV_DIR"  # every child of an environment carries its env dir here


class ComponentStartError(RuntimeError):
    """A component did not become ready; the message names it and shows its last log lines."""


def tail(path: Path, lines: int = 25) -> str:
    try:
        with open(path, "r", errors="replace") as handle:
            return "".join(deque(handle, maxlen=lines))
    except OSError:
        return "(no log written)"


class _ProbedExecutor(Executor):
    """mirakuru executor whose readiness is a Probe and whose environment is exactly ours."""

    def __init__(self, argv: list[str], probe: Probe, env: dict[str, str],
                 cancel: threading.Event | None = None, **kwargs):
        super().__init__(argv, **kwargs)
        self._probe = probe
        self._exact_env = env
        self._cancel = cancel

    @property
    def envvars(self) -> dict[str, str]:
        # mirakuru would start from os.environ; a child must not see the orchestrator's
        # SPARK_HOME, PYTHONPATH or venv. The uuid marks its descendants for cleanup.
        return {**self._exact_env, ENV_UUID: self._uuid}

    def pre_start_check(self) -> bool:
        return False

    def spawn(self) -> None:
        SimpleExecutor.start(self)  # Popen only; the readiness wait is `wait_ready`

    def wait_ready(self) -> None:
        self.wait_for(self.check_subprocess)

    def check_subprocess(self) -> bool:
        if self._cancel is not None and self._cancel.is_set():
            self.kill()
            raise Cancelled("cancelled")
        # mirakuru treats exit code 0 as "keep waiting"; a server that exits is never ready.
        if self.process is not None and self.process.poll() is not None:
            code = self.process.returncode
            self._kill_all_kids(self._kill_signal)
            self._clear_process()
            raise ProcessExitedWithError(self, code)
        return self._probe()


@dataclass
class ProcessSpec:
    name: str
    argv: list[str]
    log_file: Path
    cwd: Path
    env: dict[str, str] = field(default_factory=dict)
    user: str | None = None  # run as this OS user (when we are root)
    stop_signal: int = signal.SIGTERM


def create_time(pid: int | None) -> float | None:
    """When process pid started (None: no pid, or it is gone): with the pid, what identifies it
    in a ledger (a recycled pid has another start time)."""
    try:
        return psutil.Process(pid).create_time() if pid else None
    except psutil.NoSuchProcess:
        return None


@dataclass
class ManagedProcess:
    spec: ProcessSpec
    executor: _ProbedExecutor
    started_at: float
    ready_seconds: float

    @property
    def pid(self) -> int | None:
        process = self.executor.process
        return process.pid if process is not None else None

    @property
    def create_time(self) -> float | None:
        return create_time(self.pid)

    def running(self) -> bool:
        return self.executor.running()

    def stop(self, grace_seconds: float = 10.0) -> None:
        """Signal the group, wait up to grace_seconds, then SIGKILL. Idempotent."""
        if self.executor.process is None:
            return
        self.executor._timeout = grace_seconds  # mirakuru reuses its timeout as the stop grace
        try:
            self.executor.stop()
        except ProcessFinishedWithError:
            pass  # a JVM answers SIGTERM with 143: it stopped, which is all we asked


def as_user(user: str | None, argv: list[str]) -> list[str]:
    """argv run as `user` when we are root (PostgreSQL refuses root); unchanged otherwise.
    setpriv execs in place, so the pid we hold is the server itself, not a wrapper."""
    if not user or os.getuid() != 0 or pwd.getpwuid(0).pw_name == user:
        return list(argv)
    return ["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups", "--", *argv]


# Signals a server must answer: an ignored disposition is inherited across exec, and JVMs install no
# handler for a signal they inherit ignored. It happens: a background shell job starts with SIGINT
# ignored, and Dagster gives SIGTERM SIGINT's disposition (setup_interrupt_handlers), so every
# server then ignored our SIGTERM and stopped only at the SIGKILL after its grace period.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT)


def with_default_signals(argv: list[str]) -> list[str]:
    """argv started with the stop signals at their defaults when this process ignores one of them
    (env(1) resets them and execs in place: the pid we hold is the server's); unchanged otherwise."""
    ignored = [s for s in STOP_SIGNALS if signal.getsignal(s) == signal.SIG_IGN]
    if not ignored:
        return list(argv)
    names = ",".join(signal.Signals(s).name.removeprefix("SIG") for s in STOP_SIGNALS)
    return ["env", f"--default-signal={names}", "--", *argv]


def child_env(extra: dict[str, str]) -> dict[str, str]:
    base = {key: os.environ[key] for key in INHERITED_ENV if key in os.environ}
    base.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    return {**base, **extra}


def start(spec: ProcessSpec, probe: Probe, timeout: float = 60.0,
          on_spawn: Callable[["ManagedProcess"], None] | None = None,
          cancel: threading.Event | None = None) -> ManagedProcess:
    """Spawn, tell on_spawn, wait until probe() is true. Raises ComponentStartError (the child
    exited, or was not ready in time: it is killed), or Cancelled when cancel was set."""
    spec.log_file.parent.mkdir(parents=True, exist_ok=True)
    argv = with_default_signals(as_user(spec.user, spec.argv))
    log = open(spec.log_file, "ab")
    executor = _ProbedExecutor(
        argv,
        probe,
        child_env(spec.env),
        cancel,
        cwd=str(spec.cwd),
        timeout=timeout,
        sleep=0.25,
        stop_signal=spec.stop_signal,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    started = time.monotonic()
    try:
        executor.spawn()
    finally:
        log.close()  # the child holds its own descriptor
    process = ManagedProcess(spec, executor, time.time(), 0.0)
    if on_spawn is not None:
        try:
            on_spawn(process)
        except BaseException:
            executor.kill()  # unrecorded: nothing else would ever stop it
            raise
    try:
        executor.wait_ready()
    except ProcessExitedWithError as exc:
        raise ComponentStartError(
            f"{spec.name} exited with code {exc.exit_code} before it was ready "
            f"(log {spec.log_file}):\n{tail(spec.log_file)}"
        ) from None
    except TimeoutExpired:
        raise ComponentStartError(
            f"{spec.name} was not ready within {timeout:.0f}s (waited for: {probe}); "
            f"log {spec.log_file}:\n{tail(spec.log_file)}"
        ) from None
    process.ready_seconds = time.monotonic() - started
    return process


def kill_recorded(pid: int, create_time: float | None, grace_seconds: float = 10.0) -> bool:
    """Stop a process recorded by an earlier owner (the reaper's path). Checks the start time so a
    recycled pid is never hit. Returns True when something was stopped."""
    try:
        process = psutil.Process(pid)
        if create_time is not None and abs(process.create_time() - create_time) > 1.0:
            return False
        group = [process, *process.children(recursive=True)]
    except psutil.NoSuchProcess:
        return False
    terminate(group, grace_seconds)
    return True


def terminate(group: list[psutil.Process], grace_seconds: float) -> None:
    """SIGTERM every member, wait up to grace_seconds, SIGKILL what is still there."""
    for member in group:
        try:
            member.terminate()
        except psutil.NoSuchProcess:
            pass
    _gone, alive = psutil.wait_procs(group, timeout=grace_seconds)
    for member in alive:
        try:
            member.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=5)


def rss_bytes(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            process = psutil.Process(pid)
            total += process.memory_info().rss
            total += sum(child.memory_info().rss for child in process.children(recursive=True))
        except psutil.NoSuchProcess:
            continue
    return total


def marked(path: str, under: bool = False) -> list[psutil.Process]:
    """Live processes labelled TESTBED_ENV_DIR=path (under=True: any env dir below path, e.g. a
    state dir's envs/). Processes we may not read are not ours."""
    prefix = path.rstrip("/") + "/"
    found = []
    for process in psutil.process_iter():
        try:
            value = process.environ().get(MARKER, "")
            ours = value.startswith(prefix) if under else value == path
            if ours and process.status() != psutil.STATUS_ZOMBIE:
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess, OSError):
            continue
    return found


def kill_marked(path: str, grace_seconds: float = 10.0) -> list[str]:
    """Stop every process labelled with env dir `path` (the second way to find what a killed run
    spawned but had not recorded, and children that outlived their parent)."""
    group = marked(path)
    names = [f"{' '.join(p.cmdline()[:2]) or p.name()} (pid {p.pid})" for p in group
             if _readable(p)]
    terminate(group, grace_seconds)
    return names


def _readable(process: psutil.Process) -> bool:
    try:
        process.cmdline()
        return True
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False


def listening_ports(pids: set[int]) -> dict[int, int]:
    """port -> pid for every loopback or wildcard listener owned by one of pids."""
    found = {}
    for conn in psutil.net_connections(kind="inet"):
        if conn.status == psutil.CONN_LISTEN and conn.pid in pids:
            found[conn.laddr.port] = conn.pid
    return found


def stop_job(process: subprocess.Popen) -> str:
    """A job started in a session of its own (spark-submit), killed with its group. Drivers go
    first at teardown: a client-mode driver outlives its master otherwise."""
    if process.poll() is not None:
        return "already gone"
    os.killpg(process.pid, 9)
    process.wait()
    return "stopped"
