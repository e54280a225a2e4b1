"""`dagster-webserver -w workspace.yaml` (what `make ui` serves) shows both releases, their checks,
the coexistence job and the nightly schedule: asked through the UI's own GraphQL API."""

import sys
from pathlib import Path

import httpx
import pytest

from resources.ports import free_port
from resources.probes import HttpJson
from resources.processes import ProcessSpec, start

REPO = Path(__file__).resolve().parents[2]
QUERY = """{ repositoriesOrError { ... on RepositoryConnection { nodes {
  location { name } jobs { name } schedules { name cronSchedule scheduleState { status } }
  assetNodes { assetKey { path } assetChecksOrError { ... on AssetChecks { checks { name } } } }
} } } }"""


@pytest.fixture
def webserver(tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = start(
        ProcessSpec(name="dagster-webserver",
                    argv=[str(Path(sys.executable).parent / "dagster-webserver"), "-w",
                          "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
                    log_file=tmp_path / "webserver.log", cwd=REPO,
                    env={"DAGSTER_HOME": str(tmp_path), "PATH": str(Path(sys.executable).parent)
                         + ":/usr/bin:/bin"}),
        HttpJson(f"{url}/server_info", what="answers"), timeout=120)
    try:
        yield url
    finally:
        process.stop(10)


def test_ui_lists_releases_checks_job_and_schedule(webserver):
    response = httpx.post(f"{webserver}/graphql", json={"query": QUERY}, timeout=60)
    repo = response.json()["data"]["repositoriesOrError"]["nodes"][0]
    assert repo["location"]["name"] == "testbed"
    assert "coexistence" in {job["name"] for job in repo["jobs"]}
    schedules = {s["name"]: (s["cronSchedule"], s["scheduleState"]["status"])
                 for s in repo["schedules"]}
    assert schedules == {"nightly_coexistence": ("0 2 * * *", "STOPPED"),
                         "nightly_connect_load": ("0 3 * * *", "STOPPED"),
                         "reaper": ("*/30 * * * *", "RUNNING")}
    checks = {"/".join(node["assetKey"]["path"]): {c["name"] for c in
                                                    node["assetChecksOrError"]["checks"]}
              for node in repo["assetNodes"]}
    isolation = {"metastore_isolated", "history_isolated", "event_logs_on_own_prefix",
                 "services_isolated"}
    assert checks["spark_3_5/release"] == {"release_ready", "sparkpi_completes", *isolation}
    assert checks["spark_4_1/release"] == {"release_ready", "connect_job_completes", *isolation}
    assert checks["storage/object_store"] == {"object_store_ready"}
    assert checks["coexistence/teardown"] == {"nothing_left"}
