"""A Kubernetes cluster through the official client: namespaces we own, the live objects of a
release (as plain dicts, the same shape Helm renders), readiness waits, and reading back what runs
(pod logs, a command in a pod, an HTTP GET through the API server's service proxy)."""

import json
import time
from dataclasses import dataclass
from pathlib import Path

import yaml
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from resources.k8s.facts import INSTANCE
from resources.model.errors import ConfigError
from resources.probes import wait_for
from resources.settings import in_cluster, kubeconfig_setting

OWNER = "testbed.io/owner"
ENV = "testbed.io/env"
CREATED = "testbed.io/created"
TTL = "testbed.io/ttl-seconds"
OWNER_VALUE = "testbed"
RESERVED = ("default", "kube-system", "kube-public", "kube-node-lease")
# Pod states that will not get better by waiting; reported with the workload that is not ready.
# kwok marks the nodes it simulates so; pods there are scheduled and reported Ready or Completed,
# but no container runs, so nothing answers an exec, a log read or the service proxy.
SIMULATED_NODE = "kwok.x-k8s.io/node"
SIMULATED = "pods do not run containers on simulated nodes"
# What deploy, jobs and teardown do (verb, API group, resource), asked of the API server before
# anything is created (SelfSubjectAccessReview): a missing right fails the preflight, not a
# half-done install. deploy/rbac.yaml's ClusterRole grants them all.
RIGHTS = [("create", "", "namespaces"), ("delete", "", "namespaces"), ("list", "", "namespaces"),
          ("create", "", "secrets"), ("create", "", "services"), ("create", "", "configmaps"),
          ("create", "", "serviceaccounts"), ("create", "apps", "deployments"),
          ("create", "apps", "statefulsets"), ("create", "rbac.authorization.k8s.io", "roles"),
          ("create", "rbac.authorization.k8s.io", "rolebindings"), ("create", "batch", "jobs"),
          ("list", "", "pods")]
STUCK = {"ErrImagePull", "ImagePullBackOff", "CrashLoopBackOff", "CreateContainerConfigError",
         "InvalidImageName", "RunContainerError"}


def kubeconfig_path() -> Path | None:
    """TESTBED_KUBECONFIG, else KUBECONFIG, else ~/.kube/config; None when none exists."""
    raw = kubeconfig_setting()
    path = Path(raw).expanduser() if raw else Path.home() / ".kube" / "config"
    return path if path.exists() else None


def api_client(context: str | None = None) -> client.ApiClient:
    """The official client from a kubeconfig, or the pod's service account inside a cluster."""
    path = kubeconfig_path()
    try:
        if path is not None:
            return config.new_client_from_config(str(path), context=context)
        if in_cluster():
            config.load_incluster_config()
            return client.ApiClient()
    except (config.ConfigException, OSError) as exc:
        raise ConfigError(f"kubeconfig {path or '(in-cluster)'} is unusable: {exc}; fix it or set "
                          f"TESTBED_KUBECONFIG / TESTBED_KUBE_CONTEXT") from None
    raise ConfigError("no kubeconfig: set KUBECONFIG or TESTBED_KUBECONFIG to a cluster's "
                      "kubeconfig (or run inside a cluster) to use TESTBED_PLATFORM=kubernetes")


def namespace_for(env_id: str) -> str:
    """One namespace per environment, never a shared or system one."""
    name = f"testbed-{env_id}"
    if name in RESERVED or name.startswith("kube-") or len(name) > 63:
        raise ConfigError(f"namespace {name!r} is reserved or too long; environments get their "
                          f"own namespace testbed-<env id>")
    return name


@dataclass(frozen=True)
class ExecResult:
    returncode: int
    stdout: str
    stderr: str


