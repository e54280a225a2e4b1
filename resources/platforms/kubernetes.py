"""The kubernetes platform: each environment is a namespace, each release a Helm release of
charts/spark-<minor> in it.

deploy = helm install (helm-python-sdk) into testbed-<env id>, then wait for readiness with the
official client; facts = the live objects read through the same reader as the rendered manifests,
plus what only a running system has (metastore tables, History applications); teardown = helm
uninstall + namespace delete; the reaper also removes namespaces carrying our owner label whose
TTL expired, wherever they were created.

Settings (environment): TESTBED_S3_ENDPOINT, TESTBED_S3_ACCESS_KEY, TESTBED_S3_SECRET_KEY (the
object store the releases' event logs and warehouse live in), TESTBED_KUBECONFIG / KUBECONFIG,
TESTBED_KUBE_CONTEXT, TESTBED_K8S_CLIENT_IMAGE (the image the Spark Connect probe Job runs in: the
code location image of deploy/Dockerfile, which has pyspark-client; default
registry.example.com/testbed:0.1.0).
"""

import json
import time
from pathlib import Path

from kubernetes.client.exceptions import ApiException
from pydantic import BaseModel, Field, ValidationError

from resources.k8s import charts
from resources.k8s.cluster import (
    CREATED,
    ENV,
    SIMULATED,
    TTL,
    Cluster,
    api_client,
    kubeconfig_path,
    namespace_for,
)
from resources.k8s.facts import COMPONENT, INSTANCE, labels, release_facts
from resources.k8s.jobs import (
    CLIENT_IMAGE_ENV,
    PROBE_CONTAINER,
    client_image,
    connect_probe_job,
    job_name,
    pod_problems,
    read_result,
    script_configmap,
    spark_submit_job,
)
from resources.model.catalog import ReleaseSpec
from resources.model.errors import ConfigError
from resources.model.facts import Deployment, Endpoints, Facts, HistoryApp, JobResult
from resources.model.ledger import Handle, HelmReleaseHandle, NamespaceHandle
from resources.platforms.base import Environment, Platform
from resources.probes import wait_for
from resources.settings import k8s_ready_timeout, kube_context, s3_settings

SETTINGS_HELP = ("set TESTBED_S3_ENDPOINT (e.g. http://minio.minio.svc:9000), TESTBED_S3_ACCESS_KEY "
                 "and TESTBED_S3_SECRET_KEY: the object store the releases write event logs and "
                 "tables to")


class KubernetesSettings(BaseModel):
    s3_endpoint: str = Field(pattern=r"^https?://[^\s/]+/?$")
    s3_access_key: str = Field(min_length=1)
    s3_secret_key: str = Field(min_length=1)
    kube_context: str | None = None

    @classmethod
    def from_env(cls) -> "KubernetesSettings":
        try:
            return cls(**s3_settings(), kube_context=kube_context())
        except ValidationError as exc:
            fields = ", ".join(f"TESTBED_{'_'.join(map(str, e['loc'])).upper()}"
                               for e in exc.errors())
            raise ConfigError(f"kubernetes platform: {fields} missing or invalid; "
                              f"{SETTINGS_HELP}") from None

    def s3_values(self) -> dict:
        return {"endpoint": self.s3_endpoint, "accessKey": self.s3_access_key,
                "secretKey": self.s3_secret_key}


