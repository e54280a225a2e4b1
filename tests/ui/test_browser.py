"""The UI a user sees, in a real browser: `dagster dev` (started here, own DAGSTER_HOME, own port)
driven by Debian's chromium through Playwright. Every asset group the Definitions hold is shown, a
release's Checks tab lists its checks, an asset materialized from the UI reaches Success, the
daemon's teardown sensor then runs environment_teardown for it, and the asset's numbers are plotted
across two runs (TESTBED_UI_SCREENSHOTS=docs refreshes the README's picture). With the same `dagster dev`, a
failed check of a launched run reaches a real AlertManager through the daemon's alert sensor."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from pipelines.definitions import defs
from resources.alerting import AlertingStack, render_alertmanager_config
from resources.ports import free_port
from resources.probes import HttpJson
from tests.conftest import LeakWatch

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
# Without the networking flags chromium keeps dialling Google, which this closed network refuses.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
CHEAP_ASSET = "alerting/alertmanager_config"  # renders and validates a file: no servers

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not Path(CHROMIUM).exists(),
                       reason="Debian chromium (/usr/bin/chromium) is missing: make setup installs it"),
]


def _graphql(url: str, query: str, variables: dict | None = None) -> dict:
    response = httpx.post(f"{url}/graphql", json={"query": query, "variables": variables or {}},
                          timeout=60)
    response.raise_for_status()
    return response.json()["data"]


@pytest.fixture
def start_dagster_dev(tmp_path, state_dir):
    """Starts `dagster dev` in its own session (started from a script it ignores SIGTERM otherwise)
    with its own DAGSTER_HOME; everything it started is gone afterwards."""
    watch = LeakWatch(state_dir)
    started = []

    def start(extra_env: dict[str, str] | None = None) -> str:
        port = free_port()
        home = tmp_path / f"home-{port}"
        home.mkdir()
        env = {**os.environ, "DAGSTER_HOME": str(home), "TESTBED_STATE_DIR": str(state_dir),
               **(extra_env or {})}
        log_path = tmp_path / f"dagster-dev-{port}.log"
        log = open(log_path, "wb")
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "dagster"), "dev", "-w", "workspace.yaml",
             "-h", "127.0.0.1", "-p", str(port)],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        started.append((process, log))
        url = f"http://127.0.0.1:{port}"
        ready = HttpJson(f"{url}/server_info", what="answers")
        deadline = time.monotonic() + 180
        while not ready():
            assert process.poll() is None, log_path.read_text()[-3000:]
            assert time.monotonic() < deadline, "dagster dev not ready in 180s"
            time.sleep(0.5)
        assert _graphql(url, "mutation { setNuxSeen }")["setNuxSeen"] is True  # first-visit modal
        return url

    yield start
    for process, log in started:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()
    assert watch.leaks() == []


@pytest.fixture
def dagster_dev(start_dagster_dev) -> str:
    return start_dagster_dev()


@pytest.fixture
def page(tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        try:
            yield context.new_page()
        finally:
            context.close()
            browser.close()


def _groups() -> dict[str, set[str]]:
    graph = defs.resolve_asset_graph()
    groups: dict[str, set[str]] = {}
    for key in graph.get_all_asset_keys():
        groups.setdefault(graph.get(key).group_name, set()).add(key.path[-1])
    return groups


def _latest_run(url: str) -> dict | None:
    runs = _graphql(url, "{ runsOrError(limit: 1) { ... on Runs { results { runId status "
                         "assetSelection { path } } } } }")["runsOrError"]["results"]
    return runs[0] if runs else None


def _errors(url: str, run: dict | None) -> list[str]:
    """The run's error messages, so a failure here says why."""
    if not run:
        return []
    events = _graphql(url, """query($id: ID!) { runOrError(runId: $id) { ... on Run {
        eventConnection { events { __typename ... on MessageEvent { message }
        ... on ErrorEvent { error { message } } } } } } }""", {"id": run["runId"]})
    return [f"{e['__typename']}: {e.get('message')} {(e.get('error') or {}).get('message', '')}"
            for e in events["runOrError"]["eventConnection"]["events"]
            if "Failure" in e["__typename"] or "Error" in e["__typename"]]


def test_groups_checks_and_a_materialization_from_the_browser(dagster_dev, page, tmp_path):
    from playwright.sync_api import expect

    groups = _groups()
    assert {"alerting", "cdc", "delta"} <= set(groups)
    for group, assets in sorted(groups.items()):
        page.goto(f"{dagster_dev}/locations/testbed/asset-groups/{group}")
        for name in sorted(assets):
            expect(page.get_by_text(name, exact=True).first).to_be_visible(timeout=60_000)

    release = "spark_3_5/release"
    page.goto(f"{dagster_dev}/assets/{release}?view=checks")
    graph = defs.resolve_asset_graph()
    for check in sorted(k.name for k in graph.asset_check_keys if k.asset_key.to_user_string() == release):
        expect(page.get_by_text(check, exact=True).first).to_be_visible(timeout=60_000)

    page.goto(f"{dagster_dev}/assets/{CHEAP_ASSET}")
    page.locator("button", has_text="Materialize").first.click()
    deadline = time.monotonic() + 240
    run = None
    while time.monotonic() < deadline:
        run = _latest_run(dagster_dev)
        if run and run["status"] in ("SUCCESS", "FAILURE", "CANCELED"):
            break
        time.sleep(1)
    assert run is not None and run["status"] == "SUCCESS", (run, _errors(dagster_dev, run))
    assert {"/".join(a["path"]) for a in run["assetSelection"]} == {CHEAP_ASSET}
    page.goto(f"{dagster_dev}/runs/{run['runId']}")
    expect(page.get_by_text("Success").first).to_be_visible(timeout=60_000)
    page.screenshot(path=str(tmp_path / "run.png"), full_page=True)
    assert (tmp_path / "run.png").stat().st_size > 10_000

    # Teardown layer 3 with the real daemon: the finished run gets its teardown run.
    teardown = _teardown_run(dagster_dev, run["runId"], timeout=120)
    assert teardown == {"jobName": "environment_teardown", "status": "SUCCESS"}, teardown

    # Its numbers, plotted across runs: materialize it once more, then open its Plots tab.
    page.goto(f"{dagster_dev}/assets/{CHEAP_ASSET}")
    page.locator("button", has_text="Materialize").first.click()
    second = _wait_for_new_run(dagster_dev, run["runId"], timeout=240)
    assert second and second["status"] == "SUCCESS", (second, _errors(dagster_dev, second))
    page.goto(f"{dagster_dev}/assets/{CHEAP_ASSET}?view=overview")
    page.locator("button", has_text="Plots").first.click()  # the Metadata section's toggle
    for number in ("amtool_seconds", "receivers"):
        expect(page.get_by_text(number, exact=True).first).to_be_visible(timeout=60_000)
    expect(page.locator("canvas, svg").first).to_be_visible(timeout=60_000)
    shots = Path(os.environ.get("TESTBED_UI_SCREENSHOTS", tmp_path))  # docs/ for the README
    page.screenshot(path=str(shots / "asset-plots.png"), full_page=False)
    assert (shots / "asset-plots.png").stat().st_size > 10_000


