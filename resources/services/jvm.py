"""What every service that is one JVM shares: which Java runs it, and its class-data archive.

`ArchivedJvm` is the lifecycle half of class_archive.py for a Service: the first start of a kind
dumps an archive as it exits (so its stop waits longer: writing it takes seconds on 2 busy cores),
and a clean stop keeps the dump as the archive later starts of that kind map.
"""

import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from resources.model.errors import ConfigError
from resources.services.class_archive import ClassArchive
from resources.settings import java_home_setting

# The first JVM of a kind writes its class archive as it exits: up to ~9 s for a Connect server on
# 2 busy cores. Killing it at the usual grace would throw the archive away.
DUMP_GRACE_SECONDS = 40.0


def java_home() -> Path:
    if java_home_setting():
        return Path(java_home_setting())
    java = shutil.which("java")
    if not java:
        raise ConfigError("java not found on PATH: install openjdk-17-jre-headless (make setup checks it)")
    return Path(os.path.realpath(java)).parent.parent


def java_major(home: Path) -> int:
    out = subprocess.run([str(home / "bin" / "java"), "-version"], capture_output=True, text=True)
    match = re.search(r'version "(\d+)', out.stderr + out.stdout)
    return int(match.group(1)) if match else 0


def check_java() -> None:
    home = java_home()
    if not (home / "bin" / "java").exists():
        raise ConfigError(f"JAVA_HOME={home} has no bin/java: point JAVA_HOME at a Java 17 JDK")
    if java_major(home) < 17:
        raise ConfigError(f"Java 17+ is required (JAVA_HOME={home}); install openjdk-17")


def archive_for(key: str, classpath: Callable[[], list[Path]]) -> ClassArchive:
    """The archive of kind `key` on the classpath `classpath()` names; before make setup that
    raises ConfigError, and the archive is keyed by no jars (check_installed refuses the start)."""
    try:
        found = classpath()
    except ConfigError:
        found = []
    return ClassArchive(java_home(), key, found)


class ArchivedJvm:
    """Mixin for a Service whose process is one JVM started with `self.archive.flags()`."""

    archive: ClassArchive

    def stop(self, grace_seconds: float = 10.0) -> None:
        if self.archive.dump is not None:
            grace_seconds = max(grace_seconds, DUMP_GRACE_SECONDS)
        super().stop(grace_seconds)  # type: ignore[misc]
        process = self.process  # type: ignore[attr-defined]
        if process is not None:  # a JVM that stopped on SIGTERM wrote its class archive
            self.archive.keep(process.executor.process is None
                              or process.executor.process.returncode != -9)
