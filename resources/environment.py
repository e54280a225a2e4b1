"""The Dagster resource that owns a run's test environment.

Jobs use the in-process executor, so one instance serves every step of a run: releases deployed by
one step are seen by the checks of the next, each release's job runs once (whichever check asks
first), and `teardown_after_execution` tears down whatever is still up when the run ends, also after
a failed check or an exception (teardown layer 2 of DESIGN.md).
"""

import threading

from dagster import ConfigurableResource, InitResourceContext
from pydantic import Field, PrivateAttr

from resources.platforms.base import (
    Catalog,
    ConfigError,
    Deployment,
    Environment,
    Facts,
    JobResult,
    Platform,
    ReleaseSpec,
    TeardownReport,
    load_catalog,
)
from resources.settings import platform_name, state_dir


def make_platform(name: str, state: str, ready_timeout: float, grace: float) -> Platform:
    if name == "local":
        from resources.platforms.local import LocalPlatform

        return LocalPlatform(state, grace_seconds=grace, ready_timeout=ready_timeout)
    if name == "kubernetes":
        from resources.platforms.kubernetes import KubernetesPlatform

        return KubernetesPlatform.for_run(state, ready_timeout, grace)
    raise ConfigError(f"platform {name!r} is not available here (known: local, kubernetes); "
                      f"set TESTBED_PLATFORM=local or the resource's `platform` field")


def housekeeping_platform(platform: str | None = None, state: str | None = None) -> Platform:
    """The platform for teardown and sweeps: no preflight, so cleanup works even where a deploy
    would not (a missing Spark install must not keep environments alive)."""
    return make_platform(platform or platform_name(), state or str(state_dir()), 60, 10)


def probe_table(spec: ReleaseSpec) -> str:
    return f"testbed_probe_{spec.key}"


def run_acceptance_job(env: Environment, spec: ReleaseSpec, timeout: float = 300.0) -> JobResult:
    """The release's own end-to-end job: SparkPi via spark-submit to a master, or a Connect probe.
    Both leave a probe table in the release's metastore and an application in its event log."""
    deployment = env.deployments[spec.name]
    if "master" in spec.components:
        return env.platform.submit(env, deployment, "sparkpi", ["10", probe_table(spec)], timeout)
    return env.platform.connect_job(env, deployment, probe_table(spec), timeout)


class TestbedEnvironment(ConfigurableResource):
    """Deploys the run's releases on one platform and guarantees they are gone afterwards."""

    # Unset means "from the environment when the run starts" (TESTBED_PLATFORM, TESTBED_STATE_DIR),
    # not when the code location was loaded.
    platform: str | None = Field(None, description="local | kubernetes (default: TESTBED_PLATFORM, "
                                                   "else DEPLOY_TARGET, else local)")
    state_dir: str | None = Field(None, description="environments live in <state_dir>/envs/<id>/ "
                                                    "(default: TESTBED_STATE_DIR)")
    keep_on_failure: bool = Field(False, description="leave a failed environment's files for "
                                                     "debugging (the reaper removes them later)")
    ttl_hours: float = Field(4.0, description="after this the reaper may remove the environment")
    ready_timeout_seconds: float = 60.0
    job_timeout_seconds: float = 300.0
    stop_grace_seconds: float = 10.0

    _platform: Platform | None = PrivateAttr(None)
    _env: Environment | None = PrivateAttr(None)
    _run_id: str = PrivateAttr("adhoc")
    _catalog: Catalog | None = PrivateAttr(None)
    _jobs: dict = PrivateAttr(default_factory=dict)
    _artifacts: dict = PrivateAttr(default_factory=dict)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def setup_for_execution(self, context: InitResourceContext) -> None:
        if context.run is not None:
            self._run_id = context.run.run_id
        self._catalog = load_catalog()
        self._platform = make_platform(self.platform or platform_name(),
                                       self.state_dir or str(state_dir()),
                                       self.ready_timeout_seconds, self.stop_grace_seconds)
        # Bad input fails here, before any step starts anything.
        self._platform.preflight(list(self._catalog.releases))

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        if self._env is not None and not self._env.torn_down:
            report = self._env.teardown()
            if context.log:
                context.log.info(f"resource teardown of {report.env_id}: stopped "
                                 f"{report.stopped}, leftovers {report.leftovers}")

    # --- used by assets and checks ---------------------------------------------------------------

    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            self._catalog = load_catalog()
        return self._catalog

    @property
    def environment(self) -> Environment:
        with self._lock:
            if self._env is None or self._env.torn_down:
                self._env = Environment.create(self._platform, self._run_id,
                                               ttl_seconds=self.ttl_hours * 3600,
                                               keep_on_failure=self.keep_on_failure)
            return self._env

    def deploy(self, spec: ReleaseSpec) -> Deployment:
        return self.environment.deploy(spec)

    def deployed(self, release: str) -> bool:
        return self._env is not None and release in self._env.deployments

    def facts(self, release: str) -> Facts:
        return self.environment.facts(release)

    def job_result(self, spec: ReleaseSpec) -> JobResult:
        """Each release's acceptance job runs once per run, whichever check asks first."""
        with self._lock:
            if spec.name in self._jobs:
                return self._jobs[spec.name]
        result = run_acceptance_job(self.environment, spec, self.job_timeout_seconds)
        with self._lock:
            self._jobs[spec.name] = result
        return result

    def remember(self, key: str, value) -> None:
        """Keep what an asset made for the checks of the same run (in-process executor)."""
        self._artifacts[key] = value

    def recall(self, key: str):
        if key not in self._artifacts:
            raise LookupError(f"{key} was not materialized in this run: checks read what this "
                              f"run made; materialize it together with its checks")
        return self._artifacts[key]

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
