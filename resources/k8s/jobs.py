"""Jobs against a deployed release, as Kubernetes Jobs in its namespace.

SparkPi: the driver pod is the release's own worker pod template (image, jars init container, conf,
S3 credentials, security context) with the driver in place of the worker, so a job sees exactly
what the release's executors see and nothing about the chart is repeated here.

The Spark Connect probe: the same probe as on the local platform (`resources.spark.connect_probe`),
run inside the cluster where the server's in-cluster name resolves, from the code location image
(the apache/spark images have no pyspark-client). It prints its JobResult as JSON; `read_result`
takes it back out of the pod log.
"""

import copy
import re
import uuid
from pathlib import Path

from pydantic import ValidationError

from resources.k8s.facts import COMPONENT, INSTANCE
from resources.model.errors import ConfigError
from resources.model.facts import JobResult
from resources.settings import k8s_client_image

JOBS_DIR = Path(__file__).resolve().parent.parent / "jobs"
# The code location image of deploy/Dockerfile (deploy/dagster-values.yaml names the same).
CLIENT_IMAGE = "registry.example.com/testbed:0.1.0"
CLIENT_IMAGE_ENV = "TESTBED_K8S_CLIENT_IMAGE"
# An image reference as Kubernetes accepts it: no whitespace, no scheme.
_IMAGE = re.compile(r"^[a-z0-9][a-z0-9._/:@-]*$", re.IGNORECASE)
FINISHED_TTL_SECONDS = 3600  # a finished Job and its pod stay an hour for debugging


def client_image() -> str:
    image = k8s_client_image(CLIENT_IMAGE)
    if not _IMAGE.match(image) or "://" in image:
        raise ConfigError(f"{CLIENT_IMAGE_ENV}={image!r} is not an image reference; set it to the "
                          f"code location image built from deploy/Dockerfile, e.g. {CLIENT_IMAGE}")
    return image


def job_name(release: str, job: str) -> str:
    """<release>-<job>-<6 hex>: a DNS label, unique per submission, traceable to its release."""
    return f"{release}-{job.replace('_', '-')}-{uuid.uuid4().hex[:6]}"


def script_configmap(release: str, env_id: str, job: str) -> tuple[str, dict]:
    name = job_name(release, job)
    return name, {"apiVersion": "v1", "kind": "ConfigMap",
                  "metadata": {"name": name, "labels": _labels(release, env_id)},
                  "data": {f"{job}.py": (JOBS_DIR / f"{job}.py").read_text()}}


def _labels(release: str, env_id: str) -> dict:
    return {INSTANCE: release, COMPONENT: "job", "app.kubernetes.io/part-of": "testbed",
            "testbed.io/env": env_id}


def job_manifest(name: str, release: str, env_id: str, pod_spec: dict, timeout: float) -> dict:
    """A Job around one pod: one attempt (a retried probe could pass where the first failed),
    killed at the timeout, gone an hour after it finished. Its labels keep its pod out of every
    workload's selector (component=job)."""
    labels = _labels(release, env_id)
    return {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name, "labels": labels},
        "spec": {"backoffLimit": 0, "activeDeadlineSeconds": max(1, int(timeout)),
                 "ttlSecondsAfterFinished": FINISHED_TTL_SECONDS,
                 "template": {"metadata": {"labels": dict(labels)},
                              "spec": {**pod_spec, "restartPolicy": "Never"}}},
    }


