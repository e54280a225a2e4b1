"""The Dagster resource that owns a run's test environment.

Jobs use the in-process executor, so one instance serves every step of a run: releases deployed by
one step are seen by the checks of the next, each release's acceptance job runs once (whichever
check asks first; all of them side by side), and `teardown_after_execution` tears down whatever is
still up when the run ends, also after a failed check or an exception (teardown layer 2).
"""

import threading
from concurrent.futures import Future
from pathlib import Path
from typing import Generic, TypeVar

from dagster import ConfigurableResource, InitResourceContext
from pydantic import Field, PrivateAttr

from resources import reports
from resources.model.catalog import Catalog, ReleaseSpec, load_catalog
from resources.model.errors import ConfigError
from resources.model.facts import Deployment, Facts, JobResult
from resources.model.ledger import TeardownReport
from resources.platforms.base import Platform
from resources.platforms.environment import Environment, run_acceptance_jobs
from resources.platforms.registry import make_platform
from resources.reports import TEARDOWN_LOG
from resources.settings import catalog_file, platform_name, state_dir

T = TypeVar("T")
# Run tag a job carries: the service kinds its assets start (preflight refuses what the platform
# cannot run before anything starts).
SERVICES_TAG = "testbed/services"


class Slot(Generic[T]):
    """A typed place for what an asset made and its checks read in the same run (the in-process
    executor keeps one resource instance per run). Declared beside the asset that fills it."""

    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return f"Slot({self.name})"


