"""The binlog engine: mysql-replication reads MariaDB's binlog in this process.

The reader turns row events into changes and hands over whole transactions at each commit
(XidEvent). Its checkpoint is the binlog file and position just after the last commit written; on
restart it resumes there (file+position mode: GTID mode delivered one row twice after a reconnect,
FIELD_NOTES). A dropped connection reconnects from the last commit read.
"""

import time
from pathlib import Path

from pymysqlreplication import BinLogStreamReader
from pymysqlreplication.event import HeartbeatLogEvent, RotateEvent, XidEvent
from pymysqlreplication.row_event import (
    DeleteRowsEvent,
    UpdateRowsEvent,
    WriteRowsEvent,
)

from resources.cdc.source import Needs, claim, release, verify_source
from resources.cdc.stream import TABLE, CdcStream, Change
from resources.delta import Where, table_name
from resources.services.mariadb import DATABASE, Credentials

NEEDS = Needs("binlog", {"log_bin": "ON", "binlog_format": "ROW", "binlog_row_image": "FULL",
                                "binlog_row_metadata": "FULL"})


class BinlogStream(CdcStream):
    engine = "binlog"
    default_server_id = 4242
    needs = NEEDS

    def __init__(self, creds: Credentials, bronze: Where, mirror: Where, checkpoint: Path,
                 server_id: int = 4242):
        super().__init__(creds, bronze, mirror, checkpoint, server_id)
        self._position: tuple[str, int] | None = None
        self._holder = f"the binlog stream into {table_name(bronze)}"

    def restarted(self) -> "BinlogStream":
        return BinlogStream(self.creds, self.bronze, self.mirror, self.checkpoint, self.server_id)

    def _open(self) -> None:
        current = verify_source(self.creds, self.needs, self.server_id)
        claim(self.server_id, self._holder, self.creds)
        if not self.checkpoint.exists():
            self._save_checkpoint(current)  # a new stream starts at the source's current position
        self._position = self.position()

    def _close(self, timeout: float) -> None:
        release(self.server_id, self._holder)

    def _read(self) -> None:
        while not self._stop.is_set():
            log_file, log_pos = self._position
            reader = BinLogStreamReader(
                connection_settings=self.creds.settings(), server_id=self.server_id,
                report_slave="testbed-cdc",  # listed in SHOW SLAVE HOSTS: its id is visibly taken
                blocking=True, resume_stream=True, log_file=log_file, log_pos=log_pos,
                only_events=[WriteRowsEvent, UpdateRowsEvent, DeleteRowsEvent, XidEvent,
                             RotateEvent, HeartbeatLogEvent],
                only_schemas=[DATABASE], only_tables=[TABLE], slave_heartbeat=1)
            pending: list[Change] = []
            try:
                for event in reader:
                    if self._stop.is_set():
                        break
                    if isinstance(event, (WriteRowsEvent, UpdateRowsEvent, DeleteRowsEvent)):
                        pending += self._changes(event, reader.log_file, reader.log_pos)
                    elif isinstance(event, XidEvent):
                        self._position = (reader.log_file, reader.log_pos)
                        if pending:
                            self.stats["changes_read"] += len(pending)
                            self._queue.put((pending, self._position))
                        pending = []
            except Exception as exc:  # a dropped connection: reconnect from the last commit read
                self.reconnects.append(f"{type(exc).__name__}: {exc}")
                time.sleep(0.5)
            finally:
                reader.close()

    @staticmethod
    def _changes(event, log_file: str, log_pos: int) -> list[Change]:
        changes = []
        for index, row in enumerate(event.rows):
            if isinstance(event, WriteRowsEvent):
                op, before, after = "insert", None, row["values"]
            elif isinstance(event, UpdateRowsEvent):
                op, before, after = "update", row["before_values"], row["after_values"]
            else:
                op, before, after = "delete", row["values"], None
            changes.append(Change(op, int((after or before)["id"]), before, after, log_file,
                                  log_pos, index, event.timestamp))
        return changes
