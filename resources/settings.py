"""Where Testbed keeps installed software (cache) and running environments (state)."""

import os
import sys
from pathlib import Path


def cache_dir() -> Path:
    """Installed Spark releases, built wheels, Maven jars. Survives between runs."""
    return Path(os.environ.get("TESTBED_CACHE", Path.home() / ".cache" / "testbed")).expanduser()


def state_dir() -> Path:
    """Running environments live under <state dir>/envs/<env id>/.

    Not under $HOME by default: as root, PostgreSQL runs as the `postgres` user and must be able
    to reach its data dir, which /root (mode 700) forbids.
    """
    default = Path("/var/tmp") / f"testbed-{os.getuid()}"
    return Path(os.environ.get("TESTBED_STATE_DIR", default)).expanduser()


def spark_home(version: str) -> Path:
    return cache_dir() / "spark" / version / "pyspark"


def job_python() -> str:
    """The interpreter Spark drivers and workers run: the base Python, not the orchestrator venv.

    The venv holds pyspark-client; classic pyspark comes from the release's own pyspark.zip, and
    one process can import only one `pyspark`.
    """
    return os.environ.get("TESTBED_JOB_PYTHON", getattr(sys, "_base_executable", sys.executable))


def dagster_home() -> Path:
    """The Dagster instance `testbed run` records into and `make ui` shows (DAGSTER_HOME)."""
    return Path(os.environ.get("DAGSTER_HOME", cache_dir() / "dagster")).expanduser()


def release_jars(release: str) -> Path:
    """Maven jars a release needs (e.g. Delta), resolved once by `make setup`, used offline."""
    return cache_dir() / "jars" / release


def ivy_dir(release: str) -> Path:
    """The release's own Ivy cache (spark.jars.ivy), so releases never share resolved jars."""
    return cache_dir() / "ivy" / release


def platform_name() -> str:
    """TESTBED_PLATFORM, else DEPLOY_TARGET (the seed's name for it), else local."""
    return os.environ.get("TESTBED_PLATFORM") or os.environ.get("DEPLOY_TARGET") or "local"
