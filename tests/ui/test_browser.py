"""The UI a user sees, in a real browser: one `dagster dev` for this module (started here, own
DAGSTER_HOME, own port) driven by Debian's chromium through Playwright. Every asset group the
Definitions hold is shown, a release's Checks tab lists its checks, an asset materialized from the
UI reaches Success, the daemon's teardown sensor then runs environment_teardown for it, and the
asset's numbers are plotted across two runs (TESTBED_UI_SCREENSHOTS=docs refreshes the README's
picture). With the same `dagster dev`, a failed check of a launched run reaches a real AlertManager
through the daemon's alert sensor.

Much of this module's time is waiting for the daemon's run-status sensors to tick (every
RUN_STATUS_INTERVAL_S): the alerting run is launched as soon as `dagster dev` is up, and its tick
comes while the browser test runs."""

import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from pipelines.definitions import defs
from pipelines.sensors import HOUSEKEEPING  # the daemon's own runs: teardown, sweep
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
UI_URL = "http://dagster.test:3000"  # TESTBED_UI_URL: what alerts link runs to

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


@dataclass(frozen=True)
class DagsterDev:
    url: str
    receiver: AlertingStack  # the AlertManager TESTBED_ALERTMANAGER_URL points at
    home: Path  # where its instance, logs and configs live


@pytest.fixture(scope="module")
def dagster_dev(state_root, tmp_path_factory):
    """Starts `dagster dev` in its own session (started from a script it ignores SIGTERM otherwise)
    with its own DAGSTER_HOME and state dir, its alert sensor pointed at a real AlertManager
    (failed-check alerts are read back from its API); everything started is gone afterwards.
    Returns once the daemon's sensors have ticked once: a run-status sensor's first tick only sets
    its cursor, so a run that ends before it would never get its teardown or alert."""
    state = Path(tempfile.mkdtemp(prefix="ui-", dir=state_root))
    state.chmod(0o755)
    watch = LeakWatch(state)
    home = tmp_path_factory.mktemp("dagster-dev")
    receiver = AlertingStack(state / "receiving-am")
    try:
        receiver.write_alertmanager_config(yaml.safe_dump(
            render_alertmanager_config(receiver.webhook.url)))
        receiver.start_alertmanager()
        port = free_port()
        (home / "instance").mkdir()
        env = {**os.environ, "DAGSTER_HOME": str(home / "instance"),
               "TESTBED_STATE_DIR": str(state), "TESTBED_ALERTMANAGER_URL": receiver.am_url,
               "TESTBED_UI_URL": UI_URL}
        log_path = home / "dagster-dev.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [str(Path(sys.executable).parent / "dagster"), "dev", "-w", "workspace.yaml",
                 "-h", "127.0.0.1", "-p", str(port)],
                cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            try:
                url = f"http://127.0.0.1:{port}"
                ready = HttpJson(f"{url}/server_info", what="answers")
                deadline = time.monotonic() + 180
                while not ready():
                    assert process.poll() is None, log_path.read_text()[-3000:]
                    assert time.monotonic() < deadline, "dagster dev not ready in 180s"
                    time.sleep(0.2)
                nux = _graphql(url, "mutation { setNuxSeen }")  # the first-visit modal
                assert nux["setNuxSeen"] is True
                _wait_sensors_ticked(url, {s.name for s in defs.sensors}, 180)
                yield DagsterDev(url, receiver, home)
            finally:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
    finally:
        receiver.stop(5)
        receiver.webhook.close()
    assert watch.leaks() == []


def _wait_sensors_ticked(url: str, names: set[str], timeout: float) -> None:
    query = """{ sensorsOrError(repositorySelector: {repositoryLocationName: "testbed",
        repositoryName: "__repository__"}) { __typename ... on Sensors { results { name
        sensorState { status ticks(limit: 1, statuses: [SKIPPED, SUCCESS]) { timestamp } } } } } }"""
    deadline = time.monotonic() + timeout
    ticked = set()
    while time.monotonic() < deadline:
        sensors = _graphql(url, query)["sensorsOrError"]
        ticked = {s["name"] for s in sensors.get("results", [])
                  if s["sensorState"]["status"] == "RUNNING" and s["sensorState"]["ticks"]}
        if names <= ticked:
            return
        time.sleep(0.5)
    raise AssertionError(f"sensors without a tick after {timeout}s: {sorted(names - ticked)}")


