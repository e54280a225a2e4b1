import os
from pathlib import Path

import pytest
import yaml

from resources.k8s import charts
from resources.model.catalog import load_catalog

VALUES = Path(__file__).parent / "values"
# The simulated-cluster tier runs only inside `testbed cluster run` (which sets this);
# tests/k8s/test_simulated_cluster.py starts it so from the ordinary session.
collect_ignore = [] if os.environ.get("TESTBED_RUNNER_KUBECONFIG") else ["simulated"]
NAMESPACE = "testbed-env-0123456789"
# The kubernetes platform's settings where no object store is reached (kmock, simulated nodes).
S3_SETTINGS = {"s3_endpoint": "http://minio.minio.svc:9000", "s3_access_key": "testbed",
               "s3_secret_key": "testbed-secret"}


def values_file(name: str) -> dict:
    return yaml.safe_load((VALUES / name).read_text())


@pytest.fixture(scope="session")
def s3() -> dict:
    return values_file("s3-test.yaml")["s3"]


@pytest.fixture(scope="session")
def catalog():
    return load_catalog()


def render_release(spec, s3: dict, release: str | None = None, extra: dict | None = None,
                   namespace: str = NAMESPACE) -> list[dict]:
    values = charts.release_values(spec, "env-0123456789", "pytest", s3)
    for key, value in (extra or {}).items():
        values[key] = {**values.get(key, {}), **value} if isinstance(value, dict) else value
    return charts.render(charts.chart_dir(spec), release or charts.helm_release(spec), namespace,
                         values)


@pytest.fixture(scope="session")
def both(catalog, s3) -> list[dict]:
    """spark-35 and spark-41 rendered into one namespace, as the platform installs them."""
    return [obj for spec in catalog.releases for obj in render_release(spec, s3)]
