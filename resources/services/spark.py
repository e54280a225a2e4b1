"""A Spark release on this machine: its files and settings, and each of its components as a service.

<env>/<release>/<component>/   conf/, logs/, work/, tmp/ per component; warehouse/ per release
s3a://<event_log_prefix>       the release's event logs in the environment's object store, or with
<env>/<event_log_prefix>/      storage local, a directory standing in for it

`SparkRelease` holds what the components share (ports, the metastore's database, the settings every
application of the release uses); each component (metastore, History Server, master, worker,
Connect server) is a small Service: its argv, its readiness probe, its spark-defaults.
"""

import os
from pathlib import Path
from typing import ClassVar

from resources import hive
from resources.model.catalog import ReleaseSpec
from resources.model.errors import ConfigError
from resources.model.facts import ComponentFacts, Endpoints
from resources.ports import HOST, free_port
from resources.probes import HttpJson, LogContains, Probe, TcpOpen, all_of
from resources.processes import ProcessSpec
from resources.services import s3a
from resources.services.base import Service
from resources.services.class_archive import ClassArchive
from resources.services.jvm import ArchivedJvm, check_java, java_home
from resources.services.objectstore import ObjectStore
from resources.settings import ivy_dir, job_python, release_jars, spark_home

JDBC_JAR = Path("/usr/share/java/postgresql.jar")
# For the daemons, drivers and the Connect server (not executors): a test environment's JVMs live
# minutes, and on 2 cores their start is CPU-bound. C1 only and the serial collector halve the CPU
# it takes (both releases: 47 -> 25 CPU-seconds, 27 s -> 16 s to ready, measured here); executors
# keep the full JIT for the work jobs do.
SHORT_LIVED_JVM = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"

# The JVMs that read or write the object store (with storage s3): drivers (jobs, the Connect
# server) write event logs, History Servers read them. Masters and workers never touch it.
S3A_JVMS = ("driver", "connect", "history")

# Component -> the port roles it listens on.
PORT_ROLES = {
    "metastore": ("thrift",),
    "history": ("ui",),
    "master": ("rpc", "ui"),
    "worker": ("rpc", "ui"),
    "connect": ("grpc", "ui"),
}


def check_release_installed(spec: ReleaseSpec, storage: str = "local") -> None:
    sh = spark_home(spec.version)
    if not (sh / "bin" / "spark-class").exists():
        raise ConfigError(f"Spark {spec.version} for release {spec.name} is not installed "
                          f"at {sh}: run `make setup` (TESTBED_CATALOG=<your catalog> make setup "
                          f"for a catalog of your own)")
    if storage == "s3":
        s3a.check_installed(sh, spec.name)
    if spec.maven_packages and not (release_jars(spec.name) / ".resolved").exists():
        raise ConfigError(f"the jars of release {spec.name} ({', '.join(spec.maven_packages)}) are "
                          f"not in {release_jars(spec.name)}: run `make setup` "
                          f"(TESTBED_CATALOG=<your catalog> make setup for a catalog of your own)")


def conf_lines(values: dict[str, object]) -> str:
    return "".join(f"{key} {value}\n" for key, value in values.items())


def write_conf(path: Path, values: dict[str, object]) -> None:
    """A spark-defaults file, readable by its owner only: it may hold the store's keys."""
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(conf_lines(values))


def application_conf(spec: ReleaseSpec, *, event_log_dir: str, metastore_uri: str, warehouse: str,
                     host: str, bind: str, python: str, ivy: str, jars: list[str]) -> dict[str, object]:
    """The settings every application of a release (jobs, the Connect server) shares, wherever it
    runs (the platform gives the paths and addresses as they are where the driver runs)."""
    conf: dict[str, object] = {
        "spark.eventLog.enabled": "true",
        "spark.eventLog.dir": event_log_dir,
        "spark.sql.catalogImplementation": "hive",
        "spark.hadoop.hive.metastore.uris": metastore_uri,
        "spark.sql.warehouse.dir": warehouse,
        "spark.driver.host": host,
        "spark.driver.bindAddress": bind,
        "spark.pyspark.python": python,
        "spark.jars.ivy": ivy,
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.shuffle.partitions": "4",
        "spark.executor.extraJavaOptions": SHORT_LIVED_JVM,
    }
    if spec.maven_packages:  # Delta, Spark 3.5's Connect server
        conf["spark.jars"] = ",".join(jars)
    if spec.delta_version:
        conf.update({
            "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
            "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
            # Delta's defaults (50 snapshot partitions, 200 shuffle partitions) are for
            # clusters; on 2 cores a 1000-row UPDATE spent seconds scheduling empty tasks.
            "spark.databricks.delta.snapshotPartitions": "2",
        })
    return conf


