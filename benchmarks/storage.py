"""Benchmark: event logs and tables in the environment's object store (storage s3, the default)
against plain directories (storage local), side by side in one run.

Interleaved rounds (s3, local, local, s3, ...) so that whatever else the machine does hits both
alike. Per storage: the whole coexistence job (deploy both releases, their jobs, every check,
teardown), the Delta seed by Spark 3.5 + delta-spark (s3a) and by delta-rs (s3://), and the
store's own RSS and readiness. Target on the 2-core box: s3 coexistence cycle <= 1.15 x local
(warm medians). Not a test: it prints numbers.

    python benchmarks/storage.py                  # 1 cold + 3 warm rounds (~10 min here)
    python benchmarks/storage.py --warm 5 --skip-spark-seed
"""

import argparse
import importlib.util
import shutil
import statistics
import tempfile
import time
from pathlib import Path

TARGET_RATIO = 1.15
STORAGES = ("s3", "local")
HERE = Path(__file__).parent


def _coexistence():
    spec = importlib.util.spec_from_file_location("bench_coexistence", HERE / "coexistence.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def seed_run(state_dir: Path, storage: str, engine: str, rows: int) -> dict:
    """The seeded table alone (with its checks), on this storage: the seed's own seconds."""
    from dagster import DagsterInstance

    from assets.delta_tables import SEEDED
    from assets.storage import STORE
    from pipelines.definitions import defs
    from pipelines.jobs import INFRA_TEARDOWN

    started = time.monotonic()
    with DagsterInstance.ephemeral() as instance:
        result = defs.resolve_job_def("test_infrastructure").execute_in_process(
            instance=instance, raise_on_error=False, asset_selection=[STORE, SEEDED, INFRA_TEARDOWN],
            run_config={"resources": {"testbed": {"config": {"state_dir": str(state_dir),
                                                             "storage": storage}}},
                        "ops": {"delta__seeded_table": {"config": {"engine": engine,
                                                                   "rows": rows}}}})
    wall = time.monotonic() - started
    seed, store_rss, store_ready = None, None, None
    for event in result.get_asset_materialization_events():
        mat = event.step_materialization_data.materialization
        if mat.asset_key == SEEDED:
            seed = mat.metadata["seconds"].value
        if mat.asset_key == STORE and "rss_mb" in mat.metadata:
            store_rss = mat.metadata["rss_mb"].value
            store_ready = mat.metadata["ready_seconds"].value
    failed = [e.check_name for e in result.get_asset_check_evaluations()
              if not e.passed and e.severity.value == "ERROR"]
    return {"wall": wall, "seed": seed, "store_rss_mb": store_rss, "store_ready": store_ready,
            "success": result.success and not failed, "failed": failed}


def med(values) -> float:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warm", type=int, default=3, help="warm rounds after the cold one")
    parser.add_argument("--rows", type=int, default=1000, help="seed rows")
    parser.add_argument("--skip-spark-seed", action="store_true",
                        help="seed with delta-rs only (no Spark 3.5 deploy per round)")
    args = parser.parse_args()
    coexistence = _coexistence()
    engines = ["deltars"] + ([] if args.skip_spark_seed else ["spark"])
    results: dict[str, dict[str, list[dict]]] = {s: {"cycle": [], **{e: [] for e in engines}}
                                                 for s in STORAGES}
    for round_no in range(args.warm + 1):
        order = STORAGES if round_no % 2 == 0 else STORAGES[::-1]
        for storage in order:
            state = Path(tempfile.mkdtemp(prefix=f"bench-storage-{storage}-", dir="/var/tmp"))
            state.chmod(0o755)
            try:
                cycle = coexistence.one_run(state, parallel=True, storage=storage)
                results[storage]["cycle"].append(cycle)
                seeds = {engine: seed_run(state, storage, engine, args.rows) for engine in engines}
                for engine, seeded in seeds.items():
                    results[storage][engine].append(seeded)
            finally:
                shutil.rmtree(state, ignore_errors=True)
            print(f"round {round_no} {storage}: cycle {cycle['wall']:.1f} s"
                  + "".join(f", {e} seed {s['seed']} s" for e, s in seeds.items())
                  + ("" if cycle["success"] and all(s["success"] for s in seeds.values())
                     else f"  FAILED {cycle['failed']} {[s['failed'] for s in seeds.values()]}"),
                  flush=True)

    def warm(storage, what):
        runs = results[storage][what]
        return runs[1:] if len(runs) > 1 else runs

    print(f"\nwarm medians (n={args.warm}; round 0 is cold: class archives, caches):")
    print(f"  {'':28} {'s3':>9} {'local':>9} {'s3/local':>9}")
    rows = [("coexistence cycle (s)", "cycle", "wall"),
            ("  deploy step (s)", "cycle", "deploy"),
            ("  jobs + checks (s)", "cycle", "checks"),
            ("  teardown (s)", "cycle", "teardown")]
    rows += [(f"{engine} seed, {args.rows} rows (s)", engine, "seed") for engine in engines]
    for label, what, key in rows:
        s3, local = (med([r[key] for r in warm(s, what)]) for s in STORAGES)
        print(f"  {label:28} {s3:9.2f} {local:9.2f} {s3 / local:9.2f}")
    ratio = med([r["wall"] for r in warm("s3", "cycle")]) / \
        med([r["wall"] for r in warm("local", "cycle")])
    print(f"\n  s3 cycle / local cycle: {ratio:.2f} (target <= {TARGET_RATIO})"
          f"{'' if ratio <= TARGET_RATIO else '  OVER TARGET'}")
    rss = med([r["store_rss_mb"] for what in engines for r in results["s3"][what]])
    ready = med([r["store_ready"] for what in engines for r in results["s3"][what]])
    print(f"  object store (versitygw): RSS {rss:.0f} MB after a seed, ready in {ready:.2f} s")
    peaks = {s: med([r["peak_rss"] for r in warm(s, "cycle")]) / 2**30 for s in STORAGES}
    print(f"  peak RSS of the environment: s3 {peaks['s3']:.2f} GB, local {peaks['local']:.2f} GB")


if __name__ == "__main__":
    main()
