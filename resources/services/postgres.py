"""One PostgreSQL server per environment: its own data dir and port, one database per release.

Runs as the `postgres` OS user when we are root (PostgreSQL refuses root). Credentials are generated
per environment; each release gets its own role that owns only its own database.
"""

import json
import os
import pwd
import secrets
import signal
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from resources.model.errors import ConfigError
from resources.ports import HOST
from resources.probes import Probe
from resources.processes import ProcessSpec, as_user
from resources.services.base import Service

SUPERUSER = "postgres"


def find_postgres_bin(root: Path = Path("/usr/lib/postgresql")) -> Path:
    candidates = sorted(root.glob("*/bin/postgres"),
                        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    if not candidates:
        raise ConfigError(f"PostgreSQL server binaries ({root}/*/bin/postgres, initdb) are "
                          f"missing: apt-get install postgresql (make setup does it)")
    return candidates[-1].parent


@dataclass(frozen=True)
class SqlAnswers(Probe):
    dsn: str

    def __call__(self) -> bool:
        try:
            with psycopg.connect(self.dsn, connect_timeout=2) as conn:
                return conn.execute("SELECT 1").fetchone() == (1,)
        except psycopg.Error:
            return False

    def __str__(self) -> str:
        return "PostgreSQL answers SELECT 1"


class PostgresServer(Service):
    kind = "postgres"
    what = "the metastores' database server"
    port_role = "sql"

    def __init__(self, root: Path, ready_timeout: float = 60.0, name: str = "postgres"):
        super().__init__(name, root, ready_timeout)
        self.password = secrets.token_urlsafe(18)
        self.credentials: dict[str, tuple[str, str]] = {}
        self.lock = threading.Lock()

    @classmethod
    def check_installed(cls) -> None:
        find_postgres_bin()

    def dsn(self, dbname: str = "postgres", user: str = SUPERUSER, password: str | None = None) -> str:
        return (f"host={HOST} port={self.port} dbname={dbname} user={user} "
                f"password={password or self.password}")

    def prepare(self) -> None:
        """initdb as the postgres user, with the generated superuser password (once: a server
        started again after a stop keeps its data, roles and databases)."""
        bin_dir = find_postgres_bin()
        data = self.root / "data"
        if (data / "PG_VERSION").exists():
            return
        logs = self.root / "logs"
        self.root.mkdir(parents=True, exist_ok=True)
        logs.mkdir(exist_ok=True)
        as_root = os.getuid() == 0
        pwfile = self.root / "pwfile"
        pwfile.write_text(self.password + "\n")
        pwfile.chmod(0o600)
        if as_root:
            user = pwd.getpwnam(SUPERUSER)
            for path in (self.root, logs, pwfile):
                os.chown(path, user.pw_uid, user.pw_gid)
        initdb = [str(bin_dir / "initdb"), "-D", str(data), "-U", SUPERUSER, "-E", "UTF8",
                  "--locale=C", "--auth-host=scram-sha-256", "--auth-local=peer",
                  "--no-sync",  # a throwaway cluster: nothing to make durable
                  f"--pwfile={pwfile}"]
        result = subprocess.run(as_user(SUPERUSER, initdb), capture_output=True, text=True,
                                cwd=self.root)
        pwfile.unlink()
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed in {data}:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")

    def recipe(self) -> ProcessSpec:
        argv = [str(find_postgres_bin() / "postgres"), "-D", str(self.root / "data"), "-p", str(self.port),
                "-c", f"listen_addresses={HOST}", "-c", "unix_socket_directories=",
                "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
                "-c", "shared_buffers=32MB", "-c", "max_connections=60"]
        # SIGINT is PostgreSQL's fast shutdown; SIGTERM would wait for the metastores' sessions.
        return ProcessSpec(name=self.name, argv=argv, log_file=self.root / "logs" / "postgres.log",
                           cwd=self.root, user=SUPERUSER, stop_signal=signal.SIGINT)

    def probe(self) -> Probe:
        return SqlAnswers(self.dsn())

    def create_database(self, name: str, password: str | None = None) -> tuple[str, str]:
        """A role named like the database, owning it; nobody else may connect. Idempotent.
        password: the role's, when its client's configuration was written before (else new)."""
        with self.lock:
            if name in self.credentials:
                return self.credentials[name]
            password = password or secrets.token_urlsafe(18)
            with psycopg.connect(self.dsn(), autocommit=True) as conn:
                conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(name), sql.Literal(password)))
                conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(name), sql.Identifier(name)))
                conn.execute(sql.SQL("REVOKE CONNECT ON DATABASE {} FROM PUBLIC").format(
                    sql.Identifier(name)))
            self.credentials[name] = (name, password)
            (self.root / "credentials.json").write_text(json.dumps(self.credentials))
            (self.root / "credentials.json").chmod(0o600)
            return self.credentials[name]

    def metastore_tables(self, dbname: str) -> list[str]:
        """`<hive db>.<table>` for every table the metastore recorded in this database."""
        with psycopg.connect(self.dsn(dbname), connect_timeout=5) as conn:
            exists = conn.execute("SELECT to_regclass('public.\"TBLS\"')").fetchone()[0]
            if exists is None:
                return []
            rows = conn.execute('SELECT d."NAME", t."TBL_NAME" FROM "TBLS" t '
                                'JOIN "DBS" d ON t."DB_ID" = d."DB_ID" ORDER BY 1, 2').fetchall()
        return [f"{db}.{table}" for db, table in rows]
