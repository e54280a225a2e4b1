"""kmock's in-memory Kubernetes API on a background event loop, so the official (blocking) client
and Helm's Go SDK can talk to it from ordinary test code, through a real kubeconfig."""

import asyncio
import contextlib
import threading
from pathlib import Path

import kmock
import yaml
from kmock._internal import parsing
from kubernetes import client, utils

from resources.k8s.cluster import Cluster

_parse_path = parsing.parse_path
RESOURCES = ["v1/namespaces", "v1/services", "v1/configmaps", "v1/secrets", "v1/serviceaccounts",
             "v1/persistentvolumeclaims", "v1/pods", "apps/v1/deployments", "apps/v1/statefulsets",
             "rbac.authorization.k8s.io/v1/roles", "rbac.authorization.k8s.io/v1/rolebindings",
             "batch/v1/jobs"]


def _parse_path_with_namespaces(path: str):
    """kmock 0.8 reads /api/v1/namespaces[/<name>] as a namespaced path and fails; it is the
    cluster-scoped Namespace resource (only these two shapes, plus /status and /finalize)."""
    parts = path.strip("/").split("/")
    if parts[:3] == ["api", "v1", "namespaces"] and (
            len(parts) <= 4 or (len(parts) == 5 and parts[4] in ("status", "finalize"))):
        return parsing.ParsedPath("", "v1", "namespaces", None,
                                  parts[3] if len(parts) > 3 else None,
                                  parts[4] if len(parts) > 4 else None)
    return _parse_path(path)


@contextlib.contextmanager
def emulated_api(tmp_path: Path):
    """(emulator, kubeconfig path, Cluster) for one test."""
    parsing.parse_path = _parse_path_with_namespaces
    loop = asyncio.new_event_loop()
    started = threading.Event()
    box: dict = {}

    async def serve():
        box["stop"] = asyncio.Event()
        async with kmock.KubernetesEmulator() as emulator, kmock.Server(emulator) as server:
            for resource in RESOURCES:  # kmock lists only resources it has seen or was told of
                emulator.resources[resource] = {}
            box["emulator"], box["url"] = emulator, str(server.url).rstrip("/")
            started.set()
            await box["stop"].wait()

    thread = threading.Thread(target=lambda: loop.run_until_complete(serve()), daemon=True)
    thread.start()
    if not started.wait(10):
        raise RuntimeError("kmock did not start")
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "kmock",
        "clusters": [{"name": "kmock", "cluster": {"server": box["url"]}}],
        "users": [{"name": "kmock", "user": {"token": "kmock"}}],
        "contexts": [{"name": "kmock", "context": {"cluster": "kmock", "user": "kmock"}}]}))
    configuration = client.Configuration()
    configuration.host = box["url"]
    try:
        yield box["emulator"], kubeconfig, Cluster(client.ApiClient(configuration))
    finally:
        loop.call_soon_threadsafe(box["stop"].set)
        thread.join(10)
        parsing.parse_path = _parse_path


def apply(cluster: Cluster, namespace: str, objects: list[dict]) -> None:
    """Create rendered objects as `helm install` would (kmock cannot serve Helm: no OpenAPI)."""
    for obj in objects:
        utils.create_from_dict(cluster.api, obj, namespace=namespace)


def mark_ready(cluster: Cluster, namespace: str) -> None:
    """Play the controllers: every Deployment and StatefulSet reports all replicas ready."""
    for item in cluster.apps.list_namespaced_deployment(namespace).items:
        cluster.apps.patch_namespaced_deployment_status(
            item.metadata.name, namespace, {"status": {"readyReplicas": item.spec.replicas,
                                                       "replicas": item.spec.replicas}})
    for item in cluster.apps.list_namespaced_stateful_set(namespace).items:
        cluster.apps.patch_namespaced_stateful_set_status(
            item.metadata.name, namespace, {"status": {"readyReplicas": item.spec.replicas,
                                                       "replicas": item.spec.replicas}})
