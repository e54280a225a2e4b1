"""The Spark Connect probe as the kubernetes platform runs it: the entry point the Job's pod runs,
the manifest of that Job, and the reading of its result back out of a pod log. No Connect server
here: a live probe runs in tests/integration (local platform) and tests/k8s/test_live_cluster.py."""

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from resources.criteria import release_checks
from resources.criteria.release_checks import CONNECT_EXPECTED
from resources.jobs import connect_probe as entry
from resources.k8s import charts
from resources.k8s.facts import COMPONENT, INSTANCE
from resources.k8s.jobs import (
    CLIENT_IMAGE,
    CLIENT_IMAGE_ENV,
    client_image,
    connect_probe_job,
    job_name,
    pod_problems,
    read_result,
)
from resources.model.catalog import load_catalog
from resources.model.errors import ConfigError
from resources.model.facts import Deployment, Endpoints, JobResult
from resources.platforms.local import LocalPlatform

REPO = Path(__file__).resolve().parents[2]
URL = "sc://spark-41-connect.testbed-env-0123456789.svc.cluster.local:15002"
PASSED = JobResult(release="spark-4.1", job="connect_probe", returncode=0, seconds=3.2,
                   values={"server_version": "4.1.0", **CONNECT_EXPECTED,
                           "table": "default.testbed_probe_spark_4_1"},
                   output="{'server_version': '4.1.0', ...}")
# What pyspark-client raises when the server is unreachable (shortened).
UNREACHABLE = ("SparkConnectGrpcException: <_MultiThreadedRendezvous of RPC that terminated with: "
               "status = StatusCode.UNAVAILABLE details = \"failed to connect to all addresses\">")


# --- reading the result back out of a pod log -------------------------------------------------


def test_a_printed_result_is_read_back_exactly():
    assert read_result(PASSED.model_dump_json() + "\n", "spark-4.1", "connect_probe", 9.9) == PASSED
    assert release_checks.connect_job_completes(PASSED).passed


def test_the_last_result_line_counts_whatever_stderr_wrote_around_it():
    older = PASSED.model_copy(update={"returncode": 1, "error": "an earlier attempt"})
    log = "\n".join([
        "WARNING: Using incubator modules: jdk.incubator.vector",
        older.model_dump_json(),
        '{"not": "a job result"}',
        PASSED.model_dump_json(),
        "E0000 00:00:00 grpc shutdown: 1 channel still open",
        JobResult(release="spark-4.1", job="sparkpi", returncode=1, seconds=1).model_dump_json(),
    ])
    assert read_result(log, "spark-4.1", "connect_probe", 9.9) == PASSED


def test_a_log_with_garbage_is_a_failure_that_shows_the_log():
    log = ("Traceback (most recent call last):\n  File \"<frozen runpy>\", line 198\n"
           "ModuleNotFoundError: No module named 'pyspark'\n{\"release\": \"spark-4.1\", trunc")
    result = read_result(log, "spark-4.1", "connect_probe", 4.5)
    assert (result.returncode, result.seconds, result.values) == (1, 4.5, {})
    assert "printed no connect_probe result" in result.error
    assert "No module named 'pyspark'" in result.error
    verdict = release_checks.connect_job_completes(result)
    assert not verdict.passed
    assert "Spark Connect job failed" in verdict.message
    assert "No module named 'pyspark'" in verdict.message


def test_an_empty_log_is_a_failure_that_says_so():
    result = read_result("", "spark-4.1", "connect_probe", 1.0)
    assert result.returncode == 1 and result.error.endswith("(empty log)")
    verdict = release_checks.connect_job_completes(result)
    assert not verdict.passed and "(empty log)" in verdict.message


# --- the entry point the Job's pod runs -------------------------------------------------------


