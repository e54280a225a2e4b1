"""Compose files from the catalog's data: one compose project per environment.

testbed-<env id>                  the project: one network, its named volumes, these labels on
                                  every container and volume: testbed.io/env, testbed.io/owner
                                  (host:pid of the orchestrator), testbed.io/created, testbed.io/ttl
postgres                          one PostgreSQL per environment, one database per release
<release>-<component>             the release's JVMs (dots become dashes: a host name like
                                  spark-3.5-master is no valid Java URI host)
<release>-warehouse               its tables (metastore, jobs, Connect server)
events-<prefix>                   its event logs, mounted at /data/events/<prefix>; a volume per
                                  prefix, so two releases on one prefix really share one

Each file is plain data, readable by a person, with its configuration inline (`configs:` with
`content:`); containers listen on fixed ports inside and publish on 127.0.0.1 at ports the engine
picks. Nothing here runs anything: platforms/compose.py does.
"""

import re
from pathlib import Path

import yaml

from resources import hive
from resources.docker.images import JARS_DIR, SPARK_HOME
from resources.model.catalog import ReleaseSpec
from resources.services.spark import SHORT_LIVED_JVM, application_conf, conf_lines
from resources.settings import release_jars, spark_home

LABELS = ("testbed.io/env", "testbed.io/owner", "testbed.io/created", "testbed.io/ttl")
COMPONENT_LABEL = "testbed.io/component"
RELEASE_LABEL = "testbed.io/release"
# Ports inside the containers (each container has its own address, so they never clash).
PORTS = {"metastore.thrift": 9083, "history.ui": 18080, "master.rpc": 7077, "master.ui": 8080,
         "worker.rpc": 7078, "worker.ui": 8081, "connect.grpc": 15002, "connect.ui": 4040}
POSTGRES_PORT = 5432
CONF = "/opt/conf"
WAREHOUSE = "/data/warehouse"
EVENTS = "/data/events"
JDBC_JAR = "/usr/share/java/postgresql.jar"
# Polled each second: `up --wait` returns at the first healthy answer after the service is up.
HEALTH = {"interval": "1s", "timeout": "5s", "retries": 300, "start_period": "5s"}


def host(release: str, component: str) -> str:
    return re.sub(r"[^a-z0-9-]", "-", f"{release}-{component}")


def events_volume(prefix: str) -> str:
    return "events-" + re.sub(r"[^a-z0-9]+", "-", prefix.lower()).strip("-")


def _http_check(url: str, test: str = "True") -> list[str]:
    """A healthcheck in the image's own Python (minbase has no curl)."""
    return ["CMD", "python3", "-c",
            "import json, sys, urllib.request; "
            f"doc = json.load(urllib.request.urlopen({url!r}, timeout=4)); sys.exit(not ({test}))"]


def _tcp_check(port: int) -> list[str]:
    return ["CMD", "bash", "-c", f"</dev/tcp/127.0.0.1/{port}"]


def _ports(component: str, fixed: dict[str, int]) -> list[dict]:
    """Published on 127.0.0.1 only, at the port the catalog fixes (ports.<component>.<role>) or
    one the engine picks."""
    return [{"target": port, "host_ip": "127.0.0.1", "protocol": "tcp",
             **({"published": str(fixed[role])} if role in fixed else {})}
            for role, port in PORTS.items() if role.startswith(f"{component}.")]


def postgres_service(image: str, labels: dict[str, str], password: str,
                     init_sql: str | None = None) -> dict:
    """init_sql: run once at first start (the config `postgres-init`)."""
    init = {"configs": [{"source": "postgres-init",
                         "target": "/docker-entrypoint-initdb.d/init.sql"}]} if init_sql else {}
    return {"image": image, "init": True, "labels": labels, **init,
            "environment": {"POSTGRES_PASSWORD": password},
            "volumes": ["pgdata:/var/lib/postgresql/data"],
            "ports": [{"target": POSTGRES_PORT, "host_ip": "127.0.0.1", "protocol": "tcp"}],
            "healthcheck": {"test": ["CMD", "pg_isready", "-h", "127.0.0.1", "-U", "postgres"],
                            **HEALTH}}


