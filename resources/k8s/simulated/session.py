"""`testbed cluster run -- <command>`: a simulated cluster for the length of one command.

Outside a loopback-only network namespace it re-runs itself inside a new one (resources.k8s.
simulated.netns), starts the cluster there, runs the command with KUBECONFIG (admin) and
TESTBED_RUNNER_KUBECONFIG (deploy/rbac.yaml's testbed-runner ServiceAccount) set, and stops
everything when the command ends: the namespace goes with its last process.
"""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from resources.k8s.simulated import build, netns
from resources.k8s.simulated.cluster import SimulatedCluster

RUNNER_KUBECONFIG = "TESTBED_RUNNER_KUBECONFIG"


def cluster_run(command: list[str]) -> int:
    if not command:
        print("testbed cluster run: give a command after --, e.g. testbed cluster run -- "
              "kubectl get nodes", file=sys.stderr)
        return 2
    if netns.not_isolated():
        # Built out here: inside the namespace there is no Go module proxy.
        build.ensure_built(log=lambda line: print(f"cluster: {line}", file=sys.stderr, flush=True))
        return netns.run_isolated([sys.executable, "-m", "pipelines.cli", "cluster", "run", "--",
                                   *command])
    with tempfile.TemporaryDirectory(prefix="testbed-cluster-") as root:
        with SimulatedCluster(Path(root)) as cluster:
            runner = cluster.service_account_kubeconfig()
            print(f"cluster: ready in {cluster.timings['ready']}s at {cluster.server} "
                  f"(loopback-only network namespace); KUBECONFIG={cluster.admin_kubeconfig}",
                  file=sys.stderr, flush=True)
            env = {**os.environ, "KUBECONFIG": str(cluster.admin_kubeconfig),
                   "TESTBED_KUBECONFIG": str(cluster.admin_kubeconfig),
                   RUNNER_KUBECONFIG: str(runner)}
            try:
                return subprocess.run(command, env=env).returncode
            except FileNotFoundError:
                print(f"testbed cluster run: no such command: {command[0]}", file=sys.stderr)
                return 127
