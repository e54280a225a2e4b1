"""Class-data archives (Java's AppCDS) for the JVMs an environment starts.

Starting a Spark daemon is mostly loading and verifying the same ~10,000 classes from the same
jars, and on 2 cores the starts of a whole environment are CPU-bound. A dynamic archive of what one
kind of JVM loaded (e.g. the History Server of Spark 3.5.7) lets the next one map those classes
instead: its start takes about half the CPU (3.3 s -> 1.7 s for a History Server, measured here).

The first start of a kind dumps the archive when it exits (`-XX:ArchiveClassesAtExit`, into a file
of its own); once that JVM stopped cleanly, the file becomes the archive every later start maps
(`-XX:SharedArchiveFile`). An archive only ever makes a start faster: a JVM that finds it missing,
stale or made for another classpath ignores it (-Xshare:auto). That needs a classpath that is the
same in every environment: the jars, and no per-environment directory (such a directory also
forbids dumping). Archives live in the cache, per Java version and per set of jars (a
reinstalled Spark gets new archives instead of being refused the old ones for ever).
"""

import hashlib
import os
import time
import uuid
from pathlib import Path

from resources.settings import cache_dir

STALE_SECONDS = 24 * 3600  # a dump whose JVM never stopped cleanly (killed run) is removed then


def java_version(java_home: Path) -> str:
    """The JDK's exact version (its `release` file): an archive fits only the JVM that made it."""
    try:
        for line in (java_home / "release").read_text().splitlines():
            if line.startswith("JAVA_RUNTIME_VERSION=") or line.startswith("JAVA_VERSION="):
                return line.split("=", 1)[1].strip('"').replace("+", "_")
    except OSError:
        pass
    return "unknown"


def jars_fingerprint(classpath: list[Path]) -> str:
    """Which jars (name, size, mtime) of the classpath's jars and jar dirs: the JVM refuses an
    archive whose jars changed."""
    digest = hashlib.sha256()
    for entry in classpath:
        for jar in sorted(entry.glob("*.jar")) if entry.is_dir() else [entry]:
            stat = jar.stat()
            digest.update(f"{jar}:{stat.st_size}:{stat.st_mtime_ns};".encode())
    return digest.hexdigest()[:12]


class ClassArchive:
    """The archive of one kind of JVM (`key`, e.g. "spark-3.5.7-history") on these jars."""

    def __init__(self, java_home: Path, key: str, classpath: list[Path]):
        self.path = (cache_dir() / "cds" / java_version(java_home)
                     / f"{key}-{jars_fingerprint(classpath)}.jsa")
        self.dump: Path | None = None  # where this start dumps, when it is the one that does

    def flags(self) -> list[str]:
        """JVM flags for this start: map the archive, or (none yet) dump one at exit."""
        if self.dump is None and self.path.exists():
            return [f"-XX:SharedArchiveFile={self.path}"]
        if self.dump is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._forget_stale()
            self.dump = self.path.with_name(f"{self.path.stem}.{uuid.uuid4().hex[:8]}.dumping")
        # Quiet: a dump lists every class it skips (hundreds of lines in the component's log).
        return [f"-XX:ArchiveClassesAtExit={self.dump}", "-Xlog:cds=off", "-Xlog:cds+dynamic=off"]

    def keep(self, exited_cleanly: bool) -> None:
        """After the JVM that dumped has stopped: its dump becomes the archive, unless it was
        killed (a dump cut short is of no use)."""
        if self.dump is None:
            return
        dump, self.dump = self.dump, None
        try:
            if exited_cleanly and dump.stat().st_size > 0:
                os.replace(dump, self.path)  # atomic: a reader sees no archive or a whole one
            else:
                dump.unlink()
        except OSError:
            pass  # no dump written: the next start tries again

    def _forget_stale(self) -> None:
        for old in self.path.parent.glob(f"{self.path.stem}.*.dumping"):
            try:
                if time.time() - old.stat().st_mtime > STALE_SECONDS:
                    old.unlink()
            except OSError:
                pass
