"""Dagster on Docker (compose/dagster), live: the stack (PostgreSQL storage, code location,
webserver, daemon) comes up from images built here; a run launched through the webserver's GraphQL
API is queued, dequeued by the daemon and started by DockerRunLauncher in a container of its own,
where it reaches SUCCESS; `down -v` leaves nothing of the stack or of the run.
"""

import time
import uuid

import httpx
import pytest

from resources.docker import engine
from resources.docker import images as image_builds
from resources.docker.compose import PROJECT_LABEL, compose

pytestmark = [pytest.mark.compose]
STACK = "compose/dagster/docker-compose.yml"
LAUNCH = """mutation($p: ExecutionParams!) { launchRun(executionParams: $p) { __typename
  ... on LaunchRunSuccess { run { runId } } ... on PythonError { message }
  ... on RunConfigValidationInvalid { errors { message } } } }"""
STATUS = """query($id: ID!) { runOrError(runId: $id) { ... on Run { status
  tags { key value } } } }"""


@pytest.fixture(scope="module")
def stack_images(catalog, releases_installed):
    running = engine.answers() is not None
    engine.ensure()
    built = image_builds.images(list(catalog.releases), dagster=True)
    yield built
    if not running:
        engine.stop_started()


def test_compose_accepts_the_dagster_stack():
    services = compose("testbed-dagster", [STACK], "config", "--services").split()
    assert sorted(services) == ["codelocation", "daemon", "postgres", "webserver"]


def test_a_run_launched_through_the_ui_api_succeeds_in_its_own_container(stack_images, state_dir,
                                                                        monkeypatch):
    project = f"testbed-dagster-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("TESTBED_DAGSTER_IMAGE", stack_images["testbed/dagster"].image)
    monkeypatch.setenv("TESTBED_POSTGRES_IMAGE", stack_images["testbed/postgres"].image)
    monkeypatch.setenv("TESTBED_DAGSTER_NETWORK", project)
    client = engine.Engine.client()
    try:
        compose(project, [STACK], "up", "-d", "--wait", "--wait-timeout", "240", timeout=300)
        address = compose(project, [STACK], "port", "webserver", "3000").strip()
        params = {"selector": {"repositoryLocationName": "testbed",
                               "repositoryName": "__repository__", "jobName": "sweep"},
                  "runConfigData": {"ops": {"sweep_environments": {"config": {
                      "platform": "local", "state_dir": "/tmp/swept"}}}}}
        answer = _graphql(address, LAUNCH, {"p": params})["launchRun"]
        assert answer["__typename"] == "LaunchRunSuccess", answer
        run = _finished(address, answer["run"]["runId"], timeout=240)
        assert run["status"] == "SUCCESS", run
        tags = {tag["key"]: tag["value"] for tag in run["tags"]}
        assert "docker/container_id" in tags  # DockerRunLauncher started it in a container
    finally:
        compose(project, [STACK], "down", "-v", "--remove-orphans", timeout=180)
    label = {"label": f"{PROJECT_LABEL}={project}"}
    assert client.containers.list(all=True, filters=label) == []
    assert client.volumes.list(filters=label) == []
    assert client.networks.list(names=[project]) == []
    with pytest.raises(Exception):  # auto_remove: the run's container went when it ended
        client.containers.get(tags["docker/container_id"])


def _graphql(address: str, query: str, variables: dict) -> dict:
    answer = httpx.post(f"http://{address}/graphql", json={"query": query, "variables": variables},
                        timeout=60).json()
    assert "errors" not in answer, answer
    return answer["data"]


def _finished(address: str, run_id: str, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = _graphql(address, STATUS, {"id": run_id})["runOrError"]
        if run["status"] in ("SUCCESS", "FAILURE", "CANCELED"):
            return run
        time.sleep(1)
    raise AssertionError(f"run {run_id} did not finish within {timeout:.0f}s")


