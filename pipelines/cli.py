"""`testbed run <job>`, `testbed report <run id>`, `testbed sweep` and `testbed cluster`.

`run` executes a job against the Dagster instance in DAGSTER_HOME, so the run shows up in the UI,
shows progress while it deploys and checks, prints every check with its result and reason, and
exits non-zero when an ERROR check failed or the run failed; `--report-dir` writes report.json and
junit.xml. `report` writes those for any past run. `sweep` is the reaper: it removes environments
whose owner is gone or whose TTL expired. `cluster run -- <command>` runs a command against a
simulated Kubernetes cluster (resources/k8s/simulated).
"""

import argparse
import shutil
import signal
import sys
import textwrap
import threading
from pathlib import Path

from pipelines import home
from resources.model.errors import ConfigError
from resources.model.ledger import TeardownReport
from resources.settings import catalog_file, dagster_home, platform_name, state_dir

SEEDED_OP = "delta__seeded_table"
STREAM_OP = "cdc__stream"


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


def asset_lines(materializations) -> list[str]:
    """One line per asset the run materialized; releases say what was deployed and how fast."""
    from resources.reports import TEARDOWN_METADATA

    lines = []
    for mat in materializations:
        meta = mat.metadata
        if "startup_seconds" in meta:
            what = f"deployed: Spark {meta['version'].value}, ready in {meta['startup_seconds'].value}s"
        elif TEARDOWN_METADATA in meta:
            continue  # reported below, item by item
        elif "readiness_table" in meta:  # the Iceberg review's criterion x catalog table
            table = meta["readiness_table"].value.strip("`\n")
            lines.append(f"  {mat.asset_key.to_user_string():28} written: {meta['json'].value}")
            lines += [f"    {row}" for row in table.splitlines()]
            continue
        elif "path" in meta:  # where it is, and who wrote it (a table's engine)
            what = f"materialized: {meta['path'].value}" + (
                f" (written by {meta['writer'].value})" if "writer" in meta else "")
        else:
            what = "materialized"
        lines.append(f"  {mat.asset_key.to_user_string():28} {what}")
    return lines


def copy_asset_reports(materializations, directory: Path) -> list[Path]:
    """Files an asset wrote as its report (metadata `json` and `junit` paths), copied into the
    run's report dir beside report.json and junit.xml."""
    copied = []
    for mat in materializations:
        for key in ("json", "junit"):
            source = Path(str(getattr(mat.metadata.get(key), "value", "")))
            if key in mat.metadata and source.is_file():
                copied.append(Path(shutil.copy2(source, directory / source.name)))
    return copied


def teardown_lines(materializations) -> list[str]:
    """The typed teardown report of the run's teardown step, one timed line per item."""
    from resources.reports import TEARDOWN_METADATA

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


def definitions(catalog_path: Path):
    """The code location built on this catalog (a catalog of your own is validated here: a bad
    file fails before anything starts, naming the file, the field and the fix)."""
    from pipelines.definitions import build_definitions
    from resources.model.catalog import load_catalog

    catalog = load_catalog(catalog_path)
    return catalog, build_definitions(catalog)


def runnable_jobs(defs=None) -> list[str]:
    from pipelines.sensors import HOUSEKEEPING

    if defs is None:
        from pipelines.definitions import defs
    # Housekeeping jobs take a run id or run on a schedule; `testbed sweep` is the CLI for them.
    return sorted(job.name for job in defs.jobs
                  if not job.name.startswith("__") and job.name not in HOUSEKEEPING)


def preflight(catalog, catalog_path: Path, job, extra: tuple[str, ...] = ()) -> None:
    """What the run's resource checks when it starts, checked here first so that a mistake is
    one clear line (a taken pinned port names the catalog file and the field). extra: service
    kinds the run's config adds (a CDC engine's)."""
    from resources.environment import SERVICES_TAG
    from resources.platforms.registry import make_platform

    services = tuple(kind for kind in job.tags.get(SERVICES_TAG, "").split(",") if kind) + extra
    try:
        platform = make_platform(platform_name(), str(state_dir()), 60, 10)
        if platform.resolve_storage() == "s3":
            services += ("s3",)  # the environment's object store
        platform.preflight(list(catalog.releases), services)
    except ConfigError as exc:
        raise ConfigError(f"{catalog_path}: {exc}") from None


