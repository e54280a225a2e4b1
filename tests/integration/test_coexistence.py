"""Both releases up side by side as real processes; every check passes on what they report, and a
sabotaged environment (a shared event-log prefix in the store) makes the isolation checks fail (the
shared metastore database, on storage local, is sabotaged in e2e/test_coexistence_job.py). Needs
Java 17, PostgreSQL and the two Spark releases (make setup installs them)."""

import re

import httpx
import pytest

from resources.criteria import release_checks as checks
from resources.platforms.environment import (
    Environment,
    probe_table,
    run_acceptance_jobs,
)
from resources.platforms.registry import make_platform
from tests.conftest import LeakWatch

pytestmark = pytest.mark.spark


def probes(catalog):
    return {spec.name: f"default.{probe_table(spec)}" for spec in catalog.releases}


def test_every_component_of_both_releases_is_ready(coexisting, catalog):
    env, _jobs = coexisting
    for spec in catalog.releases:
        verdict = checks.release_ready(env.facts(spec.name))
        assert verdict.passed, verdict.message
    master_ui = env.deployments["spark-3.5"].endpoints.master_ui
    assert httpx.get(f"{master_ui}/json/").json()["aliveworkers"] == 1


def test_sparkpi_on_3_5_and_connect_job_on_4_1_complete(coexisting):
    _env, jobs = coexisting
    pi = checks.sparkpi_completes(jobs["spark-3.5"])
    assert pi.passed, pi.message
    connect = checks.connect_job_completes(jobs["spark-4.1"])
    assert connect.passed, connect.message
    assert jobs["spark-4.1"].values["server_version"] == "4.1.0"


def test_isolation_checks_pass_on_the_real_environment(coexisting, catalog):
    env, _jobs = coexisting
    facts = [env.facts(spec.name) for spec in catalog.releases]
    for verdict in (checks.metastore_isolated(facts, probes(catalog)),
                    checks.history_isolated(facts), checks.event_logs_on_own_prefix(facts),
                    checks.services_isolated(facts)):
        assert verdict.passed, verdict.message
    by_release = {f.release: f for f in facts}
    assert by_release["spark-3.5"].metastore_db == "metastore_spark35"
    assert by_release["spark-4.1"].metastore_db == "metastore_spark41"
    # The default storage: the environment's object store, read back from the running system.
    for minor, f in (("3.5", by_release["spark-3.5"]), ("4.1", by_release["spark-4.1"])):
        assert f.event_log_dir == f.history_log_dir == f"s3a://spark-logs/{minor}/events"
        assert f.event_logs and all(any(a.id in log for log in f.event_logs)
                                    for a in f.history_apps)
        # each listed application's own spark.eventLog.dir, from the History Server's API
        assert {a.event_log_dir for a in f.history_apps} == {f"s3a://spark-logs/{minor}/events"}
    assert {a.spark_version for a in by_release["spark-3.5"].history_apps} == {"3.5.7"}
    assert {a.spark_version for a in by_release["spark-4.1"].history_apps} == {"4.1.0"}
    store = env.services["s3"]
    assert store.entries("s3a://spark-logs") == ["3.5", "4.1"]


def sabotaged_run(state_dir, catalog, **override_41):
    """Deploy both releases with spark-4.1 changed as given, run both jobs, return facts."""
    watch = LeakWatch(state_dir)
    env = Environment.create(make_platform("local", str(state_dir), 60, 10), run_id="sabotage",
                             storage="s3")
    specs = [catalog.get("spark-3.5"), catalog.get("spark-4.1").model_copy(update=override_41)]
    try:
        env.deploy_all(specs)  # side by side: metastores sharing a database take turns
        for result in run_acceptance_jobs(env, specs).values():
            assert result.returncode == 0, result.error
        return [env.facts(spec.name) for spec in specs]
    finally:
        assert env.teardown().leftovers == []
        again = env.teardown()  # idempotent: nothing to stop, nothing left
        assert (again.stopped, again.leftovers) == ([], [])
        assert watch.leaks() == []


def test_shared_event_log_prefix_fails_history_isolated(state_dir, catalog, releases_installed):
    """spark-4.1 pointed at s3a://spark-logs/3.5/events in the environment's store."""
    facts = sabotaged_run(state_dir, catalog, event_log_prefix="spark-logs/3.5/events")
    shared = "s3a://spark-logs/3.5/events"
    verdict = checks.history_isolated(facts)
    assert not verdict.passed
    assert f"write event logs to overlapping prefixes {shared} and {shared}" in verdict.message
    assert "spark-3.5 History Server (Spark 3.5.7) lists foreign applications" in verdict.message
    logs = checks.event_logs_on_own_prefix(facts)
    assert not logs.passed
    assert f"spark-3.5 and spark-4.1 share event-log prefix {shared}" in logs.message
    assert f"spark-3.5's prefix {shared} holds the logs of other versions' applications" \
        in logs.message
    services = checks.services_isolated(facts)
    assert not services.passed
    assert f"spark-3.5 and spark-4.1 share event-log storage: {shared} and {shared} overlap" \
        in services.message
    assert checks.metastore_isolated(facts, probes(catalog)).passed


def test_a_release_that_fails_stops_the_others_waiting_and_all_is_torn_down(state_dir, catalog,
                                                                           releases_installed):
    """spark-4.1's daemons cannot start (a heap too small for the JVM): the deploy fails naming
    what failed, spark-3.5's components that were still starting stop waiting (killed, not left to
    come up: its metastore starts after PostgreSQL and takes seconds), and the teardown leaves
    nothing."""
    watch = LeakWatch(state_dir)
    env = Environment.create(make_platform("local", str(state_dir), 60, 10), run_id="one-fails")
    broken = catalog.get("spark-4.1").model_copy(update={"daemon_memory": "1m"})
    with pytest.raises(Exception) as failure:
        env.deploy_all([catalog.get("spark-3.5"), broken])
    assert re.search(r"spark-4\.1-\w+ exited with code 1 before it was ready", str(failure.value))
    assert "Too small maximum heap" in str(failure.value)
    assert "spark-3.5" not in str(failure.value)  # cancelled, not failed
    assert env.state.failed and env.deployments == {}
    report = env.teardown()
    results = {e.what.split()[1]: e.result for e in report.entries if e.kind == "process"}
    # Killed while it waited (or never spawned), never left to come up and be stopped here.
    assert results.get("spark-3.5-metastore", "never started") in ("already gone", "never started"), \
        report.lines()
    assert report.leftovers == [] and watch.leaks() == []
