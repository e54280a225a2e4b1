"""The kubernetes platform's client code against kmock's in-memory Kubernetes API: namespaces,
deploy's object-level steps and readiness wait, facts from the live API, jobs, teardown and the
reaper. Helm itself cannot install there (no OpenAPI), so the harness creates the rendered objects
where `helm install` would, and plays the controllers that mark pods ready."""

import contextlib
import re
import threading
import time

import kmock
import pytest
from kubernetes import client

from resources.criteria import release_checks
from resources.criteria.release_checks import CONNECT_EXPECTED
from resources.k8s import charts
from resources.k8s import facts as k8s
from resources.k8s.cluster import ExecResult, namespace_for
from resources.k8s.jobs import CLIENT_IMAGE, CLIENT_IMAGE_ENV, JOBS_DIR
from resources.model.catalog import load_catalog
from resources.model.errors import ConfigError
from resources.model.facts import JobResult
from resources.platforms.environment import Environment, probe_table, run_acceptance_job
from resources.platforms.kubernetes import KubernetesPlatform, KubernetesSettings
from resources.platforms.registry import make_platform
from tests.k8s.conftest import S3_SETTINGS
from tests.k8s.emulator import apply, emulated_api, mark_ready


class EmulatedHelm(KubernetesPlatform):
    """The platform with `helm install` replaced by creating the rendered objects."""

    poll_seconds = 0.1

    def install(self, namespace, spec, values):
        apply(self.cluster, namespace, charts.render(
            charts.chart_dir(spec), charts.helm_release(spec), namespace, values))


@pytest.fixture
def api(tmp_path, monkeypatch):
    with emulated_api(tmp_path) as (emulator, kubeconfig, cluster):
        monkeypatch.setenv("TESTBED_KUBECONFIG", str(kubeconfig))
        yield emulator, cluster


@pytest.fixture
def platform(api, tmp_path):
    return EmulatedHelm(tmp_path / "state", grace_seconds=1, ready_timeout=10,
                        cluster=api[1], settings=KubernetesSettings(**S3_SETTINGS))


@contextlib.contextmanager
def controllers(cluster, namespace):
    """While the block runs, mark whatever workloads exist ready, as kubelets and controllers
    would once pods pass their probes."""
    stop = threading.Event()

    def run():
        while not stop.wait(0.1):
            try:
                mark_ready(cluster, namespace)
            except client.ApiException:
                pass  # the namespace may not exist yet
    thread = threading.Thread(target=run)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def serve_history(emulator, namespace, release, apps):
    """What the release's History Server answers through the API server's service proxy."""
    emulator[f"get /api/v1/namespaces/{namespace}/services/{release}-history:http/proxy/"
             f"api/v1/applications"] << apps


def deploy_all(platform, env, emulator=None):
    deployments = {}
    for spec in load_catalog().releases:
        with controllers(platform.cluster, platform.namespace(env)):
            deployments[spec.name] = env.deploy(spec)
        if emulator is not None:
            serve_history(emulator, platform.namespace(env), charts.helm_release(spec), [])
    return deployments


def test_namespace_is_the_environments_own_never_default():
    assert namespace_for("env-0123456789") == "testbed-env-0123456789"
    with pytest.raises(ConfigError, match="reserved"):
        namespace_for("x" * 60)


def test_refuses_to_deploy_into_default(platform):
    with pytest.raises(ConfigError, match="refusing to deploy into namespace 'default'"):
        platform.cluster.ensure_namespace("default", "env-1", "run", time.time(), 60)


def test_namespace_of_another_environment_is_not_reused(platform):
    platform.cluster.ensure_namespace("testbed-env-1", "env-1", "run", time.time(), 60)
    platform.cluster.ensure_namespace("testbed-env-1", "env-1", "run", time.time(), 60)  # idempotent
    with pytest.raises(ConfigError, match="exists and is not environment env-2's"):
        platform.cluster.ensure_namespace("testbed-env-1", "env-2", "run", time.time(), 60)