class ReleaseProject:
    """The compose services, volumes and configs of one release."""

    def __init__(self, spec: ReleaseSpec, image: str, labels: dict[str, str],
                 credentials: tuple[str, str], mounts: list[str] | None = None,
                 archives: "ContainerArchives | None" = None):
        self.spec = spec
        self.mounts = mounts or []  # host:container bind mounts of every container
        self.archives = archives  # class-data archives of the JVMs (none: plain starts)
        self.image = image
        self.labels = labels
        self.credentials = credentials
        self.events = f"{EVENTS}/{spec.event_log_prefix}"
        self.metastore_uri = f"thrift://{host(spec.name, 'metastore')}:{PORTS['metastore.thrift']}"
        self.jdbc_url = f"jdbc:postgresql://postgres:{POSTGRES_PORT}/{spec.metastore_db}"

    def app_conf(self, driver_host: str) -> dict[str, object]:
        jars = [f"{JARS_DIR}/{jar.name}"
                for jar in sorted(release_jars(self.spec.name).glob("*.jar"))]
        return application_conf(self.spec, event_log_dir=f"file:{self.events}",
                                metastore_uri=self.metastore_uri, warehouse=f"file:{WAREHOUSE}",
                                host=driver_host, bind="0.0.0.0", python="python3",
                                ivy="/opt/work/ivy", jars=jars)

    def conf(self, component: str) -> dict[str, object]:
        """The component's spark-defaults."""
        name = self.spec.name
        if component == "history":
            return {"spark.history.fs.logDirectory": f"file:{self.events}",
                    "spark.history.ui.port": PORTS["history.ui"],
                    "spark.history.fs.update.interval": "1s"}
        if component == "connect":
            return {**self.app_conf(host(name, "connect")), "spark.master": "local[2]",
                    "spark.app.name": f"testbed-{name}-connect",
                    "spark.connect.grpc.binding.address": "0.0.0.0",
                    "spark.connect.grpc.binding.port": PORTS["connect.grpc"],
                    "spark.ui.port": PORTS["connect.ui"],
                    "spark.driver.memory": self.spec.driver_memory}
        if component == "master":  # jobs are submitted in the master's container: client conf
            return self.app_conf(host(name, "master"))
        return {}

    def jvm(self, component: str) -> str:
        """JVM options of a component's JVM: short-lived, and its class-data archive."""
        flags = self.archives.flags(component) if self.archives else []
        return " ".join([SHORT_LIVED_JVM, *flags])

    def command(self, component: str) -> list[str]:
        spec = self.spec
        me = host(spec.name, component)
        properties = ["--properties-file", f"{CONF}/spark-defaults.conf"]
        daemon = f"{SPARK_HOME}/bin/spark-class"
        if component == "metastore":
            return ["java", *self.jvm(component).split(), f"-Xmx{spec.daemon_memory}",
                    f"-Dlog4j2.configurationFile={CONF}/hive-log4j2.properties",
                    "-cp", f"{SPARK_HOME}/jars/*:{JDBC_JAR}",
                    "org.apache.hadoop.hive.metastore.HiveMetaStore",
                    "-p", str(PORTS["metastore.thrift"])]
        if component == "history":
            return [daemon, "org.apache.spark.deploy.history.HistoryServer", *properties]
        if component == "master":
            return [daemon, "org.apache.spark.deploy.master.Master", "--host", me,
                    "--port", str(PORTS["master.rpc"]), "--webui-port", str(PORTS["master.ui"]),
                    *properties]
        if component == "worker":
            return [daemon, "org.apache.spark.deploy.worker.Worker", "--host", me,
                    "--port", str(PORTS["worker.rpc"]), "--webui-port", str(PORTS["worker.ui"]),
                    "--cores", "2", "--memory", spec.worker_memory, *properties,
                    f"spark://{host(spec.name, 'master')}:{PORTS['master.rpc']}"]
        if component == "connect":
            return [f"{SPARK_HOME}/bin/spark-submit",
                    "--class", "org.apache.spark.sql.connect.service.SparkConnectServer",
                    "--driver-memory", spec.driver_memory, *properties, "spark-internal"]
        raise ValueError(f"unknown component {component!r}")

    def healthcheck(self, component: str) -> list[str]:
        if component == "history":
            return _http_check(f"http://127.0.0.1:{PORTS['history.ui']}/api/v1/version",
                               "'spark' in doc")
        if component == "master":
            return _http_check(f"http://127.0.0.1:{PORTS['master.ui']}/json/",
                               "doc.get('status') == 'ALIVE'")
        if component == "worker":  # registered: the master lists it alive
            master = host(self.spec.name, "master")
            return _http_check(f"http://{master}:{PORTS['master.ui']}/json/",
                               "doc.get('aliveworkers', 0) >= 1")
        # The metastore's and the Connect server's ports open once they serve.
        return _tcp_check(PORTS[f"{component}.{'thrift' if component == 'metastore' else 'grpc'}"])

    def configs(self) -> dict[str, dict]:
        """Inline files: <release>-<component>-spark-defaults, and the metastore's Hive files."""
        name = self.spec.name
        # Never empty: compose mounts an empty config as no regular file.
        found = {f"{host(name, c)}-spark-defaults": {
                     "content": f"# spark-defaults of {host(name, c)}\n" + conf_lines(self.conf(c))}
                 for c in self.spec.components if c != "metastore"}
        found[f"{host(name, 'metastore')}-hive-site"] = {"content": hive.site_xml(
            spark_home(self.spec.version), self.jdbc_url, self.credentials, f"file:{WAREHOUSE}",
            CONF)}
        found[f"{host(name, 'metastore')}-hive-log4j2"] = {"content": hive.LOG4J2}
        return found

    def service(self, component: str) -> dict:
        spec = self.spec
        me = host(spec.name, component)
        if component == "metastore":
            configs = [{"source": f"{me}-hive-site", "target": f"{CONF}/hive-site.xml"},
                       {"source": f"{me}-hive-log4j2", "target": f"{CONF}/hive-log4j2.properties"}]
            environment = {"HIVE_CONF_DIR": CONF}
        else:
            configs = [{"source": f"{me}-spark-defaults", "target": f"{CONF}/spark-defaults.conf"}]
            environment = {"SPARK_DAEMON_MEMORY": spec.daemon_memory,
                           "SPARK_DAEMON_JAVA_OPTS": self.jvm(component),
                           # The Connect server is a driver; jobs submitted in the master's
                           # container bring their own (ComposePlatform.submit).
                           "SPARK_SUBMIT_OPTS": self.jvm(component) if component == "connect"
                           else SHORT_LIVED_JVM,
                           "SPARK_LOCAL_HOSTNAME": me, "SPARK_IDENT_STRING": me}
        service = {
            "image": self.image, "init": True, "hostname": me,
            "labels": {**self.labels, RELEASE_LABEL: spec.name, COMPONENT_LABEL: component},
            "command": self.command(component), "environment": environment, "configs": configs,
            "volumes": [f"{host(spec.name, 'warehouse')}:{WAREHOUSE}",
                        f"{events_volume(spec.event_log_prefix)}:{self.events}", *self.mounts],
            "ports": _ports(component, spec.ports),
            "healthcheck": {"test": self.healthcheck(component), **HEALTH},
        }
        if self.archives and self.archives.dumping(component):
            # Its first stop writes its class-data archive (~10-20 s for a Connect server here).
            service["stop_grace_period"] = "60s"
        if component == "metastore":
            service["depends_on"] = {"postgres": {"condition": "service_healthy"}}
        if component == "worker":
            service["depends_on"] = {host(spec.name, "master"): {"condition": "service_healthy"}}
        return service

    def document(self) -> dict:
        """This release's part of a compose file: services, volumes, configs."""
        volumes = {host(self.spec.name, "warehouse"): {"labels": self.labels},
                   events_volume(self.spec.event_log_prefix): {"labels": self.labels}}
        return {"services": {host(self.spec.name, c): self.service(c)
                             for c in self.spec.components},
                "volumes": volumes, "configs": self.configs()}


