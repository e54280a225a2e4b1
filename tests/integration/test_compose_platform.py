"""The compose platform on a real Docker engine (dockerd started for the session when none runs,
images built once, cached by content).

The pair through the coexistence job: every check passes, nothing of the project remains. A
sabotaged pair (one metastore database, one event-log volume) fails the isolation checks with
messages naming the clash. A deploy that fails midway, a failed image build, and an orchestrator
killed with -9 (the sweep finds its project by label alone) leave nothing behind.
"""

import os
import signal
import subprocess
import sys
import textwrap

import pytest
from dagster import AssetCheckSeverity

from pipelines.definitions import build_definitions
from resources.criteria import release_checks as checks
from resources.docker import engine
from resources.docker import images as image_builds
from resources.docker.compose import PROJECT_LABEL, ComposeError
from resources.docker.project import LABELS
from resources.platforms.compose import ComposePlatform
from resources.platforms.environment import (
    Environment,
    probe_table,
    run_acceptance_jobs,
)
from tests.conftest import run_ephemeral

pytestmark = [pytest.mark.spark, pytest.mark.compose]
ENV_LABEL = LABELS[0]


@pytest.fixture(scope="module")
def docker_engine():
    """The engine for these tests; a daemon started here is stopped at the end (one someone
    else runs is left alone)."""
    running = engine.answers() is not None
    started = engine.ensure()
    yield started
    if not running:
        engine.stop_started()


@pytest.fixture(scope="module")
def compose_images(docker_engine, catalog, releases_installed):
    """Every image the catalog needs, built once (seconds when cached)."""
    return image_builds.images(list(catalog.releases))


def left_under(state_dir) -> list[str]:
    """Containers, volumes and networks of this test's environments (labelled with an env dir
    under its state dir), whatever their state."""
    client = engine.Engine.client()
    mine = str(state_dir)
    containers = [f"container {c.name}" for c in client.containers.list(
        all=True, filters={"label": ENV_LABEL}) if c.labels[ENV_LABEL].startswith(mine)]
    volumes = [f"volume {v.name}" for v in client.volumes.list(filters={"label": ENV_LABEL})
               if (v.attrs.get("Labels") or {}).get(ENV_LABEL, "").startswith(mine)]
    projects = {v.attrs["Labels"].get(PROJECT_LABEL) for v in client.volumes.list(
        filters={"label": ENV_LABEL}) if v.attrs["Labels"][ENV_LABEL].startswith(mine)}
    networks = [f"network {n.name}" for n in client.networks.list()
                if n.name.removesuffix("_default") in projects]
    return containers + volumes + networks


def test_pair_on_compose_passes_every_check_and_leaves_nothing(state_dir, catalog,
                                                               compose_images):
    result = run_ephemeral(
        build_definitions(catalog).resolve_job_def("coexistence"), raise_on_error=False,
        run_config={"resources": {"testbed": {"config": {
            "state_dir": str(state_dir), "platform": "compose", "storage": "local"}}}})
    evaluations = {(e.asset_key.to_user_string(), e.check_name): e
                   for e in result.get_asset_check_evaluations()}
    errors = {key: e.description for key, e in evaluations.items()
              if not e.passed and e.severity == AssetCheckSeverity.ERROR}
    assert result.success and errors == {}, errors
    for release in ("spark_3_5/release", "spark_4_1/release"):
        for check in ("release_ready", "metastore_isolated", "history_isolated",
                      "event_logs_on_own_prefix", "services_isolated"):
            assert evaluations[(release, check)].passed, (release, check)
    assert evaluations[("spark_3_5/release", "sparkpi_completes")].passed
    assert evaluations[("spark_4_1/release", "connect_job_completes")].passed
    assert evaluations[("coexistence/teardown", "nothing_left")].passed
    assert left_under(state_dir) == []


def test_sabotaged_pair_fails_the_isolation_checks_naming_the_clash(state_dir, catalog,
                                                                    compose_images):
    """spark-4.1 on spark-3.5's metastore database and event-log prefix: on compose that is one
    PostgreSQL database and one named volume, really shared. (spark-3.5 without its master and
    worker: 4.1's Connect probe alone shows both clashes, in half the time.)"""
    lean = catalog.get("spark-3.5").model_copy(update={"components": ("metastore", "history")})
    sabotaged = catalog.get("spark-4.1").model_copy(update={
        "metastore_db": "metastore_spark35", "event_log_prefix": "spark-logs/3.5/events"})
    specs = [lean, sabotaged]
    env = Environment.create(ComposePlatform(state_dir), run_id="sabotage")
    try:
        env.deploy_all(specs)  # both metastores on one database: they take turns
        result = run_acceptance_jobs(env, [sabotaged])["spark-4.1"]
        assert result.returncode == 0, result.error
        facts = [env.facts(spec.name) for spec in specs]
    finally:
        report = env.teardown()
    assert report.leftovers == [] and left_under(state_dir) == []
    shared = "/data/events/spark-logs/3.5/events"
    probes = {spec.name: f"default.{probe_table(spec)}" for spec in specs}
    metastore = checks.metastore_isolated(facts, probes)
    assert not metastore.passed
    assert "spark-3.5 and spark-4.1 share metastore database 'metastore_spark35'" \
        in metastore.message
    # Read back from PostgreSQL: 4.1's probe table landed in 3.5's database.
    assert "spark-4.1's table default.testbed_probe_spark_4_1 appears in spark-3.5's database" \
        in metastore.message
    history = checks.history_isolated(facts)
    assert not history.passed
    assert f"write event logs to overlapping prefixes {shared} and {shared}" in history.message
    # One volume: 3.5's History Server lists 4.1's Connect application.
    assert "spark-3.5 History Server (Spark 3.5.7) lists foreign applications" in history.message
    logs = checks.event_logs_on_own_prefix(facts)
    assert not logs.passed and f"share event-log prefix {shared}" in logs.message
    services = checks.services_isolated(facts)
    assert not services.passed and "share event-log storage" in services.message