def _wait_for_new_run(url: str, after: str, timeout: float) -> dict | None:
    """The newest materialization of CHEAP_ASSET other than `after`, once it has finished (the
    daemon's teardown runs come and go meanwhile)."""
    query = ("{ runsOrError(limit: 10) { ... on Runs { results { runId status "
             "assetSelection { path } } } } }")
    deadline = time.monotonic() + timeout
    run = None
    while time.monotonic() < deadline:
        runs = _graphql(url, query)["runsOrError"]["results"]
        run = next((r for r in runs if r["runId"] != after and
                    {"/".join(a["path"]) for a in r["assetSelection"] or []} == {CHEAP_ASSET}),
                   None)
        if run and run["status"] in ("SUCCESS", "FAILURE", "CANCELED"):
            return run
        time.sleep(1)
    return run


def _wait_finished(url: str, run_id: str, timeout: float) -> str | None:
    query = "query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }"
    deadline = time.monotonic() + timeout
    status = None
    while time.monotonic() < deadline:
        status = _graphql(url, query, {"id": run_id})["runOrError"]["status"]
        if status in ("SUCCESS", "FAILURE", "CANCELED"):
            break
        time.sleep(1)
    return status


def test_a_failed_check_becomes_an_alertmanager_alert_through_the_daemon(start_dagster_dev,
                                                                         state_dir, tmp_path):
    """Launched as a user would (GraphQL, like the Launchpad): the alerting job with a production
    webhook in its config fails no_production_receivers; the daemon's sensor posts the alert."""
    receiver = AlertingStack(state_dir / "receiving-am")
    try:
        receiver.write_alertmanager_config(yaml.safe_dump(
            render_alertmanager_config(receiver.webhook.url)))
        receiver.start_alertmanager()
        url = start_dagster_dev({"TESTBED_ALERTMANAGER_URL": receiver.am_url,
                                 "TESTBED_UI_URL": "http://dagster.test:3000"})
        config = render_alertmanager_config("{webhook}")
        config["receivers"][2]["webhook_configs"][0]["url"] = "https://events.pagerduty.com/v2/x"
        config_file = tmp_path / "production-ish.yml"
        config_file.write_text(yaml.safe_dump(config))
        launched = _graphql(url, """mutation($params: ExecutionParams!) {
            launchRun(executionParams: $params) { __typename
              ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }""",
            {"params": {"selector": {"repositoryLocationName": "testbed",
                                     "repositoryName": "__repository__", "jobName": "alerting"},
                        "runConfigData": {"ops": {"alerting__alertmanager_config": {
                            "config": {"config_file": str(config_file)}}}}}})["launchRun"]
        assert launched["__typename"] == "LaunchRunSuccess", launched
        run_id = launched["run"]["runId"]
        assert _wait_finished(url, run_id, 240) == "FAILURE"
        deadline = time.monotonic() + 120
        alerts = []
        while time.monotonic() < deadline and not alerts:
            alerts = receiver.alerts(alertname="AssetCheckFailed", run_id=run_id)
            time.sleep(1)
        assert [a["labels"]["check"] for a in alerts] == ["no_production_receivers"], alerts
        labels = alerts[0]["labels"]
        assert labels["asset"] == "alerting/alertmanager_config" and labels["job"] == "alerting"
        assert labels["severity"] == "critical" and labels["environment"] == "test"
        assert alerts[0]["annotations"]["run_url"] == f"http://dagster.test:3000/runs/{run_id}"
        assert "events.pagerduty.com" in alerts[0]["annotations"]["description"]
        assert _teardown_run(url, run_id, 120)["status"] == "SUCCESS"
    finally:
        receiver.stop(5)
        receiver.webhook.close()


def _teardown_run(url: str, run_id: str, timeout: float) -> dict | None:
    query = """query($id: String!) { runsOrError(filter: {tags: [{key: "testbed/teardown-of",
        value: $id}]}) { ... on Runs { results { jobName status } } } }"""
    deadline = time.monotonic() + timeout
    found = None
    while time.monotonic() < deadline:
        results = _graphql(url, query, {"id": run_id})["runsOrError"]["results"]
        found = results[0] if results else None
        if found and found["status"] in ("SUCCESS", "FAILURE", "CANCELED"):
            return found
        time.sleep(1)
    return found
