"""Runs one suite (smoke, e2e or load) through both clients against one Connect server.

Each client is a child process in a session of its own (killed with its group when it overruns:
`go test` runs its test binary as a child), its results come back as JSON lines (one per
scenario); a scenario a client never reported (a crash, a panic, a timeout) becomes a failed
result that quotes the end of the client's log.
"""

import json
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from resources.connect import E2E_FILE
from resources.model.catalog import ConnectTarget
from resources.model.connect import (
    LOAD,
    SMOKE,
    ScenarioResult,
    SuiteRun,
    load_scenarios,
    read_results,
)
from resources.model.errors import ConfigError
from resources.ports import HOST, free_port
from resources.processes import (
    MARKER,
    child_env,
    stop_job,
    tail,
    with_default_signals,
)
from resources.services.base import Service
from resources.settings import go_suite_dir, spark_home

Spawned = Callable[[subprocess.Popen, Path], None]
Restart = Callable[[], None]  # stops the Connect server and starts it again on the same port


@dataclass(frozen=True)
class SuiteSettings:
    load_seconds: float = 5.0
    sustained_seconds: float = 5.0
    call_timeout_seconds: float = 60.0
    clients: tuple[str, ...] = ("go", "python")


@dataclass
class Server:
    """A running Connect server the suites talk to."""

    target: ConnectTarget
    remote: str  # sc://127.0.0.1:port
    data: Path  # the dataset's root (trips/, zones/)
    # The Connect server's service: restarted in place, so its process is always the current one.
    service: Service | None = None
    env_dir: str = ""  # the environment's dir: children carry it (the reaper finds them by it)
    findings: list[str] = field(default_factory=list)

    @property
    def version(self) -> str:
        return self.target.version

    @property
    def pid(self) -> int | None:
        process = getattr(self.service, "process", None)
        return process.pid if process is not None else None

    def rss_mb(self) -> float:
        return self.service.rss_mb() if self.service is not None else 0.0


def check_go() -> None:
    """Before anything starts: the Go suites need Go and the module cache `make setup` warmed."""
    if not shutil.which("go"):
        raise ConfigError("go is missing: the Go Connect client suites run with `go test` "
                          "(install Go, https://go.dev/dl; make setup warms its module cache)")
    if not (go_suite_dir() / "go.mod").exists():
        raise ConfigError(f"no Go module at {go_suite_dir()}: set TESTBED_GO_SUITES to the "
                          f"checkout's tests/go")


def scenario_names(suite: str) -> tuple[str, ...]:
    if suite == "smoke":
        return SMOKE
    if suite == "load":
        return LOAD
    return tuple(s.name for s in load_scenarios(E2E_FILE))


def _variables(server: Server, suite_settings: SuiteSettings, results: Path) -> dict[str, str]:
    return {
        "SPARK_REMOTE": server.remote,
        "TESTBED_SPARK_VERSION": server.version,
        "TESTBED_RESULTS": str(results),
        "TESTBED_E2E": str(E2E_FILE),
        "TESTBED_DATA": str(server.data),
        # A port nothing listens on (free now; the scenario fails fast if something took it).
        "TESTBED_DEAD_REMOTE": f"sc://{HOST}:{free_port()}",
        "TESTBED_LOAD_SECONDS": str(suite_settings.load_seconds),
        "TESTBED_SUSTAINED_SECONDS": str(suite_settings.sustained_seconds),
        "TESTBED_TIMEOUT_SECONDS": str(suite_settings.call_timeout_seconds),
        MARKER: server.env_dir,
    }


def python_argv(server: Server, suite: str) -> tuple[list[str], dict[str, str]]:
    """The Python client: pyspark-client (the code location's) for Spark 4; for 3.5 the classic
    pyspark of the release's own install first on the path."""
    extra = {}
    if server.version.startswith("3."):
        extra["PYTHONPATH"] = str(spark_home(server.version).parent)
    return [sys.executable, "-m", "resources.connect.pyclient", suite], extra


def go_argv(suite: str, timeout: float) -> tuple[list[str], dict[str, str]]:
    # Offline: make setup fetched every module; a run never reaches for the proxy.
    # -p 1: one test binary at a time (two against one server halved the load figures).
    return (["go", "test", "-json", "-count=1", "-p", "1", f"-timeout={int(timeout)}s",
             f"./{suite}/..."],
            {"GOFLAGS": "-mod=readonly", "GOPROXY": "off"})


