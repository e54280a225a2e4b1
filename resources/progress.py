"""Progress events of a run, as log records of the `testbed.progress` logger: a release deploying,
a service starting, ready or failed, a job running, a check's result, the teardown. Emitting costs
nothing when nobody listens; `testbed run` listens and draws them (pipelines/progress.py)."""

import logging
import time

LOGGER = logging.getLogger("testbed.progress")
LOGGER.propagate = False  # for whoever listens, not for the root logger's output
LOGGER.setLevel(logging.INFO)


def emit(kind: str, name: str, state: str, **fields) -> None:
    """kind: release | service | job | check | teardown; state: e.g. starting, ready, failed."""
    if LOGGER.handlers:
        LOGGER.info("%s %s %s", kind, name, state, extra={"testbed": {
            "kind": kind, "name": name, "state": state, "at": time.time(), **fields}})
