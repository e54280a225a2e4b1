"""The local platform: every service as a real child process on this machine, under its env dir.

<env>/postgres/                one PostgreSQL server for the environment, one database per release
<env>/s3/                      its object store (storage s3, the default): event logs, tables
<env>/<release>/...            the release's components (resources/services/spark.py)

A process is recorded in the ledger the moment it is spawned and carries TESTBED_ENV_DIR=<env dir>
in its environment, so a killed run's processes are found from env.json or, failing that, by that
label. Ports are picked free on 127.0.0.1 unless the release spec fixes them.
"""

import os
import pwd
import re
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import replace
from pathlib import Path

import httpx
import psutil

from resources import hive
from resources.model.catalog import ReleaseSpec
from resources.model.errors import ConfigError
from resources.model.facts import (
    ComponentFacts,
    Deployment,
    Facts,
    HistoryApp,
    JobResult,
)
from resources.model.ledger import DirectoryHandle, Handle, ProcessHandle
from resources.model.storage import TableLocation
from resources.platforms.base import Environment, Platform, remove_tree
from resources.ports import HOST, port_taken
from resources.probes import Cancelled, Probe, wait_for
from resources.processes import (
    MARKER,
    ComponentStartError,
    ManagedProcess,
    ProcessSpec,
    child_env,
    kill_marked,
    kill_recorded,
    listening_ports,
    marked,
    stop_job,
    tail,
    with_default_signals,
)
from resources.processes import start as start_process
from resources.services.base import KINDS, Service, service_kind
from resources.services.jvm import check_java
from resources.services.objectstore import TABLES_BUCKET, ObjectStore
from resources.services.postgres import PostgresServer
from resources.services.spark import PORT_ROLES, SparkRelease, check_release_installed
from resources.settings import storage_setting

JOBS_DIR = Path(__file__).resolve().parent.parent / "jobs"


