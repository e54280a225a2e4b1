"""The local platform: every release as real processes on this machine, under its environment dir.

<env>/postgres/                one PostgreSQL server for the environment, one database per release
<env>/spark-logs/<prefix>/     event logs (the local stand-in for an object-store bucket)
<env>/<release>/<component>/   conf/, logs/, work/, tmp/ per component; warehouse/ per release

Ports are picked free on 127.0.0.1 unless the release spec fixes them.
"""

import os
import pwd
import re
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil

from resources import hive
from resources.alerting import AlertingStack
from resources.alerting import find_binaries as find_alerting_binaries
from resources.platforms.base import (
    ComponentFacts,
    ConfigError,
    Deployment,
    Environment,
    EnvironmentState,
    Facts,
    HistoryApp,
    JobResult,
    Platform,
    ReleaseSpec,
)
from resources.ports import HOST, free_port, port_taken
from resources.mariadb import MariaDBServer
from resources.mariadb import find_binaries as find_mariadb
from resources.postgres import PostgresServer, find_postgres_bin
from resources.probes import HttpJson, LogContains, TcpOpen, all_of
from resources.processes import (
    ComponentStartError,
    ManagedProcess,
    ProcessSpec,
    child_env,
    kill_recorded,
    start,
    tail,
)
from resources.settings import ivy_dir, job_python, release_jars, spark_home

JDBC_JAR = Path("/usr/share/java/postgresql.jar")
JOBS_DIR = Path(__file__).resolve().parent.parent / "jobs"

# Component -> the port roles it listens on.
PORT_ROLES = {
    "metastore": ("thrift",),
    "history": ("ui",),
    "master": ("rpc", "ui"),
    "worker": ("rpc", "ui"),
    "connect": ("grpc", "ui"),
}


def java_home() -> Path:
    if os.environ.get("JAVA_HOME"):
        return Path(os.environ["JAVA_HOME"])
    java = shutil.which("java")
    if not java:
        raise ConfigError("java not found on PATH: install openjdk-17-jre-headless (make setup checks it)")
    return Path(os.path.realpath(java)).parent.parent


def java_major(home: Path) -> int:
    out = subprocess.run([str(home / "bin" / "java"), "-version"], capture_output=True, text=True)
    match = re.search(r'version "(\d+)', out.stderr + out.stdout)
    return int(match.group(1)) if match else 0


def _conf_lines(values: dict[str, object]) -> str:
    return "".join(f"{key} {value}\n" for key, value in values.items())


class ReleaseLayout:
    """Where one release's files live; every component gets its own conf, log, work and tmp dir."""

    def __init__(self, env: Environment, spec: ReleaseSpec):
        self.root = env.path / spec.name
        self.events = env.path / spec.event_log_prefix
        self.warehouse = self.root / "warehouse"

    def component(self, kind: str) -> dict[str, Path]:
        base = self.root / kind
        dirs = {name: base / name for name in ("conf", "logs", "work", "tmp")}
        for path in dirs.values():
            path.mkdir(parents=True, exist_ok=True)
        return dirs


