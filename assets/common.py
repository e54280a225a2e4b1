"""Dagster glue shared by every asset family: verdicts to check results, guarded fact gathering,
and the explicit teardown step at the end of a job."""

from collections.abc import Callable

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetObservation,
    MaterializeResult,
    MetadataValue,
    asset,
    asset_check,
)

from resources import progress
from resources.criteria.release_checks import nothing_left
from resources.environment import TestbedEnvironment
from resources.model.verdict import Verdict
from resources.reports import (
    TEARDOWN_METADATA,  # the typed report, as JSON (reports read it)
)


def to_result(verdict: Verdict, testbed: TestbedEnvironment,
              asset_key: AssetKey | None = None, check_name: str | None = None,
              severity: AssetCheckSeverity = AssetCheckSeverity.ERROR,
              context=None) -> AssetCheckResult:
    """The verdict as a check result. With the step's context, its numbers (latencies, seconds)
    are also an observation of the asset, `<check>/<name>`: the UI plots those across runs."""
    if not verdict.evaluated:
        severity = AssetCheckSeverity.WARN
    if not verdict.passed and severity == AssetCheckSeverity.ERROR:
        testbed.mark_failed()
    numbers = {f"{check_name}/{name}": value for name, value in verdict.metadata.items()
               if isinstance(value, (int, float)) and not isinstance(value, bool)}
    if context is not None and asset_key is not None and numbers:
        getattr(context, "op_execution_context", context).log_event(
            AssetObservation(asset_key=asset_key, metadata=numbers))
    result = "PASS" if verdict.passed else ("FAIL" if severity == AssetCheckSeverity.ERROR
                                             else "WARN")
    progress.emit("check", f"{asset_key.to_user_string() if asset_key else ''} {check_name or ''}"
                  .strip(), result, description=verdict.message[:300])
    return AssetCheckResult(
        passed=verdict.passed, asset_key=asset_key, check_name=check_name, severity=severity,
        description=verdict.message,
        metadata={"message": verdict.message,
                  **{k: v if isinstance(v, (int, float)) else str(v)
                     for k, v in verdict.metadata.items()}})


def guarded(testbed: TestbedEnvironment, gather: Callable[[], AssetCheckResult]) -> AssetCheckResult:
    """A check that cannot gather its facts fails the run; keep_on_failure must see that too."""
    try:
        return gather()
    except Exception:
        testbed.mark_failed()
        raise


def verdict_check(asset_key: AssetKey, name: str, description: str,
                  inputs: Callable[[TestbedEnvironment], tuple],
                  additional_deps: tuple[AssetKey, ...] = ()):
    """Decorator: a blocking ERROR asset check whose body, fn(testbed, *inputs(testbed)), returns a
    Verdict. inputs recalls what the run's asset made; a failure to gather marks the run failed."""

    def decorate(fn: Callable[..., Verdict]):
        @asset_check(asset=asset_key, name=name, blocking=True, description=description,
                     additional_deps=list(additional_deps) or None)
        def check(context: AssetCheckExecutionContext,
                  testbed: TestbedEnvironment) -> AssetCheckResult:
            return guarded(testbed, lambda: to_result(fn(testbed, *inputs(testbed)), testbed,
                                                      asset_key=asset_key, check_name=name,
                                                      context=context))

        return check

    return decorate


def teardown_asset(key: AssetKey, deps: list[AssetKey], group: str):
    """The explicit teardown step (teardown layer 1). Blocking checks on `deps` make it wait for
    every check; if one fails it is skipped and the resource layer tears down instead."""

    @asset(key=key, group_name=group, deps=deps,
           description="Tears the run's environment down (the explicit teardown step); "
                       "materialized means no process, port, table or directory of the run is left.",
           check_specs=[AssetCheckSpec("nothing_left", asset=key, blocking=True,
                                       description="No process, listening port, table or "
                                                   "environment dir of the run remains.")])
    def teardown(context: AssetExecutionContext, testbed: TestbedEnvironment):
        report = testbed.teardown()
        if report is None:
            yield MaterializeResult(metadata={"stopped": "nothing was deployed in this run"})
            yield AssetCheckResult(passed=True, check_name="nothing_left",
                                   description="nothing was deployed", metadata={})
            return
        # One line here; every item is in the metadata (and `testbed run` prints them).
        context.log.info(f"teardown of {report.env_id}: {len(report.entries)} items in "
                         f"{report.seconds}s, {len(report.stopped)} stopped, "
                         f"{len(report.leftovers)} left")
        yield MaterializeResult(metadata={
            "environment": report.env_id,
            "stopped": ", ".join(report.stopped) or "nothing (already stopped)",
            "kept_dir": report.kept_dir or "none",
            "seconds": report.seconds,
            TEARDOWN_METADATA: MetadataValue.json(report.model_dump(mode="json"))})
        yield to_result(nothing_left(report), testbed, asset_key=key, check_name="nothing_left",
                        context=context)

    return teardown