class LocalPlatform(Platform):
    name = "local"

    # Every service that runs as a process runs here (and nothing else does, yet).
    @property
    def provides(self) -> frozenset[str]:  # type: ignore[override]
        return frozenset(KINDS)

    # --- before anything starts -----------------------------------------------------------------

    def preflight(self, specs: list[ReleaseSpec], services: tuple[str, ...] = ()) -> None:
        """services: kinds the run needs beyond the releases' own ("s3": storage s3)."""
        self.check_state_dir()
        check_java()
        for kind in ("postgres", "spark-metastore"):
            service_kind(kind).check_installed()  # names the package to install
        if os.getuid() == 0:
            self._check_reachable_by("postgres")
        for spec in specs:
            check_release_installed(spec, "s3" if "s3" in services else "local")
            for role, port in spec.ports.items():
                kind = role.split(".")[0]
                if kind not in spec.components or role.split(".")[-1] not in PORT_ROLES[kind]:
                    raise ConfigError(f"release {spec.name}: ports.{role} names no port of its "
                                      f"components; use <component>.<role> like master.rpc")
                if port_taken(port):
                    raise ConfigError(f"release {spec.name}: port {port} (ports.{role}) is already "
                                      f"taken on {HOST}; free it or drop ports.{role} to pick one")
        for kind in services:
            self.require(kind)
            service_kind(kind).check_installed()

    def _check_reachable_by(self, user: str) -> None:
        try:
            pwd.getpwnam(user)
        except KeyError:
            raise ConfigError(f"OS user {user!r} is missing: apt-get install postgresql") from None
        path = self.state_dir.resolve()
        for part in [path, *path.parents]:
            if part.exists() and not (part.stat().st_mode & 0o001):
                raise ConfigError(
                    f"state dir {self.state_dir}: {part} is not searchable by the {user} user, who "
                    f"runs PostgreSQL when Testbed runs as root; set TESTBED_STATE_DIR outside it "
                    f"(e.g. /var/tmp/testbed)")

    # --- storage ---------------------------------------------------------------------------------

    def default_storage(self) -> str:
        return storage_setting()

    def object_store(self, env: Environment) -> ObjectStore | None:
        """The environment's object store, started on first use; None with storage local."""
        if env.state.storage != "s3":
            return None
        store = env.once("s3", lambda: ObjectStore(env.path / "s3"))
        env.once("s3 started", lambda: env.start(store))
        return store

    def table_location(self, env: Environment, name: str) -> TableLocation:
        store = self.object_store(env)
        return store.table(name) if store else super().table_location(env, name)

    def table_roots(self) -> list[Path]:
        stores = sorted((self.state_dir / "envs").glob(f"env-*/s3/data/{TABLES_BUCKET}"))
        return [self.tables_root, *stores]

    # --- running services ------------------------------------------------------------------------

    def start(self, env: Environment, service: Service) -> None:
        """A child process, labelled with the env dir, in the ledger from the moment it exists."""
        self.require(service.kind)
        service.ready_timeout = self.ready_timeout

        def launch(spec: ProcessSpec, probe: Probe, timeout: float) -> ManagedProcess:
            labelled = replace(spec, env={**spec.env, MARKER: str(env.path)})
            return start_process(labelled, probe, timeout, cancel=env.cancel,
                                 on_spawn=lambda process: self._record(env, service, process))

        service.start(launch)

    def _record(self, env: Environment, service: Service, process: ManagedProcess) -> None:
        handle = ProcessHandle(name=process.spec.name, owner=service.owner, pid=process.pid,
                               create_time=process.create_time or time.time(),
                               ports=service.ports, log_file=str(process.spec.log_file),
                               serves_others=service.serves_others)

        def stop(grace: float) -> str:
            running = process.running()
            if service.process is process:
                service.stop(grace)  # the service's own stop (it may keep something of the run)
            else:  # started again since (a database restarted in a review): this run of it only
                process.stop(grace)
            return "stopped" if running else "already gone"

        env.record(handle, stop)

    # --- deploy ----------------------------------------------------------------------------------

    def deploy(self, env: Environment, spec: ReleaseSpec) -> Deployment:
        self.preflight([spec])
        started = time.monotonic()
        # One PostgreSQL per environment; its port is known before it runs, and only the
        # metastore waits for it: the other components start meanwhile.
        postgres = env.once("postgres", lambda: PostgresServer(env.path / "postgres"))
        release = SparkRelease(env.path, spec, postgres.port, self.ready_timeout,
                               store=self.object_store(env))
        release.prepare()
        components = {c.component: c for c in release.components()}

        def launch(component: str) -> float:
            service = components[component]
            if component == "metastore":
                env.once("postgres started", lambda: env.start(postgres))
                release.credentials = postgres.create_database(spec.metastore_db)
                # Two metastores on one database (a sabotaged catalog) would race creating its
                # schema; they take turns, everything else starts side by side.
                with env.exclusive(f"database {spec.metastore_db}"):
                    env.start(service)
            else:
                env.start(service)
            return round(service.process.ready_seconds, 2)

        # Only the master orders its worker; the rest start side by side (2 cores: ~4 JVMs is fine).
        chains = [[kind] for kind in spec.components if kind not in ("master", "worker")]
        if "master" in spec.components:
            chains.append([k for k in ("master", "worker") if k in spec.components])
        timings: dict[str, float] = {}
        errors: list[BaseException] = []
        with ThreadPoolExecutor(max_workers=len(chains), thread_name_prefix=spec.name) as pool:
            futures = [pool.submit(lambda chain=chain: [(k, launch(k)) for k in chain])
                       for chain in chains]
            for future in as_completed(futures):  # the first failure stops the others waiting
                try:
                    timings.update(future.result())
                except Exception as exc:  # collect all: one message names every failed component
                    errors.append(exc)
                    env.cancel.set()
        real = [error for error in errors if not isinstance(error, Cancelled)]
        if real:
            raise real[0] if len(real) == 1 else ComponentStartError(
                "\n".join(str(error) for error in real))
        if errors:
            raise errors[0]
        return Deployment(spec=spec, env_id=env.state.env_id, root=str(release.root),
                          endpoints=release.endpoints(),
                          startup_seconds=round(time.monotonic() - started, 2),
                          component_seconds=timings)

    # --- facts -----------------------------------------------------------------------------------

    def facts(self, env: Environment, deployment: Deployment) -> Facts:
        spec = deployment.spec
        root = Path(deployment.root)
        components = []
        for kind in spec.components:
            service = env.services.get(f"{spec.name}-{kind}")
            components.append(service.facts() if isinstance(service, Service) else ComponentFacts(
                release=spec.name, kind=kind, name=f"{spec.name}-{kind}", ports={},
                data_dir=str(root / kind / "work"), conf_dir=str(root / kind / "conf"),
                probe="never started"))
        jdbc_url = hive.read_jdbc_url(root / "metastore" / "conf")
        db_name = jdbc_url.rsplit("/", 1)[-1]
        postgres: PostgresServer = env.services["postgres"]  # type: ignore[assignment]
        history_url = deployment.endpoints.history_ui
        reads = history_log_dir(history_url)
        store = self.object_store(env)
        # First: wait until the History Server has caught up with the logs where it reads.
        apps = settled_history_apps(history_url, lambda: event_logs(store, reads))
        return Facts(
            release=spec.name, version=spec.version, components=components,
            metastore_uri=deployment.endpoints.metastore, metastore_db=db_name,
            metastore_tables=postgres.metastore_tables(db_name),
            event_log_dir=deployment.endpoints.event_log_dir,
            history_log_dir=reads, history_apps=apps,
            event_logs=event_logs(store, deployment.endpoints.event_log_dir))

    # --- jobs ------------------------------------------------------------------------------------

    def submit(self, env: Environment, deployment: Deployment, job: str, args: list[str],
               timeout: float) -> JobResult:
        if deployment.endpoints.master is None:
            raise ConfigError(f"release {deployment.spec.name} has no master to submit {job} to")
        return self._spark_submit(env, deployment.spec, deployment.endpoints.master, job, args,
                                  timeout)

    def connect_job(self, env: Environment, deployment: Deployment, table: str,
                    timeout: float) -> JobResult:
        """The Connect probe; on S3 also a short batch application in local mode, side by side
        with it. S3A cannot hflush, so the Connect server's own event log appears in the store only
        when the server stops: a History Server reading S3 lists finished applications only."""
        if env.state.storage != "s3":
            return super().connect_job(env, deployment, table, timeout)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="batch") as pool:
            pending = pool.submit(self._spark_submit, env, deployment.spec, "local[1]",
                                  "finished_app", [], timeout)
            result = super().connect_job(env, deployment, table, timeout)
            batch = pending.result()
        if result.returncode != 0:
            return result
        values = {**result.values, "finished_application_seconds": batch.seconds}
        if batch.returncode != 0:
            return result.model_copy(update={
                "returncode": batch.returncode, "values": values,
                "error": f"the finished application for the History Server (finished_app, "
                         f"local mode) failed:\n{batch.error}"})
        return result.model_copy(update={"values": values})

    def _spark_submit(self, env: Environment, spec: ReleaseSpec, master: str, job: str,
                      args: list[str], timeout: float) -> JobResult:
        # Its layout and class archive; its settings are the client's spark-defaults from deploy.
        release = SparkRelease(env.path, spec, 0, self.ready_timeout, store=self.object_store(env))
        dirs = release.dirs("client")
        log = dirs["logs"] / f"{job}-{time.time_ns()}.log"
        err = log.with_suffix(".err")
        archive = release.archive("driver")
        argv = [str(release.home / "bin" / "spark-submit"), "--master", master,
                "--properties-file", str(dirs["conf"] / "spark-defaults.conf"),
                "--driver-memory", spec.driver_memory, "--executor-memory", spec.driver_memory,
                "--name", f"testbed-{job}", str(JOBS_DIR / f"{job}.py"), *args]
        started = time.monotonic()
        with open(log, "wb") as out, open(err, "wb") as errf:
            # Own session: on timeout the whole group (driver JVM + python) goes; a client-mode
            # driver whose master died would otherwise wait forever.
            process = subprocess.Popen(
                with_default_signals(argv), stdout=out, stderr=errf, stdin=subprocess.DEVNULL,
                cwd=dirs["work"],
                start_new_session=True,
                env=child_env({**release.spark_env(dirs, f"{spec.name}-client", archive),
                               MARKER: str(env.path)}))
        env.record(ProcessHandle(name=f"{spec.name}-{job}", owner=spec.name, pid=process.pid,
                                 create_time=psutil.Process(process.pid).create_time(),
                                 log_file=str(log)),
                   lambda grace: stop_job(process))
        try:
            returncode = process.wait(timeout=timeout)
            error = tail(err, 40)
        except subprocess.TimeoutExpired:
            stop_job(process)
            returncode = process.wait()
            error = f"timed out after {timeout:.0f}s\n{tail(err, 40)}"
        archive.keep(returncode == 0)
        return JobResult(release=spec.name, job=job, returncode=returncode,
                         seconds=round(time.monotonic() - started, 2), output=tail(log, 40),
                         error=error)

    # --- removing, from the ledger alone ---------------------------------------------------------

    def destroy(self, handle: Handle, grace_seconds: float) -> str:
        if handle.kind == "process":
            return "stopped" if kill_recorded(handle.pid, handle.create_time, grace_seconds) \
                else "already gone"
        if handle.kind == "directory":
            # The env dir's label finds what the ledger does not (spawned as the owner died,
            # children that outlived their parent) before the files go.
            strays = kill_marked(handle.path, grace_seconds)
            result = remove_tree(handle.path)
            return f"{result}; stopped unrecorded {', '.join(strays)}" if strays else result
        return self.destroy_plain(handle)

    def remains(self, handle: Handle) -> list[str]:
        if handle.kind == "process":
            return _alive(handle)
        if handle.kind == "in_process":
            mine = listening_ports({os.getpid()})
            return [f"port {port} ({handle.name} {role})" for role, port in handle.ports.items()
                    if port in mine]
        if handle.kind == "directory":  # what runs labelled with it, recorded or not
            return [f"process {' '.join(p.cmdline()[:2])} (pid {p.pid}) labelled {handle.path}"
                    for p in marked(handle.path)]
        return []

    def strays(self, known: set[str], now: float) -> list[tuple[str, Handle]]:
        """Processes labelled with an env dir of this state dir that has no env.json: a run was
        killed before it could record them, or an older teardown lost track of them."""
        dirs: dict[str, list[int]] = {}
        for process in marked(str(self.state_dir / "envs"), under=True):
            try:
                dirs.setdefault(process.environ()[MARKER], []).append(process.pid)
            except (psutil.NoSuchProcess, psutil.AccessDenied, KeyError):
                continue
        return [(f"processes {pids} labelled {path}: no environment records them",
                 DirectoryHandle(name=Path(path).name, path=path))
                for path, pids in sorted(dirs.items()) if path not in known]


