"""The Debezium embedded engine (3.5.0.Final, MariaDB connector) as a service: one JVM that reads
the source's binlog and appends change events, as JSON lines, to a file the CDC stream tails.

Configuration is Debezium's own properties file, written by `prepare()`; offsets and schema
history are files in its directory, so a restart resumes where the last run committed. Ready when
its /health answers 200: the connector's streaming phase is connected to the binlog (read from
Debezium's own JMX metrics inside the JVM; see resources/debezium/TestbedEngine.java). The settings
below are the measured ones (FIELD_NOTES, "Debezium"): minimal grants need no snapshot locks,
decimals as strings, no tombstones, a 20 ms poll (p50 ~16 ms instead of ~270 ms).
"""

from pathlib import Path

from resources.model.errors import ConfigError
from resources.ports import HOST
from resources.probes import HttpOk, Probe
from resources.processes import ProcessSpec
from resources.services.base import Service
from resources.services.jvm import ArchivedJvm, archive_for, check_java, java_home
from resources.settings import debezium_dir

VERSION = "3.5.0.Final"  # the newest MariaDB connector served; every Debezium artifact pinned to it
TOPIC_PREFIX = "testbed"
MAIN_CLASS = "TestbedEngine"


def installed() -> tuple[Path, Path]:
    """(jars dir, classes dir) of the engine, as `make setup` leaves them."""
    jars, classes = debezium_dir() / VERSION / "jars", debezium_dir() / VERSION / "classes"
    if not list(jars.glob("debezium-connector-mariadb-*.jar")) or \
            not (classes / f"{MAIN_CLASS}.class").exists():
        raise ConfigError(f"the Debezium {VERSION} engine is not installed in {debezium_dir()}: "
                          f"run make setup (resolves it from Maven Central and compiles "
                          f"resources/debezium/{MAIN_CLASS}.java)")
    return jars, classes


def connector_settings(host: str, port: int, user: str, password: str, server_id: int,
                       database: str, table: str, schema_history: Path,
                       topic_prefix: str = TOPIC_PREFIX) -> dict[str, object]:
    """The MariaDB connector's settings, the same in the embedded engine and in Kafka Connect."""
    return {
        "connector.class": "io.debezium.connector.mariadb.MariaDbConnector",
        "database.hostname": host, "database.port": port,
        "database.user": user, "database.password": password,
        "database.server.id": server_id,  # unique per binlog reader of the source
        "topic.prefix": topic_prefix,  # also the name its offsets are kept under
        "database.include.list": database,
        "table.include.list": f"{database}.{table}",
        "include.schema.changes": "false",
        # Start at the source's current position, structure only; SELECT + REPLICATION SLAVE +
        # BINLOG MONITOR are then enough (no LOCK TABLES, no global read lock on writers).
        "snapshot.mode": "no_data", "snapshot.locking.mode": "none",
        "schema.history.internal": "io.debezium.storage.file.history.FileSchemaHistory",
        "schema.history.internal.file.filename": schema_history,
        "decimal.handling.mode": "string",  # the default is base64 bytes
        "tombstones.on.delete": "false",
        "poll.interval.ms": 20, "max.batch.size": 4096,
        # A lost binlog connection is noticed and restored in ~1 s (the default waits a minute).
        "connect.keep.alive.interval.ms": 1000,
        # Heartbeats move the committed offsets even when the table is quiet: a stream is started
        # only once a first offset is committed (else a crash before it would restart at "now"
        # and lose what came between).
        "heartbeat.interval.ms": 500,
        # BEGIN/END markers with event counts: the stream hands over whole transactions.
        "provide.transaction.metadata": "true",
    }


class DebeziumEngine(ArchivedJvm, Service):
    kind = "debezium"
    what = "the Debezium CDC engine"
    port_role = "health"

    def __init__(self, root: Path, source_host: str, source_port: int, user: str, password: str,
                 server_id: int, database: str, table: str, run: int = 0,
                 ready_timeout: float = 90.0):
        super().__init__(f"debezium-{run}" if run else "debezium", root, ready_timeout, owner="cdc")
        self.source = (source_host, source_port)
        self.user, self.password = user, password
        self.server_id, self.database, self.table = server_id, database, table
        # Each run of the engine appends to its own file: the reader of a run never has to skip
        # what an earlier run wrote; what this run replays from its offsets it drops by position.
        self.events = root / f"events-{run}.jsonl"
        self.offsets = root / "offsets.dat"
        self.schema_history = root / "schema-history.dat"
        self.properties = root / f"engine-{run}.properties"
        self.log_file = root / "logs" / f"{self.name}.log"
        self.archive = archive_for(f"debezium-{VERSION}-engine", lambda: list(installed()))

    @classmethod
    def check_installed(cls) -> None:
        installed()
        check_java()

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def settings(self) -> dict[str, object]:
        host, port = self.source
        return {
            "name": f"{TOPIC_PREFIX}-engine",
            **connector_settings(host, port, self.user, self.password, self.server_id,
                                 self.database, self.table, self.schema_history),
            "offset.storage": "org.apache.kafka.connect.storage.FileOffsetBackingStore",
            "offset.storage.file.filename": self.offsets,
            "offset.flush.interval.ms": 1000,
            "key.converter.schemas.enable": "false", "value.converter.schemas.enable": "false",
            "testbed.events.file": self.events,
            "testbed.health.port": self.port,
            "testbed.streaming.mbean": f"debezium.mariadb:type=connector-metrics,"
                                       f"context=streaming,server={TOPIC_PREFIX}",
        }

    def prepare(self) -> None:
        (self.root / "logs").mkdir(parents=True, exist_ok=True)
        # Properties escape backslashes, colons and equals signs in values; ours hold paths,
        # generated passwords (url-safe) and numbers.
        lines = [f"{key}={str(value).replace(chr(92), chr(92) * 2)}"
                 for key, value in self.settings().items()]
        self.properties.write_text("\n".join(lines) + "\n")
        self.properties.chmod(0o600)  # it holds the CDC user's password
        self.events.touch()

    def recipe(self) -> ProcessSpec:
        jars, classes = installed()
        return ProcessSpec(
            name=self.name,
            argv=[str(java_home() / "bin" / "java"), "-Xmx128m", "-XX:+UseSerialGC",
                  *self.archive.flags(), "-cp", f"{jars}/*:{classes}", MAIN_CLASS,
                  str(self.properties)],
            log_file=self.log_file, cwd=self.root)

    def probe(self) -> Probe:
        return HttpOk(f"{self.url}/health")
