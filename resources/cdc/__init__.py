"""CDC from MariaDB into Delta: a bronze change table and a mirror of the source table.

Engines (how changes are read; everything after that is shared, resources/cdc/stream.py):
- `binlog` (default): mysql-replication reads the binlog inside this process (binlog.py);
- `debezium`: Debezium's embedded engine in its own JVM, the engine production CDC runs on
  (debezium.py, with the service in resources/services/debezium.py);
- `debezium-kafka`: the same connector in Kafka Connect, publishing to a Kafka broker; the
  orchestrator consumes the topics (debezium_kafka.py, services in resources/services/kafka.py).
Each engine checks its source before streaming (source.py) and resumes without loss or duplicate.
"""

from collections.abc import Callable
from pathlib import Path

from resources.cdc.binlog import BinlogStream
from resources.cdc.debezium import DebeziumStream
from resources.cdc.debezium_kafka import DebeziumKafkaStream
from resources.cdc.source import Needs, verify_source
from resources.cdc.stream import (
    BRONZE_SCHEMA,
    MIRROR_SCHEMA,
    PRODUCTS_DDL,
    TABLE,
    CdcStream,
    Change,
    StreamConfigError,
    create_tables,
)
from resources.delta import Where
from resources.services.kafka import KafkaBroker
from resources.services.mariadb import Credentials

ENGINES: dict[str, type[CdcStream]] = {"binlog": BinlogStream, "debezium": DebeziumStream,
                                       "debezium-kafka": DebeziumKafkaStream}

__all__ = ["BRONZE_SCHEMA", "ENGINES", "MIRROR_SCHEMA", "PRODUCTS_DDL", "TABLE",
           "BinlogStream", "CdcStream", "Change", "DebeziumKafkaStream", "DebeziumStream", "Needs",
           "StreamConfigError", "create_tables", "open_stream", "verify_source"]


def open_stream(engine: str, creds: Credentials, bronze: Where, mirror: Where, directory: Path,
                server_id: int | None = None, launch: Callable[[object], object] | None = None,
                broker: KafkaBroker | None = None) -> CdcStream:
    """An unstarted stream of `engine`; its checkpoint (and the engine's files) in directory.
    launch starts a service on the caller's platform (the Debezium engine and Kafka Connect are
    services); debezium-kafka publishes through broker, which the caller started and stops (the
    stream makes its own topics there)."""
    if engine not in ENGINES:
        raise StreamConfigError(f"unknown CDC engine {engine!r}: choose one of "
                                f"{', '.join(ENGINES)} (the stream config's `engine`)")
    directory.mkdir(parents=True, exist_ok=True)
    checkpoint = directory / f"{engine}-checkpoint.json"
    if engine == "debezium-kafka":
        if broker is None:
            raise StreamConfigError("the debezium-kafka engine needs a running Kafka broker "
                                    "(a started KafkaBroker); none was given")
        return DebeziumKafkaStream(creds, bronze, mirror, checkpoint, broker,
                                   server_id=server_id or DebeziumKafkaStream.default_server_id,
                                   root=directory / "kafka-connect", launch=launch)
    if engine == "debezium":
        return DebeziumStream(creds, bronze, mirror, checkpoint,
                              server_id=server_id or DebeziumStream.default_server_id,
                              root=directory / "debezium", launch=launch)
    return BinlogStream(creds, bronze, mirror, checkpoint,
                        server_id=server_id or BinlogStream.default_server_id)