def test_entry_point_prints_the_result_as_its_last_line(monkeypatch, capsys):
    calls = []

    def probe(release, url, table):
        calls.append((release, url, table))
        print("a line the client printed first")
        return PASSED
    monkeypatch.setattr(entry, "connect_probe", probe)
    assert entry.main(["spark-4.1", URL, "testbed_probe_spark_4_1"]) == 0
    assert calls == [("spark-4.1", URL, "testbed_probe_spark_4_1")]
    out = capsys.readouterr().out
    assert JobResult.model_validate_json(out.splitlines()[-1]) == PASSED
    assert read_result(out, "spark-4.1", "connect_probe", 0) == PASSED


def test_entry_point_exits_with_the_probes_returncode(monkeypatch, capsys):
    failed = PASSED.model_copy(update={"returncode": 1, "values": {}, "error": UNREACHABLE})
    monkeypatch.setattr(entry, "connect_probe", lambda *args: failed)
    assert entry.main(["spark-4.1", URL, "testbed_probe_spark_4_1"]) == 1
    assert read_result(capsys.readouterr().out, "spark-4.1", "connect_probe", 0) == failed


@pytest.mark.parametrize("args, message", [
    (["spark-4.1", "http://spark-41-connect:15002", "t"], "is not a Spark Connect URL"),
    (["spark-4.1", URL, "t; DROP TABLE x"], "is not a plain table name"),
    (["spark-4.1", URL], "the following arguments are required: table"),
])
def test_entry_point_refuses_bad_arguments_before_connecting(monkeypatch, capsys, args, message):
    monkeypatch.setattr(entry, "connect_probe", lambda *a: pytest.fail("probe must not run"))
    with pytest.raises(SystemExit) as exited:
        entry.main(args)
    assert exited.value.code == 2
    captured = capsys.readouterr()
    assert message in captured.err
    # In a pod, stderr is the log: the usage error reaches the check.
    verdict = release_checks.connect_job_completes(
        read_result(captured.out + captured.err, "spark-4.1", "connect_probe", 0))
    assert not verdict.passed and message in verdict.message