def test_deploy_waits_for_readiness_then_facts_pass_the_checks(platform, api):
    env = Environment.create(platform, "run-1")
    deployments = deploy_all(platform, env, api[0])
    namespace = platform.namespace(env)
    ns = platform.cluster.plain(platform.cluster.core.read_namespace(namespace))
    assert ns["metadata"]["labels"]["testbed.io/owner"] == "testbed"
    assert ns["metadata"]["labels"]["testbed.io/env"] == env.state.env_id
    assert {h.release for h in env.state.handles if h.kind == "helm_release"} >= {"spark-35", "spark-41"}

    d35 = deployments["spark-3.5"]
    assert d35.endpoints.master == "spark://spark-35-master:7077"
    assert set(d35.component_seconds) == {"spark-35-postgresql", "spark-35-metastore",
                                          "spark-35-history", "spark-35-master", "spark-35-worker"}
    facts = [platform.facts(env, d) for d in deployments.values()]
    for f in facts:
        assert release_checks.release_ready(f).passed, f
    assert release_checks.services_isolated(facts).passed
    f35 = facts[0]
    assert (f35.release, f35.version, f35.metastore_db) == ("spark-3.5", "3.5.7", "metastore_spark35")
    assert f35.event_log_dir == f35.history_log_dir == "s3a://spark-logs/3.5/events"
    assert {c.name: c.probe for c in f35.components}["spark-35-worker"] == "1/1 replicas ready"
    env.teardown()


def test_live_facts_are_read_like_the_rendered_manifests(platform):
    env = Environment.create(platform, "run-1")
    deployment = deploy_all(platform, env)["spark-4.1"]
    namespace, release = deployment.root.split("/")
    live = k8s.release_facts(platform.cluster.release_objects(namespace, release), release, namespace)
    spec = load_catalog().get("spark-4.1")
    rendered = charts.render(charts.chart_dir(spec), release, namespace,
                             platform.values(spec, env.state.env_id, env.state.owner_run_id))
    assert live == k8s.release_facts(rendered, release, namespace)
    env.teardown()


def test_not_ready_release_times_out_naming_the_stuck_component(platform):
    env = Environment.create(platform, "run-1")
    platform.ready_timeout = 1.5
    namespace = platform.namespace(env)
    with pytest.raises(TimeoutError) as caught:
        threading.Timer(0.3, lambda: platform.cluster.core.create_namespaced_pod(namespace, {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "spark-35-worker-abc", "labels": {
                "app.kubernetes.io/name": "spark-3.5", k8s.INSTANCE: "spark-35",
                k8s.COMPONENT: "worker"}},
            "spec": {"containers": [{"name": "worker", "image": "apache/spark:nope"}]},
            "status": {"containerStatuses": [{
                "name": "worker", "image": "apache/spark:nope", "imageID": "", "ready": False,
                "restartCount": 0, "state": {"waiting": {"reason": "ImagePullBackOff"}}}]}})).start()
        env.deploy(load_catalog().get("spark-3.5"))
    assert "spark-35-worker: 0/1 replicas ready (ImagePullBackOff)" in str(caught.value)
    assert env.state.failed
    report = env.teardown()
    assert report.leftovers == []


def test_facts_say_which_component_is_not_ready(platform, api):
    env = Environment.create(platform, "run-1")
    deployment = deploy_all(platform, env, api[0])["spark-3.5"]
    namespace, release = deployment.root.split("/")
    platform.cluster.apps.patch_namespaced_deployment_status(
        f"{release}-master", namespace, {"status": {"readyReplicas": 0}})
    verdict = release_checks.release_ready(platform.facts(env, deployment))
    assert not verdict.passed
    assert "spark-35-master (0/1 replicas ready)" in verdict.message
    env.teardown()


def test_history_applications_come_through_the_service_proxy(platform, api):
    emulator, _ = api
    env = Environment.create(platform, "run-1")
    deployment = deploy_all(platform, env)["spark-3.5"]
    namespace = deployment.endpoints.namespace
    serve_history(emulator, namespace, "spark-35", [
        {"id": "app-1", "name": "testbed-sparkpi", "attempts": [{"appSparkVersion": "3.5.7"}]}])
    apps = platform.history_apps(namespace, "spark-35-history")
    assert [(a.id, a.spark_version) for a in apps] == [("app-1", "3.5.7")]
    env.teardown()


