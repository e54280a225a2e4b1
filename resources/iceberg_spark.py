"""Spark releases as Iceberg REST catalog clients (seed 004 US2, `spark_compatible`).

Each release of the catalog runs resources/jobs/iceberg_client.py with spark-submit in local mode,
its own pyspark install and the iceberg-spark-runtime of the catalog server's Iceberg version for
its Spark line and Scala (keep them equal: a 1.10.1 runtime against a 1.11.0 server fails on the
metadata tables, FIELD_NOTES "Iceberg REST catalog"). The runtime jar is resolved by make setup.
Afterwards PyIceberg reads back the table Spark wrote: the cross-client half.
"""

import json
import re
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from resources.iceberg_client import CatalogTarget, with_timeout
from resources.iceberg_pyiceberg import rest_catalog
from resources.model.errors import ConfigError
from resources.model.iceberg import ClientScenario
from resources.processes import child_env, stop_job, tail, with_default_signals
from resources.services.iceberg_rest import VERSION as ICEBERG_VERSION
from resources.services.jvm import java_home
from resources.settings import cache_dir, job_python, spark_home

JOB = Path(__file__).resolve().parent / "jobs" / "iceberg_client.py"
# What pyiceberg_scenarios wrote into <namespace>.trips: id, zone, tip (schema evolution added
# tip after the first three rows).
PYICEBERG_ROWS = [[1, "JFK", None], [2, "LGA", None], [3, "EWR", None], [4, "JFK", 2.5],
                  [5, "JFK", 0.0]]
SPARK_ROWS = [[1, "a"], [2, "b"], [3, "c"]]


def runtime_artifact(spark_version: str) -> str:
    """iceberg-spark-runtime-<spark minor>_<scala>: Spark 3 builds on Scala 2.12, Spark 4 on 2.13."""
    major, minor = spark_version.split(".")[:2]
    return f"iceberg-spark-runtime-{major}.{minor}_{'2.12' if major == '3' else '2.13'}"


def minor_digits(version: str) -> str:
    """3.5.7 -> 35: how the client script names its namespace and table."""
    return "".join(version.split(".")[:2])


def runtime_dir() -> Path:
    return cache_dir() / "iceberg-spark" / ICEBERG_VERSION


def runtime_jar(spark_version: str) -> Path:
    jar = runtime_dir() / f"{runtime_artifact(spark_version)}-{ICEBERG_VERSION}.jar"
    if not jar.exists():
        raise ConfigError(f"{jar.name} is not in {runtime_dir()}: run make setup (resolves "
                          f"org.apache.iceberg:{runtime_artifact(spark_version)}:{ICEBERG_VERSION} "
                          f"from Maven Central)")
    return jar


def spark_scenarios(version: str, target: CatalogTarget, namespace: str, work: Path,
                    created: list[str], timeout: float = 240.0,
                    env: dict[str, str] | None = None,
                    on_spawn: Callable[[subprocess.Popen, Path], None] | None = None
                    ) -> list[ClientScenario]:
    """Spark `version` against the catalog, in namespace (where PyIceberg wrote `trips`); then
    PyIceberg reads the table Spark wrote. env: extra variables (the environment's marker)."""
    client = f"spark {version}"
    started = time.monotonic()
    created.append(f"{namespace}_spark{minor_digits(version)}")  # the script's own namespace
    try:
        jar = runtime_jar(version)
    except ConfigError as exc:
        return [ClientScenario(client, "client suite", False, str(exc))]
    work.mkdir(parents=True, exist_ok=True)
    log = work / f"spark-{version}.log"
    conf = {"spark.sql.extensions":
            "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions",
            "spark.sql.catalog.rest": "org.apache.iceberg.spark.SparkCatalog",
            "spark.sql.catalog.rest.type": "rest", "spark.sql.catalog.rest.uri": target.url,
            "spark.ui.enabled": "false", "spark.sql.shuffle.partitions": "2",
            "spark.driver.host": "127.0.0.1", "spark.driver.bindAddress": "127.0.0.1",
            "spark.local.dir": str(work / "tmp")}
    for key, value in target.client_properties().items():
        conf[f"spark.sql.catalog.rest.{key}"] = value
    home = spark_home(version)
    argv = [str(home / "bin" / "spark-submit"), "--master", "local[1]", "--driver-memory", "768m",
            "--jars", str(jar), *[a for key, value in conf.items() for a in ("--conf",
                                                                           f"{key}={value}")],
            str(JOB), ".".join((*target.parent, namespace)), "trips", json.dumps(PYICEBERG_ROWS)]
    jh = java_home()
    variables = child_env({"JAVA_HOME": str(jh), "SPARK_HOME": str(home),
                           "PATH": f"{jh / 'bin'}:/usr/local/bin:/usr/bin:/bin",
                           "PYSPARK_PYTHON": job_python(), "PYSPARK_DRIVER_PYTHON": job_python(),
                           "SPARK_SUBMIT_OPTS": f"-Djava.io.tmpdir={work / 'tmp'} "
                                                f"-XX:TieredStopAtLevel=1 -XX:+UseSerialGC",
                           **(env or {})})
    (work / "tmp").mkdir(exist_ok=True)
    with open(log, "wb") as out:
        process = subprocess.Popen(with_default_signals(argv), stdout=out,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=work,
                                   start_new_session=True, env=variables)
    if on_spawn is not None:
        on_spawn(process, log)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop_job(process)
    scenarios = [ClientScenario(client, s["name"], s["passed"], s["detail"], s["seconds"])
                 for s in _scenario_lines(log)]
    if process.returncode != 0 or not scenarios:
        why = ("timed out after %.0fs" % timeout) if process.returncode == -signal.SIGKILL \
            else f"spark-submit exited {process.returncode}"
        scenarios.append(ClientScenario(client, "client suite", False,
                                        f"{why}: {tail(log, 12)[-600:]}",
                                        round(time.monotonic() - started, 2)))
        return scenarios
    # PyIceberg has no timeout of its own: bounded from outside, like the review's scenarios.
    scenarios += with_timeout(lambda t, ns: [_pyiceberg_reads_spark(client, t, ns, version)],
                              target, namespace, client=client)
    return scenarios


def _scenario_lines(log: Path) -> list[dict]:
    found = []
    for line in log.read_text(errors="replace").splitlines():
        match = re.match(r"SCENARIO (\{.*\})$", line)
        try:
            scenario = json.loads(match.group(1)) if match else None
        except json.JSONDecodeError:  # a line cut short by a killed driver
            continue
        if isinstance(scenario, dict) and {"name", "passed", "detail", "seconds"} <= set(scenario):
            found.append(scenario)
    return found


def _pyiceberg_reads_spark(client: str, target: CatalogTarget, namespace: str,
                           version: str) -> ClientScenario:
    started = time.perf_counter()
    name = f"spark_{minor_digits(version)}"
    try:
        rows = rest_catalog(target, f"{target.name}-read").load_table(
            (*target.parent, namespace, name)).scan().to_arrow().sort_by("id")
        got = [list(r.values()) for r in rows.to_pylist()]
        passed = got == SPARK_ROWS
        detail = (f"PyIceberg reads the {len(got)} rows Spark wrote" if passed else
                  f"PyIceberg reads {got} from {namespace}.{name}; Spark wrote {SPARK_ROWS}")
    except Exception as exc:
        passed, detail = False, f"{type(exc).__name__}: {exc}"[:400]
    return ClientScenario(client, "PyIceberg reads the Spark table", passed, detail,
                          round(time.perf_counter() - started, 3))
