"""Every check passes on isolated facts and FAILS, with a message saying what, on conflicting ones."""

import pytest

from resources.criteria import release_checks as checks
from resources.model.facts import ComponentFacts, Facts, HistoryApp, JobResult
from resources.model.ledger import TeardownEntry, TeardownReport


def component(release, kind, ports, root="/envs/e1", ready=True):
    return ComponentFacts(release=release, kind=kind, name=f"{release}-{kind}", ports=ports,
                          data_dir=f"{root}/{release}/{kind}/work",
                          conf_dir=f"{root}/{release}/{kind}/conf", pid=100, ready=ready,
                          probe="ok" if ready else "connection refused")


def facts35(**changes) -> Facts:
    base = dict(
        release="spark-3.5", version="3.5.7",
        components=[component("spark-3.5", "metastore", {"thrift": 9083}),
                    component("spark-3.5", "master", {"rpc": 7077, "ui": 8080})],
        metastore_uri="thrift://127.0.0.1:9083", metastore_db="metastore_spark35",
        metastore_tables=["default.testbed_probe_spark_3_5"],
        event_log_dir="/envs/e1/spark-logs/3.5/events",
        history_log_dir="/envs/e1/spark-logs/3.5/events",
        history_apps=[HistoryApp(id="app-1", name="testbed-sparkpi", spark_version="3.5.7")])
    return Facts(**{**base, **changes})


def facts41(**changes) -> Facts:
    base = dict(
        release="spark-4.1", version="4.1.0",
        components=[component("spark-4.1", "metastore", {"thrift": 9084}),
                    component("spark-4.1", "connect", {"grpc": 15002, "ui": 4040})],
        metastore_uri="thrift://127.0.0.1:9084", metastore_db="metastore_spark41",
        metastore_tables=["default.testbed_probe_spark_4_1"],
        event_log_dir="/envs/e1/spark-logs/4.1/events",
        history_log_dir="/envs/e1/spark-logs/4.1/events",
        history_apps=[HistoryApp(id="local-1", name="connect", spark_version="4.1.0")])
    return Facts(**{**base, **changes})


PROBES = {"spark-3.5": "default.testbed_probe_spark_3_5", "spark-4.1": "default.testbed_probe_spark_4_1"}


def test_isolated_facts_pass_every_check():
    both = [facts35(), facts41()]
    for verdict in (checks.metastore_isolated(both, PROBES), checks.history_isolated(both),
                    checks.services_isolated(both), checks.release_ready(both[0])):
        assert verdict.passed, verdict.message


def test_shared_metastore_database_fails():
    shared = ["default.testbed_probe_spark_3_5", "default.testbed_probe_spark_4_1"]
    both = [facts35(metastore_tables=shared),
            facts41(metastore_db="metastore_spark35", metastore_tables=shared)]
    verdict = checks.metastore_isolated(both, PROBES)
    assert not verdict.passed
    assert "spark-3.5 and spark-4.1 share metastore database 'metastore_spark35'" in verdict.message
    assert "spark-4.1's table default.testbed_probe_spark_4_1 appears in spark-3.5's" in verdict.message


def test_table_missing_from_own_metastore_fails():
    verdict = checks.metastore_isolated([facts35(metastore_tables=[]), facts41()], PROBES)
    assert not verdict.passed
    assert "table default.testbed_probe_spark_3_5 is missing from its own database" in verdict.message


def test_shared_metastore_service_fails():
    verdict = checks.metastore_isolated(
        [facts35(), facts41(metastore_uri="thrift://127.0.0.1:9083")], PROBES)
    assert not verdict.passed and "share metastore service thrift://127.0.0.1:9083" in verdict.message


