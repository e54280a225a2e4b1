"""A real Kubernetes control plane on loopback with simulated nodes: etcd, kube-apiserver (RBAC
on), kube-controller-manager, kube-scheduler and kwok, started in that order, stopped in reverse.

Pods are scheduled to a kwok node and reported Ready or Completed, but no container runs: what
needs a process inside a pod (exec, logs, the service proxy) has nothing behind it, and the pod and
service addresses are fake. So the cluster starts only inside a network namespace that has nothing
but loopback (`testbed cluster run`, resources.k8s.simulated.netns): a dial to a fake address fails
there at once and never leaves the machine.

Every process is stopped the moment its start is registered (an ExitStack, run in reverse), also
when a later one fails to start; `leftovers()` says what of it still runs.
"""

import base64
import contextlib
import time
from pathlib import Path

import yaml
from kubernetes import client, config, utils

from resources.k8s.simulated import build, netns
from resources.k8s.simulated.certs import Authority, Pair
from resources.model.errors import ConfigError
from resources.ports import HOST, free_port
from resources.probes import HttpOk, Probe, TcpOpen, wait_for
from resources.processes import MARKER, ManagedProcess, ProcessSpec, start

FAKE_NODE = "kwok.x-k8s.io/node"
NODE_NAME = "kwok-node-0"
SERVICE_CIDR = "10.96.0.0/16"
POD_CIDR = "10.244.0.1/24"
PERSISTENT_VOLUMES = 24  # no provisioner: PVCs bind only to volumes made here (2 per environment)
RBAC = Path(__file__).resolve().parents[3] / "deploy" / "rbac.yaml"
RUNNER = ("dagster", "testbed-runner")  # namespace and name of deploy/rbac.yaml's ServiceAccount


def kubeconfig(path: Path, server: str, ca: Path, user: str, pair: Pair | None = None,
               token: str | None = None) -> Path:
    """A kubeconfig with everything embedded (a client cert, or a bearer token)."""
    def b64(p: Path) -> str:
        return base64.b64encode(p.read_bytes()).decode()

    credentials = {"token": token} if token else {
        "client-certificate-data": b64(pair.cert), "client-key-data": b64(pair.key)}
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": user,
        "clusters": [{"name": "simulated", "cluster": {
            "server": server, "certificate-authority-data": b64(ca)}}],
        "users": [{"name": user, "user": credentials}],
        "contexts": [{"name": user, "context": {"cluster": "simulated", "user": user}}]}))
    path.chmod(0o600)
    return path


