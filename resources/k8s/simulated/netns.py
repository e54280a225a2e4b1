"""A network namespace with nothing but loopback, for the simulated cluster and its clients.

Inside it a connection to any non-loopback address fails at once (no route) instead of leaving the
machine, and the kernel counts each such attempt in the namespace's own `OutNoRoutes` (IP MIB,
/proc/net/snmp): a test reads that counter to prove a cycle dialled nothing but loopback.
"""

import os
import socket
import subprocess
from pathlib import Path

MARKER = "TESTBED_LOOPBACK_NETNS"


def interfaces() -> list[str]:
    return sorted(name for _index, name in socket.if_nameindex())


def not_isolated() -> str:
    """Why this process's network namespace is not loopback-only; empty when it is."""
    others = [name for name in interfaces() if name != "lo"]
    return f"interfaces {', '.join(others)} present" if others else ""


def no_route_count() -> int:
    """IP OutNoRoutes of this network namespace: outgoing attempts that had no route."""
    lines = [line.split() for line in Path("/proc/net/snmp").read_text().splitlines()
             if line.startswith("Ip:")]
    header, values = lines[0], lines[1]
    return int(values[header.index("OutNoRoutes")])


def isolated_argv(argv: list[str]) -> list[str]:
    """argv run in a new network namespace with only `lo`, brought up. Root makes the namespace
    directly; anyone else through a user namespace that maps them to root inside."""
    unshare = ["unshare", "--net"] + ([] if os.getuid() == 0 else ["--map-root-user"])
    return [*unshare, "--", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", *argv]


def run_isolated(argv: list[str], env: dict[str, str] | None = None) -> int:
    """Run argv in a loopback-only namespace (a no-op wrapper when already in one)."""
    if not not_isolated():
        return subprocess.run(argv, env=env).returncode
    return subprocess.run(isolated_argv(argv), env={**(env or os.environ), MARKER: "1"}).returncode
