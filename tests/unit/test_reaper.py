"""The reaper's policy from persisted ledgers alone, against a platform that only records what it
is asked to destroy: no processes, no concrete platform."""

import time
from pathlib import Path

from resources.model.ledger import (
    DirectoryHandle,
    Handle,
    InProcessHandle,
    NamespaceHandle,
    ProcessHandle,
    TableHandle,
)
from resources.model.state import EnvironmentState
from resources.platforms import reaper


class Recorder:
    """All the reaper may use of a platform: its name, state dir, destroy and strays."""

    name = "fake"
    grace_seconds = 1.0

    def __init__(self, state_dir: Path, strays=(), fail: str | None = None):
        self.state_dir = state_dir
        self.destroyed: list[str] = []
        self._strays = list(strays)
        self.fail = fail

    def table_roots(self) -> list[Path]:
        return [self.state_dir / "delta-tables"]

    def destroy(self, handle: Handle, grace_seconds: float) -> str:
        if handle.describe() == self.fail:
            raise RuntimeError("API server unreachable")
        self.destroyed.append(handle.describe())
        if handle.kind == "directory":
            import shutil

            shutil.rmtree(handle.path, ignore_errors=True)
        return "stopped"

    def strays(self, known: set[str], now: float):
        return [(line, handle) for line, handle in self._strays]


def ledger(state_dir: Path, run_id: str, owner_gone: bool = True, **changes) -> EnvironmentState:
    state = EnvironmentState.new("fake", state_dir, run_id, 3600, False)
    if owner_gone:
        state.owner_pid, state.owner_pid_started = 2**22 + 17, 1.0
    state.handles = [ProcessHandle(name="postgres", pid=2**22 + 18, create_time=1.0),
                     NamespaceHandle(name="ns", namespace="testbed-x"),
                     InProcessHandle(name="cdc stream"),
                     TableHandle(name="test_1", path=str(state_dir / "delta-tables" / "test_1"))]
    for key, value in changes.items():
        setattr(state, key, value)
    state.save()
    return state


def test_an_abandoned_ledger_is_destroyed_newest_first_then_its_dir(tmp_path):
    state = ledger(tmp_path, "run-1")
    platform = Recorder(tmp_path)
    removed = reaper.sweep(platform)
    assert removed == [f"{state.env_id}: owner pid {2**22 + 17} on {state.owner_host} is gone"]
    assert platform.destroyed == [
        f"table {tmp_path}/delta-tables/test_1", "in_process cdc stream",
        "namespace testbed-x", f"process postgres (pid {2**22 + 18})",
        f"environment dir {state.path}"]
    assert not state.path.exists()


def test_a_live_fresh_environment_is_left_alone_and_its_tables_stay_claimed(tmp_path):
    ledger(tmp_path, "run-1", owner_gone=False)
    table = tmp_path / "delta-tables" / "test_1"
    (table / "_delta_log").mkdir(parents=True)
    platform = Recorder(tmp_path)
    assert reaper.sweep(platform, table_ttl_seconds=0) == []
    assert platform.destroyed == [] and table.exists()


def test_a_failed_destroy_stays_in_the_ledger_for_the_next_sweep(tmp_path):
    state = ledger(tmp_path, "run-1", created=time.time() - 7200)
    platform = Recorder(tmp_path, fail="namespace testbed-x")
    lines = reaper.remove(platform, state)
    assert "namespace testbed-x: failed: RuntimeError: API server unreachable" in lines
    # The rest went; env.json stays and says what is left, for the next sweep.
    left = EnvironmentState.load(state.path)
    assert [h.describe() for h in left.pending()[:-1]] == ["namespace testbed-x"]
    assert reaper.sweep(Recorder(tmp_path)) == [f"{state.env_id}: owner pid {2**22 + 17} on "
                                                f"{state.owner_host} is gone"]
    assert not state.path.exists()


def test_reap_run_takes_only_that_runs_environments_and_spares_a_kept_one(tmp_path):
    mine = ledger(tmp_path, "run-1", owner_gone=False)
    kept = ledger(tmp_path, "run-1", owner_gone=False, failed=True, keep_on_failure=True)
    other = ledger(tmp_path, "run-2", owner_gone=False)
    lines = reaper.reap_run(Recorder(tmp_path), "run-1")
    assert f"{mine.env_id}: removed, left by run run-1" in lines
    assert any(line.startswith(f"{kept.env_id}: kept for debugging") for line in lines)
    assert not mine.path.exists() and kept.path.exists() and other.path.exists()


def test_strays_the_platform_finds_are_destroyed_and_reported(tmp_path):
    stray = DirectoryHandle(name="env-gone", path=str(tmp_path / "envs" / "env-gone"))
    platform = Recorder(tmp_path, strays=[("processes [42] labelled env-gone: no environment "
                                           "records them", stray)])
    assert reaper.sweep(platform) == ["processes [42] labelled env-gone: no environment records "
                                      "them"]
    assert platform.destroyed == [stray.describe()]