class SparkRelease:
    """One release's layout, ports and shared application settings in an environment dir."""

    def __init__(self, env_dir: Path, spec: ReleaseSpec, postgres_port: int,
                 ready_timeout: float = 60.0, store: ObjectStore | None = None):
        self.spec = spec
        self.ready_timeout = ready_timeout
        self.root = env_dir / spec.name
        self.store = store
        # Event logs: s3a://spark-logs/3.5/events in the store, or the same path under the env dir.
        self.events = env_dir / spec.event_log_prefix
        self.event_log_dir = f"s3a://{spec.event_log_prefix}" if store else f"file:{self.events}"
        self.warehouse = self.root / "warehouse"
        self.home = spark_home(spec.version)
        self.ports = {f"{kind}.{role}": spec.ports.get(f"{kind}.{role}") or free_port()
                      for kind in spec.components for role in PORT_ROLES[kind]}
        self.metastore_uri = f"thrift://{HOST}:{self.ports['metastore.thrift']}"
        self.jdbc_url = f"jdbc:postgresql://{HOST}:{postgres_port}/{spec.metastore_db}"
        self.credentials: tuple[str, str] = ("", "")  # the metastore database's owner role
        # Every application of this release (jobs, the Connect server) shares these settings.
        self.app_conf = application_conf(
            spec, event_log_dir=self.event_log_dir, metastore_uri=self.metastore_uri,
            warehouse=f"file:{self.warehouse}", host=HOST, bind=HOST, python=job_python(),
            ivy=str(ivy_dir(spec.name)),
            jars=[str(jar) for jar in sorted(release_jars(spec.name).glob("*.jar"))])
        self.store_conf: dict[str, str] = {}  # what every JVM of the release needs for S3A
        if store is not None:
            self.store_conf = s3a.conf(store.endpoint, store.access_key, store.secret_key,
                                       s3a.hadoop_version(self.home))
            classpath = f"{s3a.jars_dir(self.home)}/*"
            self.app_conf.update({**self.store_conf, "spark.driver.extraClassPath": classpath,
                                  "spark.executor.extraClassPath": classpath})

    def dirs(self, component: str) -> dict[str, Path]:
        base = self.root / component
        found = {name: base / name for name in ("conf", "logs", "work", "tmp")}
        for path in found.values():
            path.mkdir(parents=True, exist_ok=True)
        return found

    def prepare(self) -> None:
        if self.store is None:
            self.events.mkdir(parents=True, exist_ok=True)
        else:  # the prefix must exist before a History Server or SparkContext uses it
            self.store.ensure_prefix(self.event_log_dir)
        self.warehouse.mkdir(parents=True, exist_ok=True)
        client = self.dirs("client")
        write_conf(client["conf"] / "spark-defaults.conf", self.app_conf)

    def components(self) -> list["SparkComponent"]:
        return [COMPONENTS[kind](self) for kind in self.spec.components]

    @property
    def classpath_conf(self) -> Path:
        """SPARK_CONF_DIR of every JVM of this Spark version: empty, and the same in every
        environment, so the classpath is too and class-data archives apply (settings come from
        each component's own --properties-file)."""
        path = self.home.parent / "classpath-conf"
        path.mkdir(exist_ok=True)
        return path

    def archive(self, jvm: str) -> ClassArchive:
        if jvm == "metastore":
            return ClassArchive(java_home(), f"spark-{self.spec.version}-{jvm}",
                                [self.home / "jars", JDBC_JAR])
        if self.store is not None and jvm in S3A_JVMS:
            # S3A's jars come first on these JVMs' classpath: an archive of its own.
            return ClassArchive(java_home(), f"spark-{self.spec.version}-{jvm}-s3a",
                                [s3a.jars_dir(self.home), self.home / "jars"])
        return ClassArchive(java_home(), f"spark-{self.spec.version}-{jvm}", [self.home / "jars"])

    def spark_env(self, dirs: dict[str, Path], ident: str,
                  archive: ClassArchive | None = None) -> dict[str, str]:
        jh = java_home()
        jvm = f"{SHORT_LIVED_JVM} {' '.join(archive.flags()) if archive else ''}".strip()
        return {
            "JAVA_HOME": str(jh),
            "PATH": f"{jh / 'bin'}:/usr/local/bin:/usr/bin:/bin",
            "SPARK_HOME": str(self.home),
            "SPARK_CONF_DIR": str(self.classpath_conf),
            "SPARK_LOG_DIR": str(dirs["logs"]),
            "SPARK_PID_DIR": str(dirs["work"]),
            "SPARK_LOCAL_DIRS": str(dirs["tmp"]),
            "SPARK_WORKER_DIR": str(dirs["work"]),
            "SPARK_LOCAL_IP": HOST,
            "SPARK_IDENT_STRING": ident,
            "SPARK_DAEMON_MEMORY": self.spec.daemon_memory,
            "SPARK_DAEMON_JAVA_OPTS": f"-Djava.io.tmpdir={dirs['tmp']} {jvm}",
            "SPARK_SUBMIT_OPTS": f"-Djava.io.tmpdir={dirs['tmp']} {jvm}",
            "SPARK_LAUNCHER_OPTS": SHORT_LIVED_JVM,  # the JVM spark-class runs to build argv
            "PYSPARK_PYTHON": job_python(),
            "PYSPARK_DRIVER_PYTHON": job_python(),
        }

    def endpoints(self) -> Endpoints:
        p = self.ports
        has = self.spec.components
        return Endpoints(
            metastore=self.metastore_uri, metastore_db=self.spec.metastore_db,
            metastore_jdbc=self.jdbc_url,
            history_ui=f"http://{HOST}:{p['history.ui']}" if "history" in has else None,
            event_log_dir=self.event_log_dir.removeprefix("file:"),
            master=f"spark://{HOST}:{p['master.rpc']}" if "master" in has else None,
            master_ui=f"http://{HOST}:{p['master.ui']}" if "master" in has else None,
            worker_ui=f"http://{HOST}:{p['worker.ui']}" if "worker" in has else None,
            connect=f"sc://{HOST}:{p['connect.grpc']}" if "connect" in has else None,
            connect_ui=f"http://{HOST}:{p['connect.ui']}" if "connect" in has else None)