class SimulatedCluster:
    """Use as a context manager: `with SimulatedCluster(root) as cluster: cluster.admin_kubeconfig`."""

    def __init__(self, root: Path, ready_timeout: float = 120.0):
        self.root = root
        self.ready_timeout = ready_timeout
        self.processes: list[ManagedProcess] = []
        self.timings: dict[str, float] = {}
        self._stack = contextlib.ExitStack()
        self.server = ""
        self.admin_kubeconfig = root / "admin.kubeconfig"

    # --- start -------------------------------------------------------------------------------

    def __enter__(self) -> "SimulatedCluster":
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        problem = netns.not_isolated()
        if problem:
            raise ConfigError(f"the simulated cluster starts only in a loopback-only network "
                              f"namespace ({problem}): pod and service addresses are fake and "
                              f"must not be dialled from here; run it under `testbed cluster run "
                              f"-- <command>`")
        if build.missing():
            raise ConfigError(f"the simulated cluster's binaries are not built "
                              f"({', '.join(build.missing())}): run `testbed cluster build` "
                              f"(the Go module proxy is not reachable from inside the namespace)")
        binaries = build.binaries()
        began = time.monotonic()
        self.root.mkdir(parents=True, exist_ok=True)
        pki = Authority(self.root / "pki")
        ca_key = pki.directory / "ca.key"
        pki.write_ca_key(ca_key)
        serving = pki.issue("apiserver", "kube-apiserver", server=True,
                            dns=("localhost", "kubernetes", "kubernetes.default",
                                 "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"),
                            ips=(HOST, "10.96.0.1"))
        accounts = pki.signing_key("service-accounts")
        etcd_port, etcd_peer, api_port = free_port(), free_port(), free_port()
        self.server = f"https://{HOST}:{api_port}"

        self._start("etcd", [
            str(binaries["etcd"]), "--name", "simulated", "--data-dir", str(self.root / "etcd"),
            "--listen-client-urls", f"http://{HOST}:{etcd_port}",
            "--advertise-client-urls", f"http://{HOST}:{etcd_port}",
            "--listen-peer-urls", f"http://{HOST}:{etcd_peer}",
            "--initial-advertise-peer-urls", f"http://{HOST}:{etcd_peer}",
            "--initial-cluster", f"simulated=http://{HOST}:{etcd_peer}",
            "--unsafe-no-fsync", "--log-level", "warn"],
            HttpOk(f"http://{HOST}:{etcd_port}/health"))
        self._start("kube-apiserver", [
            str(binaries["kube-apiserver"]), f"--etcd-servers=http://{HOST}:{etcd_port}",
            f"--bind-address={HOST}", f"--advertise-address={HOST}", f"--secure-port={api_port}",
            "--endpoint-reconciler-type=none",  # a loopback address is no valid endpoint
            f"--tls-cert-file={serving.cert}", f"--tls-private-key-file={serving.key}",
            f"--client-ca-file={pki.cert}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={accounts.cert}",
            f"--service-account-signing-key-file={accounts.key}",
            f"--service-cluster-ip-range={SERVICE_CIDR}", "--authorization-mode=Node,RBAC",
            "--allow-privileged=true", "--profiling=false"],
            HttpOk(f"{self.server}/readyz", ca=str(pki.cert)))
        kubeconfig(self.admin_kubeconfig, self.server, pki.cert, "admin",
                   pki.issue("admin", "testbed-admin", org="system:masters"))
        for name in ("kube-controller-manager", "kube-scheduler"):
            user = kubeconfig(self.root / f"{name}.kubeconfig", self.server, pki.cert, name,
                              pki.issue(name, f"system:{name}"))
            port = free_port()
            extra = [f"--root-ca-file={pki.cert}", f"--service-account-private-key-file={accounts.key}",
                     "--use-service-account-credentials=true",
                     f"--cluster-signing-cert-file={pki.cert}",
                     f"--cluster-signing-key-file={ca_key}",
                     # The PVC binder's resync: a StatefulSet's claim otherwise waits up to 15 s
                     # for its (pre-made) volume when the first bind attempt raced the claim.
                     "--pvclaimbinder-sync-period=2s"] \
                if name == "kube-controller-manager" else []
            self._start(name, [
                str(binaries[name]), f"--kubeconfig={user}",
                f"--authentication-kubeconfig={user}", f"--authorization-kubeconfig={user}",
                f"--bind-address={HOST}", f"--secure-port={port}", "--leader-elect=false",
                *extra], TcpOpen(HOST, port))
        kwok_user = kubeconfig(self.root / "kwok.kubeconfig", self.server, pki.cert, "kwok",
                               pki.issue("kwok", "kwok-controller", org="system:masters"))
        self._start("kwok", [
            str(binaries["kwok"]), f"--kubeconfig={kwok_user}",
            *(f"--config={stage}" for stage in build.stage_files()),
            "--manage-all-nodes=false",
            f"--manage-nodes-with-annotation-selector={FAKE_NODE}=fake",
            "--node-port=0",  # no kubelet-like server: kwok must not answer exec or logs
            f"--cidr={POD_CIDR}", f"--node-ip={POD_CIDR.split('/')[0]}"], None)
        self.api = config.new_client_from_config(str(self.admin_kubeconfig))
        self._add_node()
        self._add_volumes()
        self.timings["ready"] = round(time.monotonic() - began, 2)

    def _start(self, name: str, argv: list[str], probe: Probe | None) -> None:
        started = time.monotonic()
        # Labelled with the cluster's dir, like an environment's children: found by that label
        # alone if whatever started them died (resources.processes.marked).
        spec = ProcessSpec(name=name, argv=argv, log_file=self.root / "logs" / f"{name}.log",
                           cwd=self.root, env={MARKER: str(self.root)})
        process = start(spec, probe or _Alive(), timeout=self.ready_timeout,
                        on_spawn=lambda p: self._stack.callback(self._stop_one, p))
        self.processes.append(process)
        self.timings[name] = round(time.monotonic() - started, 2)

    def _stop_one(self, process: ManagedProcess) -> None:
        process.stop(grace_seconds=10)

    def _add_node(self) -> None:
        core = client.CoreV1Api(self.api)
        core.create_node({"apiVersion": "v1", "kind": "Node", "metadata": {
            "name": NODE_NAME, "annotations": {FAKE_NODE: "fake"},
            "labels": {"type": "kwok", "kubernetes.io/hostname": NODE_NAME,
                       "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64"}},
            "status": {"allocatable": {"cpu": "32", "memory": "256Gi", "pods": "110"},
                       "capacity": {"cpu": "32", "memory": "256Gi", "pods": "110"}}})

        def ready() -> bool:
            node = core.read_node(NODE_NAME)
            return any(c.type == "Ready" and c.status == "True"
                       for c in node.status.conditions or [])

        started = time.monotonic()
        if not wait_for(ready, bool, self.ready_timeout, 0.2):
            raise ConfigError(f"kwok did not make node {NODE_NAME} Ready within "
                              f"{self.ready_timeout:.0f}s (log {self.root / 'logs' / 'kwok.log'})")
        self.timings["node Ready"] = round(time.monotonic() - started, 2)

    def _add_volumes(self) -> None:
        core = client.CoreV1Api(self.api)
        for i in range(PERSISTENT_VOLUMES):
            core.create_persistent_volume({"apiVersion": "v1", "kind": "PersistentVolume",
                "metadata": {"name": f"simulated-{i:02d}", "labels": {"testbed.io/simulated": "1"}},
                "spec": {"capacity": {"storage": "100Gi"}, "accessModes": ["ReadWriteOnce"],
                         "persistentVolumeReclaimPolicy": "Retain", "storageClassName": "",
                         "hostPath": {"path": str(self.root / "volumes" / f"{i:02d}")}}})

    # --- accounts ------------------------------------------------------------------------------

    def service_account_kubeconfig(self, rbac: Path = RBAC, name: str = "runner") -> Path:
        return account_kubeconfig(self.admin_kubeconfig,
                                  [d for d in yaml.safe_load_all(rbac.read_text()) if d],
                                  self.root / f"{name}.kubeconfig")

    # --- stop ----------------------------------------------------------------------------------

    def stop(self) -> None:
        self._stack.close()

    def leftovers(self) -> list[str]:
        return [f"{p.spec.name} (pid {p.pid})" for p in self.processes if p.running()]