class ContainerArchives:
    """Class-data archives (AppCDS, see services/class_archive.py) for the JVMs of one image, in
    a host dir every container mounts at the same path: the first start of a kind dumps one when
    it stops (`-XX:ArchiveClassesAtExit`, a file of this environment's own), `keep()` makes the
    finished dumps the archives once the containers are gone, and every later start maps them.
    Keyed by the image's id, so a rebuilt image never meets an archive of another JVM or jars; a
    missing or unfitting archive only makes a start slower (-Xshare:auto)."""

    def __init__(self, root: Path, image_id: str, env_id: str):
        self.root = root
        self.key = image_id.removeprefix("sha256:")[:12]
        self.env_id = env_id

    def path(self, jvm: str) -> Path:
        return self.root / f"{self.key}-{jvm}.jsa"

    def dumping(self, jvm: str) -> bool:
        """This start writes the archive when it stops (none yet)."""
        return not self.path(jvm).exists()

    def flags(self, jvm: str) -> list[str]:
        if not self.dumping(jvm):
            return [f"-XX:SharedArchiveFile={self.path(jvm)}"]
        dump = self.path(jvm).with_name(f"{self.key}-{jvm}.{self.env_id}.dumping")
        return [f"-XX:ArchiveClassesAtExit={dump}", "-Xlog:cds=off", "-Xlog:cds+dynamic=off"]

    @staticmethod
    def keep(root: Path, env_id: str, clean: set[str]) -> None:
        """After the environment's JVMs stopped: the dumps of those that stopped cleanly (`clean`:
        their jvm names) become archives; the others' are dropped (a dump cut short is no use)."""
        for dump in root.glob(f"*.{env_id}.dumping"):
            key_jvm = dump.name.split(".")[0]
            target = dump.with_name(key_jvm + ".jsa")
            try:
                if key_jvm.split("-", 1)[1] in clean and dump.stat().st_size > 0:
                    dump.replace(target)  # atomic: a reader sees no archive or a whole one
                else:
                    dump.unlink()
            except OSError:
                continue