@pytest.mark.parametrize("outcome, returncode", [("succeeded", 0), ("failed", 1)])
def test_sparkpi_runs_as_a_job_built_from_the_worker_pod(platform, outcome, returncode):
    env = Environment.create(platform, "run-1")
    deployment = deploy_all(platform, env)["spark-3.5"]
    namespace = deployment.endpoints.namespace
    batch = platform.cluster.batch

    def job_controller():
        for _ in range(50):
            jobs = batch.list_namespaced_job(namespace).items
            if jobs:
                batch.patch_namespaced_job_status(jobs[0].metadata.name, namespace,
                                                  {"status": {outcome: 1}})
                return
            time.sleep(0.1)
    threading.Thread(target=job_controller).start()
    result = platform.submit(env, deployment, "sparkpi", ["10", "testbed_probe"], timeout=10)
    assert result.returncode == returncode

    job = platform.cluster.plain(batch.list_namespaced_job(namespace).items[0])
    assert charts.validate([job], versions=("1.29.0", "1.37.0")) == []
    pod = job["spec"]["template"]["spec"]
    driver = pod["containers"][0]
    assert driver["args"][:3] == ["/opt/spark/bin/spark-submit", "--master",
                                  "spark://spark-35-master:7077"]
    assert driver["args"][-3:] == ["/opt/testbed/job/sparkpi.py", "10", "testbed_probe"]
    assert [c["name"] for c in pod["initContainers"]] == ["fetch-jars"]  # s3a jars, as the worker
    assert {e["name"] for e in driver["env"]} >= {"AWS_ACCESS_KEY_ID", "SPARK_CONF_DIR", "POD_IP"}
    # The job's labels keep it out of the worker Deployment's selector.
    assert job["spec"]["template"]["metadata"]["labels"][k8s.COMPONENT] == "job"
    script = platform.cluster.core.read_namespaced_config_map(job["metadata"]["name"], namespace)
    assert script.data["sparkpi.py"] == (JOBS_DIR / "sparkpi.py").read_text()
    env.teardown()


def deploy_one(platform, env, name):
    with controllers(platform.cluster, platform.namespace(env)):
        return env.deploy(load_catalog().get(name))


def play_job(platform, emulator, namespace, outcome, log, container_state, conditions=()):
    """Play the Job controller and the kubelet for the first Job created in namespace: its pod
    (named and labelled as the controller does), the pod's log where the API server serves pod
    logs (log None: the API server's 400 for a container that never started), then the Job's
    final status (none when outcome is None). `seen` gets the Job's name, or the error that
    stopped this play (the test asserts there was none)."""
    seen: dict = {}
    batch, core = platform.cluster.batch, platform.cluster.core

    def run():
        try:
            deadline = time.monotonic() + 5
            while not (jobs := batch.list_namespaced_job(namespace).items):
                if time.monotonic() > deadline:
                    raise TimeoutError("no Job was created")
                time.sleep(0.05)
            job = jobs[0]
            name, container = job.metadata.name, job.spec.template.spec.containers[0]
            pod = f"{name}-x7k2p"
            phase = ("Pending" if "waiting" in container_state else
                     "Succeeded" if container_state["terminated"]["exitCode"] == 0 else "Failed")
            core.create_namespaced_pod(namespace, {
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": pod, "labels": {**job.spec.template.metadata.labels,
                                                     "job-name": name}},
                "spec": {"containers": [{"name": container.name, "image": container.image}]},
                "status": {"phase": phase, "containerStatuses": [{
                    "name": container.name, "image": container.image, "imageID": "",
                    "ready": False, "restartCount": 0, "state": container_state}]}})
            route = emulator[f"get /api/v1/namespaces/{namespace}/pods/{pod}/log"]
            if log is not None:
                route << log.encode()
            else:
                reason = container_state["waiting"]["reason"]
                route << kmock.Response(status=400, payload={
                    "kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 400,
                    "reason": "BadRequest", "message": f'container "{container.name}" in pod '
                                                       f'"{pod}" is waiting to start: {reason}'})
            if outcome is not None:
                batch.patch_namespaced_job_status(name, namespace, {"status": {
                    outcome: 1, "conditions": list(conditions)}})
            seen["job"] = name
        except Exception as exc:  # surfaced by the test's assertion on `seen`
            seen["error"] = exc
    thread = threading.Thread(target=run)
    thread.start()
    return thread, seen