class RestartBarrier:
    """The reconnect scenario's server restart, once for clients that run side by side: when
    every client still running has asked, the server restarts (no client has a query in flight
    then), and each is told. A client that ends without asking is not waited for."""

    def __init__(self, restart: Restart, clients: tuple[str, ...]):
        self.restart = restart
        self.clients = set(clients)
        self.asked: set[str] = set()
        self.gone: set[str] = set()
        self.said: str | None = None
        self.lock = threading.Lock()

    def ask(self, client: str) -> str | None:
        """The restart's outcome once it happened (None: not yet)."""
        with self.lock:
            self.asked.add(client)
            if self.said is None and self.asked | self.gone >= self.clients:
                self.said = _restarted(self.restart)
            return self.said

    def leave(self, client: str) -> None:
        with self.lock:
            self.gone.add(client)


def run_client(client: str, server: Server, suite: str, suite_settings: SuiteSettings,
               work: Path, timeout: float, on_spawn: Spawned | None = None,
               restart: RestartBarrier | None = None) -> list[ScenarioResult]:
    """One client's run of one suite: its results, plus a failed result for every scenario it
    did not report. restart: where the client asks for the server's restart (the reconnect
    scenario), None where that is not possible."""
    work.mkdir(parents=True, exist_ok=True)
    results = work / f"{client}-{suite}.jsonl"
    results.unlink(missing_ok=True)
    log = work / f"{client}-{suite}.log"
    argv, extra = (python_argv(server, suite) if client == "python"
                   else go_argv(suite, timeout))
    cwd = go_suite_dir() if client == "go" else Path.cwd()
    request, done = work / f"{client}-{suite}.restart", work / f"{client}-{suite}.restarted"
    for path in (request, done):
        path.unlink(missing_ok=True)
    if restart is not None:
        extra = {**extra, "TESTBED_RESTART_REQUEST": str(request),
                 "TESTBED_RESTART_DONE": str(done)}
    variables = child_env({**_variables(server, suite_settings, results), **extra})
    began = time.monotonic()
    with open(log, "wb") as out:
        process = subprocess.Popen(with_default_signals(argv), stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, cwd=cwd, start_new_session=True,
                                   env=variables)
    if on_spawn is not None:
        on_spawn(process, log)
    deadline = time.monotonic() + timeout + 30
    while process.poll() is None and time.monotonic() < deadline:
        if restart is not None and request.exists() and not done.exists():
            said = restart.ask(client)
            if said is not None:
                done.write_text(said)
        time.sleep(0.1)
    if restart is not None:
        restart.leave(client)
    if process.poll() is None:
        stop_job(process)
        why = f"killed after {timeout + 30:.0f} s"
    else:
        why = f"exited {process.returncode}"
    reported = [r for r in read_results(results) if r.suite == suite]
    seen = {r.scenario for r in reported}
    missing = [name for name in scenario_names(suite) if name not in seen]
    detail = (_go_failure(log) if client == "go" else tail(log, 12)[-800:]) \
        if missing or process.returncode != 0 else ""
    reported += [ScenarioResult(client=client, suite=suite, scenario=name, version=server.version,
                                status="failed", seconds=round(time.monotonic() - began, 2),
                                error=f"no result from the {client} client ({why}): {detail}")
                 for name in missing]
    if process.returncode != 0 and not missing and not any(r.status == "failed" for r in reported):
        # Every scenario reported and passed, yet the run failed: a test beyond the scenarios
        # (the Go suite runs the documented examples) or the client's own exit.
        reported.append(ScenarioResult(client=client, suite=suite, scenario=f"{client}_run",
                                       version=server.version, status="failed",
                                       seconds=round(time.monotonic() - began, 2),
                                       error=f"the {client} client {why}: {detail}"))
    return reported


def _restarted(restart: Restart) -> str:
    """What the client reads back: the restart's seconds, or why it failed."""
    began = time.monotonic()
    try:
        restart()
    except Exception as exc:  # noqa: BLE001 - the client reports it as the scenario's failure
        return f"error: {type(exc).__name__}: {exc}"[:500]
    return f"{time.monotonic() - began:.2f}"