class LocalPlatform(Platform):
    name = "local"

    def __init__(self, state_dir: Path, grace_seconds: float = 10.0, ready_timeout: float = 60.0):
        super().__init__(state_dir, grace_seconds)
        self.ready_timeout = ready_timeout

    # --- before anything starts -----------------------------------------------------------------

    def preflight(self, specs: list[ReleaseSpec]) -> None:
        self.check_state_dir()
        home = java_home()
        if not (home / "bin" / "java").exists():
            raise ConfigError(f"JAVA_HOME={home} has no bin/java: point JAVA_HOME at a Java 17 JDK")
        if java_major(home) < 17:
            raise ConfigError(f"Java 17+ is required (JAVA_HOME={home}); install openjdk-17")
        find_postgres_bin()  # raises ConfigError naming the package
        if not JDBC_JAR.exists():
            raise ConfigError(f"{JDBC_JAR} is missing: apt-get install libpostgresql-jdbc-java "
                              f"(make setup does it)")
        if os.getuid() == 0:
            self._check_reachable_by("postgres")
        for spec in specs:
            sh = spark_home(spec.version)
            if not (sh / "bin" / "spark-class").exists():
                raise ConfigError(f"Spark {spec.version} for release {spec.name} is not installed "
                                  f"at {sh}: run `make setup`")
            if spec.delta_version and not (release_jars(spec.name) / ".resolved").exists():
                raise ConfigError(f"Delta {spec.delta_version} jars for release {spec.name} are "
                                  f"not in {release_jars(spec.name)}: run `make setup`")
            for role, port in spec.ports.items():
                kind = role.split(".")[0]
                if kind not in spec.components or role.split(".")[-1] not in PORT_ROLES[kind]:
                    raise ConfigError(f"release {spec.name}: ports.{role} names no port of its "
                                      f"components; use <component>.<role> like master.rpc")
                if port_taken(port):
                    raise ConfigError(f"release {spec.name}: port {port} (ports.{role}) is already "
                                      f"taken on {HOST}; free it or drop ports.{role} to pick one")

    def _check_reachable_by(self, user: str) -> None:
        try:
            pwd.getpwnam(user)
        except KeyError:
            raise ConfigError(f"OS user {user!r} is missing: apt-get install postgresql") from None
        path = self.state_dir.resolve()
        for part in [path, *path.parents]:
            if part.exists() and not (part.stat().st_mode & 0o001):
                raise ConfigError(
                    f"state dir {self.state_dir}: {part} is not searchable by the {user} user, who "
                    f"runs PostgreSQL when Testbed runs as root; set TESTBED_STATE_DIR outside it "
                    f"(e.g. /var/tmp/testbed)")

    # --- deploy ----------------------------------------------------------------------------------

    def _postgres(self, env: Environment) -> PostgresServer:
        with env.lock:
            server = env.runtime.get("postgres")
            if server is None:
                server = PostgresServer(env.path / "postgres", self.ready_timeout)
                env.runtime["postgres"] = server
                self._track(env, "postgres", server.start())
            return server

    def mysql_source(self, env: Environment) -> MariaDBServer:
        with env.lock:
            server = env.runtime.get("mariadb")
            if server is None:
                find_mariadb()  # a clear error before anything starts
                server = MariaDBServer(env.path / "mariadb", self.ready_timeout)
                env.runtime["mariadb"] = server
                self._track(env, "mysql", server.start())
            return server

    def alerting_stack(self, env: Environment) -> AlertingStack:
        with env.lock:
            stack = env.runtime.get("alerting")
            if stack is None:
                find_alerting_binaries()  # a clear error before anything starts
                stack = AlertingStack(env.path / "alerting", self.ready_timeout)
                env.runtime["alerting"] = stack
                env.on_teardown(stack.webhook.close)
            return stack

    def start_alerting(self, env: Environment) -> AlertingStack:
        stack = self.alerting_stack(env)
        with env.lock:
            if not stack.started:
                self._track(env, "alerting", stack.start_alertmanager())
                self._track(env, "alerting", stack.start_prometheus())
        return stack

    def _track(self, env: Environment, release: str, process: ManagedProcess) -> None:
        with env.lock:
            env.runtime.setdefault("processes", []).append((release, process))
        env.record({"release": release, "name": process.spec.name, "pid": process.pid,
                    "create_time": process.create_time})

    def _ports(self, spec: ReleaseSpec) -> dict[str, int]:
        chosen: dict[str, int] = {}
        for kind in spec.components:
            for role in PORT_ROLES[kind]:
                chosen[f"{kind}.{role}"] = spec.ports.get(f"{kind}.{role}") or free_port()
        return chosen

    def deploy(self, env: Environment, spec: ReleaseSpec) -> Deployment:
        self.preflight([spec])
        started = time.monotonic()
        postgres = self._postgres(env)
        credentials = postgres.create_database(spec.metastore_db)
        layout = ReleaseLayout(env, spec)
        layout.events.mkdir(parents=True, exist_ok=True)
        layout.warehouse.mkdir(parents=True, exist_ok=True)
        ports = self._ports(spec)
        sh = spark_home(spec.version)
        metastore_uri = f"thrift://{HOST}:{ports['metastore.thrift']}"
        jdbc_url = f"jdbc:postgresql://{HOST}:{postgres.port}/{spec.metastore_db}"
        # Every application of this release (jobs, the Connect server) shares these settings.
        app_conf = {
            "spark.eventLog.enabled": "true",
            "spark.eventLog.dir": f"file:{layout.events}",
            "spark.sql.catalogImplementation": "hive",
            "spark.hadoop.hive.metastore.uris": metastore_uri,
            "spark.sql.warehouse.dir": f"file:{layout.warehouse}",
            "spark.driver.host": HOST,
            "spark.driver.bindAddress": HOST,
            "spark.pyspark.python": job_python(),
            "spark.jars.ivy": str(ivy_dir(spec.name)),
            "spark.ui.showConsoleProgress": "false",
            "spark.sql.shuffle.partitions": "4",
        }
        if spec.delta_version:
            app_conf.update({
                "spark.jars": ",".join(str(jar) for jar in sorted(release_jars(spec.name).glob("*.jar"))),
                "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
                "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
                # Delta's defaults (50 snapshot partitions, 200 shuffle partitions) are for
                # clusters; on 2 cores a 1000-row UPDATE spent seconds scheduling empty tasks.
                "spark.databricks.delta.snapshotPartitions": "2",
            })
        env.runtime.setdefault("app_conf", {})[spec.name] = app_conf
        client = layout.component("client")
        (client["conf"] / "spark-defaults.conf").write_text(_conf_lines(app_conf))

        def launch(kind: str) -> ManagedProcess:
            dirs = layout.component(kind)
            argv, probe, conf = self._command(kind, spec, sh, dirs, ports, layout, app_conf,
                                              jdbc_url, credentials)
            (dirs["conf"] / "spark-defaults.conf").write_text(_conf_lines(conf))
            process = start(
                ProcessSpec(name=f"{spec.name}-{kind}", argv=argv,
                            log_file=dirs["logs"] / f"{kind}.log", cwd=dirs["work"],
                            env=self._spark_env(spec, sh, dirs, kind)),
                probe, timeout=self.ready_timeout)
            self._track(env, spec.name, process)
            return process

        # Only the master orders its worker; the rest start side by side (2 cores: ~4 JVMs is fine).
        chains = [[kind] for kind in spec.components if kind not in ("master", "worker")]
        if "master" in spec.components:
            chains.append([k for k in ("master", "worker") if k in spec.components])
        timings: dict[str, float] = {}
        with ThreadPoolExecutor(max_workers=len(chains)) as pool:
            futures = [pool.submit(lambda chain=chain: [(k, launch(k)) for k in chain])
                       for chain in chains]
            errors = []
            for future in futures:
                try:
                    for kind, process in future.result():
                        timings[kind] = round(process.ready_seconds, 2)
                except Exception as exc:  # collect all: one message names every failed component
                    errors.append(exc)
            if errors:
                raise errors[0] if len(errors) == 1 else ComponentStartError(
                    "\n".join(str(error) for error in errors))

        endpoints = {"metastore": metastore_uri, "metastore_db": spec.metastore_db,
                     "metastore_jdbc": jdbc_url,
                     "history_ui": f"http://{HOST}:{ports['history.ui']}",
                     "event_log_dir": str(layout.events)}
        if "master" in spec.components:
            endpoints["master"] = f"spark://{HOST}:{ports['master.rpc']}"
            endpoints["master_ui"] = f"http://{HOST}:{ports['master.ui']}"
        if "worker" in spec.components:
            endpoints["worker_ui"] = f"http://{HOST}:{ports['worker.ui']}"
        if "connect" in spec.components:
            endpoints["connect"] = f"sc://{HOST}:{ports['connect.grpc']}"
            endpoints["connect_ui"] = f"http://{HOST}:{ports['connect.ui']}"
        env.runtime.setdefault("ports", {})[spec.name] = ports
        return Deployment(spec=spec, env_id=env.state.env_id, root=str(layout.root),
                          endpoints=endpoints, startup_seconds=round(time.monotonic() - started, 2),
                          component_seconds=timings)

    def _spark_env(self, spec: ReleaseSpec, sh: Path, dirs: dict[str, Path], kind: str) -> dict:
        jh = java_home()
        return {
            "JAVA_HOME": str(jh),
            "PATH": f"{jh / 'bin'}:/usr/local/bin:/usr/bin:/bin",
            "SPARK_HOME": str(sh),
            "SPARK_CONF_DIR": str(dirs["conf"]),
            "SPARK_LOG_DIR": str(dirs["logs"]),
            "SPARK_PID_DIR": str(dirs["work"]),
            "SPARK_LOCAL_DIRS": str(dirs["tmp"]),
            "SPARK_WORKER_DIR": str(dirs["work"]),
            "SPARK_LOCAL_IP": HOST,
            "SPARK_IDENT_STRING": f"{spec.name}-{kind}",
            "SPARK_DAEMON_MEMORY": spec.daemon_memory,
            "SPARK_DAEMON_JAVA_OPTS": f"-Djava.io.tmpdir={dirs['tmp']}",
            "SPARK_SUBMIT_OPTS": f"-Djava.io.tmpdir={dirs['tmp']}",
            "PYSPARK_PYTHON": job_python(),
            "PYSPARK_DRIVER_PYTHON": job_python(),
        }

    def _command(self, kind, spec, sh, dirs, ports, layout, app_conf, jdbc_url, credentials):
        """argv, readiness probe and spark-defaults for one component."""
        spark_class = str(sh / "bin" / "spark-class")
        props = ["--properties-file", str(dirs["conf"] / "spark-defaults.conf")]
        if kind == "metastore":
            hive.write_conf(dirs["conf"], sh, jdbc_url, credentials, layout.warehouse)
            log = dirs["logs"] / "metastore.log"
            argv = [str(java_home() / "bin" / "java"), f"-Xmx{spec.daemon_memory}",
                    f"-Djava.io.tmpdir={dirs['tmp']}",
                    f"-Dlog4j2.configurationFile={dirs['conf'] / 'hive-log4j2.properties'}",
                    "-cp", f"{dirs['conf']}:{sh / 'jars'}/*:{JDBC_JAR}",
                    "org.apache.hadoop.hive.metastore.HiveMetaStore",
                    "-p", str(ports["metastore.thrift"])]
            probe = all_of(LogContains(log, hive.READY_LINE),
                           TcpOpen(HOST, ports["metastore.thrift"]))
            return argv, probe, {}
        if kind == "history":
            url = f"http://{HOST}:{ports['history.ui']}"
            conf = {"spark.history.fs.logDirectory": f"file:{layout.events}",
                    "spark.history.ui.port": ports["history.ui"],
                    "spark.history.fs.update.interval": "1s",
                    "spark.ui.host": HOST}
            probe = HttpJson(f"{url}/api/v1/version", lambda doc: "spark" in doc,
                             "reports a Spark version")
            return [spark_class, "org.apache.spark.deploy.history.HistoryServer", *props], probe, conf
        if kind == "master":
            url = f"http://{HOST}:{ports['master.ui']}"
            argv = [spark_class, "org.apache.spark.deploy.master.Master", "--host", HOST,
                    "--port", str(ports["master.rpc"]), "--webui-port", str(ports["master.ui"]),
                    *props]
            probe = HttpJson(f"{url}/json/", lambda doc: doc.get("status") == "ALIVE",
                             "reports status ALIVE")
            return argv, probe, {}
        if kind == "worker":
            master_ui = f"http://{HOST}:{ports['master.ui']}"
            argv = [spark_class, "org.apache.spark.deploy.worker.Worker", "--host", HOST,
                    "--port", str(ports["worker.rpc"]), "--webui-port", str(ports["worker.ui"]),
                    "--cores", str(os.cpu_count() or 2), "--memory", spec.worker_memory,
                    "--work-dir", str(dirs["work"]), *props,
                    f"spark://{HOST}:{ports['master.rpc']}"]
            probe = all_of(TcpOpen(HOST, ports["worker.ui"]),
                           HttpJson(f"{master_ui}/json/",
                                    lambda doc: doc.get("aliveworkers", 0) >= 1,
                                    "lists an alive worker"))
            return argv, probe, {}
        if kind == "connect":
            conf = {**app_conf,
                    "spark.master": "local[2]",
                    "spark.app.name": f"testbed-{spec.name}-connect",
                    "spark.connect.grpc.binding.address": HOST,
                    "spark.connect.grpc.binding.port": ports["connect.grpc"],
                    "spark.ui.port": ports["connect.ui"],
                    "spark.driver.memory": spec.driver_memory}
            argv = [str(sh / "bin" / "spark-submit"),
                    "--class", "org.apache.spark.sql.connect.service.SparkConnectServer",
                    "--driver-memory", spec.driver_memory, *props, "spark-internal"]
            # The gRPC port opens only once the server's session exists.
            return argv, TcpOpen(HOST, ports["connect.grpc"]), conf
        raise ConfigError(f"release {spec.name}: component {kind!r} is not known to the local "
                          f"platform (known: {', '.join(PORT_ROLES)})")

    # --- facts -----------------------------------------------------------------------------------

    def facts(self, env: Environment, deployment: Deployment) -> Facts:
        spec = deployment.spec
        ports = env.runtime["ports"][spec.name]
        layout = ReleaseLayout(env, spec)
        processes = {p.spec.name: p for r, p in env.runtime.get("processes", []) if r == spec.name}
        components = []
        for kind in spec.components:
            name = f"{spec.name}-{kind}"
            process = processes.get(name)
            mine = {role: port for role, port in ports.items() if role.startswith(f"{kind}.")}
            listening = process is not None and process.running() and all(
                TcpOpen(HOST, port)() for port in mine.values())
            components.append(ComponentFacts(
                release=spec.name, kind=kind, name=name,
                ports={role.split(".")[1]: port for role, port in mine.items()},
                data_dir=str(layout.root / kind / "work"), conf_dir=str(layout.root / kind / "conf"),
                pid=process.pid if process else None, ready=listening,
                probe="running and listening on " + ", ".join(map(str, mine.values()))
                if listening else "not running or not listening"))
        metastore_conf = layout.root / "metastore" / "conf"
        jdbc_url = hive.read_jdbc_url(metastore_conf)
        db_name = jdbc_url.rsplit("/", 1)[-1]
        postgres: PostgresServer = env.runtime["postgres"]
        history_url = deployment.endpoints["history_ui"]
        return Facts(
            release=spec.name, version=spec.version, components=components,
            metastore_uri=deployment.endpoints["metastore"], metastore_db=db_name,
            metastore_tables=postgres.metastore_tables(db_name),
            event_log_dir=env.runtime["app_conf"][spec.name]["spark.eventLog.dir"]
            .removeprefix("file:"),
            history_log_dir=history_log_dir(history_url),
            history_apps=history_apps(history_url))

    # --- jobs ------------------------------------------------------------------------------------

    def submit(self, env: Environment, deployment: Deployment, job: str, args: list[str],
               timeout: float) -> JobResult:
        spec = deployment.spec
        if "master" not in deployment.endpoints:
            raise ConfigError(f"release {spec.name} has no master to submit {job} to")
        sh = spark_home(spec.version)
        dirs = ReleaseLayout(env, spec).component("client")
        log = dirs["logs"] / f"{job}-{time.time_ns()}.log"
        err = log.with_suffix(".err")
        argv = [str(sh / "bin" / "spark-submit"), "--master", deployment.endpoints["master"],
                "--driver-memory", spec.driver_memory, "--executor-memory", spec.driver_memory,
                "--name", f"testbed-{job}", str(JOBS_DIR / f"{job}.py"), *args]
        started = time.monotonic()
        with open(log, "wb") as out, open(err, "wb") as errf:
            # Own session: on timeout the whole group (driver JVM + python) goes; a client-mode
            # driver whose master died would otherwise wait forever.
            process = subprocess.Popen(argv, stdout=out, stderr=errf, stdin=subprocess.DEVNULL,
                                       cwd=dirs["work"], start_new_session=True,
                                       env=child_env(self._spark_env(spec, sh, dirs, "client")))
            env.runtime.setdefault("jobs", []).append(process)
            try:
                returncode = process.wait(timeout=timeout)
                error = tail(err, 40)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, 9)
                returncode = process.wait()
                error = f"timed out after {timeout:.0f}s\n{tail(err, 40)}"
        return JobResult(release=spec.name, job=job, returncode=returncode,
                         seconds=round(time.monotonic() - started, 2), output=tail(log, 40),
                         error=error)

    # --- teardown --------------------------------------------------------------------------------

    def stop_environment(self, env: Environment) -> list[str]:
        stopped = []
        for job in env.runtime.get("jobs", []):
            if job.poll() is None:  # drivers first: they outlive their master otherwise
                os.killpg(job.pid, 9)
                job.wait()
        # Reverse start order: workers before masters, everything before PostgreSQL.
        for _release, process in reversed(env.runtime.get("processes", [])):
            if process.running():
                process.stop(self.grace_seconds)
                stopped.append(process.spec.name)
        env.runtime["processes"] = []
        # Handles from an earlier owner of this state (a re-opened env) are stopped by pid.
        stopped += self.destroy_abandoned(env.state)
        return stopped

    def leftovers(self, env: Environment) -> list[str]:
        left = []
        for handle in env.state.handles:
            try:
                process = psutil.Process(handle["pid"])
                if abs(process.create_time() - (handle.get("create_time") or 0)) < 1.0:
                    left.append(f"process {handle['name']} (pid {handle['pid']})")
            except (psutil.NoSuchProcess, KeyError, TypeError):
                pass
        ports = {name: env.runtime[name].port for name in ("postgres", "mariadb")
                 if name in env.runtime}
        for release, release_ports in env.runtime.get("ports", {}).items():
            ports.update({f"{release} {role}": port for role, port in release_ports.items()})
        if "alerting" in env.runtime:
            stack = env.runtime["alerting"]
            ports.update({"alertmanager": stack.am_port, "prometheus": stack.prom_port,
                          "webhook receiver": stack.webhook.port})
        left += [f"port {port} ({what})" for what, port in ports.items() if TcpOpen(HOST, port)()]
        return left

    def destroy_abandoned(self, state: EnvironmentState) -> list[str]:
        stopped = []
        for handle in reversed(state.handles):
            if handle.get("pid") and kill_recorded(handle["pid"], handle.get("create_time"),
                                                   self.grace_seconds):
                stopped.append(handle["name"])
        return stopped


def history_apps(history_url: str) -> list[HistoryApp]:
    response = httpx.get(f"{history_url}/api/v1/applications", timeout=10)
    response.raise_for_status()
    apps = []
    for app in response.json():
        attempts = app.get("attempts") or [{}]
        apps.append(HistoryApp(id=app["id"], name=app.get("name", ""),
                               spark_version=attempts[-1].get("appSparkVersion", "unknown")))
    return apps


def history_log_dir(history_url: str) -> str:
    """The History Server shows the directory it reads on its front page."""
    page = httpx.get(f"{history_url}/", timeout=10).text
    match = re.search(r"Event log directory:\s*(?:</strong>)?\s*([^<\s]+)", page)
    return match.group(1).removeprefix("file:") if match else "unknown"