def _alive(handle: ProcessHandle) -> list[str]:
    try:
        process = psutil.Process(handle.pid)
        if abs(process.create_time() - handle.create_time) >= 1.0 \
                or process.status() == psutil.STATUS_ZOMBIE:
            return []
    except psutil.NoSuchProcess:
        return []
    held = listening_ports({handle.pid})
    ports = f", listening on {', '.join(map(str, sorted(held)))}" if held else ""
    return [f"process {handle.name} (pid {handle.pid}{ports})"]


def history_apps(history_url: str, environments: bool = False) -> list[HistoryApp]:
    """What the History Server lists; with `environments`, each application's event-log dir as it
    ran (one more request per application: read once, after the listing settled)."""
    response = httpx.get(f"{history_url}/api/v1/applications", timeout=10)
    response.raise_for_status()
    apps = []
    for app in response.json():
        found = HistoryApp.from_api(app)
        if environments:
            answer = httpx.get(f"{history_url}/{HistoryApp.environment_path(app)}", timeout=10)
            if answer.status_code == 200:
                found = found.with_environment(answer.json())
        apps.append(found)
    return apps


def settled_history_apps(history_url: str, logs: Callable[[], list[str]],
                         timeout: float = 20.0) -> list[HistoryApp]:
    """What the History Server lists once it has caught up with its event logs: it scans every
    spark.history.fs.update.interval (1 s here), so a job that just ended is not listed yet. Waits
    (bounded) until it lists as many applications as `logs()` names; then, or at the timeout,
    returns what it lists: the check judges that."""
    def count() -> int:
        try:
            return len(logs())
        except Exception:  # a store or dir that cannot be read: judge what is listed
            return 0

    wait_for(lambda: history_apps(history_url), lambda apps: len(apps) >= count(), timeout,
             interval=0.25)
    return history_apps(history_url, environments=True)