@pytest.fixture(scope="module")
def failed_check_run(dagster_dev) -> dict:
    """Launched as a user would (GraphQL, like the Launchpad) as soon as `dagster dev` is up, so
    the sensor tick it waits for comes while the browser test runs: the alerting job with a
    production webhook in its config, which fails no_production_receivers. Returns launchRun's
    answer; leaves once the run's teardown has ended (nothing it made outlives the module)."""
    config = render_alertmanager_config("{webhook}")
    config["receivers"][2]["webhook_configs"][0]["url"] = "https://events.pagerduty.com/v2/x"
    config_file = dagster_dev.home / "production-ish.yml"
    config_file.write_text(yaml.safe_dump(config))
    launched = _graphql(dagster_dev.url, """mutation($params: ExecutionParams!) {
        launchRun(executionParams: $params) { __typename
          ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }""",
        {"params": {"selector": {"repositoryLocationName": "testbed",
                                 "repositoryName": "__repository__", "jobName": "alerting"},
                    "runConfigData": {"ops": {"alerting__alertmanager_config": {
                        "config": {"config_file": str(config_file)}}}}}})["launchRun"]
    yield launched
    if launched["__typename"] == "LaunchRunSuccess":
        _teardown_run(dagster_dev.url, launched["run"]["runId"], 120)


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


def _run_ids(url: str) -> set[str]:
    runs = _graphql(url, "{ runsOrError { ... on Runs { results { runId } } } }")
    return {r["runId"] for r in runs["runsOrError"]["results"]}


def _wait_for_new_runs(url: str, known: set[str], timeout: float) -> list[dict]:
    """The runs not in `known`, newest first, once there is one and all have finished; the
    daemon's housekeeping runs (teardown, sweep) come and go meanwhile and are left out."""
    query = ("{ runsOrError(limit: 20) { ... on Runs { results { runId jobName status "
             "assetSelection { path } } } } }")
    deadline = time.monotonic() + timeout
    runs = []
    while time.monotonic() < deadline:
        runs = [r for r in _graphql(url, query)["runsOrError"]["results"]
                if r["runId"] not in known and r["jobName"] not in HOUSEKEEPING]
        if runs and all(r["status"] in ("SUCCESS", "FAILURE", "CANCELED") for r in runs):
            return runs
        time.sleep(0.5)
    return runs


def _selection(run: dict) -> set[str]:
    return {"/".join(a["path"]) for a in run["assetSelection"] or []}


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


