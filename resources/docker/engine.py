"""The Docker engine: answer when one runs, otherwise start Debian's dockerd ourselves.

There is no systemd on these machines: when no daemon answers on the socket, `ensure()` starts
`dockerd` in its own session (as root) with its log and pid file under TESTBED_CACHE/docker, and
says so. A daemon Testbed started is recorded in that pid file; `stop_started()` stops it and
nothing else (a daemon someone else runs is never touched).
"""

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import docker
import psutil
from docker.errors import DockerException

from resources.model.errors import ConfigError
from resources.settings import cache_dir

SOCKET = "unix:///var/run/docker.sock"
# Debian's CLI (20.10): BuildKit works with it; a /usr/local/bin/docker may be a 28.x CLI without
# buildx, where DOCKER_BUILDKIT=1 fails.
DEBIAN_CLI = "/usr/bin/docker"
INSTALL_HINT = "apt-get install --no-install-recommends docker.io (make setup does it)"


def engine_dir() -> Path:
    return cache_dir() / "docker"


@dataclass(frozen=True)
class Engine:
    """A daemon that answers; `started` when this machine's Testbed started it (pid file)."""

    version: str
    started: bool

    @staticmethod
    def client() -> docker.DockerClient:
        return docker.DockerClient(base_url=os.environ.get("DOCKER_HOST", SOCKET), timeout=120)


def answers() -> str | None:
    """The engine's version when a daemon answers, else None."""
    try:
        return Engine.client().version()["Version"]
    except (DockerException, OSError, KeyError):
        return None


def ensure(timeout: float = 30.0) -> Engine:
    """A daemon that answers: the one running, or dockerd started here. ConfigError naming the
    cause and the fix when it cannot be had."""
    version = answers()
    if version:
        return Engine(version, started=_pid() is not None)
    if os.environ.get("DOCKER_HOST"):
        raise ConfigError(f"no Docker engine answers at DOCKER_HOST={os.environ['DOCKER_HOST']}: "
                          f"start it, or unset DOCKER_HOST to let Testbed start dockerd")
    dockerd = shutil.which("dockerd")
    if dockerd is None:
        raise ConfigError(f"no Docker engine answers and dockerd is not installed: {INSTALL_HINT}")
    if os.getuid() != 0:
        raise ConfigError("no Docker engine answers, and only root can start dockerd: start it "
                          "(e.g. `sudo dockerd &`) or run as root")
    home = engine_dir()
    home.mkdir(parents=True, exist_ok=True)
    log = home / "dockerd.log"
    with open(log, "ab") as out:
        # Own session: it outlives this process (a machine service); stop_started() ends it.
        process = subprocess.Popen([dockerd, "--data-root", str(home / "data"),
                                    "--pidfile", str(home / "dockerd.pid")],
                                   stdout=out, stderr=out, stdin=subprocess.DEVNULL,
                                   start_new_session=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        version = answers()
        if version:
            return Engine(version, started=True)
        if process.poll() is not None:
            break
        time.sleep(0.25)
    process.kill()
    tail = log.read_text(errors="replace").strip().splitlines()[-8:]
    raise ConfigError(f"dockerd did not answer within {timeout:.0f}s (log {log}):\n"
                      + "\n".join(tail))


def _pid() -> int | None:
    try:
        pid = int((engine_dir() / "dockerd.pid").read_text().strip())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def stop_started(grace: float = 20.0) -> str:
    """Stop the daemon Testbed started (its pid file), never another one."""
    pid = _pid()
    if pid is None:
        return "no daemon of ours runs"
    try:
        daemon = psutil.Process(pid)
        daemon.terminate()  # dockerd stops its containers and containerd itself
        daemon.wait(grace)
    except psutil.NoSuchProcess:
        return "already gone"
    except psutil.TimeoutExpired:
        daemon.kill()
    return "stopped"
