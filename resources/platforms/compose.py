"""The compose platform: each environment is a compose project on a real Docker engine.

<env>/compose/postgres.yml      the environment's PostgreSQL (one database per release)
<env>/compose/<release>.yml     each release's containers, volumes and inline configs
                                (resources/docker/project.py makes them from the catalog's data)

deploy = images (built here on first use, cached by content) -> `up -d --wait` of PostgreSQL
once, then of each release's services; facts = what the engine reports of the running containers
(names, published ports, health, the JDBC URL each metastore was started with, what the History
Server reads and lists) through the same check functions as the other platforms; jobs run inside
the release's containers (`docker exec`), the Connect probe through its published port; services
(MariaDB, AlertManager, Prometheus) run their own process recipes in containers of their Debian
packages (`start`); teardown = `stop` (each JVM's class-data archive kept when it stopped cleanly),
`down -v --remove-orphans`, then whatever still carries the project's label goes by label. The
project is in the ledger before anything of it exists; a killed run's project is found from
env.json, or by its labels (testbed.io/env, testbed.io/owner, created, TTL) alone.
"""

import os
import pwd
import re
import secrets
import signal
import subprocess
import time
from pathlib import Path

from docker.errors import DockerException, NotFound

from resources import hive
from resources.docker import images as image_builds
from resources.docker.compose import PROJECT_LABEL, ComposeError, compose
from resources.docker.compose import check_installed as check_compose
from resources.docker.engine import Engine, ensure
from resources.docker.inspect import (
    abandoned,
    component_facts,
    host_port,
    ready_seconds,
)
from resources.docker.project import (
    COMPONENT_LABEL,
    CONF,
    LABELS,
    PORTS,
    POSTGRES_PORT,
    RELEASE_LABEL,
    ContainerArchives,
    ReleaseProject,
    dump,
    host,
    postgres_service,
)
from resources.model.catalog import ReleaseSpec
from resources.model.errors import ConfigError
from resources.model.facts import (
    Deployment,
    Endpoints,
    Facts,
    JobResult,
)
from resources.model.ledger import ComposeProjectHandle, Handle
from resources.platforms.base import Environment, Platform
from resources.platforms.local import history_log_dir, settled_history_apps
from resources.ports import HOST, port_taken
from resources.probes import Probe, wait_until
from resources.processes import ComponentStartError, ProcessSpec, create_time, tail
from resources.services.base import Service
from resources.services.postgres import PostgresServer
from resources.services.spark import (
    PORT_ROLES,
    SHORT_LIVED_JVM,
    check_release_installed,
)
from resources.settings import cache_dir

ENV_LABEL, OWNER_LABEL, CREATED_LABEL, TTL_LABEL = LABELS
SERVICE_LABEL = "testbed.io/service"
COMPOSE_SERVICE = "com.docker.compose.service"


def project_name(env_id: str) -> str:
    return f"testbed-{env_id}"


def archives_dir() -> Path:
    """The containers' class-data archives (host dir, mounted at the same path)."""
    return cache_dir() / "cds" / "compose"


class ComposePostgres(PostgresServer):
    """The environment's PostgreSQL container, reached at its published port: databases and
    metastore tables through the same code as the local server's."""

    def __init__(self, root: Path, port: int, password: str):
        super().__init__(root)
        root.mkdir(parents=True, exist_ok=True)  # credentials.json: the databases' passwords
        self.port = port
        self.password = password


