"""A network namespace with nothing but loopback, for the simulated cluster and its clients.

Inside it a connection to any non-loopback address fails at once (no route) instead of leaving the
machine, and the kernel counts each such attempt in the namespace's own `OutNoRoutes` (IP MIB,
/proc/net/snmp, and its IPv6 twin): a test reads that counter to prove a cycle dialled nothing
but loopback.
"""

import os
import shlex
import socket
import subprocess
from pathlib import Path


def interfaces() -> list[str]:
    return sorted(name for _index, name in socket.if_nameindex())


def not_isolated() -> str:
    """Why this process's network namespace is not loopback-only; empty when it is."""
    others = [name for name in interfaces() if name != "lo"]
    return f"interfaces {', '.join(others)} present" if others else ""


def no_route_count() -> int:
    """Outgoing attempts of this network namespace that had no route: IPv4 OutNoRoutes
    (/proc/net/snmp) plus IPv6 Ip6OutNoRoutes (/proc/net/snmp6)."""
    lines = [line.split() for line in Path("/proc/net/snmp").read_text().splitlines()
             if line.startswith("Ip:")]
    header, values = lines[0], lines[1]
    count = int(values[header.index("OutNoRoutes")])
    snmp6 = Path("/proc/net/snmp6")
    if snmp6.exists():
        count += sum(int(line.split()[1]) for line in snmp6.read_text().splitlines()
                     if line.startswith("Ip6OutNoRoutes"))
    return count


def isolated_argv(argv: list[str], tmpfs: Path | None = None) -> list[str]:
    """argv run in a new network namespace with only `lo`, brought up, and a new PID namespace
    whose first process is argv: when it ends, or unshare is killed (--kill-child), the kernel
    kills everything else in there, so no server it started can outlive it. Root makes the
    namespaces directly; anyone else through a user namespace that maps them to root inside.
    tmpfs: a directory that gets a tmpfs of its own in there (the mount namespace is private),
    gone with the namespace: what is written under it cannot be left behind."""
    unshare = ["unshare", "--net", "--pid", "--kill-child", "--mount-proc"]
    if os.getuid() != 0:
        unshare.append("--map-root-user")
    script = "ip link set lo up"
    if tmpfs is not None:
        script += f" && mount -t tmpfs -o mode=0700 testbed {shlex.quote(str(tmpfs))}"
    return [*unshare, "--", "sh", "-c", script + ' && exec "$@"', "sh", *argv]


def run_isolated(argv: list[str], tmpfs: Path | None = None, **popen) -> int:
    """Run argv in a loopback-only namespace (as is when already in one); popen:
    subprocess.run's other arguments (stdout=...)."""
    if not not_isolated():
        return subprocess.run(argv, **popen).returncode
    return subprocess.run(isolated_argv(argv, tmpfs), **popen).returncode
