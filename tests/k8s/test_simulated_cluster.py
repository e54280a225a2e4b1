"""The simulated-cluster tier from the ordinary session: `testbed cluster run` makes a
loopback-only network namespace, starts a real control plane with kwok nodes in it and runs
tests/k8s/simulated there; afterwards nothing of it runs. And the guards around it."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from resources.k8s.cluster import exit_code
from resources.k8s.simulated import netns
from resources.k8s.simulated.build import staging_replaces
from resources.k8s.simulated.cluster import SimulatedCluster
from resources.model.errors import ConfigError
from resources.probes import wait_until
from resources.processes import marked
from resources.settings import clusters_dir

ROOT = Path(__file__).resolve().parents[2]


def leftovers() -> list[str]:
    """Processes labelled with a simulated cluster's dir, and cluster dirs on the host."""
    root = clusters_dir()
    found = []
    for process in marked(str(root), under=True):
        try:
            found.append(f"process {process.pid} {process.name()}")
        except psutil.NoSuchProcess:
            continue  # it ended between the listing and now
    return found + [f"dir {d}" for d in root.glob("testbed-cluster-*")]


def test_the_simulated_tier_passes_in_its_own_network_namespace(tmp_path):
    assert leftovers() == []
    command = [sys.executable, "-m", "pipelines.cli", "cluster", "run", "--", sys.executable,
               "-m", "pytest", "tests/k8s/simulated", "-q", "-p", "no:cacheprovider", "-x",
               "--timeout=600", f"--basetemp={tmp_path / 'inner'}"]
    with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, start_new_session=True) as process:
        try:
            stdout, stderr = process.communicate(timeout=840)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # unshare: the namespace goes with it
            raise
    print(stdout[-6000:], stderr[-3000:])
    assert process.returncode == 0, f"simulated tier failed:\n{stdout[-4000:]}\n{stderr[-2000:]}"
    assert " passed" in stdout and "failed" not in stdout.splitlines()[-1]
    # Everything it started is gone: no process, no cluster directory (certs, etcd data).
    assert leftovers() == []


def test_kill_9_of_cluster_run_leaves_no_process_and_no_file():
    """The command runs as PID 1 of its own PID namespace under unshare --kill-child, and the
    cluster's files are on that namespace's tmpfs: a SIGKILL takes all of it."""
    assert leftovers() == []
    process = subprocess.Popen([sys.executable, "-m", "pipelines.cli", "cluster", "run", "--",
                                "sleep", "120"], cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: any("kwok" in item for item in leftovers()), 120, 0.5)
        assert any("kube-apiserver" in item for item in leftovers())
    finally:
        process.kill()
        process.wait(10)
    wait_until(lambda: not leftovers(), 20, 0.2)
    assert leftovers() == []


def test_the_cluster_refuses_to_start_where_fake_addresses_could_leave_the_machine(tmp_path):
    if not netns.not_isolated():
        pytest.skip("this session already runs in a loopback-only network namespace")
    with pytest.raises(ConfigError, match="loopback-only network namespace.*testbed cluster run"):
        SimulatedCluster(tmp_path).start()
    assert not any(tmp_path.iterdir())


def test_exec_status_says_how_the_command_ended():
    assert exit_code("status: Success\n") == 0
    assert exit_code('{"status": "Failure", "reason": "NonZeroExitCode", "details": {"causes": '
                     '[{"reason": "ExitCode", "message": "2"}]}}') == 2
    # The exec itself failed (no such container): no exit code, never a success.
    assert exit_code('{"status": "Failure", "message": "container not found"}') == -1
    assert exit_code("") == -1


def test_the_control_plane_build_takes_kubernetes_own_staging_list():
    gomod = ("module k8s.io/kubernetes\n\nreplace (\n\tk8s.io/api => ./staging/src/k8s.io/api\n"
             "\tk8s.io/client-go => ./staging/src/k8s.io/client-go\n"
             "\tgithub.com/x/y => github.com/x/y v1.0.0\n)\n")
    assert staging_replaces(gomod, "1.34.4") == ["k8s.io/api => k8s.io/api v0.34.4",
                                                 "k8s.io/client-go => k8s.io/client-go v0.34.4"]


def test_a_build_lands_in_the_cache_whole(tmp_path):
    from resources.k8s.simulated.build import _install

    staging = tmp_path / "staging"
    staging.mkdir()
    (staging / "kwok").write_text("binary")
    target = tmp_path / "cache" / "tools" / "kwok-0.8.0"
    target.mkdir(parents=True)
    (target / "stale").write_text("old build")
    _install(staging, target)
    assert sorted(p.name for p in target.iterdir()) == ["kwok"]
    assert sorted(p.name for p in target.parent.iterdir()) == ["kwok-0.8.0"]


def test_cluster_run_names_a_missing_tool_before_anything_starts(monkeypatch):
    from resources.k8s.simulated import session

    if not netns.not_isolated():
        pytest.skip("this session already runs in a loopback-only network namespace")
    monkeypatch.setattr(session.shutil, "which", lambda tool: None if tool == "ip" else tool)
    with pytest.raises(ConfigError, match="needs ip .*apt-get install util-linux iproute2"):
        session.cluster_run(["true"])
    assert leftovers() == []