def account_kubeconfig(admin_kubeconfig: Path, documents: list[dict], path: Path) -> Path:
    """Create RBAC documents (deploy/rbac.yaml's by default: a ServiceAccount and what it may do)
    as the admin, and write a kubeconfig holding a token of that ServiceAccount."""
    api = config.new_client_from_config(str(admin_kubeconfig))
    account = next(d for d in documents if d["kind"] == "ServiceAccount")
    namespace = account["metadata"]["namespace"]
    core = client.CoreV1Api(api)
    with contextlib.suppress(client.ApiException):  # already there
        core.create_namespace({"apiVersion": "v1", "kind": "Namespace",
                               "metadata": {"name": namespace}})
    for document in documents:
        utils.create_from_dict(api, document)
    token = core.create_namespaced_service_account_token(
        account["metadata"]["name"], namespace,
        {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
         "spec": {"expirationSeconds": 7200}}).status.token
    admin = yaml.safe_load(admin_kubeconfig.read_text())["clusters"][0]["cluster"]
    ca = path.with_suffix(".ca.crt")
    ca.write_bytes(base64.b64decode(admin["certificate-authority-data"]))
    return kubeconfig(path, admin["server"], ca, account["metadata"]["name"], token=token)


class _Alive(Probe):
    """Ready once started (kwok has no endpoint of its own; the node it makes Ready is its probe)."""

    def __call__(self) -> bool:
        return True

    def __str__(self) -> str:
        return "started"