class KubernetesPlatform(Platform):
    name = "kubernetes"
    poll_seconds = 2.0  # how often waits ask the API server

    def __init__(self, state_dir: Path, grace_seconds: float = 10.0, ready_timeout: float = 600.0,
                 cluster: Cluster | None = None, settings: KubernetesSettings | None = None):
        super().__init__(state_dir, grace_seconds, ready_timeout)
        self._cluster = cluster
        self._settings = settings

    @classmethod
    def for_run(cls, state_dir: Path, ready_timeout: float, grace: float) -> "KubernetesPlatform":
        """Image pulls and the jars init containers take minutes on a fresh cluster: never wait
        less than TESTBED_K8S_READY_TIMEOUT (default 600 s)."""
        return cls(state_dir, grace_seconds=grace,
                   ready_timeout=max(ready_timeout, k8s_ready_timeout()))

    @property
    def settings(self) -> KubernetesSettings:
        if self._settings is None:
            self._settings = KubernetesSettings.from_env()
        return self._settings

    @property
    def cluster(self) -> Cluster:
        if self._cluster is None:
            self._cluster = Cluster(api_client(self.settings.kube_context))
        return self._cluster

    def helm(self, namespace: str):
        import helm_python

        path = kubeconfig_path()
        return helm_python.Config(kubeconfig_path=str(path) if path else None,
                                  kube_context=self.settings.kube_context, namespace=namespace)

    # --- before anything starts -----------------------------------------------------------------

    def values(self, spec: ReleaseSpec, env_id: str, owner: str) -> dict:
        return charts.release_values(spec, env_id, owner, self.settings.s3_values())

    def preflight(self, specs: list[ReleaseSpec], services: tuple[str, ...] = ()) -> None:
        """Settings, cluster access, and every chart rendered with the values deploy will use:
        a schema or template error stops the run here, naming the field."""
        self.check_state_dir()
        for kind in services:
            self.require(kind)
        settings = self.settings
        for spec in specs:
            charts.render(charts.chart_dir(spec), charts.helm_release(spec),
                          namespace_for("env-preflight"), self.values(spec, "env-preflight", "preflight"))
        if self._cluster is None:
            self._cluster = Cluster(api_client(settings.kube_context))
        missing = self._cluster.missing_rights(namespace_for("env-preflight"))
        if missing:
            raise ConfigError(f"kubernetes platform: this kubeconfig's user may not "
                              f"{', '.join(missing)} (asked the API server); bind the "
                              f"testbed-runner ClusterRole of deploy/rbac.yaml to it, or use a "
                              f"kubeconfig that has it (TESTBED_KUBECONFIG)")

    # --- deploy ----------------------------------------------------------------------------------

    def namespace(self, env: Environment) -> str:
        return namespace_for(env.state.env_id)

    def ensure_namespace(self, env: Environment) -> str:
        namespace = self.namespace(env)

        def create() -> str:
            state = env.state
            # Recorded first: a deploy that dies midway still leaves the reaper a handle.
            env.record(NamespaceHandle(name=namespace, namespace=namespace))
            self.cluster.ensure_namespace(namespace, state.env_id, state.owner_run_id,
                                          state.created, state.ttl_seconds)
            return namespace

        return env.once("namespace", create)

    def install(self, namespace: str, spec: ReleaseSpec, values: dict) -> None:
        """helm install; the readiness wait is ours (the official client), not Helm's."""
        chart = charts.load(charts.chart_dir(spec))
        self.helm(namespace).install(chart, charts.helm_release(spec), values,
                                     namespace=namespace, timeout=int(self.ready_timeout))

    def deploy(self, env: Environment, spec: ReleaseSpec) -> Deployment:
        started = time.monotonic()
        release = charts.helm_release(spec)
        values = self.values(spec, env.state.env_id, env.state.owner_run_id[:63])
        namespace = self.ensure_namespace(env)
        env.record(HelmReleaseHandle(name=release, owner=spec.name, namespace=namespace,
                                     release=release))
        self.install(namespace, spec, values)
        timings = self.cluster.wait_ready(namespace, release, self.ready_timeout,
                                          self.poll_seconds)
        return Deployment(spec=spec, env_id=env.state.env_id, root=f"{namespace}/{release}",
                          endpoints=endpoints(namespace, release, spec),
                          startup_seconds=round(time.monotonic() - started, 2),
                          component_seconds=timings)

    # --- facts -----------------------------------------------------------------------------------

    def facts(self, env: Environment, deployment: Deployment) -> Facts:
        namespace, release = deployment.root.split("/", 1)
        objects = self.cluster.release_objects(namespace, release)
        ready = self.cluster.readiness(namespace, release)
        facts = release_facts(objects, release, namespace,
                              {name: (ok, why) for name, (ok, why) in ready.items()})
        facts.release = deployment.spec.name  # checks speak the catalog's names
        for component in facts.components:
            component.release = deployment.spec.name
        simulated = self.cluster.on_simulated_nodes(namespace, f"{INSTANCE}={release}")
        if simulated:
            # Nothing to exec into and no History Server behind the proxy (its pod IP is fake):
            # the checks that need them say "not evaluated", never "no tables".
            facts.unobserved = f"{SIMULATED} ({_some(simulated)})"
            return facts
        facts.metastore_tables = self.metastore_tables(namespace, release, facts.metastore_db)
        history = service_named(objects, "history")
        if history:
            facts.history_apps = self.history_apps(namespace, history)
        return facts

    def metastore_tables(self, namespace: str, release: str, database: str) -> list[str]:
        """`<hive db>.<table>` from TBLS/DBS, read with psql inside the release's PostgreSQL."""
        pods = self.cluster.pods(namespace, f"app.kubernetes.io/instance={release},"
                                            f"{COMPONENT}=postgresql")
        if not pods:
            return []
        query = ('SELECT d."NAME" || \'.\' || t."TBL_NAME" FROM "TBLS" t JOIN "DBS" d '
                 'ON t."DB_ID" = d."DB_ID" ORDER BY 1')
        # Positional arguments of sh -c: no quoting of the query needed.
        pod = pods[0]["metadata"]["name"]
        done = self.cluster.exec(namespace, pod, "postgresql",
                                 ["sh", "-c", 'psql -U "$POSTGRES_USER" -d "$1" -Atc "$2"', "sh",
                                  database, query])
        if done.returncode != 0:
            if 'relation "TBLS" does not exist' in done.stderr:
                return []  # no table yet: the metastore creates its schema on first start
            raise RuntimeError(f"reading the metastore tables of {database} with psql in "
                               f"{namespace}/{pod} failed (exit {done.returncode}): "
                               f"{(done.stderr or done.stdout).strip()[-400:] or 'no output'}")
        return sorted(line.strip() for line in done.stdout.splitlines() if line.strip())

    def history_apps(self, namespace: str, service: str) -> list[HistoryApp]:
        """What the History Server lists, each application with the event-log dir it ran with
        (through the API server's service proxy)."""
        def get(path: str):
            raw = self.cluster.service_get(namespace, service, "http", path)
            return json.loads(raw) if isinstance(raw, str) else raw

        apps = []
        for app in get("api/v1/applications"):
            found = HistoryApp.from_api(app)
            try:
                found = found.with_environment(get(HistoryApp.environment_path(app)))
            except (ApiException, ValueError):
                pass  # listed, environment not served (yet): its event-log dir stays unread
            apps.append(found)
        return apps

    # --- jobs ------------------------------------------------------------------------------------

    def submit(self, env: Environment, deployment: Deployment, job: str, args: list[str],
               timeout: float) -> JobResult:
        spec = deployment.spec
        if deployment.endpoints.master is None:
            raise ConfigError(f"release {spec.name} has no master to submit {job} to")
        namespace, release = deployment.root.split("/", 1)
        started = time.monotonic()
        worker = self.cluster.plain(self.cluster.apps.read_namespaced_deployment(
            f"{release}-worker", namespace))
        name, script = script_configmap(release, env.state.env_id, job)
        body = spark_submit_job(worker, name, deployment.endpoints.master, job, args,
                                spec.driver_memory, timeout, env.state.env_id)
        self.cluster.core.create_namespaced_config_map(namespace, script)
        self.cluster.batch.create_namespaced_job(namespace, body)
        status = self.wait_job(namespace, name, timeout, self.poll_seconds)
        succeeded = bool(status.get("succeeded"))
        unread = self.unread_job(namespace, name)
        output = "" if unread else self.job_log(namespace, name, "driver")
        return JobResult(release=spec.name, job=job, returncode=0 if succeeded else 1,
                         seconds=round(time.monotonic() - started, 2), output=output,
                         error="" if succeeded else f"job {namespace}/{name}: {status}",
                         unobserved=unread)

    def connect_job(self, env: Environment, deployment: Deployment, table: str,
                    timeout: float) -> JobResult:
        """The Connect probe as a Job in the release's namespace, where the server's in-cluster
        name resolves (the orchestrator may run on a laptop). It passes only when the Job
        succeeded and its pod printed a passing result; otherwise the error says what the Job, its
        pod and its log said."""
        spec = deployment.spec
        if deployment.endpoints.connect is None:
            raise ConfigError(f"release {spec.name} has no Connect server to probe")
        image = client_image()
        namespace, release = deployment.root.split("/", 1)
        started = time.monotonic()
        name = job_name(release, "connect_probe")
        self.cluster.batch.create_namespaced_job(namespace, connect_probe_job(
            name, release, env.state.env_id, image, spec.name, deployment.endpoints.connect,
            table, timeout))
        status = self.wait_job(namespace, name, timeout, self.poll_seconds)
        seconds = round(time.monotonic() - started, 2)
        unread = self.unread_job(namespace, name)
        if unread:  # the Job's outcome is all there is to know
            succeeded = bool(status.get("succeeded"))
            error = "" if succeeded else job_outcome(namespace, name, status, timeout)
            return JobResult(release=spec.name, job="connect_probe", seconds=seconds,
                             returncode=0 if succeeded else 1, error=error, unobserved=unread)
        log = self.job_log(namespace, name, PROBE_CONTAINER)
        result = read_result(log, spec.name, "connect_probe",
                             round(time.monotonic() - started, 2))
        if status.get("succeeded") and result.returncode == 0:
            return result
        why = [job_outcome(namespace, name, status, timeout)]
        why += pod_problems(self.cluster.pods(namespace, f"job-name={name}"))
        why.append(f"image {image} (set {CLIENT_IMAGE_ENV} to the code location image)")
        # The probe's own error last: the check shows the error's tail.
        return result.model_copy(update={
            "returncode": result.returncode or 1,
            "error": "; ".join(why) + (f"\n{result.error}" if result.error else "")})

    def unread_job(self, namespace: str, name: str) -> str:
        """Why a Job's log cannot be read: its pod ran on a simulated node (reading it would make
        the API server dial a node that is not there). Empty when it can be."""
        pods = self.cluster.on_simulated_nodes(namespace, f"job-name={name}")
        return f"{SIMULATED} (job {namespace}/{name}, pod {_some(pods)})" if pods else ""

    def job_log(self, namespace: str, name: str, container: str) -> str:
        """What the Job's pod wrote (stdout and stderr). The one place a job's output is read,
        so a test without a kubelet can stand in for it."""
        pods = self.cluster.pods(namespace, f"job-name={name}")
        if not pods:
            return "(no pod)"
        return self.cluster.pod_log(namespace, pods[-1]["metadata"]["name"], container)

    def wait_job(self, namespace: str, name: str, timeout: float, interval: float = 2.0) -> dict:
        def status():
            job = self.cluster.plain(self.cluster.batch.read_namespaced_job(name, namespace))
            return job.get("status") or {}

        return wait_for(status, lambda s: bool(s.get("succeeded") or s.get("failed")), timeout,
                     interval)

    # --- removing, from the ledger alone ---------------------------------------------------------

    def destroy(self, handle: Handle, grace_seconds: float) -> str:
        """A Helm release: helm uninstall. A namespace: delete it and wait until it is gone.
        Files (env.json's dir, nothing else here) are plain paths on this machine."""
        if handle.kind == "helm_release":
            return "stopped" if self.uninstall(handle.namespace, handle.release) \
                else "already gone"
        if handle.kind == "namespace":
            deleted = self.cluster.delete_namespace(handle.namespace)
            phase = self.cluster.wait_namespace_gone(handle.namespace, max(grace_seconds, 60.0),
                                                     self.poll_seconds)
            if phase is not None:
                return f"failed: still {phase}"
            return "stopped" if deleted else "already gone"
        return self.destroy_plain(handle)

    def uninstall(self, namespace: str, release: str) -> bool:
        """False when there was nothing to uninstall; the namespace delete removes the rest."""
        import helm_python

        try:
            self.helm(namespace).uninstall(release, ignore_not_found=True,
                                           timeout=int(max(self.grace_seconds, 30)))
            return True
        except helm_python.HelmError:
            return False

    def remains(self, handle: Handle) -> list[str]:
        if handle.kind != "namespace":
            return []  # a Helm release lives in its namespace: the namespace says it all
        phase = self.cluster.namespace_phase(handle.namespace)
        return [f"namespace {handle.namespace} ({phase})"] if phase is not None else []

    def strays(self, known: set[str], now: float) -> list[tuple[str, Handle]]:
        """Every namespace with our owner label whose TTL expired (created from another machine,
        or whose state was lost), wherever it was created."""
        found = []
        for ns in self.cluster.owned_namespaces():
            meta = ns["metadata"]
            notes = meta.get("annotations") or {}
            try:
                age = now - float(notes[CREATED])
                ttl = float(notes[TTL])
            except (KeyError, ValueError):
                continue  # not stamped by us: not ours to judge
            if age > ttl:
                env_id = (meta.get("labels") or {}).get(ENV, "?")
                found.append((f"namespace {meta['name']} ({env_id}): TTL {ttl:.0f}s expired "
                              f"({age:.0f}s old)",
                              NamespaceHandle(name=meta["name"], namespace=meta["name"])))
        return found


