"""Benchmark: the CDC engines side by side on real MariaDB sources, one run (prints numbers; not
a test).

For each engine (a fresh source each, the same workloads in the same order): commit -> mirror
latency p50/p95 over 60 single-row transactions, the 150-row bulk, mixed transactions, then 10k and
100k-row inserts and updates: how fast the engine delivers changes (reader rate), how fast bronze +
mirror land (end to end; the writer is shared), the lag after the last commit, the engine's RSS and
CPU, and whether the mirror equals the source at the end.
Targets: 150-row bulk visible <= 1 s; binlog reader >= 20k changes/s; Debezium embedded p50 <= 50 ms
and >= 8k changes/s; every engine's mirror equal to the source.

    python benchmarks/cdc.py [--engines binlog debezium debezium-kafka] [--sizes 10000 100000]
"""

import argparse
import os
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path

import psutil

from assets.cdc import _execute, _insert, _mirror_rows, _source_rows
from resources import cdc
from resources.services.kafka import KafkaBroker
from resources.services.mariadb import MariaDBServer


def wait(stream, target: int, timeout: float = 900) -> float:
    assert stream.wait_for(lambda: stream.stats["changes_written"] >= target, timeout), stream.errors
    return time.perf_counter()


def workload(server, stream, kind: str, rows: int, base: int) -> dict:
    """End-to-end and reader rates for one workload (1000-row transactions)."""
    start_written, start_read = stream.stats["changes_written"], stream.stats["changes_read"]
    began = time.perf_counter()
    chunk = 1000
    if kind == "inserts":
        for first in range(base, base + rows, chunk):
            _execute(server, [_insert(range(first, min(first + chunk, base + rows)))])
        changes = rows
    else:  # updates of the rows the inserts made, 1000 per transaction
        changes = 0
        for first in range(base, base + rows, chunk):
            changes += _execute(server, [("UPDATE products SET stock = stock + 1, "
                                          "updated_at = NOW(6) WHERE id >= %s AND id < %s",
                                          (first, first + chunk))])
    committed = time.perf_counter()
    while stream.stats["changes_read"] < start_read + changes:
        if stream.errors:
            raise RuntimeError(stream.errors[-1])
        time.sleep(0.001)
    read_done = time.perf_counter()
    done = wait(stream, start_written + changes)
    return {"changes": changes, "reader_rate": changes / (read_done - began),
            "end_to_end_rate": changes / (done - began), "lag_s": done - committed,
            "commit_s": committed - began}


class Usage:
    """CPU seconds and peak RSS of the engine's own processes (the JVMs: Debezium, or broker +
    Connect) and of this process (where the binlog engine reads, the Kafka consumer polls, and every
    engine's writer runs), sampled every 0.2 s while the workloads run, not only between them."""

    def __init__(self, stream, broker=None):
        self.stream, self.broker = stream, broker
        self.me = psutil.Process()
        self.cpu0 = sum(self.me.cpu_times()[:2])
        self.peak_jvm_rss = self.peak_own_rss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample_until_stopped, daemon=True)
        self._thread.start()

    def jvms(self) -> list[psutil.Process]:
        found = []
        for holder in (getattr(self.stream, "engine_process", None), self.broker):
            process = getattr(holder, "process", None)
            if process is not None and holder.running():
                try:
                    found.append(psutil.Process(process.pid))
                except psutil.NoSuchProcess:
                    pass
        return found

    def _sample_until_stopped(self) -> None:
        while not self._stop.wait(0.2):
            try:
                self.peak_jvm_rss = max(self.peak_jvm_rss,
                                        sum(p.memory_info().rss for p in self.jvms()))
                self.peak_own_rss = max(self.peak_own_rss, self.me.memory_info().rss)
            except psutil.Error:
                pass  # a JVM ending between listing and reading

    def report(self) -> dict:
        self._stop.set()
        self._thread.join()
        jvms = self.jvms()
        return {"jvm_cpu_s": sum(sum(p.cpu_times()[:2]) for p in jvms),
                "own_cpu_s": sum(self.me.cpu_times()[:2]) - self.cpu0,
                "jvm_rss_mb": self.peak_jvm_rss / 2**20, "own_rss_mb": self.peak_own_rss / 2**20}