def spark_submit_job(worker: dict, name: str, master: str, job: str, args: list[str],
                     driver_memory: str, timeout: float, env_id: str) -> dict:
    """A Job whose pod spark-submits resources/jobs/<job>.py (from ConfigMap `name`) to master."""
    release = worker["metadata"]["labels"][INSTANCE]
    spec = copy.deepcopy(worker["spec"]["template"]["spec"])
    containers = spec.get("containers") or []
    if not containers:
        raise ConfigError(f"worker of {release} has no container to take the driver's image from")
    base = containers[0]
    driver = {
        "name": "driver",
        "image": base["image"],
        "imagePullPolicy": base.get("imagePullPolicy", "IfNotPresent"),
        "args": ["/opt/spark/bin/spark-submit", "--master", master,
                 # Executors on the worker call back to the driver by the pod's IP.
                 "--conf", "spark.driver.host=$(POD_IP)", "--conf", "spark.driver.bindAddress=0.0.0.0",
                 "--driver-memory", driver_memory, "--executor-memory", driver_memory,
                 "--name", f"testbed-{job}", f"/opt/testbed/job/{job}.py", *args],
        "env": base.get("env") or [],
        "volumeMounts": (base.get("volumeMounts") or []) + [
            {"name": "job", "mountPath": "/opt/testbed/job"}],
        "resources": {"requests": {"cpu": "250m", "memory": "1Gi"}, "limits": {"memory": "1280Mi"}},
        "securityContext": base.get("securityContext") or {},
    }
    spec["containers"] = [driver]
    spec["volumes"] = (spec.get("volumes") or []) + [{"name": "job", "configMap": {"name": name}}]
    return job_manifest(name, release, env_id, spec, timeout)


PROBE_CONTAINER = "probe"
PROBE_MODULE = "resources.jobs.connect_probe"


def connect_probe_job(name: str, release: str, env_id: str, image: str, catalog_name: str,
                      url: str, table: str, timeout: float) -> dict:
    """A Job that runs `python -m resources.jobs.connect_probe <catalog name> <url> <table>` in
    the code location image; its pod needs no Kubernetes API and no Spark install."""
    pod = {
        "automountServiceAccountToken": False,
        "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001,
                            "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [{
            "name": PROBE_CONTAINER,
            "image": image,
            "imagePullPolicy": "IfNotPresent",
            "command": ["python", "-m", PROBE_MODULE],
            "args": [catalog_name, url, table],
            # pyspark-client, pandas and pyarrow take ~250 MB once imported.
            "resources": {"requests": {"cpu": "100m", "memory": "384Mi"},
                          "limits": {"memory": "768Mi"}},
            "securityContext": {"allowPrivilegeEscalation": False,
                                "capabilities": {"drop": ["ALL"]}},
        }],
    }
    return job_manifest(name, release, env_id, pod, timeout)


def pod_problems(pods: list[dict]) -> list[str]:
    """Why a Job's pods did not produce a result: containers stuck waiting (image pull, config)
    or terminated badly (OOMKilled, a non-zero exit)."""
    problems = []
    for pod in pods:
        status = pod.get("status") or {}
        statuses = (status.get("initContainerStatuses") or []) + (status.get("containerStatuses")
                                                                  or [])
        for container in statuses:
            state = container.get("state") or {}
            waiting, ended = state.get("waiting") or {}, state.get("terminated") or {}
            if waiting.get("reason") and waiting["reason"] not in ("ContainerCreating",
                                                                   "PodInitializing"):
                detail = f": {waiting['message'][:200]}" if waiting.get("message") else ""
                problems.append(f"pod {pod['metadata']['name']} container {container['name']} "
                                f"waiting ({waiting['reason']}{detail})")
            elif ended and (ended.get("exitCode") or 0) != 0:
                problems.append(f"pod {pod['metadata']['name']} container {container['name']} "
                                f"exited {ended.get('exitCode')} ({ended.get('reason', '?')})")
        if not statuses and status.get("phase") == "Pending":
            reason = status.get("reason") or next(
                (c.get("message") for c in status.get("conditions") or []
                 if c.get("type") == "PodScheduled" and c.get("status") == "False"), "")
            problems.append(f"pod {pod['metadata']['name']} pending"
                            + (f" ({reason})" if reason else ""))
    return problems


def read_result(log: str, release: str, job: str, seconds: float) -> JobResult:
    """The JobResult a job printed as JSON: the last log line that is one (stderr shares the log,
    and the client may write warnings after it). A log without one is a failed JobResult whose
    error carries the log's tail, so the check can say what the pod said instead."""
    for line in reversed(log.splitlines()):
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            result = JobResult.model_validate_json(line)
        except ValidationError:
            continue
        if result.job == job:
            return result
    tail = "\n".join(log.strip().splitlines()[-20:]) or "(empty log)"
    return JobResult(release=release, job=job, returncode=1, seconds=seconds, output=log[-4000:],
                     error=f"the pod printed no {job} result; log tail:\n{tail}")
