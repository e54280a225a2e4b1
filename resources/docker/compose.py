"""Docker Compose v2, built from source by `make setup` (resources/install.py), run as a CLI."""

import os
import subprocess
from pathlib import Path

from resources.model.errors import ConfigError
from resources.settings import cache_dir

COMPOSE_MODULE = "github.com/docker/compose/v2"
COMPOSE_VERSION = "2.40.3"
PROJECT_LABEL = "com.docker.compose.project"  # compose sets it on containers, networks, volumes


class ComposeError(RuntimeError):
    """A compose command failed; the message has the command and its output's tail."""


def compose_binary() -> Path:
    """The compose CLI plugin, kept by version; it also runs standalone (`docker-compose ...`)."""
    return cache_dir() / "tools" / f"compose-{COMPOSE_VERSION}" / "cli-plugins" / "docker-compose"


def check_installed() -> Path:
    binary = compose_binary()
    if not binary.exists():
        raise ConfigError(f"Docker Compose {COMPOSE_VERSION} is not built ({binary}): run "
                          f"`make setup` (it builds compose from source, ~3 min once)")
    return binary


def compose(project: str, files: list[Path | str], *args: str, timeout: float = 600.0,
            cwd: Path | None = None) -> str:
    """`docker compose -p project -f ... args`; its stdout, or ComposeError with the output's
    tail. Orphans are expected: each release of an environment has a file of its own."""
    argv = [str(check_installed()), "-p", project,
            *[part for f in files for part in ("-f", str(f))], *args]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=cwd,
                              env={**os.environ, "COMPOSE_IGNORE_ORPHANS": "1"})
    except subprocess.TimeoutExpired as exc:
        raise ComposeError(f"docker compose {' '.join(args)} (project {project}) did not finish "
                           f"in {timeout:.0f}s:\n{_tail(exc.stderr)}") from None
    if done.returncode != 0:
        raise ComposeError(f"docker compose {' '.join(args)} (project {project}) exited "
                           f"{done.returncode}:\n{_tail(done.stderr or done.stdout)}")
    return done.stdout


def _tail(text: str | bytes | None, lines: int = 25) -> str:
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    return "\n".join((text or "").strip().splitlines()[-lines:])
