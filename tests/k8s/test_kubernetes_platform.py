"""The kubernetes platform's client code against kmock's in-memory Kubernetes API: namespaces,
deploy's object-level steps and readiness wait, facts from the live API, jobs, teardown and the
reaper. Helm itself cannot install there (no OpenAPI), so the harness creates the rendered objects
where `helm install` would, and plays the controllers that mark pods ready."""

import contextlib
import threading
import time

import pytest
from kubernetes import client

from assets import release_checks
from resources.environment import make_platform
from resources.k8s import charts
from resources.k8s import facts as k8s
from resources.k8s.cluster import namespace_for
from resources.k8s.jobs import JOBS_DIR
from resources.platforms.base import ConfigError, Environment, load_catalog
from resources.platforms.kubernetes import KubernetesPlatform, KubernetesSettings
from tests.k8s.emulator import apply, emulated_api, mark_ready

S3 = {"s3_endpoint": "http://minio.minio.svc:9000", "s3_access_key": "testbed",
      "s3_secret_key": "testbed-secret"}


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
                        cluster=api[1], settings=KubernetesSettings(**S3))


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
    assert {h.get("release") for h in env.state.handles} >= {"spark-35", "spark-41"}

    d35 = deployments["spark-3.5"]
    assert d35.endpoints["master"] == "spark://spark-35-master:7077"
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
    namespace = deployment.endpoints["namespace"]
    serve_history(emulator, namespace, "spark-35", [
        {"id": "app-1", "name": "testbed-sparkpi", "attempts": [{"appSparkVersion": "3.5.7"}]}])
    apps = platform.history_apps(namespace, "spark-35-history")
    assert [(a.id, a.spark_version) for a in apps] == [("app-1", "3.5.7")]
    env.teardown()


@pytest.mark.parametrize("outcome, returncode", [("succeeded", 0), ("failed", 1)])
def test_sparkpi_runs_as_a_job_built_from_the_worker_pod(platform, outcome, returncode):
    env = Environment.create(platform, "run-1")
    deployment = deploy_all(platform, env)["spark-3.5"]
    namespace = deployment.endpoints["namespace"]
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
                                  settings=KubernetesSettings(**S3))
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
    platform = KubernetesPlatform(tmp_path / "state", settings=KubernetesSettings(**S3))
    with pytest.raises(ConfigError, match="no kubeconfig: set KUBECONFIG or TESTBED_KUBECONFIG"):
        platform.preflight(list(load_catalog().releases))


def test_preflight_refuses_bad_values_before_touching_the_cluster(tmp_path, monkeypatch):
    monkeypatch.setattr(charts, "release_values", lambda *a, **k: {"s3": {"endpoint": "minio"}})
    platform = KubernetesPlatform(tmp_path / "state", settings=KubernetesSettings(**S3))
    with pytest.raises(ConfigError, match="/s3/endpoint"):
        platform.preflight(list(load_catalog().releases))


def test_api_errors_other_than_not_found_are_not_swallowed(platform):
    with pytest.raises(client.ApiException):
        platform.cluster.core.read_namespaced_config_map("x", "no-such-namespace")
