"""Benchmark: seed + change script + all checks (the test_infrastructure job) per engine and size.

Prints, for the Spark engine (Spark 3.5 + Delta 3.3 writes, delta-rs and Spark 4.1 verify; both
releases deploy side by side as assets of the job) and the deltars engine (delta-rs alone), at 1k,
100k and 1M rows: wall time and peak RSS per step, and the seed write time. Targets: a < 1000-row write through Spark <= 5 s (seed NFR-002), through delta-rs
<= 0.1 s warm; all checks on 1M rows <= 30 s. Not a test: it prints numbers.

    python benchmarks/delta.py                     # everything (~10 min here)
    python benchmarks/delta.py --engines deltars --sizes 1000 100000
"""

import argparse
import shutil
import tempfile
import threading
import time
from pathlib import Path

import psutil
from dagster import DagsterEventType, DagsterInstance

TARGET_SPARK_WRITE_S, TARGET_DELTARS_WRITE_S, TARGET_CHECKS_1M_S = 5.0, 0.1, 30.0


class RssSeries(threading.Thread):
    """(time, RSS of this process + all descendants) every 0.2 s."""

    def __init__(self):
        super().__init__(daemon=True)
        self.samples: list[tuple[float, int]] = []
        self.done = threading.Event()

    def run(self) -> None:
        me = psutil.Process()
        while not self.done.is_set():
            total = me.memory_info().rss
            for child in me.children(recursive=True):
                try:
                    total += child.memory_info().rss
                except psutil.NoSuchProcess:
                    pass
            self.samples.append((time.time(), total))
            time.sleep(0.2)

    def peak(self, start: float, end: float) -> int:
        # Widened by one sample interval: a step shorter than that still gets its reading.
        return max((rss for t, rss in self.samples if start - 0.25 <= t <= end + 0.25), default=0)


def one_run(engine: str, rows: int, state: Path) -> dict:
    from pipelines.definitions import defs
    from pipelines.jobs import LIGHT_SELECTION

    series = RssSeries()
    series.start()
    started = time.time()
    # Disposed at the end of the block: left to the garbage collector, its SQLite connections
    # would be finalized in the sampler's thread (sqlite3.ProgrammingError tracebacks).
    with DagsterInstance.ephemeral() as instance:
        result = defs.resolve_job_def("test_infrastructure").execute_in_process(
            instance=instance, raise_on_error=False,
            # Light mode needs no Spark release (testbed run --engine deltars does the same).
            asset_selection=LIGHT_SELECTION if engine == "deltars" else None,
            run_config={"resources": {"testbed": {"config": {"state_dir": str(state)}}},
                        "ops": {"delta__seeded_table": {"config": {"engine": engine,
                                                                   "rows": rows}}}})
        wall = time.time() - started
        series.done.set()
        series.join()
        records = instance.all_logs(result.run_id)
    steps: dict[str, dict] = {}
    for record in records:
        event = record.dagster_event
        if event is None or event.step_key is None:
            continue
        if event.event_type == DagsterEventType.STEP_START:
            steps[event.step_key] = {"start": record.timestamp}
        elif event.event_type in (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE):
            steps[event.step_key]["end"] = record.timestamp
    for step in steps.values():
        step["seconds"] = step.get("end", step["start"]) - step["start"]
        step["peak_gb"] = series.peak(step["start"], step.get("end", time.time())) / 2**30
    write, ops, warmup = None, [], None
    for event in result.get_asset_materialization_events():
        metadata = event.step_materialization_data.materialization.metadata
        if "timings" in metadata:
            ops = metadata["timings"].value
            write = ops[0]["seconds"]  # the seed write (version 0): the first write of the session
            warmup = metadata["executor_warmup_seconds"].value
    failed = [e.check_name for e in result.get_asset_check_evaluations()
              if not e.passed and e.severity.value == "ERROR"]
    return {"engine": engine, "rows": rows, "wall": wall, "steps": steps, "seed_write": write,
            "ops": ops, "warmup": warmup,
            "failed": failed, "success": result.success}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--engines", nargs="+", default=["deltars", "spark"])
    parser.add_argument("--sizes", nargs="+", type=int, default=[1000, 100_000, 1_000_000])
    args = parser.parse_args()
    state = Path(tempfile.mkdtemp(prefix="testbed-bench-", dir="/var/tmp"))
    state.chmod(0o755)
    results = []
    try:
        if "deltars" in args.engines:
            one_run("deltars", 1000, state)  # warm-up: the first delta-rs write in a process ~0.4 s
        for engine in args.engines:
            for rows in args.sizes:
                results.append(one_run(engine, rows, state))
                r = results[-1]
                print(f"{engine:8} {rows:>9,} rows: {r['wall']:6.1f} s"
                      f"{'' if r['success'] else '  FAILED ' + str(r['failed'])}", flush=True)
    finally:
        shutil.rmtree(state, ignore_errors=True)
    print("\nper step: seconds (peak RSS of orchestrator + environment, GB)")
    for r in results:
        print(f"  {r['engine']} {r['rows']:,} rows, seed write {r['seed_write']} s, executor "
              f"warm-up {r['warmup']} s; operations: "
              + ", ".join(f"v{op['version']} {op['op'].split()[0]} {op['seconds']} s" for op in r["ops"]))
        for key, step in sorted(r["steps"].items(), key=lambda kv: kv[1]["start"]):
            print(f"    {key:52} {step['seconds']:7.2f} s  ({step['peak_gb']:.2f} GB)")
    print("\ntargets:")
    for r in results:
        checks = sum(s["seconds"] for k, s in r["steps"].items() if k.startswith("delta__seeded_table_"))
        if r["rows"] == 1000:
            target = TARGET_SPARK_WRITE_S if r["engine"] == "spark" else TARGET_DELTARS_WRITE_S
            print(f"  {r['engine']} 1000-row seed write (first write of the session): "
                  f"{r['seed_write']} s, later append of 100 rows {r['ops'][-1]['seconds']} s "
                  f"(target <= {target} s)")
        if r["rows"] == 1_000_000:
            print(f"  {r['engine']} all checks on 1M rows: {checks:.1f} s "
                  f"(target <= {TARGET_CHECKS_1M_S} s)")


if __name__ == "__main__":
    main()