class TestbedEnvironment(ConfigurableResource):
    """Deploys the run's releases on one platform and guarantees they are gone afterwards."""

    # Unset means "from the environment when the run starts" (TESTBED_PLATFORM, TESTBED_STATE_DIR),
    # not when the code location was loaded.
    platform: str | None = Field(None, description="local | compose | kubernetes (default: "
                                                   "TESTBED_PLATFORM, else DEPLOY_TARGET, "
                                                   "else local)")
    state_dir: str | None = Field(None, description="environments live in <state_dir>/envs/<id>/ "
                                                    "(default: TESTBED_STATE_DIR)")
    catalog_path: str | None = Field(None, description="the release catalog file (default: "
                                                       "TESTBED_CATALOG, else the package's)")
    keep_on_failure: bool = Field(False, description="leave a failed environment's files for "
                                                     "debugging (the reaper removes them later)")
    ttl_hours: float = Field(4.0, description="after this the reaper may remove the environment")
    storage: str | None = Field(
        None, description="local platform: s3 keeps event logs and tables in an object store of "
                          "the environment's own (the default), local in plain directories "
                          "(default: TESTBED_STORAGE, else s3)")
    parallel_deploy: bool = Field(True, description="deploy the run's releases side by side "
                                                    "(false: one after the other)")
    report_dir: str | None = Field(None, description="write report.json and junit.xml of the run "
                                                     "into this directory when it ends")
    ready_timeout_seconds: float = 60.0
    job_timeout_seconds: float = 300.0
    stop_grace_seconds: float = 10.0

    _platform: Platform | None = PrivateAttr(None)
    _env: Environment | None = PrivateAttr(None)
    _run_id: str = PrivateAttr("adhoc")
    _catalog: Catalog | None = PrivateAttr(None)
    _jobs: dict = PrivateAttr(default_factory=dict)
    _slots: dict = PrivateAttr(default_factory=dict)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def setup_for_execution(self, context: InitResourceContext) -> None:
        services: tuple[str, ...] = ()
        if context.run is not None:
            self._run_id = context.run.run_id
            tag = context.run.tags.get(SERVICES_TAG, "")
            services = tuple(kind for kind in tag.split(",") if kind)
        self._catalog = self._load_catalog()
        self._platform = make_platform(self.platform or platform_name(),
                                       self.state_dir or str(state_dir()),
                                       self.ready_timeout_seconds, self.stop_grace_seconds)
        if self._platform.resolve_storage(self.storage) == "s3":
            services = (*services, "s3")  # its object store: preflight checks it is built
        # Bad input fails here, before any step starts anything.
        self._platform.preflight(list(self._catalog.releases), services)

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        if self._env is not None and not self._env.torn_down:
            report = self._env.teardown()
            if context.log:
                # The typed report, for run reports (the teardown step, which would carry it,
                # did not run).
                context.log.info(TEARDOWN_LOG + report.model_dump_json())
        if self.report_dir and context.instance is not None:
            reports.write(reports.build(context.instance, self._run_id),
                          Path(self.report_dir).expanduser())

    # --- used by assets and checks ---------------------------------------------------------------

    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            self._catalog = self._load_catalog()
        return self._catalog

    def _load_catalog(self) -> Catalog:
        return load_catalog(Path(self.catalog_path).expanduser() if self.catalog_path
                            else catalog_file())

    @property
    def environment(self) -> Environment:
        with self._lock:
            if self._env is None or self._env.torn_down:
                self._env = Environment.create(self._platform, self._run_id,
                                               ttl_seconds=self.ttl_hours * 3600,
                                               keep_on_failure=self.keep_on_failure,
                                               storage=self.storage)
            return self._env

    def deploy(self, spec: ReleaseSpec) -> Deployment:
        return self.environment.deploy(spec)

    def deploy_all(self, specs: list[ReleaseSpec]) -> dict[str, Deployment]:
        return self.environment.deploy_all(specs, parallel=self.parallel_deploy)

    def deployed(self, release: str) -> bool:
        return self._env is not None and release in self._env.deployments

    def facts(self, release: str) -> Facts:
        return self.environment.facts(release)

    def job_results(self, specs: list[ReleaseSpec]) -> dict[str, JobResult]:
        """Each release's acceptance job runs once per run, whichever check asks first; the jobs
        not run yet run side by side (unless parallel_deploy is off)."""
        with self._lock:
            mine = {spec.name: Future() for spec in specs if spec.name not in self._jobs}
            self._jobs.update(mine)
            waiting = {spec.name: self._jobs[spec.name] for spec in specs}
        if mine:
            todo = [spec for spec in specs if spec.name in mine]
            try:
                results = run_acceptance_jobs(self.environment, todo, self.job_timeout_seconds,
                                              self.parallel_deploy)
                for name, result in results.items():
                    mine[name].set_result(result)
            except BaseException as exc:
                for future in mine.values():
                    if not future.done():
                        future.set_exception(exc)
                raise
        return {name: future.result() for name, future in waiting.items()}

    def job_result(self, spec: ReleaseSpec) -> JobResult:
        return self.job_results([spec])[spec.name]

    def remember(self, slot: Slot[T], value: T) -> None:
        """Keep what an asset made for the checks of the same run (in-process executor)."""
        self._slots[slot.name] = value

    def remember_default(self, slot: Slot[T], make) -> T:
        """What the slot holds, made with make() when nothing is there yet (one per run)."""
        with self._lock:
            return self._slots.setdefault(slot.name, make())

    def recall(self, slot: Slot[T]) -> T:
        if slot.name not in self._slots:
            raise LookupError(f"{slot.name} was not materialized in this run: checks read what "
                              f"this run made; materialize it together with its checks")
        return self._slots[slot.name]

    def release_where(self, what: str, predicate) -> ReleaseSpec:
        """The first catalog release that satisfies predicate (e.g. has Delta and a master)."""
        for spec in self.catalog.releases:
            if predicate(spec):
                return spec
        raise ConfigError(f"no release in the catalog {what}; add one to resources/catalog.yaml")

    def mark_failed(self) -> None:
        if self._env is not None:
            self._env.mark_failed()

    def teardown(self) -> TeardownReport | None:
        if self._env is None:
            return None
        return self._env.teardown()
