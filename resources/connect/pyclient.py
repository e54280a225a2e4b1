"""The Python client suites: `python -m resources.connect.pyclient smoke|e2e|load`.

Runs in a process of its own, under whichever `pyspark` its PYTHONPATH puts first: pyspark-client
4.1 (the code location's own) for 4.1 servers, the classic pyspark 3.5 of the release's install for
3.5 servers (pyspark-client 4.1 sends 3.5 servers empty SQL, and one process can import only one
pyspark). Reads the same environment variables as the Go suites (tests/go/client/env.go) and
writes the same JSON lines, one per scenario, to TESTBED_RESULTS.
"""

import os
import resource
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path

import psutil
from pyspark.sql import SparkSession

from resources.model.connect import E2EScenario, ScenarioResult, load_scenarios, plain

REMOTE = os.environ.get("SPARK_REMOTE", "")
VERSION = os.environ.get("TESTBED_SPARK_VERSION", "")
RESULTS = os.environ.get("TESTBED_RESULTS", "")
DATA = os.environ.get("TESTBED_DATA", "")
TIMEOUT = float(os.environ.get("TESTBED_TIMEOUT_SECONDS", "30"))
LOAD_SECONDS = float(os.environ.get("TESTBED_LOAD_SECONDS", "5"))
SUSTAINED_SECONDS = float(os.environ.get("TESTBED_SUSTAINED_SECONDS", str(LOAD_SECONDS)))
TINY = "SELECT COUNT(*) FROM range(1000)"
SCAN = "SELECT payment_type, COUNT(*) FROM trips GROUP BY payment_type"
_write = threading.Lock()


class ScenarioFailed(AssertionError):
    pass


class NotSupportedHere(Exception):
    """The scenario cannot run in this setting (the reason is the message)."""


# --- the client layer: what every scenario connects and closes with ------------------------------

def connect(remote: str = REMOTE) -> SparkSession:
    """A new session (never the process's shared one) whose retries are bounded: the default
    policy retries for ~10 minutes, which against a dead server looks like a hang."""
    try:
        from pyspark.sql.connect.client.retries import DefaultPolicy
    except ImportError:  # pyspark 3.5
        from pyspark.sql.connect.session import SparkSession as ConnectSession

        # Its builder's create() sends the options to the server before a policy can be set:
        # against a dead server that call alone waited out the default retries.
        spark = ConnectSession(connection=remote)
        spark.client._retry_policy.update(max_retries=3, max_backoff=1000)
        # What create() would have done: pyspark.sql.functions and createDataFrame dispatch to
        # Connect only in Connect mode, with a session set.
        os.environ["SPARK_CONNECT_MODE_ENABLED"] = "1"
        ConnectSession._set_default_and_active_session(spark)
        return spark
    spark = SparkSession.builder.remote(remote).create()
    spark.client.set_retry_policies([DefaultPolicy(max_retries=3, max_backoff=1000)])
    return spark


def with_views(spark: SparkSession) -> SparkSession:
    for view in ("trips", "zones"):
        spark.sql(f"CREATE OR REPLACE TEMPORARY VIEW {view} USING parquet "
                  f"OPTIONS (path '{Path(DATA) / view}')")
    return spark


def rows_of(df) -> list[list]:
    return [[plain(v) for v in row] for row in df.collect()]


def expect(what: str, got, want) -> None:
    if got != want:
        raise ScenarioFailed(f"{what}: expected {want!r}, got {got!r}")


def own_sockets(port: int) -> int:
    """This process's established TCP connections to the server's port."""
    return sum(1 for c in psutil.Process().net_connections(kind="tcp")
               if c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED)


def server_port() -> int:
    return int(REMOTE.rsplit(":", 1)[1].split("/")[0])


# --- smoke ---------------------------------------------------------------------------------------

def sql_literal(spark) -> dict:
    expect("SELECT 1 + 1", rows_of(spark.sql("SELECT 1 + 1 AS two")), [[2]])
    return {}


def sql_range_count(spark) -> dict:
    expect("COUNT(*) of range(1000)", rows_of(spark.sql("SELECT COUNT(*) AS n FROM range(1000)")),
           [[1000]])
    return {}


def sql_string_functions(spark) -> dict:
    got = rows_of(spark.sql("SELECT upper('spark') AS u, concat('con', 'nect') AS c, "
                            "length('testbed') AS l"))
    expect("upper/concat/length", got, [["SPARK", "connect", 7]])
    return {}


def sql_temp_view(spark) -> dict:
    spark.sql("CREATE OR REPLACE TEMPORARY VIEW smoke_v AS SELECT id FROM range(10)")
    expect("SUM(id) of the view", rows_of(spark.sql("SELECT SUM(id) AS s FROM smoke_v")), [[45]])
    return {}


