"""DAGSTER_HOME for `testbed` and `make ui`: the instance every run records into and the UI shows.

A dagster.yaml Testbed creates says `telemetry: enabled: false` (no usage statistics, and no
telemetry banner in `make demo`'s output); a dagster.yaml the user wrote is left as it is.

    python -m pipelines.home      # make ui and make demo: prepare it, print its path
"""

import os
from pathlib import Path

from resources.settings import dagster_home

DEFAULT_CONFIG = "# Written by Testbed (pipelines/home.py); edit freely, it is left alone then.\n" \
                 "telemetry:\n  enabled: false\n"


def prepare() -> Path:
    """DAGSTER_HOME exists with a dagster.yaml, and this process's environment points at it."""
    home = dagster_home()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists() or not config.read_text().strip():
        config.write_text(DEFAULT_CONFIG)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def instance():
    """The instance in DAGSTER_HOME. Use it as a context manager: its SQLite connections are closed
    in this thread, not finalized later in whichever thread the garbage collector happens to run."""
    from dagster import DagsterInstance

    prepare()
    return DagsterInstance.get()


if __name__ == "__main__":
    print(prepare())