CONNECT_PASSED = JobResult(release="spark-4.1", job="connect_probe", returncode=0, seconds=3.2,
                           values={"server_version": "4.1.0", **CONNECT_EXPECTED,
                                   "table": "default.testbed_probe_spark_4_1"})
COMPLETED = {"terminated": {"exitCode": 0, "reason": "Completed"}}


def test_connect_probe_runs_in_the_cluster_as_a_job(platform, api, monkeypatch):
    """run_acceptance_job for a Connect release goes through the platform: a Job in the release's
    namespace runs the probe where the in-cluster endpoint resolves, and its printed result is
    what the check judges. The log is exactly one JSON document, as the probe prints it: the
    client's default decoding would hand back its Python repr."""
    monkeypatch.delenv(CLIENT_IMAGE_ENV, raising=False)
    env = Environment.create(platform, "run-1")
    deployment = deploy_one(platform, env, "spark-4.1")
    spec, namespace = deployment.spec, deployment.endpoints.namespace
    thread, seen = play_job(platform, api[0], namespace, "succeeded",
                            CONNECT_PASSED.model_dump_json() + "\n", COMPLETED)
    result = run_acceptance_job(env, spec, timeout=10)
    thread.join()
    assert "error" not in seen, seen
    assert result == CONNECT_PASSED
    assert release_checks.connect_job_completes(result).passed

    job = platform.cluster.plain(platform.cluster.batch.read_namespaced_job(seen["job"], namespace))
    assert charts.validate([job], versions=("1.29.0", "1.37.0")) == []
    assert seen["job"].startswith("spark-41-connect-probe-")
    assert namespace == f"testbed-{env.state.env_id}"  # the Job was read from there
    assert job["metadata"]["labels"] == {
        k8s.INSTANCE: "spark-41", k8s.COMPONENT: "job", "app.kubernetes.io/part-of": "testbed",
        "testbed.io/env": env.state.env_id}
    assert (job["spec"]["backoffLimit"], job["spec"]["activeDeadlineSeconds"]) == (0, 10)
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["image"] == CLIENT_IMAGE
    assert container["command"] == ["python", "-m", "resources.jobs.connect_probe"]
    assert container["args"] == ["spark-4.1", deployment.endpoints.connect, probe_table(spec)]
    assert deployment.endpoints.connect == \
        f"sc://spark-41-connect.{namespace}.svc.cluster.local:15002"
    env.teardown()


FAILED_CONDITION = {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                    "message": "Job has reached the specified backoff limit"}
DEADLINE = {"type": "Failed", "status": "True", "reason": "DeadlineExceeded",
            "message": "Job was active longer than specified deadline"}
UNREACHABLE = ("SparkConnectGrpcException: <_MultiThreadedRendezvous of RPC that terminated with: "
               "status = StatusCode.UNAVAILABLE details = \"failed to connect to all addresses\">")