def connect_selection(catalog, job, versions: str) -> list:
    """--versions 3.5.7,4.1.0: the connect_suites job on those Spark versions only."""
    from assets import connect

    if job.name != "connect_suites":
        raise ConfigError(f"--versions applies to connect_suites, not {job.name}")
    wanted = [v.strip() for v in versions.split(",") if v.strip()]
    targets = [catalog.connect_target(v) for v in wanted]  # an unknown one is named
    return [connect.DATASET, connect.TEARDOWN,
            *(connect.suite_key(t, suite) for t in targets for suite in connect.SUITE_ORDER)]


def run(job_name: str, keep_on_failure: bool, seed_config: dict | None = None,
        catalog_path: str | None = None, report_dir: str | None = None,
        stream_config: dict | None = None, versions: str | None = None) -> int:
    from assets.cdc import ENGINE_SERVICES
    from pipelines.jobs import LIGHT_SELECTION
    from pipelines.progress import Progress
    from resources import reports

    path = Path(catalog_path).expanduser().resolve() if catalog_path else catalog_file()
    try:
        catalog, defs = definitions(path)
    except ConfigError as exc:
        print(f"testbed: {exc}", file=sys.stderr)
        return 2
    names = runnable_jobs(defs)
    if job_name not in names:
        print(f"testbed: unknown job {job_name!r}; jobs: {', '.join(names)}", file=sys.stderr)
        return 2
    job = defs.resolve_job_def(job_name)
    run_config: dict = {
        "resources": {"testbed": {"config": {"keep_on_failure": keep_on_failure,
                                             "catalog_path": str(path)}}},
        # Every event stays in the instance (and the UI); the terminal gets progress and errors.
        "loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    for op, config, applies in (
            (SEEDED_OP, seed_config, "--engine/--rows apply to jobs with delta/seeded_table "
                                     "(test_infrastructure)"),
            (STREAM_OP, stream_config, "--cdc-engine applies to jobs with cdc/stream (cdc, "
                                       "test_infrastructure)")):
        if not config:
            continue
        if op not in {node.name for node in job.nodes}:
            print(f"testbed: {applies}, not {job_name}", file=sys.stderr)
            return 2
        run_config.setdefault("ops", {})[op] = {"config": config}
    try:
        preflight(catalog, path, job, ENGINE_SERVICES[stream_config["engine"]]
                  if stream_config else ())
        selection = connect_selection(catalog, job, versions) if versions else None
    except ConfigError as exc:
        print(f"testbed: {exc}", file=sys.stderr)
        return 2
    # Light mode needs no Spark release: leave the release assets out of the run.
    light = (seed_config or {}).get("engine") == "deltars"
    if light:
        selection = LIGHT_SELECTION
    with home.instance() as instance:
        with Progress():
            result = job.execute_in_process(instance=instance, raise_on_error=False,
                                            run_config=run_config,
                                            asset_selection=selection)
        written = reports.write(reports.build(instance, result.run_id), Path(report_dir)) \
            if report_dir else []
    materialized = [e.step_materialization_data.materialization
                    for e in result.get_asset_materialization_events()]
    if report_dir:  # an asset's own report files (the Iceberg readiness table) go there too
        written += copy_asset_reports(materialized, Path(report_dir))
    print("\n".join(["", "ASSETS", *asset_lines(materialized), ""]))
    table, failed = check_table(result.get_asset_check_evaluations())
    print(table)
    teardown = teardown_lines(materialized)
    if teardown:
        print("\n" + "\n".join(teardown))
    failures = [e for e in result.all_events if e.is_step_failure]
    for event in failures:
        error = event.step_failure_data.error
        print(f"\nstep {event.step_key} failed: {error.message.strip() if error else '?'}")
    for path_written in written:
        print(f"\nreport: {path_written}", end="")
    print(f"\nrun {result.run_id} {'succeeded' if result.success else 'FAILED'} "
          f"(DAGSTER_HOME={dagster_home()}; see it with `make ui`)")
    return 0 if result.success and failed == 0 else 1


def report(run_id: str, report_dir: str) -> int:
    from resources import reports

    with home.instance() as instance:
        try:
            written = reports.write(reports.build(instance, run_id), Path(report_dir))
        except LookupError as exc:
            print(f"testbed: {exc}; `testbed report` takes a run id of DAGSTER_HOME="
                  f"{dagster_home()}", file=sys.stderr)
            return 2
    for path in written:
        print(f"report: {path}")
    return 0


def sweep() -> int:
    from resources.platforms.registry import housekeeping_platform

    removed = housekeeping_platform().sweep()
    for line in removed:
        print(f"removed {line}")
    print(f"sweep: {len(removed)} environment(s) removed from {state_dir()}")
    return 0