def df_filter_count(spark) -> dict:
    from pyspark.sql import functions as F

    expect("even ids of range(100)", spark.range(100).filter(F.col("id") % 2 == 0).count(), 50)
    return {}


def df_select_aggregate(spark) -> dict:
    from pyspark.sql import functions as F

    got = rows_of(spark.range(10).select((F.col("id") * 2).alias("d")).agg(F.sum("d")))
    expect("sum of id*2 over range(10)", got, [[90]])
    return {}


def df_create_dataframe(spark) -> dict:
    from pyspark.sql import functions as F

    df = spark.createDataFrame([("a", 1), ("b", 2), ("a", 3)], "name string, n long")
    got = rows_of(df.groupBy("name").agg(F.sum("n")).orderBy("name"))
    expect("sum of n by name", got, [["a", 4], ["b", 2]])
    return {}


def df_schema(spark) -> dict:
    fields = spark.sql("SELECT 1 AS a, 'x' AS b, CAST(1.5 AS DOUBLE) AS c").schema.fields
    expect("field names", [f.name for f in fields], ["a", "b", "c"])
    return {"fields": len(fields)}


def lifecycle_reconnect_after_restart(_spark) -> dict:
    """A session opened before the server restarts; after it, a new session must answer (the old
    one may answer or fail, but within the timeout). The orchestrator restarts the server when
    asked through TESTBED_RESTART_REQUEST and says so through TESTBED_RESTART_DONE."""
    request = os.environ.get("TESTBED_RESTART_REQUEST")
    done = os.environ.get("TESTBED_RESTART_DONE")
    if not request or not done:
        raise NotSupportedHere("needs an orchestrator that restarts the server (the connect_suites "
                               "job does; TESTBED_RESTART_REQUEST is not set)")
    old = connect()
    expect("SELECT 1 before the restart", rows_of(old.sql("SELECT 1")), [[1]])
    Path(request).write_text("restart")
    deadline = time.monotonic() + 180
    while not Path(done).exists():
        if time.monotonic() > deadline:
            raise ScenarioFailed("the server was not restarted within 180 s")
        time.sleep(0.1)
    said = Path(done).read_text()
    if said.startswith("error"):
        raise ScenarioFailed(f"restarting the server failed: {said}")
    began = time.monotonic()
    try:
        bounded(lambda: old.sql("SELECT 1").collect(), 30, "the pre-restart session")
        old_answered = 1.0
    except ScenarioFailed:
        raise
    except Exception:  # noqa: BLE001 - its server-side session is gone: an error is fine
        old_answered = 0.0
    threading.Thread(target=old.stop, daemon=True).start()
    fresh = connect()
    try:
        expect("SELECT 1 in a new session after the restart", rows_of(fresh.sql("SELECT 1")), [[1]])
    finally:
        fresh.stop()
    return {"old_session_answered": old_answered, "restart_seconds": float(said),
            "seconds_to_answer": round(time.monotonic() - began, 2)}


def lifecycle_sessions_release(_spark) -> dict:
    port = server_port()
    before = own_sockets(port)
    for _ in range(10):
        session = connect()
        session.sql("SELECT 1").collect()
        session.stop()
    deadline = time.monotonic() + 3
    while own_sockets(port) > before and time.monotonic() < deadline:
        time.sleep(0.1)
    leaked = own_sockets(port) - before
    if leaked > 0:
        raise ScenarioFailed(f"10 sessions opened and stopped left {leaked} sockets open to the "
                             f"server (stop() does not release its connection)")
    return {"leaked_sockets": leaked}


def lifecycle_dead_server(_spark) -> dict:
    dead = os.environ.get("TESTBED_DEAD_REMOTE", "sc://127.0.0.1:1")
    began = time.monotonic()
    session = connect(dead)
    try:
        bounded(lambda: session.sql("SELECT 1").collect(), 15, "a query against a dead server")
    except ScenarioFailed:
        raise
    except Exception:  # noqa: BLE001 - the error is what this scenario wants
        return {"seconds_to_error": round(time.monotonic() - began, 2)}
    finally:
        threading.Thread(target=session.stop, daemon=True).start()
    raise ScenarioFailed(f"a query against {dead}, where nothing listens, answered")


