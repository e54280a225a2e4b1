"""Benchmark: the CDC stream against a real MariaDB (prints numbers; not a test).

Capture latency (commit -> change applied to the Delta mirror) p50/p95 over single-row transactions,
the 150-row bulk, and throughput for 10k and 100k-row workloads (inserts, updates, mixed): how fast
the reader decodes the binlog and how fast the writer lands bronze + mirror.
Targets: 150-row bulk visible <= 1 s; >= 20k changes/s through the reader; the mirror keeps up.

    python benchmarks/cdc.py [--sizes 10000 100000]
"""

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from assets.cdc import _execute, _insert
from resources import cdc
from resources.services.mariadb import MariaDBServer


def wait(stream, target: int, timeout: float = 600) -> float:
    assert stream.wait_for(lambda: stream.stats["changes_written"] >= target, timeout), stream.errors
    return time.perf_counter()


def workload(server, stream, kind: str, rows: int, base: int) -> dict:
    """Returns end-to-end and reader rates for one workload."""
    start_written, start_read = stream.stats["changes_written"], stream.stats["changes_read"]
    began = time.perf_counter()
    read_done = None
    chunk = 1000
    if kind == "inserts":
        for first in range(base, base + rows, chunk):
            _execute(server, [_insert(range(first, min(first + chunk, base + rows)))])
        changes = rows
    elif kind == "updates":
        changes = _execute(server, [("UPDATE products SET stock = stock + 1 WHERE id >= %s AND id < %s",
                                     (base, base + rows))])
    else:  # mixed: a third each of inserts, updates, deletes, in 1000-row transactions
        third = rows // 3
        changes = 0
        for first in range(base + rows, base + rows + third, chunk):
            changes += _execute(server, [_insert(range(first, min(first + chunk, base + rows + third)))])
        changes += _execute(server, [("UPDATE products SET price = price + 1 WHERE id >= %s AND id < %s",
                                      (base, base + third))])
        changes += _execute(server, [("DELETE FROM products WHERE id >= %s AND id < %s",
                                      (base + third, base + 2 * third))])
    committed = time.perf_counter()
    while stream.stats["changes_read"] < start_read + changes:
        time.sleep(0.001)
    read_done = time.perf_counter()
    done = wait(stream, start_written + changes)
    return {"kind": kind, "changes": changes, "commit_s": committed - began,
            "reader_rate": changes / (read_done - began), "end_to_end_rate": changes / (done - began),
            "lag_after_commit_s": done - committed}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", nargs="+", type=int, default=[10_000, 100_000])
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="tb-cdc-", dir="/var/tmp"))
    root.chmod(0o755)
    server = MariaDBServer(root / "mariadb")
    process = server.start()
    stream = None
    try:
        _execute(server, [(cdc.PRODUCTS_DDL, ())])
        cdc.create_tables(str(root / "bronze"), str(root / "mirror"))
        stream = cdc.CdcStream(server.cdc, str(root / "bronze"), str(root / "mirror"),
                               root / "checkpoint.json")
        stream.start()
        latencies = []
        for i in range(60):
            target = stream.stats["changes_written"] + 1
            began = time.perf_counter()
            _execute(server, [_insert([10_000_000 + i])])
            latencies.append(wait(stream, target) - began)
        latencies.sort()
        print(f"commit -> mirror latency, 60 single-row transactions: p50 "
              f"{statistics.median(latencies) * 1000:.1f} ms, p95 "
              f"{latencies[int(len(latencies) * 0.95)] * 1000:.1f} ms")
        target = stream.stats["changes_written"] + 150
        began = time.perf_counter()
        _execute(server, [_insert(range(20_000_000, 20_000_150))])
        print(f"150-row bulk visible in the mirror after {(wait(stream, target) - began) * 1000:.0f} ms "
              f"(target <= 1000 ms)")
        base = 0
        for rows in args.sizes:
            for kind in ("inserts", "updates", "mixed"):
                r = workload(server, stream, kind, rows, base)
                print(f"{rows:>7,} rows {kind:7}: {r['changes']:>7,} changes, reader "
                      f"{r['reader_rate']:8,.0f}/s, bronze+mirror {r['end_to_end_rate']:8,.0f}/s, "
                      f"lag after last commit {r['lag_after_commit_s']:.2f} s "
                      f"(commits took {r['commit_s']:.2f} s)", flush=True)
            base += 10 * rows
        print(f"flushes: {stream.stats['flushes']} for {stream.stats['changes_written']:,} changes")
    finally:
        if stream:
            stream.stop()
        process.stop(10)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
