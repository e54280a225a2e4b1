"""`testbed cluster run -- <command>`: a simulated cluster for the length of one command.

Outside a loopback-only network namespace it becomes (exec) `unshare` running itself inside new
network, PID and mount namespaces (resources.k8s.simulated.netns), starts the cluster there (its
files on a tmpfs of that mount namespace), runs the command with KUBECONFIG (admin) and
TESTBED_RUNNER_KUBECONFIG (deploy/rbac.yaml's testbed-runner ServiceAccount) set, and stops
everything when the command ends: the namespace goes with its last process.
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from resources.k8s.simulated import build, netns
from resources.k8s.simulated.cluster import SimulatedCluster
from resources.model.errors import ConfigError
from resources.settings import clusters_dir

RUNNER_KUBECONFIG = "TESTBED_RUNNER_KUBECONFIG"


def _stop(signum, _frame) -> None:
    raise SystemExit(128 + signum)


def cluster_run(command: list[str]) -> int:
    if not command:
        print("testbed cluster run: give a command after --, e.g. testbed cluster run -- "
              "kubectl get nodes", file=sys.stderr)
        return 2
    if netns.not_isolated():
        missing = [tool for tool in ("unshare", "ip") if not shutil.which(tool)]
        if missing:
            raise ConfigError(f"testbed cluster run needs {' and '.join(missing)} to make its "
                              f"network namespace: apt-get install util-linux iproute2")
        # Built out here: inside the namespace there is no Go module proxy.
        build.ensure_built(log=lambda line: print(f"cluster: {line}", file=sys.stderr, flush=True))
        clusters_dir().mkdir(parents=True, exist_ok=True)
        # exec, not a child: whoever kills this process kills unshare, and with it the namespace
        # and everything in it.
        argv = netns.isolated_argv([sys.executable, "-m", "pipelines.cli", "cluster", "run", "--",
                                    *command], tmpfs=clusters_dir())
        os.execvp(argv[0], argv)
    # PID 1 of its namespace: a SIGTERM is ignored unless handled. Handled, it unwinds the
    # `with` blocks below, which stop the cluster and remove its directory.
    signal.signal(signal.SIGTERM, _stop)
    clusters_dir().mkdir(parents=True, exist_ok=True)  # already a tmpfs when we made the namespace
    with tempfile.TemporaryDirectory(prefix="testbed-cluster-", dir=clusters_dir()) as root:
        with SimulatedCluster(Path(root)) as cluster:
            runner = cluster.service_account_kubeconfig()
            print(f"cluster: ready in {cluster.timings['ready']}s at {cluster.server} "
                  f"(loopback-only network namespace); KUBECONFIG={cluster.admin_kubeconfig}",
                  file=sys.stderr, flush=True)
            env = {**os.environ, "KUBECONFIG": str(cluster.admin_kubeconfig),
                   "TESTBED_KUBECONFIG": str(cluster.admin_kubeconfig),
                   RUNNER_KUBECONFIG: str(runner)}
            try:
                with subprocess.Popen(command, env=env) as child:
                    try:
                        return child.wait()
                    except SystemExit:
                        child.terminate()  # our SIGTERM: pass it on, then stop the cluster
                        child.wait(30)
                        raise
            except FileNotFoundError:
                print(f"testbed cluster run: no such command: {command[0]}", file=sys.stderr)
                return 127
