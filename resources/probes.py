"""Small composable readiness probes (in the spirit of testcontainers' wait strategies).

A probe is a callable returning True when the thing it watches is ready; `str(probe)` says what it
waits for, so a timeout message can name it. Probes never raise: a refused connection is "not yet".
"""

import json
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import httpx
from tenacity import Retrying, retry_if_result, stop_after_delay, wait_fixed


class Probe:
    def __call__(self) -> bool:
        raise NotImplementedError


@dataclass(frozen=True)
class TcpOpen(Probe):
    host: str
    port: int

    def __call__(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=1.0):
                return True
        except OSError:
            return False

    def __str__(self) -> str:
        return f"tcp {self.host}:{self.port} accepts connections"


@dataclass(frozen=True)
class HttpJson(Probe):
    """GET url answers 200 with JSON for which `accept` is true."""

    url: str
    accept: Callable[[object], bool] = lambda _doc: True
    what: str = "answers 200"

    def __call__(self) -> bool:
        try:
            response = httpx.get(self.url, timeout=2.0)
            return response.status_code == 200 and bool(self.accept(response.json()))
        except (httpx.HTTPError, json.JSONDecodeError, ValueError, KeyError, TypeError):
            return False

    def __str__(self) -> str:
        return f"GET {self.url} {self.what}"


@dataclass(frozen=True)
class HttpOk(Probe):
    """GET url answers with `status` (200: a /-/ready endpoint answers plain text; 403: an S3
    store refusing a request without credentials is up). ca: the CA bundle an https server's
    certificate is verified against (a cluster's own CA)."""

    url: str
    status: int = 200
    ca: str | None = None

    def __call__(self) -> bool:
        try:
            return httpx.get(self.url, timeout=2.0,
                             verify=self.ca or True).status_code == self.status
        except httpx.HTTPError:
            return False

    def __str__(self) -> str:
        return f"GET {self.url} answers {self.status}"


@dataclass(frozen=True)
class LogContains(Probe):
    path: Path
    text: str

    def __call__(self) -> bool:
        try:
            with open(self.path, "rb") as handle:
                return self.text.encode() in handle.read()
        except OSError:
            return False

    def __str__(self) -> str:
        return f"{self.path.name} contains {self.text!r}"


@dataclass(frozen=True)
class AllOf(Probe):
    probes: tuple[Probe, ...]

    def __call__(self) -> bool:
        return all(probe() for probe in self.probes)

    def __str__(self) -> str:
        return " and ".join(str(probe) for probe in self.probes)


def all_of(*probes: Probe) -> Probe:
    return probes[0] if len(probes) == 1 else AllOf(tuple(probes))


class Cancelled(RuntimeError):
    """A wait was called off (another release of the run failed); nothing is wrong with this one."""


def wait_for(fetch: Callable[[], object], done: Callable[[object], bool] = bool,
             timeout: float = 60.0, interval: float = 0.25,
             cancel: threading.Event | None = None):
    """fetch() until done(result), the timeout, or cancel; returns the last result either way
    (the caller says what it waited for). The one way Testbed polls: readiness probes, Kubernetes
    objects, webhook deliveries and stream progress all wait through here."""

    def check(result) -> bool:
        if cancel is not None and cancel.is_set():
            raise Cancelled("cancelled")
        return done(result)

    retrying = Retrying(stop=stop_after_delay(timeout), wait=wait_fixed(interval),
                        retry=retry_if_result(lambda result: not check(result)),
                        retry_error_callback=lambda state: state.outcome.result())
    return retrying(fetch)


def wait_until(probe: Callable[[], bool], timeout: float, interval: float = 0.25,
               cancel: threading.Event | None = None) -> bool:
    """True once probe() is true, False at the timeout."""
    return bool(wait_for(probe, bool, timeout, interval, cancel))