class ComposePlatform(Platform):
    name = "compose"
    # Besides releases: the services whose Debian packages make an image (the CDC source, the
    # alerting stack); the rest (Kafka, Debezium, the object store, ...) run on local only.
    provides = frozenset({"mariadb", "alertmanager", "prometheus"})

    def __init__(self, state_dir: Path, grace_seconds: float = 10.0, ready_timeout: float = 300.0):
        super().__init__(state_dir, grace_seconds, ready_timeout)
        self._engine: Engine | None = None

    # --- before anything starts -----------------------------------------------------------------

    def preflight(self, specs: list[ReleaseSpec], services: tuple[str, ...] = ()) -> None:
        self.check_state_dir()
        for kind in services:
            self.require(kind)
        check_compose()
        owners: dict[str, str] = {}  # compose service -> its release
        for spec in specs:
            for component in spec.components:
                name = host(spec.name, component)
                if owners.setdefault(name, spec.name) != spec.name:
                    raise ConfigError(
                        f"releases {owners[name]} and {spec.name} would both run compose service "
                        f"{name} (dots become dashes in host names): rename one of them")
        for spec in specs:
            check_release_installed(spec)  # its image copies the cached install
            for role, port in spec.ports.items():
                kind, _, name = role.partition(".")
                if kind not in spec.components or name not in PORT_ROLES[kind]:
                    raise ConfigError(f"release {spec.name}: ports.{role} names no port of its "
                                      f"components; use <component>.<role> like master.ui")
                if port_taken(port):
                    raise ConfigError(f"release {spec.name}: port {port} (ports.{role}) is already "
                                      f"taken on {HOST}; free it or drop ports.{role} to let the "
                                      f"engine pick one")
        self.engine()

    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = ensure()  # starts dockerd when none answers
        return self._engine

    def resolve_storage(self, storage: str | None = None):
        if (storage or "local") != "local":
            raise ConfigError(f"storage {storage!r} is not available on the compose platform (its "
                              f"releases keep event logs and tables in named volumes): set "
                              f"TESTBED_STORAGE=local or the resource's `storage` field to local")
        return "local"

    # --- deploy ----------------------------------------------------------------------------------

    def labels(self, env: Environment) -> dict[str, str]:
        state = env.state
        return {ENV_LABEL: str(env.path),
                OWNER_LABEL: f"{state.owner_host}:{state.owner_pid}:{state.owner_pid_started}",
                CREATED_LABEL: str(round(state.created)), TTL_LABEL: str(round(state.ttl_seconds))}

    def _files(self, env: Environment) -> Path:
        return env.path / "compose"

    def _project(self, env: Environment) -> str:
        """The environment's compose project: in the ledger before anything of it exists."""
        def make() -> str:
            project = project_name(env.state.env_id)
            taken = self._left(project)
            if taken:
                raise ConfigError(
                    f"compose project {project} already exists ({', '.join(taken)}): remove it "
                    f"(`docker compose -p {project} down -v`, or `TESTBED_PLATFORM=compose "
                    f"testbed sweep` when it is abandoned)")
            env.record(ComposeProjectHandle(name=project, owner="environment", project=project))
            return project

        return env.once("compose project", make)

    def _postgres(self, env: Environment, image: str) -> ComposePostgres:
        """The project's PostgreSQL, started (not waited for: the releases' other services start
        meanwhile)."""
        project = self._project(env)
        password = secrets.token_urlsafe(18)
        path = dump({"name": project,
                     "services": {"postgres": postgres_service(image, self.labels(env), password)},
                     "volumes": {"pgdata": {"labels": self.labels(env)}}},
                    self._files(env) / "postgres.yml")
        self._record_file(env, path)
        compose(project, [path], "up", "-d")
        postgres = ComposePostgres(env.path / "postgres",
                                   self._published(project, "postgres", POSTGRES_PORT), password)
        env.services["postgres"] = postgres  # facts read the metastores' tables through it
        return postgres

    def deploy(self, env: Environment, spec: ReleaseSpec) -> Deployment:
        self.preflight([spec])
        started = time.monotonic()
        with env.exclusive("images"):  # one build at a time (2 cores); found in a second when built
            built = image_builds.images([spec])
        project = self._project(env)
        postgres = env.once("postgres", lambda: self._postgres(
            env, built["testbed/postgres"].image))
        # One password per database, also for two releases on one (its role is made once).
        credentials = (spec.metastore_db, env.once(f"password {spec.metastore_db}",
                                                   lambda: secrets.token_urlsafe(18)))
        # Jobs read their inputs from the env dir and write tables under the tables root, which
        # the orchestrator reads back (delta-rs): both at the same paths inside, like the JVMs'
        # class-data archives.
        self.tables_root.mkdir(parents=True, exist_ok=True)
        image = built[f"testbed/spark-{spec.version}"].image
        archives = self._archives(env, image)
        release = ReleaseProject(spec, image, self.labels(env), credentials,
                                 mounts=[f"{p}:{p}" for p in (env.path, self.tables_root,
                                                              archives.root)],
                                 archives=archives)
        files = [self._files(env) / "postgres.yml",
                 dump(release.document(), self._files(env) / f"{spec.name}.yml")]
        self._record_file(env, files[1])
        wait = ("--wait", "--wait-timeout", str(int(self.ready_timeout)))
        services = [host(spec.name, c) for c in spec.components]
        others = [s for s in services if not s.endswith("-metastore")]
        try:
            if others:  # they need no database: they start while PostgreSQL does
                compose(project, files, "up", "-d", "--no-deps", *others)
            env.once("postgres ready", lambda: compose(
                project, files[:1], "up", "-d", *wait, "postgres", timeout=self.ready_timeout + 60))
            postgres.create_database(*credentials)
            # Two metastores on one database (a sabotaged catalog) would race creating its schema:
            # they take turns, like on the local platform.
            with env.exclusive(f"database {spec.metastore_db}"):
                compose(project, files, "up", "-d", *wait, host(spec.name, "metastore"),
                        timeout=self.ready_timeout + 60)
            compose(project, files, "up", "-d", *wait, *services, timeout=self.ready_timeout + 60)
        except ComposeError as exc:
            raise ComposeError(f"release {spec.name} did not become healthy on compose: {exc}\n"
                               f"{self._unhealthy(project, spec)}") from None
        containers = {c: self._container(project, spec.name, c) for c in spec.components}
        return Deployment(spec=spec, env_id=env.state.env_id, root=str(self._files(env)),
                          endpoints=self._endpoints(spec, containers, release),
                          startup_seconds=round(time.monotonic() - started, 2),
                          component_seconds={c: ready_seconds(info)
                                             for c, info in containers.items()})

    def _archives(self, env: Environment, image: str) -> ContainerArchives:
        root = archives_dir()
        root.mkdir(parents=True, exist_ok=True)
        return ContainerArchives(root, Engine.client().images.get(image).id, env.state.env_id)

    def _record_file(self, env: Environment, path: Path) -> None:
        """The project handle lists every file of the project, so `down` sees all its services."""
        with env.lock:
            for handle in env.state.handles:
                if isinstance(handle, ComposeProjectHandle) and not handle.services \
                        and str(path) not in handle.files:
                    handle.files.append(str(path))
            env.state.save(create=False)

    def _endpoints(self, spec: ReleaseSpec, containers: dict[str, dict],
                   release: ReleaseProject) -> Endpoints:
        def url(scheme: str, component: str, role: str) -> str | None:
            if component not in containers:
                return None
            port = host_port(containers[component], PORTS[f"{component}.{role}"])
            return f"{scheme}://{HOST}:{port}"

        return Endpoints(
            metastore=url("thrift", "metastore", "thrift"), metastore_db=spec.metastore_db,
            metastore_jdbc=release.jdbc_url, history_ui=url("http", "history", "ui"),
            event_log_dir=release.events,
            # Jobs are submitted inside the project network, where the master has this name.
            master=f"spark://{host(spec.name, 'master')}:{PORTS['master.rpc']}"
            if "master" in containers else None,
            master_ui=url("http", "master", "ui"), worker_ui=url("http", "worker", "ui"),
            connect=url("sc", "connect", "grpc"), connect_ui=url("http", "connect", "ui"))

    # --- services --------------------------------------------------------------------------------

    def start(self, env: Environment, service: Service) -> None:
        """The service's own recipe in a container of an image with its Debian packages: its
        dir bind-mounted at the same path (its configs, data and log stay where its clients and
        checks look), on the host's network so it listens on 127.0.0.1 as its configs say and
        the orchestrator's stream and webhook receiver reach it, and it them, unchanged."""
        self.require(service.kind)
        service.ready_timeout = self.ready_timeout

        def launch(spec: ProcessSpec, probe: Probe, timeout: float) -> "ServiceContainer":
            with env.exclusive("images"):
                image = image_builds.service_image(service.kind, service.packages)
            return self._run(env, service, spec, image, probe, timeout)

        service.start(launch)

    def _run(self, env: Environment, service: Service, spec: ProcessSpec, image: str,
             probe: Probe, timeout: float) -> "ServiceContainer":
        project = self._project(env)
        name = re.sub(r"[^a-z0-9-]", "-", service.name.lower())
        account = pwd.getpwnam(spec.user) if spec.user else None
        uid, gid = (account.pw_uid, account.pw_gid) if account else (os.getuid(), os.getgid())
        spec.log_file.parent.mkdir(parents=True, exist_ok=True)
        spec.log_file.touch()
        os.chown(spec.log_file, uid, gid)  # the service writes it from inside, as itself
        mounts = dict.fromkeys(str(p) for p in (service.root, spec.cwd, spec.log_file.parent))
        path = dump({"services": {name: {
            "image": image, "init": True, "network_mode": "host", "user": f"{uid}:{gid}",
            "labels": {**self.labels(env), SERVICE_LABEL: service.name},
            "working_dir": str(spec.cwd), "environment": {**spec.env, "TESTBED_LOG": str(
                spec.log_file)},
            # Its output goes to its log file, as on the local platform ($$: not compose's).
            "entrypoint": ["/bin/sh", "-c", 'exec "$$0" "$$@" >> "$$TESTBED_LOG" 2>&1'],
            # The host's accounts: a service that switches to its own user (MariaDB as root
            # becomes mysql) finds the uid that owns its prepared files.
            "command": spec.argv,
            "volumes": [*(f"{m}:{m}" for m in mounts), "/etc/passwd:/etc/passwd:ro",
                        "/etc/group:/etc/group:ro"],
            "stop_signal": signal.Signals(spec.stop_signal).name,
            "stop_grace_period": f"{int(self.grace_seconds)}s"}}}, self._files(env) / f"{name}.yml")
        handle = ComposeProjectHandle(name=service.name, owner=service.owner, project=project,
                                      files=[str(path)], services=[name])
        container = ServiceContainer(self, handle, spec, time.monotonic())
        env.record(handle, lambda grace: container.stop(grace))
        compose(project, [path], "up", "-d", name)
        ready = wait_until(lambda: probe() if container.running() else True, timeout,
                           cancel=env.cancel)
        if not (ready and container.running()):
            raise ComponentStartError(
                f"{service.name} (container {name} of {project}) "
                f"{'exited' if not container.running() else f'was not ready within {timeout:.0f}s'}"
                f" ({probe}); last lines of {spec.log_file}:\n{tail(spec.log_file, 20)}")
        container.ready_seconds = round(time.monotonic() - container.started_at, 2)
        return container

    # --- reading the engine ----------------------------------------------------------------------

    def _containers(self, filters: dict) -> list:
        return Engine.client().containers.list(all=True, filters=filters)

    def _container(self, project: str, release: str, component: str) -> dict:
        found = self._containers({"label": [f"{PROJECT_LABEL}={project}",
                                            f"{RELEASE_LABEL}={release}",
                                            f"{COMPONENT_LABEL}={component}"]})
        if not found:
            raise ComposeError(f"no container of {release} {component} in project {project}")
        return found[0].attrs

    def _published(self, project: str, service: str, port: int) -> int:
        found = self._containers({"label": [f"{PROJECT_LABEL}={project}",
                                            f"{COMPOSE_SERVICE}={service}"]})
        if not found:
            raise ComposeError(f"no container of service {service} in project {project}")
        return host_port(found[0].attrs, port)

    def _unhealthy(self, project: str, spec: ReleaseSpec) -> str:
        """Why the release's containers are not healthy: state, last check output, log tail."""
        lines = []
        for container in self._containers({"label": [f"{PROJECT_LABEL}={project}",
                                                     f"{RELEASE_LABEL}={spec.name}"]}):
            state = container.attrs["State"]
            health = state.get("Health") or {}
            if health.get("Status") == "healthy":
                continue
            last = (health.get("Log") or [{}])[-1].get("Output", "").strip()[-300:]
            logs = container.logs(tail=15).decode(errors="replace").strip()
            lines.append(f"{container.name}: {state['Status']}, health "
                         f"{health.get('Status', 'none')} {last}\n{logs}")
        return "\n".join(lines)

    def _exec(self, container: str, argv: list[str], timeout: float) -> subprocess.CompletedProcess:
        return subprocess.run([image_builds.DEBIAN_CLI, "exec", container, *argv],
                              capture_output=True, text=True, timeout=timeout)

    # --- facts -----------------------------------------------------------------------------------

    def facts(self, env: Environment, deployment: Deployment) -> Facts:
        spec = deployment.spec
        project = project_name(env.state.env_id)
        containers = {c: self._container(project, spec.name, c) for c in spec.components}
        components = [component_facts(spec.name, c, info) for c, info in containers.items()]
        metastore = containers["metastore"]["Name"].lstrip("/")
        site = self._exec(metastore, ["cat", f"{CONF}/hive-site.xml"], 30)
        db_name = hive.jdbc_url_in(site.stdout, f"{metastore}:{CONF}/hive-site.xml") \
            .rsplit("/", 1)[-1]
        postgres: ComposePostgres = env.services["postgres"]  # type: ignore[assignment]
        history_url = deployment.endpoints.history_ui
        events = deployment.endpoints.event_log_dir
        reader = containers.get("history") or containers["metastore"]

        def logs() -> list[str]:  # listed inside the release, where the volume is mounted
            listed = self._exec(reader["Name"].lstrip("/"), ["ls", "-1A", events], 30)
            return sorted(n for n in listed.stdout.split() if not n.startswith("."))

        reads = history_log_dir(history_url) if history_url else "none"
        apps = settled_history_apps(history_url, logs) if history_url else []
        return Facts(
            release=spec.name, version=spec.version, components=components,
            metastore_uri=deployment.endpoints.metastore, metastore_db=db_name,
            metastore_tables=postgres.metastore_tables(db_name),
            event_log_dir=events, history_log_dir=reads, history_apps=apps, event_logs=logs())

    # --- jobs ------------------------------------------------------------------------------------

    def submit(self, env: Environment, deployment: Deployment, job: str, args: list[str],
               timeout: float) -> JobResult:
        """spark-submit inside the master's container: the driver is in the project network,
        where the worker's executors can reach it."""
        spec = deployment.spec
        if deployment.endpoints.master is None:
            raise ConfigError(f"release {spec.name} has no master to submit {job} to")
        master = self._container(project_name(env.state.env_id), spec.name, "master")
        archives = self._archives(env, master["Config"]["Image"])
        driver = " ".join([SHORT_LIVED_JVM, *archives.flags("driver")])
        argv = ["env", f"SPARK_SUBMIT_OPTS={driver}",
                "timeout", "-s", "KILL", str(int(timeout)), "spark-submit",
                "--master", deployment.endpoints.master,
                "--properties-file", f"{CONF}/spark-defaults.conf",
                "--driver-memory", spec.driver_memory, "--executor-memory", spec.driver_memory,
                "--name", f"testbed-{job}", f"{image_builds.JOBS}/{job}.py", *args]
        started = time.monotonic()
        try:
            done = self._exec(master["Name"].lstrip("/"), argv, timeout + 30)
            returncode, out, err = done.returncode, done.stdout, done.stderr
        except subprocess.TimeoutExpired as exc:
            returncode, out, err = 124, str(exc.stdout or ""), f"timed out after {timeout:.0f}s"
        if returncode in (124, 137):
            err = f"timed out after {timeout:.0f}s\n{err}"
        ContainerArchives.keep(archives.root, env.state.env_id,
                               {"driver"} if returncode == 0 else set())
        return JobResult(release=spec.name, job=job, returncode=returncode,
                         seconds=round(time.monotonic() - started, 2),
                         output=_last(out, 40), error=_last(err, 40))

    # --- removing, from the ledger alone ---------------------------------------------------------

    def destroy(self, handle: Handle, grace_seconds: float) -> str:
        if handle.kind == "compose_project":
            return self._down(handle, grace_seconds)
        return self.destroy_plain(handle)

    def _down(self, handle: ComposeProjectHandle, grace_seconds: float) -> str:
        if not self._left(handle.project, handle.services):
            return "already gone"
        self.engine()
        files = [f for f in handle.files if Path(f).exists()]
        if handle.services:  # one service of the project: stop and remove its container
            try:
                compose(handle.project, files, "rm", "--stop", "--force", "--volumes",
                        *handle.services, timeout=grace_seconds + 60)
            except (ComposeError, ConfigError):
                pass
            self._remove_labelled(handle.project, handle.services)
            left = self._left(handle.project, handle.services)
            return "stopped" if not left else f"failed: still there: {', '.join(left)}"
        try:
            # Each service's own grace: a JVM writing its class-data archive gets longer.
            compose(handle.project, files, "stop", timeout=grace_seconds + 180)
            self._keep_archives(handle.project)
            compose(handle.project, files, "down", "-v", "--remove-orphans",
                    "--timeout", str(int(grace_seconds)), timeout=grace_seconds + 120)
        except (ComposeError, ConfigError):
            pass  # files gone or compose missing: the labels below find everything
        self._remove_labelled(handle.project)
        left = self._left(handle.project)
        return "stopped" if not left else f"failed: still there: {', '.join(left)}"

    def _keep_archives(self, project: str) -> None:
        """The class-data dumps of the JVMs that stopped cleanly (exit 0, or 143: SIGTERM)."""
        clean = {c.labels.get(COMPONENT_LABEL, "") for c in self._containers(
            {"label": f"{PROJECT_LABEL}={project}"})
            if c.attrs["State"].get("ExitCode") in (0, 143) and not c.attrs["State"]["Running"]}
        ContainerArchives.keep(archives_dir(), project.removeprefix("testbed-"), clean)

    def _remove_labelled(self, project: str, services: list[str] | None = None) -> None:
        client = Engine.client()
        label = {"label": f"{PROJECT_LABEL}={project}"}
        for container in client.containers.list(all=True, filters=label):
            if not services or container.labels.get(COMPOSE_SERVICE) in services:
                _quietly(lambda: container.remove(force=True, v=True))
        if services:
            return
        for network in client.networks.list(filters=label):
            _quietly(network.remove)
        for volume in client.volumes.list(filters=label):
            _quietly(lambda: volume.remove(force=True))

    def _left(self, project: str, services: list[str] | None = None) -> list[str]:
        """Containers, networks and volumes labelled with the project, or the containers of
        `services` of it (none: it is gone)."""
        try:
            client = Engine.client()
            label = {"label": f"{PROJECT_LABEL}={project}"}
            containers = [f"container {c.name}" for c in client.containers.list(all=True,
                                                                                filters=label)
                          if not services or c.labels.get(COMPOSE_SERVICE) in services]
            if services:
                return containers
            return (containers
                    + [f"network {n.name}" for n in client.networks.list(filters=label)]
                    + [f"volume {v.name}" for v in client.volumes.list(filters=label)])
        except DockerException as exc:
            return [f"project {project}: the engine cannot be asked ({exc})"]

    def remains(self, handle: Handle) -> list[str]:
        if handle.kind == "compose_project":
            return self._left(handle.project, handle.services)
        return []

    def strays(self, known: set[str], now: float) -> list[tuple[str, Handle]]:
        """Projects labelled testbed.io/env with an env dir no environment records, whose owner
        process is gone or whose TTL expired (a live run of another state dir is left alone)."""
        try:
            containers = self._containers({"label": ENV_LABEL})
            volumes = Engine.client().volumes.list(filters={"label": ENV_LABEL})
        except DockerException:
            return []  # no engine: nothing of ours can run
        projects: dict[str, dict[str, str]] = {}
        for labels in [c.labels for c in containers] + [v.attrs.get("Labels") or {}
                                                        for v in volumes]:
            if PROJECT_LABEL in labels:
                projects.setdefault(labels[PROJECT_LABEL], labels)
        found = []
        for project, labels in sorted(projects.items()):
            if labels[ENV_LABEL] in known:
                continue
            why = abandoned(labels, now)
            if why:
                found.append((f"compose project {project} of {labels[ENV_LABEL]}: {why}",
                              ComposeProjectHandle(name=project, project=project)))
        return found


class ServiceContainer:
    """A service's container, as the service sees its process: running, its pid (the container's
    init, so memory counts its children), stop."""

    def __init__(self, platform: ComposePlatform, handle: ComposeProjectHandle, spec: ProcessSpec,
                 started_at: float):
        self.platform = platform
        self.handle = handle
        self.spec = spec
        self.started_at = started_at
        self.ready_seconds = 0.0

    def _state(self) -> dict:
        found = self.platform._containers({"label": [f"{PROJECT_LABEL}={self.handle.project}",
                                                     f"{COMPOSE_SERVICE}={self.handle.services[0]}"]})
        return found[0].attrs["State"] if found else {}

    @property
    def pid(self) -> int | None:
        return self._state().get("Pid") or None

    @property
    def create_time(self) -> float | None:
        return create_time(self.pid)

    def running(self) -> bool:
        return bool(self._state().get("Running"))

    def stop(self, grace_seconds: float = 10.0) -> str:
        running = self.running()
        self.platform.destroy(self.handle, grace_seconds)
        return "stopped" if running else "already gone"


def _quietly(remove) -> None:
    try:
        remove()
    except NotFound:
        pass


def _last(text: str, lines: int) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])

