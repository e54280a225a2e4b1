"""Benchmark: the Iceberg REST catalogs under review, side by side in one run (prints numbers; not
a test). Seed 004 US3: health, list namespaces, create table, load table, 100 and 1000 concurrent
connections on loopback (bounded by a deadline), idle and peak RSS, time to ready.

    python benchmarks/iceberg.py [--rounds 500] [--connections 100,1000]
"""

import argparse
import shutil
import tempfile
import threading
import time
from pathlib import Path

from assets.iceberg import CATALOGS, DEPLOY
from resources.iceberg_bench import measure
from resources.platforms.environment import Environment
from resources.platforms.registry import make_platform
from resources.processes import rss_bytes


def peak_rss(pids: list[int], stop: threading.Event, seen: list[float]) -> None:
    while not stop.is_set():
        seen.append(rss_bytes(pids) / 2**20)
        time.sleep(0.1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=500)
    parser.add_argument("--connections", default="100,1000")
    args = parser.parse_args()
    connections = tuple(int(n) for n in args.connections.split(","))
    root = Path(tempfile.mkdtemp(prefix="bench-iceberg-", dir="/var/tmp"))
    root.chmod(0o755)  # PostgreSQL runs as the postgres user and must reach its data dir
    env = Environment.create(make_platform("local", str(root), 90.0, 10.0), "bench-iceberg")
    results: dict[str, dict[str, float]] = {}
    try:
        for name in CATALOGS:
            began = time.perf_counter()
            target, _, _ = DEPLOY[name](env, name)
            ready = time.perf_counter() - began
            pids = [s.process.pid for s in env.services.values()
                    if s.owner == name and s.process is not None and s.process.pid]
            idle = rss_bytes(pids) / 2**20
            stop, seen = threading.Event(), []
            sampler = threading.Thread(target=peak_rss, args=(pids, stop, seen), daemon=True)
            sampler.start()
            figures = measure(target, target.prefix or "", rounds=args.rounds,
                              connections=connections, deadline_s=30.0)
            stop.set()
            sampler.join()
            results[name] = {"ready_s": round(ready, 2), "idle_rss_mb": round(idle, 1),
                             "peak_rss_mb": round(max(seen or [idle]), 1), **figures}
    finally:
        report = env.teardown()
        shutil.rmtree(root, ignore_errors=True)
    rows = list(next(iter(results.values())))
    width = max(len(r) for r in rows)
    print(f"{'measure':{width}}  " + "  ".join(f"{n:>14}" for n in results))
    for row in rows:
        print(f"{row:{width}}  " + "  ".join(f"{results[n].get(row, float('nan')):>14}"
                                             for n in results))
    print(f"teardown: {len(report.entries)} items in {report.seconds}s, "
          f"{len(report.leftovers)} left")


if __name__ == "__main__":
    main()