def lifecycle_session_isolation(_spark) -> dict:
    one, other = connect(), connect()
    try:
        one.sql("CREATE OR REPLACE TEMPORARY VIEW iso_v AS SELECT 1 AS x")
        expect("the view in its own session", rows_of(one.sql("SELECT * FROM iso_v")), [[1]])
        other.sql("SELECT * FROM iso_v").collect()
    except Exception as exc:  # noqa: BLE001
        if "TABLE_OR_VIEW_NOT_FOUND" not in str(exc):
            raise ScenarioFailed(f"the other session's error is not TABLE_OR_VIEW_NOT_FOUND: "
                                 f"{str(exc)[:200]}") from None
        return {}
    finally:
        one.stop()
        other.stop()
    raise ScenarioFailed("a temporary view of one session was visible in another")


SMOKE: dict[str, Callable] = {fn.__name__: fn for fn in (
    sql_literal, sql_range_count, sql_string_functions, sql_temp_view, df_filter_count,
    df_select_aggregate, df_create_dataframe, df_schema, lifecycle_sessions_release,
    lifecycle_dead_server, lifecycle_session_isolation,
    lifecycle_reconnect_after_restart)}  # last: sessions of before the restart are gone after it


# --- e2e -----------------------------------------------------------------------------------------

def top_zones_per_borough(spark) -> list[list]:
    """The one scenario built with the DataFrame Window API (the Go client has none)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    trips, zones = spark.table("trips"), spark.table("zones")
    counted = (trips.join(zones, trips.PULocationID == zones.LocationID)
               .groupBy("Borough", "Zone").agg(F.count(F.lit(1)).alias("trips")))
    window = Window.partitionBy("Borough").orderBy(F.col("trips").desc(), F.col("Zone"))
    ranked = counted.withColumn("rn", F.row_number().over(window)).filter(F.col("rn") <= 3)
    return rows_of(ranked.select("Borough", "Zone", "trips", "rn").orderBy("Borough", "rn"))


DATAFRAME_E2E = {"top_zones_per_borough": top_zones_per_borough}


def e2e_scenario(spark, scenario: E2EScenario) -> ScenarioResult:
    began = time.monotonic()
    base = {"client": "python", "suite": "e2e", "scenario": scenario.name, "version": VERSION}
    try:
        if scenario.name in DATAFRAME_E2E:
            rows = bounded(lambda: DATAFRAME_E2E[scenario.name](spark), TIMEOUT, scenario.name)
        else:
            rows = bounded(lambda: rows_of(spark.sql(scenario.sql)), TIMEOUT, scenario.name)
    except Exception as exc:  # noqa: BLE001
        text = f"{type(exc).__name__}: {str(exc).strip()}"
        ok = bool(scenario.expect_error) and scenario.expect_error in text
        return ScenarioResult(**base, status="passed" if ok else "failed",
                              seconds=round(time.monotonic() - began, 3), error=text[:2000])
    if scenario.expect_error:
        return ScenarioResult(**base, status="failed", seconds=round(time.monotonic() - began, 3),
                              rows=rows, error=f"expected the error {scenario.expect_error}, "
                                               f"got {len(rows)} rows")
    return ScenarioResult(**base, status="passed", seconds=round(time.monotonic() - began, 3),
                          rows=rows)


# --- load ----------------------------------------------------------------------------------------

def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def run_load(workers: int, seconds: float, queries: list[str], views: bool = False,
             churn: bool = False, collect_rows: bool = False) -> dict:
    """workers threads, each its own session, looping over queries until seconds have passed."""
    latencies: list[float] = []
    errors = [0]
    rows = [0]
    lock = threading.Lock()
    opened = 0 if churn else workers
    with ThreadPoolExecutor(max_workers=max(opened, 1)) as pool:  # as many clients, at once
        sessions = list(pool.map(lambda _: with_views(connect()) if views else connect(),
                                 range(opened)))
    cpu_before = _cpu_seconds()
    began = time.monotonic()
    deadline = began + seconds

    def work(index: int) -> None:
        i = 0
        while time.monotonic() < deadline:
            query = queries[(index + i) % len(queries)]
            i += 1
            start = time.monotonic()
            try:
                if churn:
                    session = connect()
                    try:
                        session.sql(query).collect()
                    finally:
                        session.stop()
                else:
                    got = sessions[index].sql(query).collect()
                    if collect_rows:
                        with lock:
                            rows[0] += len(got)
            except Exception:  # noqa: BLE001 - counted: the budget check judges errors
                with lock:
                    errors[0] += 1
                continue
            with lock:
                latencies.append((time.monotonic() - start) * 1000)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(work, range(workers)))
    elapsed = time.monotonic() - began
    cpu = _cpu_seconds() - cpu_before
    with ThreadPoolExecutor(max_workers=max(len(sessions), 1)) as pool:
        list(pool.map(lambda session: session.stop(), sessions))
    done = len(latencies)
    metrics = {"queries": done, "errors": errors[0], "seconds": round(elapsed, 2),
               "qps": round(done / elapsed, 2) if elapsed else 0.0,
               "p50_ms": round(percentile(latencies, 0.50), 2),
               "p95_ms": round(percentile(latencies, 0.95), 2),
               "p99_ms": round(percentile(latencies, 0.99), 2),
               "client_cpu_ms_per_query": round(cpu * 1000 / done, 3) if done else 0.0,
               "client_rss_mb": round(psutil.Process().memory_info().rss / 2**20, 1)}
    if collect_rows:
        metrics["rows_per_second"] = round(rows[0] / elapsed, 1) if elapsed else 0.0
    return metrics


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


LOAD: dict[str, Callable[[], dict]] = {
    "concurrent_1": lambda: run_load(1, LOAD_SECONDS, [TINY]),
    "concurrent_8": lambda: run_load(8, LOAD_SECONDS, [TINY]),
    "concurrent_32": lambda: run_load(32, LOAD_SECONDS, [TINY]),
    "scan_1": lambda: run_load(1, LOAD_SECONDS, [SCAN], views=True),
    "scan_8": lambda: run_load(8, LOAD_SECONDS, [SCAN], views=True),
    "sustained": lambda: run_load(4, SUSTAINED_SECONDS, [TINY, SCAN], views=True),
    "session_churn": lambda: {**run_load(1, LOAD_SECONDS, ["SELECT 1"], churn=True),
                              "leaked_sockets": own_sockets(server_port())},
    "large_collect": lambda: run_load(1, LOAD_SECONDS, ["SELECT * FROM trips LIMIT 50000"],
                                      views=True, collect_rows=True),
}


# --- running -------------------------------------------------------------------------------------

_calls = ThreadPoolExecutor(max_workers=4, thread_name_prefix="call")


def bounded(call: Callable, seconds: float, what: str):
    """call() with an outside timeout: a Connect client can wait minutes on a dead server. A call
    that hangs is abandoned (its thread ends with the process)."""
    future = _calls.submit(call)
    try:
        return future.result(timeout=seconds)
    except FutureTimeout:
        raise ScenarioFailed(f"{what} hung: no answer within {seconds:.0f} s") from None


def emit(result: ScenarioResult) -> None:
    if not RESULTS:
        print(result.model_dump_json(), flush=True)
        return
    with _write, open(RESULTS, "a") as out:
        out.write(result.model_dump_json() + "\n")


def run_named(suite: str, name: str, fn: Callable[[], dict]) -> None:
    began = time.monotonic()
    base = {"client": "python", "suite": suite, "scenario": name, "version": VERSION}
    try:
        metrics = bounded(fn, TIMEOUT + (SUSTAINED_SECONDS if suite == "load" else 0)
                          + (240 if name == "lifecycle_reconnect_after_restart" else 0), name)
    except NotSupportedHere as exc:
        emit(ScenarioResult(**base, status="unsupported", reason=str(exc)))
        return
    except Exception as exc:  # noqa: BLE001 - every scenario reports, whatever happened
        emit(ScenarioResult(**base, status="failed", seconds=round(time.monotonic() - began, 3),
                            error=f"{type(exc).__name__}: {str(exc).strip()[:1500]}"))
        return
    emit(ScenarioResult(**base, status="passed", seconds=round(time.monotonic() - began, 3),
                        metrics={k: float(v) for k, v in metrics.items()}))


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in ("smoke", "e2e", "load"):
        print("usage: python -m resources.connect.pyclient smoke|e2e|load", file=sys.stderr)
        return 2
    if not REMOTE.startswith("sc://"):
        print(f"SPARK_REMOTE must be sc://host:port, not {REMOTE!r}", file=sys.stderr)
        return 2
    suite = argv[0]
    if suite == "load":
        for name, fn in LOAD.items():
            run_named("load", name, fn)
        return 0
    spark = connect()
    try:
        if suite == "smoke":
            for name, fn in SMOKE.items():
                run_named("smoke", name, lambda fn=fn: fn(spark))
            return 0
        with_views(spark)
        scenarios = load_scenarios(Path(os.environ["TESTBED_E2E"]))
        for scenario in scenarios:
            reason = scenario.unsupported_reason("python", VERSION)
            if reason:
                emit(ScenarioResult(client="python", suite="e2e", scenario=scenario.name,
                                    version=VERSION, status="unsupported", reason=reason))
            else:
                emit(e2e_scenario(spark, scenario))
        return 0
    finally:
        threading.Thread(target=spark.stop, daemon=True).start()


if __name__ == "__main__":
    code = main(sys.argv[1:])
    sys.stdout.flush()
    os._exit(code)  # abandoned calls (a hung client) must not keep the process alive
