"""Loopback ports: every server Testbed starts listens on 127.0.0.1 only.

A server's port is chosen here and bound later by the server itself, so between the two anything
may take it. Two things did, in CI: another release's component given the same number (the kernel
hands a just-released port out again), and an outgoing connection's source port (Spark, JDBC and
HTTP clients open hundreds). So ports come from below the kernel's ephemeral range, where no
`bind(0)` and no `connect()` lands, and a port handed out once is not handed out again by this
process.
"""

import random
import socket
import threading
from pathlib import Path

HOST = "127.0.0.1"
LOWEST = 10000  # clear of the well-known and registered ports daemons commonly pin

_handed_out: set[int] = set()
_lock = threading.Lock()


def ephemeral_range() -> tuple[int, int]:
    """The kernel's range for bind(0) and outgoing connections (Linux default 32768-60999)."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def free_port() -> int:
    """A loopback port nothing listens on, outside the ephemeral range, new to this process."""
    low, _high = ephemeral_range()
    with _lock:
        if low - LOWEST >= 1000:
            for _ in range(200):
                port = random.randrange(LOWEST, low)
                if port not in _handed_out and not port_taken(port):
                    _handed_out.add(port)
                    return port
        while True:  # a kernel whose ephemeral range leaves no room below it
            with socket.socket() as sock:
                sock.bind((HOST, 0))
                port = sock.getsockname()[1]
            if port not in _handed_out:
                _handed_out.add(port)
                return port


def port_taken(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
            return False
        except OSError:
            return True