def test_entry_point_runs_as_a_module_with_the_real_client():
    """`python -m resources.jobs.connect_probe`, as the Job's container runs it, with the real
    pyspark-client: a URL the client refuses fails fast, without a server, through the same path
    as an unreachable one (the probe's exception becomes a failed result)."""
    done = subprocess.run(
        [sys.executable, "-m", "resources.jobs.connect_probe", "spark-4.1",
         "sc://localhost:15002/;badparam", "testbed_probe_spark_4_1"],
        cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    result = read_result(done.stdout + done.stderr, "spark-4.1", "connect_probe", 0)
    assert (result.release, result.job, result.returncode) == ("spark-4.1", "connect_probe", 1)
    assert "INVALID_CONNECT_URL" in result.error
    verdict = release_checks.connect_job_completes(result)
    assert not verdict.passed and "INVALID_CONNECT_URL" in verdict.message


def test_the_local_platform_keeps_probing_from_the_orchestrator(tmp_path):
    """The default connect_job: the real probe on the deployment's endpoint, in this process."""
    spec = load_catalog().get("spark-4.1")
    deployment = Deployment(spec=spec, env_id="env-1", root=str(tmp_path), startup_seconds=0,
                            component_seconds={},
                            endpoints=Endpoints(metastore="thrift://localhost:9083",
                                                metastore_db="metastore_spark41",
                                                history_ui="http://localhost:18080",
                                                event_log_dir=str(tmp_path),
                                                connect="sc://localhost:15002/;badparam"))
    local_storage = SimpleNamespace(state=SimpleNamespace(storage="local"))  # no batch app
    result = LocalPlatform(tmp_path).connect_job(local_storage, deployment, "testbed_probe_x", 5)
    assert (result.release, result.job, result.returncode) == ("spark-4.1", "connect_probe", 1)
    assert "INVALID_CONNECT_URL" in result.error


# --- the Job ----------------------------------------------------------------------------------


def test_the_job_runs_the_entry_point_in_the_client_image():
    name = job_name("spark-41", "connect_probe")
    assert name.startswith("spark-41-connect-probe-") and len(name) <= 63
    job = connect_probe_job(name, "spark-41", "env-0123456789", CLIENT_IMAGE, "spark-4.1", URL,
                            "testbed_probe_spark_4_1", 300)
    assert charts.validate([job]) == []  # every Kubernetes version the charts are checked for
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == CLIENT_IMAGE
    assert container["command"] + container["args"] == [
        "python", "-m", "resources.jobs.connect_probe", "spark-4.1", URL,
        "testbed_probe_spark_4_1"]
    assert job["spec"]["backoffLimit"] == 0
    assert job["spec"]["activeDeadlineSeconds"] == 300
    assert job["spec"]["ttlSecondsAfterFinished"] > 0
    assert pod["restartPolicy"] == "Never"
    assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
    assert pod["automountServiceAccountToken"] is False
    labels = {INSTANCE: "spark-41", COMPONENT: "job", "app.kubernetes.io/part-of": "testbed",
              "testbed.io/env": "env-0123456789"}
    assert job["metadata"]["labels"] == job["spec"]["template"]["metadata"]["labels"] == labels


def test_the_client_image_is_configurable_and_checked(monkeypatch):
    monkeypatch.delenv(CLIENT_IMAGE_ENV, raising=False)
    assert client_image() == CLIENT_IMAGE
    monkeypatch.setenv(CLIENT_IMAGE_ENV, "ghcr.io/acme/testbed@sha256:" + "a" * 64)
    assert client_image() == "ghcr.io/acme/testbed@sha256:" + "a" * 64
    monkeypatch.setenv(CLIENT_IMAGE_ENV, "https://ghcr.io/acme/testbed")
    with pytest.raises(ConfigError, match="TESTBED_K8S_CLIENT_IMAGE=.* is not an image reference"):
        client_image()


def test_run_pods_name_the_code_location_image_as_the_client_image():
    """The probe Job needs the image the Dagster user deployment serves (deploy/Dockerfile: the
    project and pyspark-client): the run launcher passes exactly that, and it is the default."""
    values = yaml.safe_load((REPO / "deploy" / "dagster-values.yaml").read_text())
    image = values["dagster-user-deployments"]["deployments"][0]["image"]
    served = f"{image['repository']}:{image['tag']}"
    passed = dict(v.split("=", 1) for v in
                  values["runLauncher"]["config"]["k8sRunLauncher"]["envVars"])
    assert passed[CLIENT_IMAGE_ENV] == served == CLIENT_IMAGE
    instance = yaml.safe_load((REPO / "deploy" / "dagster.yaml").read_text())
    assert f"{CLIENT_IMAGE_ENV}={served}" in instance["run_launcher"]["config"]["env_vars"]
    dockerfile = (REPO / "deploy" / "Dockerfile").read_text()
    assert f"-t {served} ." in dockerfile and "COPY resources resources" in dockerfile


def test_pod_problems_name_why_no_result_came():
    pods = [{"metadata": {"name": "spark-41-connect-probe-abc123-x7k2p"}, "status": {
        "phase": "Pending",
        "containerStatuses": [{"name": "probe", "state": {"waiting": {
            "reason": "ImagePullBackOff",
            "message": "Back-off pulling image \"registry.example.com/testbed:0.1.0\""}}}]}},
        {"metadata": {"name": "p2"}, "status": {"phase": "Failed", "containerStatuses": [
            {"name": "probe", "state": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}}]}},
        {"metadata": {"name": "p3"}, "status": {"phase": "Pending", "conditions": [
            {"type": "PodScheduled", "status": "False", "message": "0/1 nodes: Insufficient memory"}]}},
        {"metadata": {"name": "p4"}, "status": {"phase": "Running", "containerStatuses": [
            {"name": "probe", "state": {"running": {}}}]}}]
    assert pod_problems(pods) == [
        "pod spark-41-connect-probe-abc123-x7k2p container probe waiting (ImagePullBackOff: "
        "Back-off pulling image \"registry.example.com/testbed:0.1.0\")",
        "pod p2 container probe exited 137 (OOMKilled)",
        "pod p3 pending (0/1 nodes: Insufficient memory)"]