def event_logs(store: ObjectStore | None, where: str) -> list[str]:
    """The event logs at `where`, listed: in the store (s3a://) the finished applications' (a
    running one's log is not there yet), in a directory all of them."""
    if store is not None and where.startswith("s3a://"):
        return finished_logs(store, where)
    path = Path(where.removeprefix("file:"))
    return sorted(e.name for e in path.iterdir() if not e.name.startswith(".")) \
        if path.is_dir() else []


def finished_logs(store: ObjectStore, prefix: str) -> list[str]:
    """The event logs under prefix of applications that ended (a History Server on S3 can list
    only those: a running application's log is not in the store yet, or is only its status file)."""
    done = []
    for name in store.entries(prefix):
        if name.endswith(".inprogress"):
            continue
        if name.startswith("eventlog_v2_") and any(
                part.endswith(".inprogress") for part in store.entries(f"{prefix}/{name}")):
            continue  # a rolling log: appstatus_<app>.inprogress until it ends
        done.append(name)
    return done


def history_log_dir(history_url: str) -> str:
    """The History Server shows the directory it reads on its front page."""
    page = httpx.get(f"{history_url}/", timeout=10).text
    match = re.search(r"Event log directory:\s*(?:</strong>)?\s*([^<\s]+)", page)
    return match.group(1).removeprefix("file:") if match else "unknown"
