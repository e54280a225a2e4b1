"""Kafka 4.1.1 for the debezium-kafka CDC engine: a one-node KRaft broker (broker and controller in
one JVM) and Kafka Connect standalone running Debezium's MariaDB connector. Both from Maven jars
(make setup), both on 127.0.0.1 only, with their data in their own directories.

Measured here (FIELD_NOTES, "Debezium"): `plugin.discovery=service_load` saves ~7 s of plugin
scanning; topics are created before Connect starts (`create_topics`; no auto-creation races; one
partition each, so each topic's order is total). With class-data archives the broker is ready in
~1.9 s and Connect in ~2.0 s (4.5 s and 3.4 s without); ~835 MB RSS for broker + Connect under load.
"""

import base64
import subprocess
import uuid
from pathlib import Path

import httpx
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from resources.model.errors import ConfigError
from resources.ports import HOST, free_port
from resources.probes import HttpJson, Probe, TcpOpen
from resources.processes import ProcessSpec
from resources.services.base import Service
from resources.services.debezium import installed as debezium_installed
from resources.services.jvm import ArchivedJvm, archive_for, check_java, java_home
from resources.settings import kafka_dir

VERSION = "4.1.1"
JVM_FLAGS = ["-XX:+UseSerialGC", "-Djava.awt.headless=true"]


def installed() -> Path:
    jars = kafka_dir() / VERSION / "jars"
    if not list(jars.glob(f"kafka_2.13-{VERSION}.jar")) or \
            not list(jars.glob(f"connect-runtime-{VERSION}.jar")):
        raise ConfigError(f"Kafka {VERSION} is not installed in {kafka_dir()}: run make setup "
                          f"(resolves it from Maven Central, resources/kafka/pom.xml)")
    return jars


def _java(archive) -> list[str]:
    return [str(java_home() / "bin" / "java"), *JVM_FLAGS, *archive.flags()]


def _properties(path: Path, values: dict[str, object]) -> None:
    path.write_text("".join(f"{key}={value}\n" for key, value in values.items()))


class KafkaBroker(ArchivedJvm, Service):
    kind = "kafka"
    what = "the Kafka broker of the debezium-kafka CDC engine"
    port_role = "kafka"

    def __init__(self, root: Path, ready_timeout: float = 90.0, name: str = "kafka"):
        super().__init__(name, root, ready_timeout, owner="cdc")
        self.controller_port = free_port()
        self.archive = archive_for(f"kafka-{VERSION}-broker", lambda: [installed()])

    @classmethod
    def check_installed(cls) -> None:
        installed()
        check_java()

    @property
    def ports(self) -> dict[str, int]:
        return {"kafka": self.port, "controller": self.controller_port}

    @property
    def bootstrap_servers(self) -> str:
        return f"{HOST}:{self.port}"

    def prepare(self) -> None:
        (self.root / "logs").mkdir(parents=True, exist_ok=True)
        config = self.root / "server.properties"
        _properties(config, {
            "process.roles": "broker,controller", "node.id": 1,
            "controller.quorum.voters": f"1@{HOST}:{self.controller_port}",
            "listeners": f"PLAINTEXT://{HOST}:{self.port},CONTROLLER://{HOST}:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://{HOST}:{self.port}",
            "controller.listener.names": "CONTROLLER", "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": self.root / "data", "num.partitions": 1,
            "auto.create.topics.enable": "false",  # every topic is made on purpose
            "offsets.topic.replication.factor": 1, "transaction.state.log.replication.factor": 1,
            "transaction.state.log.min.isr": 1, "share.coordinator.state.topic.replication.factor": 1,
            "share.coordinator.state.topic.min.isr": 1, "group.initial.rebalance.delay.ms": 0,
        })
        # KRaft needs its metadata dir formatted with a cluster id before the first start.
        cluster = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        tool = archive_for(f"kafka-{VERSION}-storage-tool", lambda: [installed()])
        done = subprocess.run([*_java(tool), "-Xmx128m", "-cp", f"{installed()}/*",
                               # `=`: an id may start with "-" (urlsafe base64), which argparse
                               # would read as an option ("expected one argument"), 1 run in 64
                               "kafka.tools.StorageTool", "format", f"--cluster-id={cluster}",
                               "-c", str(config)],
                              capture_output=True, text=True, cwd=self.root)
        tool.keep(done.returncode == 0)
        if done.returncode != 0:
            raise RuntimeError(f"formatting Kafka's metadata dir failed:\n"
                               f"{(done.stdout + done.stderr)[-1500:]}")

    def recipe(self) -> ProcessSpec:
        return ProcessSpec(
            name=self.name,
            argv=[*_java(self.archive), "-Xmx256m", "-cp", f"{installed()}/*", "kafka.Kafka",
                  str(self.root / "server.properties")],
            log_file=self.root / "logs" / "kafka.log", cwd=self.root)

    def probe(self) -> Probe:
        return TcpOpen(HOST, self.port)

    def create_topics(self, topics: tuple[str, ...]) -> None:
        """One partition each (a total order per topic); topics that exist are kept."""
        admin = AdminClient({"bootstrap.servers": self.bootstrap_servers})
        for _topic, future in admin.create_topics(
                [NewTopic(topic, 1, 1) for topic in topics], request_timeout=30).items():
            try:
                future.result(60)
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise


class KafkaConnect(ArchivedJvm, Service):
    """Kafka Connect standalone with one connector: Debezium's MariaDB source. Its offsets are a
    file in its directory (kept across runs, so a restart resumes); ready when the connector and
    its task are RUNNING (the stream then waits for a heartbeat: streaming, not just started)."""

    kind = "kafka-connect"
    what = "Kafka Connect with the Debezium connector"
    port_role = "http"

    def __init__(self, root: Path, bootstrap_servers: str, connector: dict[str, object],
                 run: int = 0, ready_timeout: float = 90.0):
        super().__init__(f"kafka-connect-{run}" if run else "kafka-connect", root, ready_timeout,
                         owner="cdc")
        self.bootstrap_servers = bootstrap_servers
        self.settings = connector
        self.connector = f"{connector['topic.prefix']}-mariadb"
        self.archive = archive_for(f"kafka-{VERSION}-connect", lambda: [installed()])
        self.run = run
        self.log_file = root / "logs" / f"{self.name}.log"
        self.offsets = root / "connect.offsets"  # kept across runs: a restart resumes there

    @classmethod
    def check_installed(cls) -> None:
        installed()
        debezium_installed()

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def prepare(self) -> None:
        (self.root / "logs").mkdir(parents=True, exist_ok=True)
        plugins = self.root / "plugins"
        plugins.mkdir(exist_ok=True)
        link = plugins / "debezium-mariadb"  # a plugin dir: the connector's jars
        if not link.exists():
            link.symlink_to(debezium_installed()[0], target_is_directory=True)
        _properties(self.root / "worker.properties", {
            "bootstrap.servers": self.bootstrap_servers,
            "key.converter": "org.apache.kafka.connect.json.JsonConverter",
            "value.converter": "org.apache.kafka.connect.json.JsonConverter",
            "key.converter.schemas.enable": "false", "value.converter.schemas.enable": "false",
            "offset.storage.file.filename": self.offsets,
            "offset.flush.interval.ms": 1000,
            "plugin.path": plugins, "plugin.discovery": "service_load",
            "listeners": f"http://{HOST}:{self.port}",
        })
        properties = self.root / f"connector-{self.run}.properties"
        _properties(properties, {"name": self.connector, "tasks.max": 1, **self.settings})
        properties.chmod(0o600)  # it holds the CDC user's password

    def recipe(self) -> ProcessSpec:
        return ProcessSpec(
            name=self.name,
            argv=[*_java(self.archive), "-Xmx256m", "-cp", f"{installed()}/*",
                  "org.apache.kafka.connect.cli.ConnectStandalone",
                  str(self.root / "worker.properties"),
                  str(self.root / f"connector-{self.run}.properties")],
            log_file=self.log_file, cwd=self.root)

    def probe(self) -> Probe:
        def running(doc) -> bool:
            return doc["connector"]["state"] == "RUNNING" and \
                [task["state"] for task in doc["tasks"]] == ["RUNNING"]

        return HttpJson(f"{self.url}/connectors/{self.connector}/status", running,
                        "says the connector and its task are RUNNING")

    def status(self) -> dict:
        return httpx.get(f"{self.url}/connectors/{self.connector}/status", timeout=5).json()