@pytest.mark.parametrize("outcome, log, state, conditions, image, why", [
    pytest.param(
        "failed",
        "WARNING: something on stderr\n" + CONNECT_PASSED.model_copy(update={
            "returncode": 1, "values": {}, "error": UNREACHABLE}).model_dump_json() + "\n",
        {"terminated": {"exitCode": 1, "reason": "Error"}}, [FAILED_CONDITION], None,
        ["BackoffLimitExceeded", "StatusCode.UNAVAILABLE", "sql_answer = None"],
        id="probe-failed"),
    pytest.param(
        "failed", CONNECT_PASSED.model_dump_json() + "\n",
        {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}, [FAILED_CONDITION], None,
        ["BackoffLimitExceeded", "container probe exited 137 (OOMKilled)"],
        id="job-failed-after-a-passing-result"),
    pytest.param(
        "succeeded", "Traceback (most recent call last):\nSystemExit: 0\n", COMPLETED, [], None,
        ["succeeded", "printed no connect_probe result", "SystemExit: 0"], id="no-result"),
    pytest.param(
        "failed", None,
        {"waiting": {"reason": "ImagePullBackOff",
                     "message": 'Back-off pulling image "registry.internal/testbed:dev"'}},
        [DEADLINE], "registry.internal/testbed:dev",
        ["DeadlineExceeded", "container probe waiting (ImagePullBackOff",
         "image registry.internal/testbed:dev (set TESTBED_K8S_CLIENT_IMAGE",
         "(no log: 400 Bad Request: container \"probe\" in pod"],
        id="image-pull"),
    pytest.param(
        None, None, {"waiting": {"reason": "ContainerCreating"}}, [], None,
        ["did not finish within 1s", "is waiting to start: ContainerCreating"],
        id="still-running"),
])
def test_connect_probe_job_failures_reach_the_check_saying_why(platform, api, monkeypatch, outcome,
                                                               log, state, conditions, image, why):
    if image:
        monkeypatch.setenv(CLIENT_IMAGE_ENV, image)
    else:
        monkeypatch.delenv(CLIENT_IMAGE_ENV, raising=False)
    env = Environment.create(platform, "run-1")
    deployment = deploy_one(platform, env, "spark-4.1")
    namespace = deployment.endpoints.namespace
    thread, seen = play_job(platform, api[0], namespace, outcome, log, state, conditions)
    result = platform.connect_job(env, deployment, "testbed_probe_spark_4_1",
                                  timeout=1 if outcome is None else 10)
    thread.join()
    assert "error" not in seen, seen
    assert (result.release, result.job, result.returncode) == ("spark-4.1", "connect_probe", 1)
    verdict = release_checks.connect_job_completes(result)
    assert not verdict.passed
    for words in why:
        assert words in verdict.message, verdict.message
    job = platform.cluster.batch.read_namespaced_job(seen["job"], namespace)
    assert job.spec.template.spec.containers[0].image == (image or CLIENT_IMAGE)
    env.teardown()


def test_connect_probe_refuses_a_bad_client_image_before_creating_a_job(platform, monkeypatch):
    env = Environment.create(platform, "run-1")
    deployment = deploy_one(platform, env, "spark-4.1")
    monkeypatch.setenv(CLIENT_IMAGE_ENV, "my image")
    with pytest.raises(ConfigError, match="TESTBED_K8S_CLIENT_IMAGE='my image' is not an image"):
        platform.connect_job(env, deployment, "testbed_probe_spark_4_1", 10)
    assert platform.cluster.batch.list_namespaced_job(platform.namespace(env)).items == []
    with pytest.raises(ConfigError, match="spark-3.5 has no Connect server"):
        platform.connect_job(env, deploy_one(platform, env, "spark-3.5"), "t", 10)
    env.teardown()


def test_teardown_deletes_the_namespace_and_leaves_nothing(platform):
    env = Environment.create(platform, "run-1")
    deploy_all(platform, env)
    namespace = platform.namespace(env)
    assert platform.leftovers(env) == [f"namespace {namespace} (Active)"]
    report = env.teardown()
    assert f"namespace {namespace}" in report.stopped
    assert report.leftovers == []
    assert platform.cluster.namespace_phase(namespace) is None
    assert env.teardown().leftovers == []  # idempotent


def test_sweep_removes_expired_namespaces_of_ours_only(platform):
    cluster, now = platform.cluster, time.time()
    cluster.ensure_namespace("testbed-env-old", "env-old", "gone-run", now - 7200, 3600)
    cluster.ensure_namespace("testbed-env-new", "env-new", "live-run", now, 3600)
    cluster.core.create_namespace({"apiVersion": "v1", "kind": "Namespace",
                                   "metadata": {"name": "someone-elses"}})
    removed = platform.sweep(now)
    assert [r.split(":")[0] for r in removed] == ["namespace testbed-env-old (env-old)"]
    assert cluster.namespace_phase("testbed-env-old") is None
    assert cluster.namespace_phase("testbed-env-new") == "Active"
    assert cluster.namespace_phase("someone-elses") == "Active"


def test_sweep_removes_an_abandoned_environment_recorded_here(platform):
    env = Environment.create(platform, "run-1")
    platform.ensure_namespace(env)
    env.state.owner_pid = 2**22 + 12345  # an owner that no longer exists
    env.state.save()
    removed = platform.sweep()
    assert removed and removed[0].startswith(f"{env.state.env_id}: owner pid")
    assert platform.cluster.namespace_phase(platform.namespace(env)) is None
    assert not env.state.path.exists()


