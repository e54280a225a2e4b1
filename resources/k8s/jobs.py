"""Jobs against a deployed release, as Kubernetes Jobs in its namespace.

The driver pod is the release's own worker pod template (image, jars init container, conf, S3
credentials, security context) with the driver in place of the worker, so a job sees exactly what
the release's executors see and nothing about the chart is repeated here.
"""

import copy
import uuid
from pathlib import Path

from resources.k8s.facts import COMPONENT, INSTANCE
from resources.platforms.base import ConfigError

JOBS_DIR = Path(__file__).resolve().parent.parent / "jobs"


def script_configmap(release: str, env_id: str, job: str) -> tuple[str, dict]:
    name = f"{release}-{job}-{uuid.uuid4().hex[:6]}"
    return name, {"apiVersion": "v1", "kind": "ConfigMap",
                  "metadata": {"name": name, "labels": _labels(release, env_id)},
                  "data": {f"{job}.py": (JOBS_DIR / f"{job}.py").read_text()}}


def _labels(release: str, env_id: str) -> dict:
    return {INSTANCE: release, COMPONENT: "job", "app.kubernetes.io/part-of": "testbed",
            "testbed.io/env": env_id}


def spark_submit_job(worker: dict, name: str, master: str, job: str, args: list[str],
                     driver_memory: str, timeout: float, env_id: str) -> dict:
    """A Job whose pod spark-submits resources/jobs/<job>.py (from ConfigMap `name`) to master."""
    release = worker["metadata"]["labels"][INSTANCE]
    template = copy.deepcopy(worker["spec"]["template"])
    spec = template["spec"]
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
    spec["restartPolicy"] = "Never"
    spec["volumes"] = (spec.get("volumes") or []) + [{"name": "job", "configMap": {"name": name}}]
    template["metadata"] = {"labels": _labels(release, env_id)}
    return {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name, "labels": _labels(release, env_id)},
        "spec": {"backoffLimit": 0, "activeDeadlineSeconds": int(timeout),
                 "ttlSecondsAfterFinished": 3600, "template": template},
    }
