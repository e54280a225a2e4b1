"""Benchmark: the whole coexistence job (deploy both releases, their jobs, the checks, teardown),
releases side by side (the default) against one after the other, measured in one run.

Runs are interleaved (side by side, one after the other, side by side, ...) so that whatever else
the machine does hits both orders alike. Prints per order the wall time of the job, its steps
(deploy, jobs and checks, teardown), when both releases were ready against each release alone (in
the one-after-the-other runs each deploys alone), and the peak RSS of the environment. Targets on the
2-core box: warm cycle <= 25 s, peak RSS <= 3 GB. Not a test: it prints numbers.

    make bench                              # 1 cold + 3 warm runs of each order
    python benchmarks/coexistence.py --warm 5
    python benchmarks/coexistence.py --orders parallel
"""

import argparse
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path

import psutil

TARGET_WARM_S = 25
TARGET_RSS_GB = 3.0
ORDERS = {"parallel": True, "sequential": False}


class RssSampler(threading.Thread):
    """Peak of the summed RSS of every descendant of this process (the environment's servers)."""

    def __init__(self, interval: float = 0.5):
        super().__init__(daemon=True)
        self.interval, self.peak, self.stop_flag = interval, 0, threading.Event()

    def run(self) -> None:
        me = psutil.Process()
        while not self.stop_flag.is_set():
            total = 0
            for child in me.children(recursive=True):
                try:
                    total += child.memory_info().rss
                except psutil.NoSuchProcess:
                    pass
            self.peak = max(self.peak, total)
            time.sleep(self.interval)


def step_seconds(records) -> dict[str, float]:
    """Wall seconds of each step of the run, from its event log."""
    started, took = {}, {}
    for record in records:
        event = record.dagster_event
        if event is None or event.step_key is None:
            continue
        if event.event_type_value == "STEP_START":
            started[event.step_key] = record.timestamp
        elif event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE"):
            took[event.step_key] = record.timestamp - started.get(event.step_key, record.timestamp)
    return took


def one_run(state_dir: Path, parallel: bool, storage: str | None = None,
            platform: str | None = None) -> dict:
    from dagster import DagsterInstance

    from pipelines.definitions import defs

    sampler = RssSampler()
    sampler.start()
    started = time.monotonic()
    # A context manager: the instance's SQLite connections close here, in this thread.
    with DagsterInstance.ephemeral() as instance:
        result = defs.resolve_job_def("coexistence").execute_in_process(
            instance=instance, raise_on_error=False,
            run_config={"resources": {"testbed": {"config": {
                "state_dir": str(state_dir), "parallel_deploy": parallel,
                **({"storage": storage} if storage else {}),
                **({"platform": platform} if platform else {})}}}})
        wall = time.monotonic() - started
        steps = step_seconds(instance.all_logs(result.run_id))
    sampler.stop_flag.set()
    sampler.join()
    components, ready = {}, {}
    for event in result.get_asset_materialization_events():
        mat = event.step_materialization_data.materialization
        if "component_ready_seconds" in mat.metadata:
            release = mat.asset_key.path[0]
            ready[release] = mat.metadata["startup_seconds"].value
            for kind, seconds in mat.metadata["component_ready_seconds"].value.items():
                components[f"{release}/{kind}"] = seconds
    # A warning ("not evaluated", e.g. object_store_ready with storage local) is no failure.
    failed = [e.check_name for e in result.get_asset_check_evaluations()
              if not e.passed and e.severity.value == "ERROR"]
    return {"wall": wall, "peak_rss": sampler.peak, "components": components, "ready": ready,
            "deploy": steps.get("releases", 0.0),
            # The release jobs run inside whichever check asks first: count all checks together.
            "checks": sum(seconds for key, seconds in steps.items()
                          if key not in ("releases", "coexistence__teardown")),
            "teardown": steps.get("coexistence__teardown", 0.0),
            "success": result.success and not failed, "failed": failed}


def median(values: list[float]) -> str:
    return f"{statistics.median(values):5.1f} s" if values else "  n/a"


def report(order: str, runs: list[dict]) -> None:
    warm = runs[1:] if len(runs) > 1 else runs
    walls = [r["wall"] for r in warm]
    print(f"\n{order} ({'releases side by side' if ORDERS[order] else 'one after the other'}):")
    print(f"  cold run: {runs[0]['wall']:.1f} s" + ("  (the first run of this process)"
                                                    if runs[0].get("cold") else ""))
    print(f"  warm runs (n={len(warm)}): median {statistics.median(walls):.1f} s, "
          f"min {min(walls):.1f} s, max {max(walls):.1f} s  (target <= {TARGET_WARM_S} s)")
    print(f"  steps (median): deploy {median([r['deploy'] for r in warm])}, the releases' jobs "
          f"and all checks {median([r['checks'] for r in warm])}, teardown "
          f"{median([r['teardown'] for r in warm])}")
    releases = sorted({name for r in warm for name in r["ready"]})
    for name in releases:
        print(f"  {name} ready after {median([r['ready'][name] for r in warm if name in r['ready']])}"
              f" from the start of its own deploy")
    peaks = [r["peak_rss"] / 2**30 for r in runs]
    print(f"  peak RSS of the environment: median {statistics.median(peaks):.2f} GB, "
          f"max {max(peaks):.2f} GB  (target <= {TARGET_RSS_GB} GB)")
    bad = [r["failed"] for r in runs if not r["success"]]
    print(f"  runs passing every check: {len(runs) - len(bad)}/{len(runs)}"
          + (f" (failed: {bad})" if bad else ""))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--warm", type=int, default=3, help="warm runs of each order")
    parser.add_argument("--orders", nargs="+", choices=list(ORDERS), default=list(ORDERS))
    args = parser.parse_args()
    state = Path(tempfile.mkdtemp(prefix="testbed-bench-", dir="/var/tmp"))
    state.chmod(0o755)
    runs: dict[str, list[dict]] = {order: [] for order in args.orders}
    try:
        for index in range(1 + args.warm):
            for order in args.orders:
                run = one_run(state, ORDERS[order])
                run["cold"] = index == 0 and order == args.orders[0]
                runs[order].append(run)
    finally:
        shutil.rmtree(state, ignore_errors=True)
    print(f"\ncoexistence job, {psutil.cpu_count()} cores, "
          f"{psutil.virtual_memory().total / 2**30:.0f} GiB")
    for order in args.orders:
        report(order, runs[order])
    if {"parallel", "sequential"} <= set(runs):
        both = statistics.median([max(r["ready"].values()) for r in runs["parallel"][1:] or
                                  runs["parallel"]])
        alone = {name: statistics.median([r["ready"][name] for r in runs["sequential"][1:] or
                                          runs["sequential"]])
                 for name in runs["sequential"][0]["ready"]}
        slower = max(alone, key=alone.get)
        print(f"\nboth releases ready side by side after {both:.1f} s; alone: "
              + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in alone.items())
              + f" (the slower, {slower}, is {alone[slower]:.1f} s; one after the other "
                f"{sum(alone.values()):.1f} s)")
    print("\ntime to ready per component (median over all runs, s):")
    names = sorted({name for order in runs.values() for r in order for name in r["components"]})
    for name in names:
        values = [r["components"][name] for order in runs.values() for r in order
                  if name in r["components"]]
        print(f"    {name:28} {statistics.median(values):6.2f}")


if __name__ == "__main__":
    main()