def test_shared_event_log_dir_fails():
    shared = "/envs/e1/spark-logs/3.5/events"
    apps = [HistoryApp(id="app-1", name="pi", spark_version="3.5.7"),
            HistoryApp(id="local-1", name="connect", spark_version="4.1.0")]
    both = [facts35(history_apps=apps),
            facts41(event_log_dir=shared, history_log_dir=shared, history_apps=apps)]
    verdict = checks.history_isolated(both)
    assert not verdict.passed
    assert "write event logs to overlapping prefixes" in verdict.message
    assert "spark-3.5 History Server (Spark 3.5.7) lists foreign applications: local-1" in verdict.message


def test_nested_event_log_prefix_fails():
    verdict = checks.history_isolated(
        [facts35(event_log_dir="/envs/e1/spark-logs", history_log_dir="/envs/e1/spark-logs"),
         facts41()])
    assert not verdict.passed and "overlapping prefixes" in verdict.message


def test_history_server_reading_another_dir_fails():
    verdict = checks.history_isolated([facts35(history_log_dir="/elsewhere"), facts41()])
    assert not verdict.passed
    assert "History Server reads /elsewhere but the release writes to" in verdict.message


def test_history_server_without_applications_fails():
    verdict = checks.history_isolated([facts35(history_apps=[]), facts41()])
    assert not verdict.passed and "lists no application" in verdict.message


@pytest.mark.parametrize("what", ["name", "port", "data dir", "conf dir"])
def test_shared_service_attribute_fails(what):
    other = component("spark-4.1", "metastore", {"thrift": 9084})
    mine = component("spark-3.5", "metastore", {"thrift": 9083})
    if what == "name":
        other = other.model_copy(update={"name": mine.name})
    elif what == "port":
        other = other.model_copy(update={"ports": {"thrift": 9083}})
    elif what == "data dir":
        other = other.model_copy(update={"data_dir": mine.data_dir})
    else:
        other = other.model_copy(update={"conf_dir": mine.conf_dir})
    verdict = checks.services_isolated([facts35(components=[mine]), facts41(components=[other])])
    assert not verdict.passed
    assert f"spark-3.5/metastore and spark-4.1/metastore share {what}" in verdict.message


@pytest.mark.parametrize("prefix_41", ["s3a://spark-logs/3.5/events",
                                       "s3a://spark-logs/3.5/events/spark-4.1", "s3a://spark-logs"])
def test_shared_or_nested_event_log_storage_fails_services_isolated(prefix_41):
    both = [facts35(event_log_dir="s3a://spark-logs/3.5/events"), facts41(event_log_dir=prefix_41)]
    verdict = checks.services_isolated(both)
    assert not verdict.passed
    assert (f"spark-3.5 and spark-4.1 share event-log storage: s3a://spark-logs/3.5/events and "
            f"{prefix_41} overlap") in verdict.message


def test_an_application_of_the_same_version_logging_to_a_neighbour_s_prefix_fails_history():
    """Two releases of one Spark version: the version comparison cannot tell their applications
    apart; where each application logged (its spark.eventLog.dir, read back) can."""
    mine = HistoryApp(id="app-1", name="testbed-sparkpi", spark_version="3.5.7",
                      event_log_dir="file:/envs/e1/spark-logs/3.5/events/")
    stray = HistoryApp(id="app-2", name="testbed-sparkpi", spark_version="3.5.7",
                       event_log_dir="file:/envs/e1/spark-logs/3.5-b/events")
    assert checks.history_isolated([facts35(history_apps=[mine]), facts41()]).passed
    verdict = checks.history_isolated([facts35(history_apps=[mine, stray]), facts41()])
    assert not verdict.passed
    assert ("spark-3.5 History Server lists applications that did not log to its prefix "
            "/envs/e1/spark-logs/3.5/events: app-2 (testbed-sparkpi) logged to "
            "file:/envs/e1/spark-logs/3.5-b/events") in verdict.message


def test_component_not_ready_fails():
    f = facts35(components=[component("spark-3.5", "master", {"rpc": 7077}, ready=False)])
    verdict = checks.release_ready(f)
    assert not verdict.passed
    assert "spark-3.5-master (connection refused)" in verdict.message


