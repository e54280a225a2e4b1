"""Process lifecycle with real child processes: fail fast with the log tail, stop the whole group."""

import sys
import time

import psutil
import pytest

from resources.probes import LogContains, TcpOpen
from resources.processes import ComponentStartError, ProcessSpec, kill_recorded, start


def spec(tmp_path, code: str, name="svc") -> ProcessSpec:
    return ProcessSpec(name=name, argv=[sys.executable, "-u", "-c", code],
                       log_file=tmp_path / f"{name}.log", cwd=tmp_path)


@pytest.mark.parametrize("code", [0, 3])
def test_child_that_exits_fails_fast_with_its_last_log_lines(tmp_path, code):
    began = time.monotonic()
    with pytest.raises(ComponentStartError) as err:
        start(spec(tmp_path, f"print('metastore: cannot bind'); raise SystemExit({code})"),
              TcpOpen("127.0.0.1", 1), timeout=30)
    assert time.monotonic() - began < 10  # not the 30 s timeout
    assert f"svc exited with code {code} before it was ready" in str(err.value)
    assert "metastore: cannot bind" in str(err.value)


def test_timeout_names_the_probe_and_kills_the_child(tmp_path):
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    with pytest.raises(ComponentStartError) as err:
        start(spec(tmp_path, "import time; print('still booting', flush=True); time.sleep(60)"),
              TcpOpen("127.0.0.1", 1), timeout=1.5)
    message = str(err.value)
    assert "was not ready within 2s (waited for: tcp 127.0.0.1:1 accepts connections)" in message
    assert "still booting" in message
    assert not [p for p in psutil.Process().children(recursive=True)
                if p.pid not in before and p.status() != "zombie"]


def test_stop_takes_the_whole_group_and_is_idempotent(tmp_path):
    code = ("import subprocess, sys, time; "
            "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)']); "
            "print('ready', flush=True); time.sleep(120)")
    process = start(spec(tmp_path, code), LogContains(tmp_path / "svc.log", "ready"), timeout=20)
    time.sleep(0.3)
    family = [psutil.Process(process.pid), *psutil.Process(process.pid).children(recursive=True)]
    assert len(family) == 2
    process.stop(grace_seconds=5)
    process.stop(grace_seconds=5)
    assert not [p for p in family if p.is_running() and p.status() != "zombie"]


def test_stop_escalates_to_sigkill_after_the_grace_period(tmp_path):
    code = ("import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            "print('ready', flush=True); time.sleep(120)")
    process = start(spec(tmp_path, code), LogContains(tmp_path / "svc.log", "ready"), timeout=20)
    pid = process.pid
    began = time.monotonic()
    process.stop(grace_seconds=1)
    assert time.monotonic() - began < 8
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie"


def test_kill_recorded_ignores_a_recycled_pid(tmp_path):
    process = start(spec(tmp_path, "import time; print('ready', flush=True); time.sleep(120)"),
                    LogContains(tmp_path / "svc.log", "ready"), timeout=20)
    try:
        assert kill_recorded(process.pid, process.create_time - 1000) is False
        assert process.running()
        assert kill_recorded(process.pid, process.create_time, grace_seconds=5) is True
        process.executor.process.wait(5)
        assert not process.running()
    finally:
        process.stop(1)


def test_a_server_answers_sigterm_even_when_this_process_ignores_it(tmp_path):
    """A background shell job starts with SIGINT ignored and Dagster copies that to SIGTERM; an
    ignored disposition is inherited across exec. Servers must still stop at SIGTERM, not at the
    SIGKILL after the grace period."""
    import signal

    saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    for s in saved:
        signal.signal(s, signal.SIG_IGN)
    try:
        process = start(spec(tmp_path, "import time; print('ready', flush=True); time.sleep(120)"),
                        LogContains(tmp_path / "svc.log", "ready"), timeout=20)
    finally:
        for s, handler in saved.items():
            signal.signal(s, handler)
    ignored = int(next(line for line in open(f"/proc/{process.pid}/status")
                       if line.startswith("SigIgn")).split()[1], 16)
    assert not ignored & (1 << (signal.SIGTERM - 1)), "the server inherited SIGTERM ignored"
    began = time.monotonic()
    process.stop(grace_seconds=30)
    assert time.monotonic() - began < 10, "stopped by SIGKILL after the grace, not by SIGTERM"