def _after_dashes(command: list[str]) -> list[str]:
    return command[1:] if command[:1] == ["--"] else command


def cluster(action: str, command: list[str]) -> int:
    from resources.k8s.simulated import build, session

    try:
        if action == "build":
            built = build.ensure_built(
                log=lambda line: print(f"cluster: {line}", file=sys.stderr, flush=True))
            for name, path in built.items():
                print(f"{name}: {path}")
            return 0
        return session.cluster_run(command)
    except ConfigError as exc:
        print(f"testbed: {exc}", file=sys.stderr)
        return 2


def answer_interrupts() -> None:
    """A run started as a background shell job inherits SIGINT ignored, and Dagster gives SIGTERM
    SIGINT's disposition: `kill <pid>` would never reach the run's teardown, and every server it
    starts would inherit SIGTERM ignored. Interrupts raise KeyboardInterrupt again and SIGTERM is
    not ignored (a terminal's Ctrl-C reaches only the foreground job anyway). The test session
    calls this too: what it spawns (dagster dev, testbed runs) inherits the same."""
    if threading.current_thread() is not threading.main_thread():
        return  # only the main thread may set handlers; a caller there has done it
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if signal.getsignal(signal.SIGTERM) == signal.SIG_IGN:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def main(argv: list[str] | None = None) -> int:
    answer_interrupts()
    parser = argparse.ArgumentParser(prog="testbed", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run_parser = sub.add_parser("run", help="run a job and print its check table")
    run_parser.add_argument("job", nargs="?", help="job name (omit to list jobs)")
    run_parser.add_argument("--keep-on-failure", action="store_true",
                            help="leave a failed environment's files for debugging")
    run_parser.add_argument("--engine", choices=["spark", "deltars"],
                            help="Delta writer for delta/seeded_table (default spark)")
    run_parser.add_argument("--rows", type=int, help="seed rows for delta/seeded_table")
    run_parser.add_argument("--cdc-engine", choices=["binlog", "debezium", "debezium-kafka"],
                            help="what reads the CDC source for cdc/stream (default binlog)")
    run_parser.add_argument("--catalog", metavar="FILE",
                            help="a release catalog of your own (default: TESTBED_CATALOG, else "
                                 "the package's resources/catalog.yaml)")
    run_parser.add_argument("--report-dir", metavar="DIR",
                            help="write report.json and junit.xml of the run into DIR")
    run_parser.add_argument("--versions", metavar="X.Y.Z,...",
                            help="connect_suites: only these Spark versions of the catalog's "
                                 "connect list (default: all)")
    report_parser = sub.add_parser("report", help="write report.json and junit.xml of a past run")
    report_parser.add_argument("run_id", help="the run's id (testbed run prints it; the UI shows it)")
    report_parser.add_argument("--report-dir", metavar="DIR", default=".",
                               help="where to write them (default: here)")
    sub.add_parser("sweep", help="remove abandoned or expired environments")
    cluster_parser = sub.add_parser(
        "cluster", help="a simulated Kubernetes cluster (real control plane, kwok nodes) on "
                        "loopback, for one command")
    cluster_sub = cluster_parser.add_subparsers(dest="action", required=True)
    cluster_sub.add_parser("build", help="build the control plane from the Go module proxy "
                                         "(once; cached by version)")
    cluster_run = cluster_sub.add_parser(
        "run", help="start the cluster in a loopback-only network namespace, run COMMAND there "
                    "with KUBECONFIG set, stop it")
    cluster_run.add_argument("cluster_command", nargs=argparse.REMAINDER, metavar="-- COMMAND")
    args = parser.parse_args(argv)
    if args.command == "cluster":
        return cluster(args.action, _after_dashes(getattr(args, "cluster_command", [])))
    if args.command == "sweep":
        return sweep()
    if args.command == "report":
        return report(args.run_id, args.report_dir)
    if not args.job:
        try:
            print("\n".join(runnable_jobs(definitions(
                Path(args.catalog).expanduser().resolve() if args.catalog else catalog_file())[1])))
        except ConfigError as exc:
            print(f"testbed: {exc}", file=sys.stderr)
            return 2
        return 0
    seed_config = {k: v for k, v in (("engine", args.engine), ("rows", args.rows)) if v is not None}
    stream_config = {"engine": args.cdc_engine} if args.cdc_engine else None
    return run(args.job, args.keep_on_failure, seed_config, args.catalog, args.report_dir,
               stream_config, args.versions)


if __name__ == "__main__":
    sys.exit(main())