def job(returncode=0, output="", values=None, error=""):
    return JobResult(release="r", job="j", returncode=returncode, seconds=1.0, output=output,
                     error=error, values=values or {})


def test_sparkpi_passes_close_to_pi():
    assert checks.sparkpi_completes(job(output="Pi is roughly 3.141632\n")).passed


@pytest.mark.parametrize("result, says", [
    (job(output="Pi is roughly 3.20\n"), "off by 0.0584"),
    (job(output="nothing useful"), "printed no 'Pi is roughly' line"),
    (job(returncode=1, output="Pi is roughly 3.1416", error="Lost executor"), "exited 1: Lost executor"),
])
def test_sparkpi_fails(result, says):
    verdict = checks.sparkpi_completes(result)
    assert not verdict.passed and says in verdict.message


def test_connect_job_checks_every_answer():
    good = {"sql_answer": 42, "range_sum": 500500, "range_count": 1000}
    assert checks.connect_job_completes(job(values=good)).passed
    verdict = checks.connect_job_completes(job(values={**good, "range_sum": 500499}))
    assert not verdict.passed and "range_sum = 500499, expected 500500" in verdict.message
    failed = checks.connect_job_completes(job(returncode=1, error="UNAVAILABLE: connection refused"))
    assert not failed.passed and "UNAVAILABLE: connection refused" in failed.message


def stopped(what: str) -> TeardownEntry:
    return TeardownEntry(what=what, kind="process", result="stopped", seconds=0.1)


def test_nothing_left_fails_on_leftovers():
    clean = TeardownReport(env_id="env-1", entries=[stopped("a"), stopped("b")], leftovers=[])
    assert checks.nothing_left(clean).passed
    dirty = TeardownReport(env_id="env-1", entries=[stopped("a")],
                           leftovers=["port 7077 (spark-3.5 master.rpc)"])
    verdict = checks.nothing_left(dirty)
    assert not verdict.passed and "still there after teardown: port 7077" in verdict.message


# --- event_logs_on_own_prefix: what the store lists under each release's prefix ----------------

S3_35, S3_41 = "s3a://spark-logs/3.5/events", "s3a://spark-logs/4.1/events"


def s3_facts():
    return [facts35(event_log_dir=S3_35, history_log_dir=S3_35,
                    event_logs=["app-1"]),
            facts41(event_log_dir=S3_41, history_log_dir=S3_41,
                    history_apps=[HistoryApp(id="local-1", name="connect", spark_version="4.1.0"),
                                  HistoryApp(id="local-2", name="batch", spark_version="4.1.0")],
                    event_logs=["eventlog_v2_local-1", "eventlog_v2_local-2"])]


def test_event_logs_on_own_prefix_passes_on_logs_listed_under_each_prefix():
    verdict = checks.event_logs_on_own_prefix(s3_facts())
    assert verdict.passed, verdict.message
    assert verdict.metadata["spark-4.1 event logs"] == "eventlog_v2_local-1, eventlog_v2_local-2"


def test_the_same_application_id_in_two_releases_is_no_sharing():
    """Two masters started in the same second both call their first application
    app-<time>-0000: each release's log is matched to its own History Server's listing."""
    f35, f41 = s3_facts()
    twin = f41.model_copy(update={
        "release": "spark-3.5.8", "version": "3.5.8", "event_log_dir": "s3a://spark-logs/3.5.8/e",
        "history_log_dir": "s3a://spark-logs/3.5.8/e", "event_logs": ["app-1"],
        "history_apps": [HistoryApp(id="app-1", name="testbed-sparkpi", spark_version="3.5.8")]})
    verdict = checks.event_logs_on_own_prefix([f35, twin])
    assert verdict.passed, verdict.message


