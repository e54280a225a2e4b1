"""The leak check judges only what the run under test started (its process tree, the processes
labelled with its env dirs, the ports those hold), so another program's server on the same machine
is not a leak, while a process or port the run left behind still is. And teardown finds, by their
label, processes of the environment that its ledger never recorded."""

import os
import signal
import subprocess
import sys

import psutil
import pytest

from resources.platforms.environment import Environment
from resources.platforms.local import LocalPlatform
from resources.ports import free_port
from resources.probes import TcpOpen, wait_until
from resources.processes import MARKER
from resources.services.postgres import PostgresServer
from resources.services.webhook import WebhookReceiver
from tests.conftest import LeakWatch

LISTEN = ("import socket, time; s = socket.socket(); s.bind(('127.0.0.1', {port})); s.listen(); "
          "time.sleep(120)")


def listener(port: int, detached: bool, env: dict | None = None) -> int:
    """A process listening on port: our child, or detached (`setsid -f`: its parent exits at once,
    so it belongs to nobody's tree, like a program someone else started). Returns its pid."""
    code = [sys.executable, "-c", LISTEN.format(port=port)]
    full_env = {**os.environ, **(env or {})}
    if detached:
        subprocess.run(["setsid", "-f", *code], check=True, env=full_env)
    else:
        subprocess.Popen(code, env=full_env, start_new_session=True)
    assert wait_until(TcpOpen("127.0.0.1", port), timeout=15)
    return next(c.pid for c in psutil.net_connections(kind="inet")
                if c.status == psutil.CONN_LISTEN and c.laddr.port == port)


@pytest.fixture
def cleanup():
    pids: list[int] = []
    yield pids
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.fixture
def env(state_dir):
    """A small real run: an environment with its PostgreSQL."""
    environment = Environment.create(LocalPlatform(state_dir), run_id="leak-check")
    environment.start(PostgresServer(environment.path / "postgres"))
    return environment


def test_another_programs_server_during_a_run_is_not_a_leak(state_dir, cleanup):
    watch = LeakWatch(state_dir)
    env = Environment.create(LocalPlatform(state_dir), run_id="leak-check")
    env.start(PostgresServer(env.path / "postgres"))
    pid = listener(free_port(), detached=True)  # started while the run runs
    cleanup.append(pid)
    assert psutil.Process(pid).ppid() != os.getpid()
    report = env.teardown()
    assert report.leftovers == []
    assert watch.leaks() == []


def test_a_process_the_run_left_is_caught_with_its_port(state_dir, env, cleanup):
    watch = LeakWatch(state_dir)
    port = free_port()
    pid = listener(port, detached=False)  # the run started it and never recorded it
    cleanup.append(pid)
    env.teardown()
    leaks = watch.leaks()
    assert any(leak.startswith(f"process {pid} ") for leak in leaks), leaks
    assert f"listening 127.0.0.1:{port} (pid {pid})" in leaks


def test_a_server_left_open_in_this_process_is_caught(state_dir):
    watch = LeakWatch(state_dir)
    receiver = WebhookReceiver()
    try:
        assert f"listening 127.0.0.1:{receiver.port} (pid {os.getpid()})" in watch.leaks()
    finally:
        receiver.close()
    assert watch.leaks() == []


def test_a_labelled_process_outside_our_tree_is_caught(state_dir, cleanup):
    watch = LeakWatch(state_dir)
    label = {MARKER: str(state_dir / "envs" / "env-0123456789")}
    pid = listener(free_port(), detached=True, env=label)
    cleanup.append(pid)
    assert any(leak.startswith(f"process {pid} ") for leak in watch.leaks())


def test_teardown_stops_what_the_ledger_never_recorded_by_its_label(state_dir, env, cleanup):
    """A process of the environment that left our tree before anything wrote it down (a run killed
    between spawn and record, a daemon that double-forked): the env dir's label finds it."""
    watch = LeakWatch(state_dir)
    pid = listener(free_port(), detached=True, env={MARKER: str(env.path)})
    cleanup.append(pid)
    report = env.teardown()
    assert report.leftovers == []
    last = report.entries[-1]
    assert last.what == f"environment dir {env.path}" and f"(pid {pid})" in last.result
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert watch.leaks() == []
