"""A MariaDB server for an environment: the CDC source. Own data dir, generated my.cnf (always
--defaults-file, or it reads /etc/mysql), own port on 127.0.0.1, socket/pid/logs in the env dir,
binlog ROW/FULL with full row metadata (else a binlog reader sees UNKNOWN_COL0..n)."""

import os
import pwd
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import mysql.connector

from resources.model.errors import ConfigError
from resources.ports import HOST
from resources.probes import Probe
from resources.processes import ProcessSpec
from resources.services.base import Service
from resources.settings import search_path

SERVER_USER = "mysql"
DATABASE = "shop"


def find_binaries() -> tuple[str, str]:
    server = shutil.which("mariadbd", path=search_path())
    install = shutil.which("mariadb-install-db", path=search_path())
    if not server or not install:
        raise ConfigError("MariaDB server binaries (mariadbd, mariadb-install-db) are missing: "
                          "apt-get install --no-install-recommends mariadb-server-core "
                          "mariadb-client-core (make setup does it)")
    return server, install


@dataclass(frozen=True)
class Credentials:
    user: str
    password: str
    host: str
    port: int

    def connect(self, database: str | None = DATABASE, **kwargs):
        return mysql.connector.connect(user=self.user, password=self.password, host=self.host,
                                       port=self.port, database=database, **kwargs)

    def settings(self) -> dict:
        """For mysql-replication's BinLogStreamReader."""
        return {"host": self.host, "port": self.port, "user": self.user, "password": self.password}


@dataclass(frozen=True)
class SocketAnswers(Probe):
    socket: str

    def __call__(self) -> bool:
        try:
            conn = mysql.connector.connect(unix_socket=self.socket, user="root", connection_timeout=2)
            conn.close()
            return True
        except mysql.connector.Error:
            return False

    def __str__(self) -> str:
        return "MariaDB answers on its socket"


class MariaDBServer(Service):
    kind = "mariadb"
    what = "the CDC source"
    packages = ("mariadb-server-core",)
    port_role = "sql"

    def __init__(self, root: Path, ready_timeout: float = 60.0, name: str = "mariadb"):
        super().__init__(name, root, ready_timeout, owner="cdc")
        self.socket = str(root / "mysqld.sock")  # short: sun_path holds 107 characters
        self.app = Credentials("app", secrets.token_urlsafe(16), HOST, self.port)
        self.cdc = Credentials("cdc", secrets.token_urlsafe(16), HOST, self.port)

    @classmethod
    def check_installed(cls) -> None:
        find_binaries()

    def _config(self) -> Path:
        as_root = os.getuid() == 0
        conf = self.root / "my.cnf"
        lines = [
            "[mysqld]",
            f"datadir={self.root / 'data'}", f"port={self.port}", f"bind-address={HOST}",
            f"socket={self.socket}", f"pid-file={self.root / 'run' / 'mysqld.pid'}",
            # its own tmpdir: bootstraps running at once in the shared /tmp remove each other's
            # temporary tables ("Unknown table 'mysql.tmp_user_sys'", seen in two runs at once)
            f"tmpdir={self.root / 'tmp'}",
            f"server_id={1000 + secrets.randbelow(100000)}",
            f"log_bin={self.root / 'binlog' / 'mysql-bin'}",
            "binlog_format=ROW", "binlog_row_image=FULL", "binlog_row_metadata=FULL",
            "innodb_log_file_size=16M", "innodb_buffer_pool_size=64M", "skip-name-resolve",
            "character-set-server=utf8mb4",
        ]
        if as_root:
            lines.append(f"user={SERVER_USER}")
        conf.write_text("\n".join(lines) + "\n")
        return conf

    def prepare(self) -> None:
        """Its my.cnf and a fresh data dir (mariadb-install-db), owned by mysql when we are root."""
        _server, install = find_binaries()
        if len(self.socket) > 107:  # sun_path holds 108 bytes; mariadbd would just exit
            raise ConfigError(f"MariaDB socket path {self.socket} is {len(self.socket)} characters, "
                              f"over the 107 a Unix socket allows; use a shorter TESTBED_STATE_DIR")
        for sub in ("data", "run", "logs", "binlog", "tmp"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        conf = self._config()
        if os.getuid() == 0:
            try:
                user = pwd.getpwnam(SERVER_USER)
            except KeyError:
                raise ConfigError("OS user 'mysql' is missing: make setup creates it "
                                  "(useradd --system mysql)") from None
            for path in [self.root, *self.root.iterdir()]:
                os.chown(path, user.pw_uid, user.pw_gid)
        done = subprocess.run([install, f"--defaults-file={conf}", "--auth-root-authentication-method=normal",
                               "--skip-test-db"], capture_output=True, text=True, cwd=self.root)
        if done.returncode != 0:
            raise RuntimeError(f"mariadb-install-db failed:\n{(done.stdout + done.stderr)[-2000:]}")

    def recipe(self) -> ProcessSpec:
        server, _install = find_binaries()
        return ProcessSpec(name=self.name, argv=[server, f"--defaults-file={self.root / 'my.cnf'}"],
                           log_file=self.root / "logs" / "mariadb.log", cwd=self.root)

    def probe(self) -> Probe:
        return SocketAnswers(self.socket)

    def bootstrap(self) -> None:
        """The app user owns `shop`; the CDC user may read the binlog, and `shop`'s tables (Debezium
        reads their structure; the binlog engine needs no SELECT)."""
        conn = mysql.connector.connect(unix_socket=self.socket, user="root")
        try:
            cursor = conn.cursor()
            cursor.execute(f"CREATE DATABASE {DATABASE}")
            for creds, grants in ((self.app, f"ALL PRIVILEGES ON {DATABASE}.*"),
                                  (self.cdc, "REPLICATION SLAVE, BINLOG MONITOR ON *.*")):
                cursor.execute(f"CREATE USER '{creds.user}'@'{HOST}' IDENTIFIED BY %s",
                               (creds.password,))
                cursor.execute(f"GRANT {grants} TO '{creds.user}'@'{HOST}'")
            cursor.execute(f"GRANT SELECT ON {DATABASE}.* TO '{self.cdc.user}'@'{HOST}'")
            conn.commit()
        finally:
            conn.close()