def test_a_shared_prefix_fails_event_logs_on_own_prefix_naming_it():
    f35, f41 = s3_facts()
    both = ["app-1", "eventlog_v2_local-1"]
    apps = [*f35.history_apps, *f41.history_apps[:1]]
    verdict = checks.event_logs_on_own_prefix([
        f35.model_copy(update={"event_logs": both, "history_apps": apps}),
        f41.model_copy(update={"event_log_dir": S3_35, "event_logs": both, "history_apps": apps})])
    assert not verdict.passed
    assert f"spark-3.5 and spark-4.1 share event-log prefix {S3_35}" in verdict.message
    assert f"spark-3.5's prefix {S3_35} holds the logs of other versions' applications: local-1 " \
           f"(Spark 4.1.0)" in verdict.message


def test_a_release_whose_logs_are_missing_from_its_prefix_fails():
    f35, f41 = s3_facts()
    verdict = checks.event_logs_on_own_prefix([f35, f41.model_copy(update={"event_logs": []})])
    assert not verdict.passed
    assert f"spark-4.1: no event log under {S3_41} after its job ran" in verdict.message


def test_an_application_listed_by_the_history_server_without_a_log_under_its_prefix_fails():
    f35, f41 = s3_facts()
    f35 = f35.model_copy(update={"history_apps": [
        *f35.history_apps, HistoryApp(id="app-9", name="x", spark_version="3.5.7")]})
    verdict = checks.event_logs_on_own_prefix([f35, f41])
    assert not verdict.passed
    assert f"spark-3.5: application(s) app-9 listed by its History Server have no log under " \
           f"{S3_35}" in verdict.message


def test_a_log_no_application_of_the_release_accounts_for_fails():
    f35, f41 = s3_facts()
    verdict = checks.event_logs_on_own_prefix(
        [f35.model_copy(update={"event_logs": ["app-1", "app-7"]}), f41])
    assert not verdict.passed
    assert f"spark-3.5: log(s) app-7 under {S3_35} are no application its History Server lists" \
        in verdict.message


def test_event_logs_that_cannot_be_listed_are_not_evaluated_never_passed():
    f35, f41 = s3_facts()
    verdict = checks.event_logs_on_own_prefix([f35, f41.model_copy(update={"event_logs": None})])
    assert not verdict.passed and not verdict.evaluated
    assert verdict.message.startswith("not evaluated: the event logs of spark-4.1 cannot be listed")


SIMULATED = "pods do not run containers on simulated nodes (spark-35-worker-x)"


def test_a_job_whose_output_cannot_be_read_is_not_evaluated_but_a_failed_one_fails():
    unread = JobResult(release="spark-3.5", job="sparkpi", returncode=0, seconds=1.5,
                       unobserved=SIMULATED)
    for verdict in (checks.sparkpi_completes(unread), checks.connect_job_completes(
            unread.model_copy(update={"job": "connect_probe"}))):
        assert not verdict.evaluated and not verdict.passed
        assert verdict.message.startswith("not evaluated: spark-3.5 ") and SIMULATED in \
            verdict.message
    failed = unread.model_copy(update={"returncode": 1, "error": "job x failed (BackoffLimit)"})
    verdict = checks.sparkpi_completes(failed)
    assert verdict.evaluated and not verdict.passed and "BackoffLimit" in verdict.message


def test_unread_tables_and_applications_are_not_evaluated_unless_the_configuration_clashes():
    a, b = facts35(unobserved=SIMULATED), facts41(unobserved=SIMULATED)
    for verdict in (checks.metastore_isolated([a, b], PROBES), checks.history_isolated([a, b])):
        assert not verdict.evaluated and not verdict.passed
        assert f"spark-3.5: {SIMULATED}" in verdict.message
    # The configuration half still judges what the API server holds.
    shared = facts41(unobserved=SIMULATED, metastore_db="metastore_spark35",
                     event_log_dir=a.event_log_dir, history_log_dir=a.history_log_dir)
    metastore = checks.metastore_isolated([a, shared], PROBES)
    assert metastore.evaluated and not metastore.passed
    assert "share metastore database 'metastore_spark35'" in metastore.message
    history = checks.history_isolated([a, shared])
    assert history.evaluated and not history.passed and "overlapping prefixes" in history.message
