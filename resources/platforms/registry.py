"""Which platform runs environments: local processes (the default), a compose project on a Docker
engine, or a Kubernetes cluster."""

from resources.model.errors import ConfigError
from resources.settings import platform_name, state_dir


def make_platform(name: str, state: str, ready_timeout: float, grace: float):
    if name == "local":
        from resources.platforms.local import LocalPlatform

        return LocalPlatform(state, grace_seconds=grace, ready_timeout=ready_timeout)
    if name == "compose":
        from resources.platforms.compose import ComposePlatform

        return ComposePlatform(state, grace_seconds=grace, ready_timeout=max(ready_timeout, 300))
    if name == "kubernetes":
        from resources.platforms.kubernetes import KubernetesPlatform

        return KubernetesPlatform.for_run(state, ready_timeout, grace)
    raise ConfigError(f"platform {name!r} is not available here (known: local, compose, kubernetes); "
                      f"set TESTBED_PLATFORM=local or the resource's `platform` field")


def housekeeping_platform(platform: str | None = None, state: str | None = None):
    """The platform for teardown and sweeps: no preflight, so cleanup works even where a deploy
    would not (a missing Spark install must not keep environments alive)."""
    return make_platform(platform or platform_name(), state or str(state_dir()), 60, 10)