# failed_check_run: launched before this test so that the sensor tick the alert test waits for
# comes while this one runs (this test neither reads it nor depends on it).
@pytest.mark.usefixtures("failed_check_run")
def test_groups_checks_and_a_materialization_from_the_browser(dagster_dev, page, tmp_path):
    from playwright.sync_api import expect

    url = dagster_dev.url
    groups = _groups()
    assert {"alerting", "cdc", "delta"} <= set(groups)
    for group, assets in sorted(groups.items()):
        page.goto(f"{url}/locations/testbed/asset-groups/{group}")
        for name in sorted(assets):
            expect(page.get_by_text(name, exact=True).first).to_be_visible(timeout=60_000)

    release = "spark_3_5/release"
    page.goto(f"{url}/assets/{release}?view=checks")
    graph = defs.resolve_asset_graph()
    for check in sorted(k.name for k in graph.asset_check_keys if k.asset_key.to_user_string() == release):
        expect(page.get_by_text(check, exact=True).first).to_be_visible(timeout=60_000)

    known = _run_ids(url)
    page.goto(f"{url}/assets/{CHEAP_ASSET}")
    page.locator("button", has_text="Materialize").first.click()
    runs = _wait_for_new_runs(url, known, timeout=240)
    assert len(runs) == 1 and runs[0]["status"] == "SUCCESS", (
        runs, [_errors(url, r) for r in runs])
    run = runs[0]
    assert _selection(run) == {CHEAP_ASSET}
    page.goto(f"{url}/runs/{run['runId']}")
    expect(page.get_by_text("Success").first).to_be_visible(timeout=60_000)
    page.screenshot(path=str(tmp_path / "run.png"), full_page=True)
    assert (tmp_path / "run.png").stat().st_size > 10_000

    # Its numbers, plotted across runs: materialize it once more (while the daemon is yet to
    # tear the first run down), then open its Plots tab.
    known = _run_ids(url)
    page.goto(f"{url}/assets/{CHEAP_ASSET}")
    page.locator("button", has_text="Materialize").first.click()

    # Teardown layer 3 with the real daemon: the finished run gets its teardown run.
    teardown = _teardown_run(url, run["runId"], timeout=120)
    assert teardown == {"jobName": "environment_teardown", "status": "SUCCESS"}, teardown

    seconds = _wait_for_new_runs(url, known, timeout=240)
    assert len(seconds) == 1 and seconds[0]["status"] == "SUCCESS", (
        seconds, [_errors(url, r) for r in seconds])
    assert _selection(seconds[0]) == {CHEAP_ASSET}
    page.goto(f"{url}/assets/{CHEAP_ASSET}?view=overview")
    page.locator("button", has_text="Plots").first.click()  # the Metadata section's toggle
    for number in ("amtool_seconds", "receivers"):
        expect(page.get_by_text(number, exact=True).first).to_be_visible(timeout=60_000)
    expect(page.locator("canvas, svg").first).to_be_visible(timeout=60_000)
    shots = Path(os.environ.get("TESTBED_UI_SCREENSHOTS", tmp_path))  # docs/ for the README
    page.screenshot(path=str(shots / "asset-plots.png"), full_page=False)
    assert (shots / "asset-plots.png").stat().st_size > 10_000


def _wait_finished(url: str, run_id: str, timeout: float) -> str | None:
    query = "query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }"
    deadline = time.monotonic() + timeout
    status = None
    while time.monotonic() < deadline:
        status = _graphql(url, query, {"id": run_id})["runOrError"]["status"]
        if status in ("SUCCESS", "FAILURE", "CANCELED"):
            break
        time.sleep(0.5)
    return status


def test_a_failed_check_becomes_an_alertmanager_alert_through_the_daemon(dagster_dev,
                                                                         failed_check_run):
    """The alerting job with a production webhook in its config (failed_check_run, launched as a
    user would) fails no_production_receivers; the daemon's sensor posts the alert."""
    launched = failed_check_run
    assert launched["__typename"] == "LaunchRunSuccess", launched
    url, receiver = dagster_dev.url, dagster_dev.receiver
    run_id = launched["run"]["runId"]
    assert _wait_finished(url, run_id, 240) == "FAILURE"
    deadline = time.monotonic() + 120
    alerts = receiver.alerts(alertname="AssetCheckFailed", run_id=run_id)
    while not alerts and time.monotonic() < deadline:
        time.sleep(0.5)
        alerts = receiver.alerts(alertname="AssetCheckFailed", run_id=run_id)
    assert [a["labels"]["check"] for a in alerts] == ["no_production_receivers"], alerts
    labels = alerts[0]["labels"]
    assert labels["asset"] == "alerting/alertmanager_config" and labels["job"] == "alerting"
    assert labels["severity"] == "critical" and labels["environment"] == "test"
    assert alerts[0]["annotations"]["run_url"] == f"{UI_URL}/runs/{run_id}"
    assert "events.pagerduty.com" in alerts[0]["annotations"]["description"]
    assert _teardown_run(url, run_id, 120)["status"] == "SUCCESS"


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
        time.sleep(0.5)
    return found