def bench_engine(engine: str, sizes: list[int], root: Path) -> dict:
    server = MariaDBServer(root / "mariadb")
    process = server.start()
    stream = broker = None
    out: dict = {"engine": engine}
    try:
        _execute(server, [(cdc.PRODUCTS_DDL, ())])
        cdc.create_tables(str(root / "bronze"), str(root / "mirror"))
        began = time.perf_counter()
        if engine == "debezium-kafka":
            broker = KafkaBroker(root / "kafka")
            broker.start()
        stream = cdc.open_stream(engine, server.cdc, str(root / "bronze"), str(root / "mirror"),
                                 root / "stream", broker=broker)
        stream.start()
        out["start_s"] = time.perf_counter() - began  # to streaming, a broker included
        usage = Usage(stream, broker)
        for i in range(20):  # warm-up (a JVM's first batches run interpreted)
            target = stream.stats["changes_written"] + 1
            _execute(server, [_insert([30_000_000 + i])])
            wait(stream, target)
        delivered, landed = [], []
        for i in range(60):
            read_target = stream.stats["changes_read"] + 1
            target = stream.stats["changes_written"] + 1
            t0 = time.perf_counter()
            _execute(server, [_insert([10_000_000 + i])])
            stream.wait_for(lambda: stream.stats["changes_read"] >= read_target, 60)
            delivered.append(time.perf_counter() - t0)  # the engine handed the commit over
            landed.append(wait(stream, target) - t0)  # ... and bronze + mirror hold it
        for name, latencies in (("delivery", delivered), ("mirror", landed)):
            latencies.sort()
            out[f"{name}_p50_ms"] = statistics.median(latencies) * 1000
            out[f"{name}_p95_ms"] = latencies[int(len(latencies) * 0.95)] * 1000
        target = stream.stats["changes_written"] + 150
        t0 = time.perf_counter()
        _execute(server, [_insert(range(20_000_000, 20_000_150))])
        out["bulk150_ms"] = (wait(stream, target) - t0) * 1000
        t0 = time.perf_counter()
        target = stream.stats["changes_written"]
        for i in range(50):  # mixed transactions: insert, update, delete in one
            target += _execute(server, [_insert([40_000_000 + 2 * i, 40_000_001 + 2 * i]),
                                        ("UPDATE products SET stock = 1 WHERE id = %s",
                                         (40_000_000 + 2 * i,)),
                                        ("DELETE FROM products WHERE id = %s",
                                         (40_000_001 + 2 * i,))])
        out["mixed_s"] = wait(stream, target) - t0
        base = 0
        out["workloads"] = []
        for rows in sizes:
            for kind in ("inserts", "updates"):
                out["workloads"].append((rows, kind, workload(server, stream, kind, rows, base)))
            base += 10 * rows
        want = _source_rows(server)
        out["mirror_equal"] = stream.wait_for(lambda: _mirror_rows(stream) == want, 120)
        out.update(usage.report())
        return out
    finally:
        if stream:
            stream.stop()
        if broker:
            broker.stop(10)
        process.stop(10)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--engines", nargs="+", default=list(cdc.ENGINES), choices=list(cdc.ENGINES))
    parser.add_argument("--sizes", nargs="+", type=int, default=[10_000, 100_000])
    args = parser.parse_args()
    print(f"CDC engines side by side on {os.cpu_count()} cores; workloads in 1000-row transactions")
    results = []
    for engine in args.engines:
        root = Path(tempfile.mkdtemp(prefix=f"tb-cdc-{engine}-", dir="/var/tmp"))
        root.chmod(0o755)
        try:
            results.append(bench_engine(engine, args.sizes, root))
        finally:
            shutil.rmtree(root, ignore_errors=True)
        r = results[-1]
        print(f"\n{engine}: ready in {r['start_s']:.2f} s; commit -> delivered p50 "
              f"{r['delivery_p50_ms']:.1f} ms, p95 {r['delivery_p95_ms']:.1f} ms; commit -> mirror "
              f"p50 {r['mirror_p50_ms']:.1f} ms, p95 {r['mirror_p95_ms']:.1f} ms; 150-row bulk in "
              f"the mirror {r['bulk150_ms']:.0f} ms; 50 mixed transactions {r['mixed_s']:.2f} s")
        for rows, kind, w in r["workloads"]:
            print(f"  {rows:>7,} {kind:7}: engine delivers {w['reader_rate']:8,.0f}/s, "
                  f"bronze+mirror {w['end_to_end_rate']:8,.0f}/s, lag after last commit "
                  f"{w['lag_s']:.2f} s (commits took {w['commit_s']:.2f} s)", flush=True)
        print(f"  engine JVMs {r['jvm_cpu_s']:.1f} CPU-s, peak RSS {r['jvm_rss_mb']:.0f} MB; "
              f"orchestrator {r['own_cpu_s']:.1f} CPU-s, peak RSS {r['own_rss_mb']:.0f} MB; "
              f"mirror equals source: {r['mirror_equal']}", flush=True)
    print("\n(delivered: the engine handed the change over; mirror: bronze + mirror hold it; "
          "rates: delivered / landed per second; RSS and CPU: engine JVMs + orchestrator)")
    print("engine         deliv p50/p95 ms  mirror p50/p95 ms  bulk ms  mixed s  " + "  ".join(
        f"{rows // 1000}k {kind[:3]} /s" for rows, kind, _w in results[0]["workloads"])
          + "  peak RSS MB  CPU-s")
    for r in results:
        print(f"{r['engine']:14} {r['delivery_p50_ms']:7.1f} {r['delivery_p95_ms']:7.1f} "
              f"{r['mirror_p50_ms']:9.1f} {r['mirror_p95_ms']:7.1f} {r['bulk150_ms']:8.0f} "
              f"{r['mixed_s']:8.2f}  " +
              "  ".join(f"{w['reader_rate'] / 1000:5.1f}k/{w['end_to_end_rate'] / 1000:4.1f}k"
                        for _r, _k, w in r["workloads"]) +
              f"  {r['jvm_rss_mb']:5.0f}+{r['own_rss_mb']:<5.0f} "
              f"{r['jvm_cpu_s']:5.1f}+{r['own_cpu_s']:.1f}")
    print("\ntargets:")
    for line in targets(results):
        print(f"  {line}")


def targets(results: list[dict]) -> list[str]:
    """The issue's targets, each judged from this run (MET / MISSED)."""
    lines = []

    def judge(ok: bool, what: str) -> None:
        lines.append(f"{'MET   ' if ok else 'MISSED'} {what}")

    for r in results:
        slowest = min(w["reader_rate"] for _r, _k, w in r["workloads"])
        judge(r["bulk150_ms"] <= 1000, f"{r['engine']}: 150-row bulk in the mirror <= 1 s "
                                       f"({r['bulk150_ms']:.0f} ms)")
        judge(r["mirror_equal"], f"{r['engine']}: mirror equals source")
        if r["engine"] == "binlog":
            judge(slowest >= 20_000, f"binlog: reader >= 20k changes/s (slowest workload "
                                     f"{slowest:,.0f}/s)")
        if r["engine"] == "debezium":
            judge(r["delivery_p50_ms"] <= 50, f"debezium: commit -> delivered p50 <= 50 ms "
                                              f"({r['delivery_p50_ms']:.1f} ms)")
            judge(slowest >= 8_000, f"debezium: >= 8k changes/s (slowest workload "
                                    f"{slowest:,.0f}/s)")
    return lines

if __name__ == "__main__":
    main()
