"""Benchmark: the whole coexistence job (deploy both releases, checks, teardown).

Prints cold and warm wall time, time to ready per component, and peak total RSS of the environment.
Targets on the 2-core box: warm cycle <= 90 s, peak RSS <= 3 GB. Not a test: it prints numbers.

    make bench                      # 1 cold + 3 warm runs
    python benchmarks/coexistence.py --warm 5
"""

import argparse
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path

import psutil

TARGET_WARM_S = 90
TARGET_RSS_GB = 3.0


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


def one_run(state_dir: Path) -> dict:
    from dagster import DagsterInstance

    from pipelines.definitions import defs

    sampler = RssSampler()
    sampler.start()
    started = time.monotonic()
    result = defs.resolve_job_def("coexistence").execute_in_process(
        instance=DagsterInstance.ephemeral(), raise_on_error=False,
        run_config={"resources": {"testbed": {"config": {"state_dir": str(state_dir)}}}})
    wall = time.monotonic() - started
    sampler.stop_flag.set()
    sampler.join()
    components = {}
    for event in result.get_asset_materialization_events():
        mat = event.step_materialization_data.materialization
        if "component_ready_seconds" in mat.metadata:
            release = mat.asset_key.path[0]
            for kind, seconds in mat.metadata["component_ready_seconds"].value.items():
                components[f"{release}/{kind}"] = seconds
    failed = [e.check_name for e in result.get_asset_check_evaluations() if not e.passed]
    return {"wall": wall, "peak_rss": sampler.peak, "components": components,
            "success": result.success and not failed, "failed": failed}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--warm", type=int, default=3, help="warm runs after the cold one")
    args = parser.parse_args()
    state = Path(tempfile.mkdtemp(prefix="testbed-bench-", dir="/var/tmp"))
    state.chmod(0o755)
    try:
        runs = [one_run(state) for _ in range(1 + args.warm)]
    finally:
        shutil.rmtree(state, ignore_errors=True)
    cold, warm = runs[0], runs[1:]
    print(f"coexistence job, {psutil.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB")
    print(f"  cold run (first in this process): {cold['wall']:.1f} s")
    if warm:
        walls = [r["wall"] for r in warm]
        print(f"  warm runs (n={len(warm)}): median {statistics.median(walls):.1f} s, "
              f"min {min(walls):.1f} s, max {max(walls):.1f} s  (target <= {TARGET_WARM_S} s)")
    peaks = [r["peak_rss"] / 2**30 for r in runs]
    print(f"  peak RSS of the environment: median {statistics.median(peaks):.2f} GB, "
          f"max {max(peaks):.2f} GB  (target <= {TARGET_RSS_GB} GB)")
    print("  time to ready per component (median over runs, s):")
    for name in sorted(runs[0]["components"]):
        values = [r["components"][name] for r in runs if name in r["components"]]
        print(f"    {name:28} {statistics.median(values):6.2f}")
    bad = [r["failed"] for r in runs if not r["success"]]
    print(f"  runs passing every check: {len(runs) - len(bad)}/{len(runs)}"
          + (f" (failed: {bad})" if bad else ""))


if __name__ == "__main__":
    main()