def test_helm_install_needs_a_real_api_server(api, tmp_path):
    """Why the harness plays Helm: kmock serves no OpenAPI, and Helm validates against it."""
    platform = KubernetesPlatform(tmp_path / "state", cluster=api[1],
                                  settings=KubernetesSettings(**S3_SETTINGS))
    spec = load_catalog().get("spark-3.5")
    import helm_python

    with pytest.raises(helm_python.HelmError, match="openapi"):
        platform.install("testbed-env-1", spec, platform.values(spec, "env-1", "run"))


def test_preflight_names_missing_s3_settings(tmp_path, monkeypatch):
    for var in ("TESTBED_S3_ENDPOINT", "TESTBED_S3_ACCESS_KEY", "TESTBED_S3_SECRET_KEY"):
        monkeypatch.delenv(var, raising=False)
    platform = make_platform("kubernetes", str(tmp_path), 60, 1)
    assert isinstance(platform, KubernetesPlatform) and platform.ready_timeout >= 600
    with pytest.raises(ConfigError, match="TESTBED_S3_ENDPOINT.*missing or invalid"):
        platform.preflight(list(load_catalog().releases))


def test_preflight_without_kubeconfig_says_so(tmp_path, monkeypatch):
    for var in ("TESTBED_KUBECONFIG", "KUBECONFIG", "KUBERNETES_SERVICE_HOST"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    platform = KubernetesPlatform(tmp_path / "state", settings=KubernetesSettings(**S3_SETTINGS))
    with pytest.raises(ConfigError, match="no kubeconfig: set KUBECONFIG or TESTBED_KUBECONFIG"):
        platform.preflight(list(load_catalog().releases))


def test_preflight_refuses_bad_values_before_touching_the_cluster(tmp_path, monkeypatch):
    monkeypatch.setattr(charts, "release_values", lambda *a, **k: {"s3": {"endpoint": "minio"}})
    platform = KubernetesPlatform(tmp_path / "state", settings=KubernetesSettings(**S3_SETTINGS))
    with pytest.raises(ConfigError, match="/s3/endpoint"):
        platform.preflight(list(load_catalog().releases))


def test_api_errors_other_than_not_found_are_not_swallowed(platform):
    with pytest.raises(client.ApiException):
        platform.cluster.core.read_namespaced_config_map("x", "no-such-namespace")


@pytest.mark.parametrize("done, expected", [
    (ExecResult(0, "default.testbed_probe_spark_3_5\n", ""), ["default.testbed_probe_spark_3_5"]),
    # The metastore creates its schema on first start: before that, no table at all.
    (ExecResult(1, "", 'ERROR:  relation "TBLS" does not exist\nLINE 1: ...'), []),
    (ExecResult(2, "", "psql: error: connection to server on socket failed"),
     "psql in testbed-env-1/spark-35-postgresql-0 failed (exit 2): psql: error: connection"),
    # The exec itself failed (no status): an error, never "no tables".
    (ExecResult(-1, "", ""), "failed (exit -1): no output"),
])
def test_metastore_tables_read_only_from_a_psql_that_succeeded(platform, monkeypatch, done,
                                                               expected):
    namespace = "testbed-env-1"
    platform.cluster.ensure_namespace(namespace, "env-1", "run", time.time(), 60)
    platform.cluster.core.create_namespaced_pod(namespace, {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "spark-35-postgresql-0", "labels": {
            k8s.INSTANCE: "spark-35", k8s.COMPONENT: "postgresql"}},
        "spec": {"containers": [{"name": "postgresql", "image": "postgres:16"}]}})
    calls = []
    monkeypatch.setattr(platform.cluster, "exec",
                        lambda *args, **kwargs: calls.append(args) or done)
    if isinstance(expected, list):
        assert platform.metastore_tables(namespace, "spark-35", "metastore_spark35") == expected
    else:
        with pytest.raises(RuntimeError, match=re.escape(expected)):
            platform.metastore_tables(namespace, "spark-35", "metastore_spark35")
    assert calls[0][1:3] == ("spark-35-postgresql-0", "postgresql")