def _go_failure(log: Path) -> str:
    """The Output lines of `go test -json` (build errors, panics), not the JSON around them."""
    lines = []
    for line in log.read_text(errors="replace").splitlines():
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            lines.append(line)
            continue
        if event.get("Action") == "output" and "--- " not in event.get("Output", "") \
                and not event.get("Output", "").startswith("=== "):
            lines.append(event["Output"].rstrip())
    return "\n".join(lines[-12:])[-800:]


LOOPBACK = ("127.0.0.1", "::1", "::ffff:127.0.0.1")


def bind_finding(server: Server) -> str | None:
    """Where the server really listens (SEC-003 wants loopback only): Spark 3.5 ignores
    spark.connect.grpc.binding.address and binds every interface."""
    port = int(server.remote.rsplit(":", 1)[1])
    try:
        addresses = {c.laddr.ip for c in psutil.Process(server.pid).net_connections(kind="tcp")
                     if c.status == psutil.CONN_LISTEN and c.laddr.port == port}
    except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError):
        return None
    exposed = sorted(ip or "*" for ip in addresses if ip not in LOOPBACK)
    if not exposed:
        return None
    shown = ", ".join("all interfaces" if ip in ("0.0.0.0", "::", "*") else ip for ip in exposed)
    return (f"SEC-003: the Spark {server.version} Connect server listens on {shown} (port {port}), "
            f"not on 127.0.0.1 only, although spark.connect.grpc.binding.address is 127.0.0.1")


def run_suite(server: Server, suite: str, suite_settings: SuiteSettings, work: Path,
              on_spawn: Spawned | None = None, restart: Restart | None = None) -> SuiteRun:
    """Both clients: side by side for smoke and E2E (correctness: each counts only its own
    sockets, the server restart waits for both), one after the other for load (their figures
    must not share the server's cores)."""
    budget = suite_settings.call_timeout_seconds * 4 + (
        len(LOAD) * suite_settings.load_seconds + suite_settings.sustained_seconds
        if suite == "load" else 0) + 120
    clients = suite_settings.clients
    barrier = RestartBarrier(restart, clients) if restart is not None else None
    before = server.rss_mb()
    seconds: dict[str, float] = {}

    def one(client: str) -> list[ScenarioResult]:
        began = time.monotonic()
        try:
            return run_client(client, server, suite, suite_settings, work, budget, on_spawn,
                              barrier)
        finally:
            seconds[f"{client}_seconds"] = round(time.monotonic() - began, 2)

    if suite == "load":
        results = [r for client in clients for r in one(client)]
    else:
        with ThreadPoolExecutor(max_workers=len(clients), thread_name_prefix="client") as pool:
            results = [r for found in pool.map(one, clients) for r in found]
    findings = list(server.findings)
    if server.target.mixed_version:
        findings.append(server.target.mixed_version)
    findings += client_findings(results)
    return SuiteRun(version=server.version, suite=suite, results=results,
                    server={"rss_mb_before": before, "rss_mb_after": server.rss_mb(),
                            **seconds},
                    findings=findings)


def client_findings(results: list[ScenarioResult]) -> list[str]:
    """What the clients measured that is worth saying though no scenario failed on it."""
    found = []
    for r in results:
        leaked = r.metrics.get("upstream_stop_leaked_sockets", 0)
        if r.client == "go" and leaked:
            found.append(f"spark-connect-go: SparkSession.Stop() left {leaked:g} of 5 sessions' "
                         f"sockets open on Spark {r.version} (tests/go/client's Close() closes "
                         f"them; the server keeps the sessions until their idle timeout)")
    return found


def warm_up(server: Server, queries: int = 20) -> None:
    """A fresh server answers its first queries ~3x slower: run a few before measuring."""
    if queries <= 0:
        return
    argv, extra = python_argv(server, "smoke")
    code = ("import sys; from resources.connect.pyclient import connect\n"
            f"s = connect({server.remote!r})\n"
            f"[s.sql('SELECT COUNT(*) FROM range(1000)').collect() for _ in range({queries})]\n"
            "s.stop()")
    variables = child_env({MARKER: server.env_dir, **extra})
    subprocess.run([argv[0], "-c", code], env=variables, capture_output=True, timeout=180,
                   check=False)

