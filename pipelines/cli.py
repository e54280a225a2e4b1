"""`testbed run <job> [--keep-on-failure]` and `testbed sweep`.

`run` executes a job against the Dagster instance in DAGSTER_HOME, so the run shows up in the UI,
prints every check with its result and reason, and exits non-zero when an ERROR check failed or the
run failed. `sweep` is the reaper: it removes environments whose owner is gone or whose TTL expired.
"""

import argparse
import os
import sys
import textwrap

from resources.model.ledger import TeardownReport
from resources.settings import dagster_home, state_dir


def _instance():
    """The instance in DAGSTER_HOME (the one `make ui` shows). Use it as a context manager: its
    SQLite connections are closed in this thread, not finalized later in whichever thread the
    garbage collector happens to run."""
    from dagster import DagsterInstance

    home = dagster_home()
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").touch()  # the defaults (sqlite under DAGSTER_HOME) are what we want
    os.environ["DAGSTER_HOME"] = str(home)
    return DagsterInstance.get()


def asset_lines(materializations) -> list[str]:
    """One line per asset the run materialized; releases say what was deployed and how fast."""
    from assets.common import TEARDOWN_METADATA

    lines = []
    for mat in materializations:
        meta = mat.metadata
        if "startup_seconds" in meta:
            what = f"deployed: Spark {meta['version'].value}, ready in {meta['startup_seconds'].value}s"
        elif TEARDOWN_METADATA in meta:
            continue  # reported below, item by item
        else:
            what = "materialized"
        lines.append(f"  {mat.asset_key.to_user_string():28} {what}")
    return lines


def teardown_lines(materializations) -> list[str]:
    """The typed teardown report of the run's teardown step, one timed line per item."""
    from assets.common import TEARDOWN_METADATA

    lines = []
    for mat in materializations:
        if TEARDOWN_METADATA in mat.metadata:
            report = TeardownReport.model_validate(mat.metadata[TEARDOWN_METADATA].value)
            lines.append(f"teardown of {report.env_id}: {len(report.entries)} items in "
                         f"{report.seconds}s" + (f", kept {report.kept_dir}" if report.kept_dir
                                                 else ""))
            lines += [f"  {line}" for line in report.lines()]
            lines += [f"  LEFT  {left}" for left in report.leftovers]
    return lines


def check_table(evaluations) -> tuple[str, int]:
    """Rendered table and the number of failed ERROR checks."""
    rows = []
    failed_errors = 0
    for ev in sorted(evaluations, key=lambda e: (e.asset_key.to_user_string(), e.check_name)):
        severity = ev.severity.value
        if not ev.passed and severity == "ERROR":
            failed_errors += 1
        status = "PASS" if ev.passed else ("FAIL" if severity == "ERROR" else "WARN")
        reason = ev.description or ""
        rows.append((status, ev.asset_key.to_user_string(), ev.check_name, reason))
    width_asset = max([len(r[1]) for r in rows] + [5])
    width_check = max([len(r[2]) for r in rows] + [5])
    lines = [f"{'RESULT':6}  {'ASSET':{width_asset}}  {'CHECK':{width_check}}  REASON"]
    for status, asset_key, check, reason in rows:
        wrapped = textwrap.wrap(reason, 100) or [""]
        lines.append(f"{status:6}  {asset_key:{width_asset}}  {check:{width_check}}  {wrapped[0]}")
        pad = " " * (12 + width_asset + width_check)
        lines += [pad + more for more in wrapped[1:4]]
    return "\n".join(lines), failed_errors


SEEDED_OP = "delta__seeded_table"


def runnable_jobs() -> list[str]:
    from pipelines.definitions import defs
    from pipelines.sensors import HOUSEKEEPING

    # Housekeeping jobs take a run id or run on a schedule; `testbed sweep` is the CLI for them.
    return sorted(job.name for job in defs.jobs
                  if not job.name.startswith("__") and job.name not in HOUSEKEEPING)


def run(job_name: str, keep_on_failure: bool, seed_config: dict | None = None) -> int:
    from pipelines.definitions import defs
    from pipelines.jobs import LIGHT_SELECTION

    names = runnable_jobs()
    if job_name not in names:
        print(f"testbed: unknown job {job_name!r}; jobs: {', '.join(names)}", file=sys.stderr)
        return 2
    job = defs.resolve_job_def(job_name)
    run_config: dict = {
        "resources": {"testbed": {"config": {"keep_on_failure": keep_on_failure}}},
        # Step-level DEBUG events stay in the instance (and the UI); the terminal gets progress.
        "loggers": {"console": {"config": {"log_level": "INFO"}}}}
    if seed_config:
        if SEEDED_OP not in {node.name for node in job.nodes}:
            print(f"testbed: --engine/--rows apply to jobs with delta/seeded_table "
                  f"(test_infrastructure), not {job_name}", file=sys.stderr)
            return 2
        run_config["ops"] = {SEEDED_OP: {"config": seed_config}}
    # Light mode needs no Spark release: leave the release assets out of the run.
    light = (seed_config or {}).get("engine") == "deltars"
    with _instance() as instance:
        result = job.execute_in_process(instance=instance, raise_on_error=False,
                                        run_config=run_config,
                                        asset_selection=LIGHT_SELECTION if light else None)
    materialized = [e.step_materialization_data.materialization
                    for e in result.get_asset_materialization_events()]
    print("\n".join(["ASSETS", *asset_lines(materialized), ""]))
    table, failed = check_table(result.get_asset_check_evaluations())
    print(table)
    teardown = teardown_lines(materialized)
    if teardown:
        print("\n" + "\n".join(teardown))
    failures = [e for e in result.all_events if e.is_step_failure]
    for event in failures:
        error = event.step_failure_data.error
        print(f"\nstep {event.step_key} failed: {error.message.strip() if error else '?'}")
    print(f"\nrun {result.run_id} {'succeeded' if result.success else 'FAILED'} "
          f"(DAGSTER_HOME={dagster_home()}; see it with `make ui`)")
    return 0 if result.success and failed == 0 else 1


def sweep() -> int:
    from resources.platforms.registry import housekeeping_platform

    removed = housekeeping_platform().sweep()
    for line in removed:
        print(f"removed {line}")
    print(f"sweep: {len(removed)} environment(s) removed from {state_dir()}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="testbed", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run_parser = sub.add_parser("run", help="run a job and print its check table")
    run_parser.add_argument("job", nargs="?", help="job name (omit to list jobs)")
    run_parser.add_argument("--keep-on-failure", action="store_true",
                            help="leave a failed environment's files for debugging")
    run_parser.add_argument("--engine", choices=["spark", "deltars"],
                            help="Delta writer for delta/seeded_table (default spark)")
    run_parser.add_argument("--rows", type=int, help="seed rows for delta/seeded_table")
    sub.add_parser("sweep", help="remove abandoned or expired environments")
    args = parser.parse_args(argv)
    if args.command == "sweep":
        return sweep()
    if not args.job:
        print("\n".join(runnable_jobs()))
        return 0
    seed_config = {k: v for k, v in (("engine", args.engine), ("rows", args.rows)) if v is not None}
    return run(args.job, args.keep_on_failure, seed_config)


if __name__ == "__main__":
    sys.exit(main())
