"""A run killed with SIGKILL (no teardown of any layer runs in it) while its releases start, or
while it tears down, then `testbed sweep`: nothing of that environment remains. Every process is
in the ledger from the moment it is spawned and carries its env dir as a label, so the reaper finds
it from env.json, or by the label when env.json never got to say."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from resources.probes import TcpOpen, wait_for
from resources.processes import listening_ports, marked
from tests.conftest import LeakWatch

pytestmark = [pytest.mark.spark, pytest.mark.e2e]

TESTBED = str(Path(sys.executable).parent / "testbed")
COMPONENTS = ("-metastore", "-history", "-master", "-worker", "-connect")


def start_run(state_dir: Path, tmp_path: Path, job: str) -> subprocess.Popen:
    env = {**os.environ, "TESTBED_STATE_DIR": str(state_dir),
           "DAGSTER_HOME": str(tmp_path / "dagster_home")}
    log = open(tmp_path / "run.log", "wb")
    return subprocess.Popen([TESTBED, "run", job], env=env, stdout=log, stderr=subprocess.STDOUT)


def ledger(state_dir: Path) -> list[dict]:
    """The handles env.json lists right now (it is replaced atomically: never half written)."""
    for path in (state_dir / "envs").glob("env-*/env.json"):
        try:
            return json.loads(path.read_text())["handles"]
        except (OSError, ValueError):
            return []
    return []


def kill9_when(run: subprocess.Popen, state_dir: Path, moment, timeout: float) -> list[dict]:
    handles = wait_for(lambda: ledger(state_dir), moment, timeout, interval=0.02)
    assert moment(handles), f"the run never got there (ledger: {handles})"
    os.kill(run.pid, signal.SIGKILL)
    run.wait()
    return ledger(state_dir)


def sweep(state_dir: Path) -> str:
    done = subprocess.run([TESTBED, "sweep"], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "TESTBED_STATE_DIR": str(state_dir)})
    assert done.returncode == 0, done.stderr
    return done.stdout


def orphans(state_dir: Path) -> tuple[list[psutil.Process], dict[int, int]]:
    """What the killed run left running (its children left our tree with it) and their ports."""
    left = marked(str(state_dir), under=True)
    return left, listening_ports({p.pid for p in left})


def test_kill9_while_releases_start_then_sweep_leaves_nothing(state_dir, tmp_path,
                                                              releases_installed):
    watch = LeakWatch(state_dir)
    run = start_run(state_dir, tmp_path, "coexistence")

    def starting(handles: list[dict]) -> bool:
        return any(h["kind"] == "process" and h["name"].endswith(COMPONENTS) for h in handles)

    handles = kill9_when(run, state_dir, starting, timeout=180)
    spawned = [h["name"] for h in handles if h["kind"] == "process"]
    assert len(spawned) < 9, f"killed too late, everything had started: {spawned}"
    left, ports = orphans(state_dir)
    assert left, "the killed run should have left its servers running"
    out = sweep(state_dir)
    assert "owner pid" in out and "is gone" in out, out
    assert watch.leaks() == []
    assert not [port for port in ports if TcpOpen("127.0.0.1", port)()]
    assert not [p.pid for p in left if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


def test_kill9_during_teardown_then_sweep_leaves_nothing(state_dir, tmp_path, releases_installed):
    watch = LeakWatch(state_dir)
    run = start_run(state_dir, tmp_path, "coexistence")

    def tearing_down(handles: list[dict]) -> bool:
        return any(h["done"] for h in handles)

    handles = kill9_when(run, state_dir, tearing_down, timeout=300)
    assert [h for h in handles if not h["done"]], "killed too late: teardown had finished"
    left, ports = orphans(state_dir)
    out = sweep(state_dir)
    assert "is gone" in out, out
    assert watch.leaks() == []
    assert not [port for port in ports if TcpOpen("127.0.0.1", port)()]
    assert not [p.pid for p in left if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
