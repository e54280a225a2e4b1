"""The debezium-kafka engine: Debezium's MariaDB connector in Kafka Connect publishes to a Kafka
broker (resources/services/kafka.py); this reader consumes the topics in the orchestrator.

The topic-level path production CDC often runs: changes on `<prefix>.shop.products`, transaction
markers on `<prefix>.transaction`, heartbeats on `__debezium-heartbeat.<prefix>` (one partition
each, created by the stream before Connect starts). The prefix is the stream's own (`cdc_<8 hex>`),
so any number of streams can share one broker, as connectors share a cluster.
The two topics interleave arbitrarily in a consumer, so the shared Assembler hands a transaction
over only once its END and all the changes it counts have arrived, in commit order.

Durability: the topics hold everything Connect confirmed; the reader starts at the beginning of
both topics every time (no consumer offsets) and the writer drops what it already wrote, so a
restarted stream or a killed Connect (which republishes what it had not confirmed) loses nothing
and writes nothing twice.
"""

import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition

from resources.cdc.debezium import EngineProcessStream, classify
from resources.cdc.stream import TABLE, StreamConfigError
from resources.delta import Where
from resources.probes import wait_for
from resources.processes import tail
from resources.services.debezium import connector_settings
from resources.services.kafka import KafkaBroker, KafkaConnect
from resources.services.mariadb import DATABASE, Credentials

STREAMING_TIMEOUT = 90.0


class DebeziumKafkaStream(EngineProcessStream):
    engine = "debezium-kafka"
    default_server_id = 5500

    def __init__(self, creds: Credentials, bronze: Where, mirror: Where, checkpoint: Path,
                 broker: KafkaBroker, server_id: int = 5500, root: Path | None = None,
                 launch: Callable[[KafkaConnect], object] | None = None,
                 topic_prefix: str | None = None):
        super().__init__(creds, bronze, mirror, checkpoint, server_id,
                         root or checkpoint.parent / "kafka-connect", launch,
                         "the Debezium (Kafka Connect) stream")
        self.broker = broker  # started by the caller, outlives the stream (it holds the topics)
        self.topic_prefix = topic_prefix or f"cdc_{uuid.uuid4().hex[:8]}"  # kept by restarts
        self.data_topic = f"{self.topic_prefix}.{DATABASE}.{TABLE}"
        self.transaction_topic = f"{self.topic_prefix}.transaction"
        self.heartbeat_topic = f"__debezium-heartbeat.{self.topic_prefix}"

    def restarted(self) -> "DebeziumKafkaStream":
        return DebeziumKafkaStream(self.creds, self.bronze, self.mirror, self.checkpoint,
                                   self.broker, self.server_id, self.root, self._launch,
                                   self.topic_prefix)

    # --- Kafka Connect ---------------------------------------------------------------------------

    def _start_engine(self) -> None:
        run = len(list((self.root / "logs").glob("kafka-connect*.log"))) \
            if (self.root / "logs").exists() else 0
        connect = KafkaConnect(self.root, self.broker.bootstrap_servers, connector_settings(
            self.creds.host, self.creds.port, self.creds.user, self.creds.password,
            self.server_id, DATABASE, TABLE, self.root / "schema-history.dat",
            self.topic_prefix), run=run)
        self.engine_process = connect
        started_ms = int(time.time() * 1000)
        self._launch(connect)
        self._wait_streaming(connect, started_ms)

    def _wait_streaming(self, connect: KafkaConnect, since_ms: int) -> None:
        """RUNNING is not yet streaming: wait for a heartbeat, sent from the streaming phase."""
        consumer = self._consumer()
        consumer.assign([TopicPartition(self.heartbeat_topic, 0, OFFSET_BEGINNING)])
        def heard() -> str:
            message = consumer.poll(0.1)  # blocks up to 0.1 s: the poll is the interval
            if message is not None and not message.error() and \
                    message.timestamp()[1] >= since_ms:  # a heartbeat of this run
                return "streaming"
            return "" if connect.running() else "exited"

        try:
            if wait_for(heard, bool, STREAMING_TIMEOUT, interval=0) == "streaming":
                return
        finally:
            consumer.close()
        raise StreamConfigError(f"{connect.name} did not start streaming from the source within "
                                f"{STREAMING_TIMEOUT:.0f}s; its log ends:\n{tail(connect.log_file, 8)}")

    def _consumer(self) -> Consumer:
        return Consumer({"bootstrap.servers": self.broker.bootstrap_servers,
                         "group.id": f"testbed-{uuid.uuid4().hex[:8]}",
                         "enable.auto.commit": False, "auto.offset.reset": "earliest",
                         "enable.partition.eof": False})

    def _before_start(self) -> None:
        if not self.broker.running():
            raise StreamConfigError(f"the Kafka broker {self.broker.name} is not running: start it "
                                    f"before the debezium-kafka stream")
        self.broker.create_topics((self.data_topic, self.transaction_topic, self.heartbeat_topic))

    # --- reader ----------------------------------------------------------------------------------

    def _read(self) -> None:
        consumer = self._consumer()
        partitions = [TopicPartition(topic, 0, OFFSET_BEGINNING)
                      for topic in (self.data_topic, self.transaction_topic)]
        consumer.assign(partitions)
        last_look = time.monotonic()
        try:
            while not self._stop.is_set():
                message = consumer.poll(0.05)
                if message is not None and not message.error() and message.value():
                    parsed = classify(message.topic(), json.loads(message.value()))
                    if parsed is not None:
                        self.assembler.event(*parsed)
                    continue
                if time.monotonic() - last_look < 0.25:
                    continue
                last_look = time.monotonic()
                if self._finishing:
                    # Only once Connect has exited: until then it may still publish (and then
                    # confirm) its last records.
                    if not self.engine_process.running() and \
                            self._caught_up(consumer, partitions):
                        return
                elif not self.engine_process.running():
                    self._restart_engine()
        except KafkaException as exc:
            self.errors.append(f"reader: {exc}")
        finally:
            consumer.close()

    def _caught_up(self, consumer: Consumer, partitions: list[TopicPartition]) -> bool:
        """Consumed everything the topics hold now (Connect has stopped: nothing more comes)."""
        positions = consumer.position(partitions)
        for position in positions:
            _low, high = consumer.get_watermark_offsets(position, timeout=5)
            if position.offset < high and not (position.offset < 0 and high == 0):
                return False
        return True