class SparkComponent(ArchivedJvm, Service):
    """One JVM of a release. Subclasses give its argv, probe and own spark-defaults."""

    component: ClassVar[str]

    def __init__(self, release: SparkRelease):
        super().__init__(f"{release.spec.name}-{self.component}", release.root / self.component,
                         release.ready_timeout, owner=release.spec.name)
        self.release = release
        self.spec = release.spec
        self.conf_dir = self.root / "conf"
        self.data_dir = self.root / "work"
        self.archive = release.archive(self.component)

    @classmethod
    def check_installed(cls) -> None:
        check_java()

    @property
    def ports(self) -> dict[str, int]:
        return {role.split(".")[1]: port for role, port in self.release.ports.items()
                if role.startswith(f"{self.component}.")}

    def port_of(self, role: str) -> int:
        return self.release.ports[f"{self.component}.{role}"]

    @property
    def properties(self) -> list[str]:
        return ["--properties-file", str(self.conf_dir / "spark-defaults.conf")]

    @property
    def spark_class(self) -> str:
        return str(self.release.home / "bin" / "spark-class")

    def conf(self) -> dict[str, object]:
        return {}

    def prepare(self) -> None:
        self.release.dirs(self.component)
        write_conf(self.conf_dir / "spark-defaults.conf", self.conf())

    def argv(self) -> list[str]:
        raise NotImplementedError

    def recipe(self) -> ProcessSpec:
        dirs = self.release.dirs(self.component)
        return ProcessSpec(name=self.name, argv=self.argv(),
                           log_file=dirs["logs"] / f"{self.component}.log", cwd=dirs["work"],
                           env=self.release.spark_env(dirs, self.name, self.archive))

    def facts(self) -> ComponentFacts:
        return super().facts().model_copy(update={
            "kind": self.component, "data_dir": str(self.data_dir), "conf_dir": str(self.conf_dir)})