def merge(*documents: dict) -> dict:
    merged: dict = {}
    for document in documents:
        for section, entries in document.items():
            merged.setdefault(section, {}).update(entries)
    return merged


class _Readable(yaml.SafeDumper):
    """No anchors (&id001) and short lists of words on one line: a file for people."""

    def ignore_aliases(self, data) -> bool:
        return True


def _list(dumper: yaml.SafeDumper, items: list):
    flow = all(isinstance(i, (str, int)) for i in items) and len(str(items)) < 80
    return dumper.represent_sequence("tag:yaml.org,2002:seq", items, flow_style=flow)


_Readable.add_representer(list, _list)


def dump(document: dict, path: Path, header: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)  # it holds the databases' passwords
    path.write_text(header + yaml.dump(document, Dumper=_Readable, sort_keys=False, width=100))
    return path


# --- compose/docker-compose.yml: the seed-000 pair, to run by hand ------------------------------

HAND_LABELS = {"testbed.io/origin": "compose/docker-compose.yml"}  # no testbed.io/env: never swept
HAND_HEADER = """\
# The seed-000 pair on Docker Compose, generated from resources/catalog.yaml by
# `python -m resources.docker.project` (do not edit; tests check it matches the catalog).
# Images are built here (`make images`); then:
#   docker compose -f compose/docker-compose.yml up -d --wait    # ~20 s
#   docker compose -f compose/docker-compose.yml ps               # the ports on 127.0.0.1
#   docker compose -f compose/docker-compose.yml down -v
# Passwords below are for this throwaway local stack only; Testbed's own runs generate theirs.
"""


def hand_document(specs: list[ReleaseSpec]) -> dict:
    """Every release of the catalog with one PostgreSQL, images by their :latest tags."""
    init_sql = "".join(f"CREATE ROLE {s.metastore_db} LOGIN PASSWORD '{s.metastore_db}-dev';\n"
                       f"CREATE DATABASE {s.metastore_db} OWNER {s.metastore_db};\n"
                       f"REVOKE CONNECT ON DATABASE {s.metastore_db} FROM PUBLIC;\n"
                       for s in {spec.metastore_db: spec for spec in specs}.values())
    postgres = {"services": {"postgres": postgres_service("testbed/postgres:latest", HAND_LABELS,
                                                          "testbed-dev", init_sql)},
                "volumes": {"pgdata": {"labels": HAND_LABELS}},
                "configs": {"postgres-init": {"content": init_sql}}}
    releases = [ReleaseProject(spec, f"testbed/spark-{spec.version}:latest", HAND_LABELS,
                               (spec.metastore_db, f"{spec.metastore_db}-dev")).document()
                for spec in specs]
    return {"name": "testbed-pair", **merge(postgres, *releases)}


if __name__ == "__main__":  # writes compose/docker-compose.yml from the catalog
    from resources.model.catalog import load_catalog
    from resources.settings import catalog_file

    target = Path(__file__).resolve().parents[2] / "compose" / "docker-compose.yml"
    dump(hand_document(list(load_catalog(catalog_file()).releases)), target, HAND_HEADER)
    target.chmod(0o644)
    print(target)