class Cluster:
    def __init__(self, api: client.ApiClient):
        self.api = api
        self.core = client.CoreV1Api(api)
        self.apps = client.AppsV1Api(api)
        self.batch = client.BatchV1Api(api)
        self.rbac = client.RbacAuthorizationV1Api(api)
        self.authz = client.AuthorizationV1Api(api)
        self._simulated_nodes: set[str] | None = None

    def plain(self, obj) -> dict:
        return self.api.sanitize_for_serialization(obj)

    # --- what we may do, and where pods really run ----------------------------------------------

    def missing_rights(self, namespace: str) -> list[str]:
        """RIGHTS this client lacks, as "create namespaces" ([] when the API server has no
        authorization API to ask, like an emulator)."""
        missing = []
        for verb, group, resource in RIGHTS:
            review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                      "spec": {"resourceAttributes": {
                          "verb": verb, "group": group, "resource": resource,
                          "namespace": "" if resource == "namespaces" else namespace}}}
            try:
                answer = self.authz.create_self_subject_access_review(review)
            except ApiException as exc:
                if exc.status == 404:
                    return []
                raise
            if not answer.status.allowed:
                missing.append(f"{verb} {resource}" + (f".{group}" if group else ""))
        return missing

    def simulated_nodes(self) -> set[str]:
        """Names of the nodes kwok simulates (read once; none when nodes may not be listed)."""
        if self._simulated_nodes is None:
            try:
                nodes = self.core.list_node().items
            except ApiException as exc:
                if exc.status not in (403, 404):
                    raise
                nodes = []
            self._simulated_nodes = {n.metadata.name for n in nodes
                                     if (n.metadata.annotations or {}).get(SIMULATED_NODE) == "fake"}
        return self._simulated_nodes

    def on_simulated_nodes(self, namespace: str, selector: str) -> list[str]:
        """The pods matching selector that were scheduled to a simulated node."""
        fake = self.simulated_nodes()
        if not fake:
            return []
        return sorted(p["metadata"]["name"] for p in self.pods(namespace, selector)
                      if (p.get("spec") or {}).get("nodeName") in fake)

    # --- namespaces ---------------------------------------------------------------------------

    def ensure_namespace(self, name: str, env_id: str, run_id: str, created: float,
                         ttl_seconds: float) -> None:
        if name in RESERVED or name.startswith("kube-"):
            raise ConfigError(f"refusing to deploy into namespace {name!r}: use a namespace of "
                              f"the environment's own (testbed-<env id>)")
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {
            "name": name,
            "labels": {OWNER: OWNER_VALUE, ENV: env_id, "app.kubernetes.io/part-of": "testbed"},
            "annotations": {CREATED: str(int(created)), TTL: str(int(ttl_seconds)),
                            "testbed.io/run-id": run_id}}}
        try:
            self.core.create_namespace(body)
        except ApiException as exc:
            if exc.status != 409:
                raise
            labels = self.plain(self.core.read_namespace(name))["metadata"].get("labels") or {}
            if labels.get(ENV) != env_id:
                raise ConfigError(f"namespace {name} exists and is not environment {env_id}'s; "
                                  f"delete it or let the reaper (testbed sweep) do it") from None

    def owned_namespaces(self) -> list[dict]:
        items = self.core.list_namespace(label_selector=f"{OWNER}={OWNER_VALUE}").items
        return [self.plain(ns) for ns in items]

    def namespace_phase(self, name: str) -> str | None:
        """Active, Terminating, or None when it is gone."""
        try:
            ns = self.plain(self.core.read_namespace(name))
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return (ns.get("status") or {}).get("phase", "Active")

    def delete_namespace(self, name: str) -> bool:
        try:
            self.core.delete_namespace(name, propagation_policy="Foreground")
            return True
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise

    def wait_namespace_gone(self, name: str, timeout: float, interval: float = 2.0) -> str | None:
        """The namespace's phase when the wait gave up, None once it is gone."""
        return wait_for(lambda: self.namespace_phase(name), lambda phase: phase is None, timeout,
                     interval)

    # --- a release's live objects -------------------------------------------------------------

    def release_objects(self, namespace: str, release: str) -> list[dict]:
        selector = f"{INSTANCE}={release}"
        listings = [
            ("Service", "v1", self.core.list_namespaced_service),
            ("ConfigMap", "v1", self.core.list_namespaced_config_map),
            ("ServiceAccount", "v1", self.core.list_namespaced_service_account),
            ("PersistentVolumeClaim", "v1", self.core.list_namespaced_persistent_volume_claim),
            ("Deployment", "apps/v1", self.apps.list_namespaced_deployment),
            ("StatefulSet", "apps/v1", self.apps.list_namespaced_stateful_set),
            ("Role", "rbac.authorization.k8s.io/v1", self.rbac.list_namespaced_role),
            ("RoleBinding", "rbac.authorization.k8s.io/v1", self.rbac.list_namespaced_role_binding),
        ]
        objects = []
        for kind, api_version, list_fn in listings:
            for item in list_fn(namespace, label_selector=selector).items:
                obj = self.plain(item)
                obj.setdefault("kind", kind)
                obj.setdefault("apiVersion", api_version)
                objects.append(obj)
        return objects

    def pods(self, namespace: str, selector: str) -> list[dict]:
        return [self.plain(p) for p in
                self.core.list_namespaced_pod(namespace, label_selector=selector).items]

    def readiness(self, namespace: str, release: str) -> dict[str, tuple[bool, str]]:
        """Workload name -> (ready, why): ready replicas against the desired count, and the
        reason of a pod that is stuck (image pull, crash loop)."""
        found = {}
        for obj in self.release_objects(namespace, release):
            if obj["kind"] not in ("Deployment", "StatefulSet"):
                continue
            want = (obj.get("spec") or {}).get("replicas", 1)
            have = (obj.get("status") or {}).get("readyReplicas") or 0
            why = f"{have}/{want} replicas ready"
            selector = ",".join(f"{k}={v}" for k, v in
                                obj["spec"]["selector"]["matchLabels"].items())
            stuck = sorted({reason for pod in self.pods(namespace, selector)
                            for reason in _waiting_reasons(pod) if reason in STUCK})
            if stuck:
                why += f" ({', '.join(stuck)})"
            found[obj["metadata"]["name"]] = (have >= want, why)
        return found

    def wait_ready(self, namespace: str, release: str, timeout: float,
                   interval: float = 2.0) -> dict[str, float]:
        """Seconds until each workload was ready. Raises TimeoutError naming those that are not."""
        started = time.monotonic()
        ready_at: dict[str, float] = {}

        def step():
            state = self.readiness(namespace, release)
            for name, (ok, _why) in state.items():
                if ok:
                    ready_at.setdefault(name, round(time.monotonic() - started, 2))
            return state

        state = wait_for(step, lambda s: bool(s) and all(ok for ok, _ in s.values()), timeout, interval)
        waiting = {name: why for name, (ok, why) in state.items() if not ok}
        if waiting or not state:
            detail = ", ".join(f"{n}: {w}" for n, w in waiting.items()) or "no workloads found"
            raise TimeoutError(f"release {release} in {namespace} not ready after {timeout:.0f}s: "
                               f"{detail}")
        return ready_at

    # --- reading back what runs -----------------------------------------------------------------

    def service_get(self, namespace: str, service: str, port: str, path: str) -> str:
        """HTTP GET to a Service through the API server's proxy: works from outside the cluster."""
        # Raw body: the client would json-decode it and hand back the Python repr as "str".
        response = self.core.connect_get_namespaced_service_proxy_with_path(
            f"{service}:{port}", namespace, path.lstrip("/"), _preload_content=False)
        return response.data.decode()

    def exec(self, namespace: str, pod: str, container: str, command: list[str],
             timeout: float = 60.0) -> ExecResult:
        """Run a command in a container; its exit code comes from the exec's status channel (a
        plain stream() would hand back the output of a failed command as if it had worked)."""
        from kubernetes.stream import stream
        from kubernetes.stream.ws_client import ERROR_CHANNEL

        session = stream(self.core.connect_get_namespaced_pod_exec, pod, namespace,
                         container=container, command=command, stderr=True, stdin=False,
                         stdout=True, tty=False, _preload_content=False)
        try:
            session.run_forever(timeout=timeout)
            if session.is_open():
                raise TimeoutError(f"exec in {namespace}/{pod} ({container}) did not finish "
                                   f"within {timeout:.0f}s: {' '.join(command[:3])}")
            stdout, stderr = session.read_stdout(), session.read_stderr()
            return ExecResult(exit_code(session.read_channel(ERROR_CHANNEL)), stdout, stderr)
        finally:
            session.close()

    def pod_log(self, namespace: str, pod: str, container: str | None = None,
                tail_lines: int = 200) -> str:
        try:
            # Raw body: the client json-decodes a log that is one JSON document (a job's printed
            # result) and hands back its Python repr.
            response = self.core.read_namespaced_pod_log(pod, namespace, container=container,
                                                         tail_lines=tail_lines,
                                                         _preload_content=False)
            return response.data.decode(errors="replace")
        except ApiException as exc:
            # The API server says why in a Status body (e.g. "... is waiting to start: trying and
            # failing to pull image").
            try:
                message = json.loads(exc.body or "{}").get("message") or ""
            except (ValueError, AttributeError):
                message = ""
            return f"(no log: {exc.status} {exc.reason}{': ' + message if message else ''})"


def exit_code(status: str) -> int:
    """The exit code in an exec's status channel: 0 on Success, the NonZeroExitCode cause, or -1
    when the exec itself failed (no container, no such command) or said nothing."""
    try:
        doc = yaml.safe_load(status) or {}
    except yaml.YAMLError:
        return -1
    if doc.get("status") == "Success":
        return 0
    for cause in (doc.get("details") or {}).get("causes") or []:
        if cause.get("reason") == "ExitCode":
            try:
                return int(cause.get("message"))
            except (TypeError, ValueError):
                break
    return -1


def _waiting_reasons(pod: dict) -> list[str]:
    status = pod.get("status") or {}
    statuses = (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or [])
    return [(s.get("state") or {}).get("waiting", {}).get("reason", "") for s in statuses]
