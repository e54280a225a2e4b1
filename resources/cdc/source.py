"""Preflight of a CDC source: refuse, before streaming, a source or a setting an engine cannot work
with, naming the setting and the fix (a stream that starts anyway loses or garbles changes later,
far from the cause)."""

import re
import socket
import threading
from dataclasses import dataclass

import psutil

from resources.cdc.stream import StreamConfigError
from resources.services.mariadb import Credentials

# Binlog readers of one source must have distinct server ids: MariaDB drops the older dump thread
# when a second one connects with the same id, so two readers would kick each other off. Debezium's
# binlog client does not register as a replica, so the server cannot list it: streams claim their
# ids here, and replicas that do register are listed where the user may. A claim is an abstract
# Unix socket bound per (source, id): another process of this machine reading the same source is
# refused too, and the kernel drops the claim with its process, even a killed one (no file to clean).
_CLAIMED: dict[int, tuple[str, socket.socket]] = {}
_CLAIMS = threading.Lock()


@dataclass(frozen=True)
class Needs:
    """What an engine needs of its source."""

    engine: str
    variables: dict[str, str]  # server variable -> required value
    select_on: str | None = None  # db.table the engine must be able to SELECT (its structure)


def _grants(cursor) -> list[tuple[set[str], str]]:
    cursor.execute("SHOW GRANTS")
    found = []
    for (line,) in cursor.fetchall():
        match = re.match(r"GRANT (.+?) ON (\S+) TO ", line)
        if match:
            privileges = {p.strip().upper() for p in match.group(1).split(",")}
            found.append((privileges, match.group(2).replace("`", "")))
    return found


def _has(grants: list[tuple[set[str], str]], privilege: str, scopes: set[str]) -> bool:
    aliases = {"BINLOG MONITOR": {"BINLOG MONITOR", "REPLICATION CLIENT"}}.get(privilege, {privilege})
    return any(scope in scopes and (privileges & aliases or "ALL PRIVILEGES" in privileges)
               for privileges, scope in grants)


def verify_source(creds: Credentials, needs: Needs, server_id: int) -> tuple[str, int]:
    """Log in, check variables, grants and the server id; return the source's current position."""
    try:
        conn = creds.connect(database=None, connection_timeout=5)
    except Exception as exc:
        raise StreamConfigError(f"cannot log in to {creds.host}:{creds.port} as {creds.user!r}: "
                                f"{exc}; check the CDC user's name and password") from None
    where = f"source {creds.host}:{creds.port}"
    try:
        cursor = conn.cursor()
        names = ", ".join(f"'{name}'" for name in needs.variables)
        cursor.execute(f"SHOW VARIABLES WHERE Variable_name IN ({names}, 'server_id')")
        found = {name: value.upper() for name, value in cursor.fetchall()}
        wrong = [f"{name}={found.get(name, 'missing')} (needs {want})"
                 for name, want in needs.variables.items() if found.get(name) != want]
        if wrong:
            hint = (" (binlog_row_metadata=FULL, else columns arrive as UNKNOWN_COL0..n)"
                    if "binlog_row_metadata" in needs.variables else "")
            raise StreamConfigError(
                f"{where} cannot feed a {needs.engine} CDC stream: {', '.join(wrong)}; "
                f"set them in its my.cnf{hint}")

        grants = _grants(cursor)
        missing = [p for p in ("REPLICATION SLAVE", "BINLOG MONITOR") if not _has(grants, p, {"*.*"})]
        if needs.select_on:
            database = needs.select_on.split(".")[0]
            if not _has(grants, "SELECT", {"*.*", f"{database}.*", needs.select_on}):
                missing.append(f"SELECT ON {needs.select_on}")
        if missing:
            privileges = ", ".join(p for p in missing if " ON " not in p)
            statements = [f"GRANT {privileges} ON *.* TO '{creds.user}'@'{creds.host}'"] \
                if privileges else []
            statements += [f"GRANT SELECT ON {needs.select_on.split('.')[0]}.* TO "
                           f"'{creds.user}'@'{creds.host}'" for p in missing if " ON " in p]
            raise StreamConfigError(
                f"CDC user {creds.user!r} on {where} lacks {', '.join(missing)}, which the "
                f"{needs.engine} engine needs; run: {'; '.join(statements)}")

        own = int(found.get("server_id", 0))
        if server_id == own:
            raise StreamConfigError(
                f"server_id {server_id} is the server id of {where} itself; give the stream another "
                f"(stream config server_id)")
        try:
            cursor.execute("SHOW SLAVE HOSTS")  # needs REPLICATION MASTER ADMIN: optional
            replicas = {int(row[0]): f"{row[1]}:{row[2]}" for row in cursor.fetchall()}
        except Exception:
            replicas = {}
        if server_id in replicas:
            raise StreamConfigError(
                f"server_id {server_id} is in use by the replica {replicas[server_id]} of {where}; "
                f"give the stream another (stream config server_id)")
        cursor.execute("SHOW MASTER STATUS")
        log_file, log_pos = cursor.fetchone()[:2]
        return log_file, int(log_pos)
    finally:
        conn.close()


def _claim_address(creds: Credentials, server_id: int) -> str:
    return f"\0testbed-cdc-claim/{creds.host}:{creds.port}/{server_id}"


def _claimant(address: str) -> str:
    """Which process holds a claim (error path only)."""
    shown = address.replace("\0", "@", 1)  # psutil names an abstract socket with a leading @
    for conn in psutil.net_connections(kind="unix"):
        if conn.laddr == shown:
            try:
                process = psutil.Process(conn.pid)
                return f"process {conn.pid} ({' '.join(process.cmdline()[:3])})"
            except (psutil.Error, TypeError):
                break
    return "another process"


def claim(server_id: int, holder: str, creds: Credentials) -> None:
    """Take server_id on this source for holder (after verify_source), among the streams of this
    process and of every other process on this machine."""
    with _CLAIMS:
        if server_id in _CLAIMED:
            raise StreamConfigError(
                f"server_id {server_id} is in use by {_CLAIMED[server_id][0]} reading source "
                f"{creds.host}:{creds.port}; two readers with one id kick each other off: give the "
                f"stream another (stream config server_id)")
        address = _claim_address(creds, server_id)
        held = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            held.bind(address)
        except OSError:
            held.close()
            raise StreamConfigError(
                f"server_id {server_id} is in use by {_claimant(address)} reading source "
                f"{creds.host}:{creds.port}; two readers with one id kick each other off: give the "
                f"stream another (stream config server_id)") from None
        _CLAIMED[server_id] = (holder, held)


def release(server_id: int, holder: str) -> None:
    with _CLAIMS:
        if server_id in _CLAIMED and _CLAIMED[server_id][0] == holder:
            _CLAIMED.pop(server_id)[1].close()