def test_deploy_that_fails_midway_names_the_container_and_leaves_nothing(state_dir, catalog,
                                                                        compose_images):
    """spark-4.1's JVMs cannot start (a heap too small): its containers exit, `up --wait` fails;
    the error names the container and its log; PostgreSQL (already up) and the rest go."""
    broken = catalog.get("spark-4.1").model_copy(update={"daemon_memory": "1m",
                                                         "driver_memory": "1m"})
    env = Environment.create(ComposePlatform(state_dir), run_id="fails-midway")
    with pytest.raises(ComposeError) as failure:  # one release: its own error, not a DeployError
        env.deploy_all([broken])
    assert "spark-4.1 did not become healthy on compose" in str(failure.value)
    assert "spark-4-1-metastore-1 exited (1)" in str(failure.value)
    assert "Too small maximum heap" in str(failure.value)  # the container's own log
    report = env.teardown()
    assert report.leftovers == [] and left_under(state_dir) == []


def test_failed_image_build_shows_the_failing_step(docker_engine, compose_images, tmp_path):
    recipe = image_builds.Recipe("testbed/broken-test", "FROM {base}\nRUN echo about to fail "
                                 "&& ls /no/such/dir\n")
    with open(tmp_path / "build.log", "w") as log:
        with pytest.raises(image_builds.ImageBuildError) as failure:
            image_builds.build(recipe, compose_images["testbed/base"].image, log)
    message = str(failure.value)
    assert "building testbed/broken-test" in message and "returned a non-zero code" in message
    assert "/no/such/dir" in message  # the step's own output, from the log tail


ORPHAN = textwrap.dedent("""
    import sys, time
    from resources.model.catalog import ReleaseSpec
    from resources.platforms.compose import ComposePlatform
    from resources.platforms.environment import Environment
    spec = ReleaseSpec(name="lonely", version="4.1.0", components=("metastore",),
                       metastore_db="metastore_lonely", event_log_prefix="lonely/events")
    env = Environment.create(ComposePlatform(sys.argv[1]), run_id="killed")
    env.deploy_all([spec])
    print("deployed", flush=True)
    time.sleep(600)
""")


def test_kill_9_of_the_orchestrator_then_sweep_removes_the_project_by_label(state_dir,
                                                                            compose_images):
    """The orchestrator dies with its project up, and its env dir goes too (as if the state dir
    were wiped): the sweep finds the project by its labels alone (owner gone) and removes it."""
    child = subprocess.Popen([sys.executable, "-c", ORPHAN, str(state_dir)],
                             stdout=subprocess.PIPE, text=True, cwd=os.getcwd())
    try:
        lines = iter(child.stdout.readline, "")
        assert "deployed" in (line.strip() for line in lines)  # after any image it built
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    assert left_under(state_dir)  # it outlived its owner
    for env_dir in (state_dir / "envs").glob("env-*"):
        (env_dir / "env.json").unlink()
    platform = ComposePlatform(state_dir)
    removed = platform.sweep()
    assert any("compose project testbed-env-" in line and f"owner pid {child.pid} is gone" in line
               for line in removed), removed
    assert left_under(state_dir) == []
    assert platform.sweep() == []  # idempotent


def test_cdc_source_on_compose_passes_every_check(state_dir, catalog, compose_images):
    """MariaDB in a container (its own recipe, its Debian package, its dir and the host's
    accounts mounted); the CDC stream stays in the orchestrator and reaches it on 127.0.0.1.
    Every check passes and no container of the run remains. (AlertManager and Prometheus go the
    same way: `TESTBED_PLATFORM=compose testbed run alerting`, ~20 s, is left out of make test.)"""
    result = run_ephemeral(
        build_definitions(catalog).resolve_job_def("cdc"), raise_on_error=False,
        run_config={"resources": {"testbed": {"config": {
            "state_dir": str(state_dir), "platform": "compose", "storage": "local"}}}})
    evaluations = result.get_asset_check_evaluations()
    failed = {e.check_name: e.description for e in evaluations if not e.passed}
    assert result.success and failed == {} and len(evaluations) >= 4, failed
    assert left_under(state_dir) == []