class Metastore(SparkComponent):
    """Hive's standalone metastore from the release's own jars, on its own PostgreSQL database."""

    kind = "spark-metastore"
    component = "metastore"

    @classmethod
    def check_installed(cls) -> None:
        check_java()
        if not JDBC_JAR.exists():
            raise ConfigError(f"{JDBC_JAR} is missing: apt-get install libpostgresql-jdbc-java "
                              f"(make setup does it)")

    def prepare(self) -> None:
        super().prepare()
        hive.write_conf(self.conf_dir, self.release.home, self.release.jdbc_url,
                        self.release.credentials, self.release.warehouse)

    def argv(self) -> list[str]:
        tmp = self.root / "tmp"
        # hive-site.xml comes through HIVE_CONF_DIR, not the classpath: the classpath stays the
        # same in every environment (class-data archives, see class_archive.py).
        return [str(java_home() / "bin" / "java"), *SHORT_LIVED_JVM.split(), *self.archive.flags(),
                f"-Xmx{self.spec.daemon_memory}",
                f"-Djava.io.tmpdir={tmp}",
                f"-Dlog4j2.configurationFile={self.conf_dir / 'hive-log4j2.properties'}",
                "-cp", f"{self.release.home / 'jars'}/*:{JDBC_JAR}",
                "org.apache.hadoop.hive.metastore.HiveMetaStore", "-p", str(self.port_of("thrift"))]

    def recipe(self) -> ProcessSpec:
        dirs = self.release.dirs(self.component)
        return ProcessSpec(name=self.name, argv=self.argv(), log_file=dirs["logs"] / "metastore.log",
                           cwd=dirs["work"], env={**self.release.spark_env(dirs, self.name),
                                                  "HIVE_CONF_DIR": str(self.conf_dir)})

    def probe(self) -> Probe:
        return all_of(LogContains(self.root / "logs" / "metastore.log", hive.READY_LINE),
                      TcpOpen(HOST, self.port_of("thrift")))


class HistoryServer(SparkComponent):
    kind = "spark-history"
    component = "history"

    def conf(self) -> dict[str, object]:
        return {"spark.history.fs.logDirectory": self.release.event_log_dir,
                "spark.history.ui.port": self.port_of("ui"),
                "spark.history.fs.update.interval": "1s",
                "spark.ui.host": HOST, **self.release.store_conf}

    def argv(self) -> list[str]:
        return [self.spark_class, "org.apache.spark.deploy.history.HistoryServer", *self.properties]

    def recipe(self) -> ProcessSpec:
        spec = super().recipe()
        if self.release.store is not None:  # S3A on the daemon's own classpath
            spec.env["SPARK_DAEMON_CLASSPATH"] = f"{s3a.jars_dir(self.release.home)}/*"
        return spec

    def probe(self) -> Probe:
        return HttpJson(f"http://{HOST}:{self.port_of('ui')}/api/v1/version",
                        lambda doc: "spark" in doc, "reports a Spark version")


class Master(SparkComponent):
    kind = "spark-master"
    component = "master"

    def argv(self) -> list[str]:
        return [self.spark_class, "org.apache.spark.deploy.master.Master", "--host", HOST,
                "--port", str(self.port_of("rpc")), "--webui-port", str(self.port_of("ui")),
                *self.properties]

    def probe(self) -> Probe:
        return HttpJson(f"http://{HOST}:{self.port_of('ui')}/json/",
                        lambda doc: doc.get("status") == "ALIVE", "reports status ALIVE")


class Worker(SparkComponent):
    kind = "spark-worker"
    component = "worker"

    def argv(self) -> list[str]:
        return [self.spark_class, "org.apache.spark.deploy.worker.Worker", "--host", HOST,
                "--port", str(self.port_of("rpc")), "--webui-port", str(self.port_of("ui")),
                "--cores", str(os.cpu_count() or 2), "--memory", self.spec.worker_memory,
                "--work-dir", str(self.data_dir), *self.properties,
                f"spark://{HOST}:{self.release.ports['master.rpc']}"]

    def probe(self) -> Probe:
        master_ui = f"http://{HOST}:{self.release.ports['master.ui']}"
        return all_of(TcpOpen(HOST, self.port_of("ui")),
                      HttpJson(f"{master_ui}/json/", lambda doc: doc.get("aliveworkers", 0) >= 1,
                               "lists an alive worker"))


class ConnectServer(SparkComponent):
    kind = "spark-connect"
    component = "connect"

    def conf(self) -> dict[str, object]:
        return {**self.release.app_conf,
                "spark.master": "local[2]",
                "spark.app.name": f"testbed-{self.spec.name}-connect",
                "spark.connect.grpc.binding.address": HOST,
                "spark.connect.grpc.binding.port": self.port_of("grpc"),
                "spark.ui.port": self.port_of("ui"),
                "spark.driver.memory": self.spec.driver_memory}

    def argv(self) -> list[str]:
        return [str(self.release.home / "bin" / "spark-submit"),
                "--class", "org.apache.spark.sql.connect.service.SparkConnectServer",
                "--driver-memory", self.spec.driver_memory, *self.properties, "spark-internal"]

    def probe(self) -> Probe:
        # The gRPC port opens only once the server's session exists.
        return TcpOpen(HOST, self.port_of("grpc"))


COMPONENTS: dict[str, type[SparkComponent]] = {
    cls.component: cls for cls in (Metastore, HistoryServer, Master, Worker, ConnectServer)}