def _some(names: list[str], shown: int = 2) -> str:
    return ", ".join(names[:shown]) + (f" and {len(names) - shown} more" if len(names) > shown
                                       else "")


def job_outcome(namespace: str, name: str, status: dict, timeout: float) -> str:
    """One line on how a Job ended: its failed conditions (DeadlineExceeded, ...) or that it did
    not finish in time."""
    conditions = [f"{c.get('reason') or c.get('type')}: {c.get('message') or ''}".rstrip(": ")
                  for c in status.get("conditions") or []
                  if c.get("type") == "Failed" and c.get("status") == "True"]
    if status.get("succeeded"):
        state = "succeeded"
    elif status.get("failed"):
        state = "failed" + (f" ({'; '.join(conditions)})" if conditions else "")
    else:
        state = f"did not finish within {timeout:.0f}s"
    return f"job {namespace}/{name} {state}"


def service_named(objects: list[dict], component: str) -> str | None:
    return next((o["metadata"]["name"] for o in objects
                 if o["kind"] == "Service" and labels(o).get(COMPONENT) == component), None)


def endpoints(namespace: str, release: str, spec: ReleaseSpec) -> Endpoints:
    """In-cluster addresses (what a run pod of Dagster-on-Kubernetes reaches directly)."""
    svc = f"{namespace}.svc.cluster.local"
    master = "master" in spec.components
    connect = "connect" in spec.components
    return Endpoints(
        namespace=namespace, helm_release=release,
        metastore=f"thrift://{release}-metastore.{svc}:9083", metastore_db=spec.metastore_db,
        history_ui=f"http://{release}-history.{svc}:18080",
        event_log_dir=f"s3a://{spec.event_log_prefix}",
        master=f"spark://{release}-master:7077" if master else None,
        master_ui=f"http://{release}-master.{svc}:8080" if master else None,
        connect=f"sc://{release}-connect.{svc}:15002" if connect else None,
        connect_ui=f"http://{release}-connect.{svc}:4040" if connect else None)
