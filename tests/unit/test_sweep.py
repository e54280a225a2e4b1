"""The reaper removes environments whose owner is gone or whose TTL expired, and nothing else."""

import os
import subprocess
import sys
import time

import psutil

from resources.model.ledger import ProcessHandle, TableHandle
from resources.model.state import EnvironmentState
from resources.platforms.local import LocalPlatform


def make_state(platform, run_id, owner_pid=None, created=None, ttl=3600, handles=()):
    state = EnvironmentState.new("local", platform.state_dir, run_id, ttl, False)
    if owner_pid is not None:
        state.owner_pid = owner_pid
        state.owner_pid_started = psutil.Process(owner_pid).create_time() if psutil.pid_exists(owner_pid) else 1.0
    if created is not None:
        state.created = created
    state.handles = list(handles)
    state.save()
    (state.path / "spark-3.5").mkdir()
    return state


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_sweep_removes_orphaned_and_expired_keeps_live(state_dir):
    platform = LocalPlatform(state_dir)
    live = make_state(platform, "live")
    orphan = make_state(platform, "orphan", owner_pid=dead_pid())
    expired = make_state(platform, "expired", created=time.time() - 7200, ttl=3600)
    removed = platform.sweep()
    assert live.path.exists()
    assert not orphan.path.exists() and not expired.path.exists()
    assert any(orphan.env_id in line and "is gone" in line for line in removed)
    assert any(expired.env_id in line and "TTL 3600s expired" in line for line in removed)


def test_sweep_stops_the_processes_an_orphaned_environment_left(state_dir):
    platform = LocalPlatform(state_dir)
    server = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"],
                              start_new_session=True)
    try:
        handle = ProcessHandle(owner="spark-3.5", name="spark-3.5-master", pid=server.pid,
                               create_time=psutil.Process(server.pid).create_time())
        orphan = make_state(platform, "orphan", owner_pid=dead_pid(), handles=[handle])
        platform.sweep()
        assert server.wait(timeout=15) is not None
        assert not orphan.path.exists()
    finally:
        server.kill()
        server.wait()


def test_sweep_removes_unclaimed_old_tables_and_keeps_claimed_or_young(state_dir):
    platform = LocalPlatform(state_dir)
    root = platform.tables_root
    old, young, claimed = (root / "test_0ld00000", root / "test_y0ung000", root / "test_c1a1med0")
    for table in (old, young, claimed):
        (table / "_delta_log").mkdir(parents=True)
    live = make_state(platform, "live")
    live.handles.append(TableHandle(name=claimed.name, path=str(claimed)))
    live.save()
    two_days_ago = time.time() - 48 * 3600
    for table in (old, claimed):
        os.utime(table, (two_days_ago, two_days_ago))
    removed = platform.sweep(table_ttl_seconds=24 * 3600)
    assert not old.exists() and young.exists() and claimed.exists()
    assert any("table test_0ld00000: unclaimed" in line for line in removed)


def test_sweep_removes_the_tables_of_an_orphaned_environment(state_dir):
    platform = LocalPlatform(state_dir)
    table = platform.tables_root / "test_abcdef12"
    (table / "_delta_log").mkdir(parents=True)
    orphan = make_state(platform, "orphan", owner_pid=dead_pid())
    orphan.handles.append(TableHandle(name=table.name, path=str(table)))
    orphan.save()
    platform.sweep()
    assert not table.exists() and not orphan.path.exists()


def test_sweep_removes_unclaimed_old_prefixes_in_an_object_store_s_tables_bucket(state_dir):
    """With storage s3 a table is a prefix of the environment's store, a directory of its data
    dir (versitygw's posix backend): the sweep treats it like the tables dir."""
    platform = LocalPlatform(state_dir)
    live = make_state(platform, "live")
    bucket = live.path / "s3" / "data" / "tables"
    old, claimed = bucket / "test_0ld00000", bucket / "test_c1a1med0"
    for table in (old, claimed):
        (table / "_delta_log").mkdir(parents=True)
        os.utime(table, (time.time() - 48 * 3600,) * 2)
    live.handles.append(TableHandle(name=claimed.name, path=str(claimed)))
    live.save()
    assert bucket in platform.table_roots()
    removed = platform.sweep(table_ttl_seconds=24 * 3600)
    assert not old.exists() and claimed.exists() and live.path.exists()
    assert any("table test_0ld00000: unclaimed" in line for line in removed)
