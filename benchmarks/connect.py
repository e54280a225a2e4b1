"""Benchmark: the Go and the Python Spark Connect clients side by side on each Spark version of the
catalog's connect list, in one run (prints numbers; not a test). Per version: the Connect
server's time to ready, then the 8 load scenarios through both clients against the same warmed
server (one server at a time), Go/Python throughput ratios, client CPU per query and RSS.

    python benchmarks/connect.py [--versions 3.5.7,4.1.0] [--seconds 10] [--rows 1000000]
"""

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from resources.connect import taxi
from resources.connect.runner import Server, SuiteSettings, run_suite, warm_up
from resources.criteria.connect_checks import throughput_ratios
from resources.model.catalog import load_catalog
from resources.model.connect import LOAD
from resources.platforms.environment import Environment
from resources.platforms.registry import make_platform

COLUMNS = ("qps", "p50_ms", "p95_ms", "p99_ms", "errors", "client_cpu_ms_per_query",
           "client_rss_mb")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--versions", default="")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    catalog = load_catalog()
    targets = [catalog.connect_target(v) for v in args.versions.split(",")] if args.versions \
        else list(catalog.connect)
    root = Path(tempfile.mkdtemp(prefix="bench-connect-", dir="/var/tmp"))
    root.chmod(0o755)  # PostgreSQL runs as the postgres user and must reach its data dir
    env = Environment.create(make_platform("local", str(root), 120.0, 10.0), "bench-connect",
                             storage="local")
    settings = SuiteSettings(load_seconds=args.seconds, sustained_seconds=args.seconds)
    try:
        data = env.path / "connect-data"
        taxi.write(data, args.rows)
        for target in targets:
            began = time.perf_counter()
            deployment = env.deploy(target.release)
            ready = time.perf_counter() - began
            service = env.services[f"{target.release.name}-connect"]
            server = Server(target, deployment.endpoints.connect, data, service=service,
                            env_dir=str(env.path))
            warm_up(server)
            run = run_suite(server, "load", settings, env.path / "runs" / target.version,
                            lambda p, log: env.record_job(f"bench-{log.stem}", "bench", p, log))
            env.retire(target.release.name)
            print(f"\n== Spark {target.version}: Connect ready in {ready:.1f} s (deploy "
                  f"{deployment.startup_seconds} s); server RSS {run.server['rss_mb_before']} -> "
                  f"{run.server['rss_mb_after']} MB" + "".join(f"\n   {f}" for f in run.findings))
            print(f"{'scenario':16} {'client':7} " + " ".join(f"{c:>10.10}" for c in COLUMNS))
            for name in LOAD:
                for client in ("go", "python"):
                    r = run.get(client, name)
                    if r is None or r.status != "passed":
                        print(f"{name:16} {client:7} {r.status if r else 'missing'}: "
                              f"{(r.error if r else '')[:100]}")
                        continue
                    print(f"{name:16} {client:7} " + " ".join(
                        f"{r.metrics.get(c, 0.0):10g}" for c in COLUMNS))
            ratios = throughput_ratios(run)
            print("go/python throughput: " + ", ".join(f"{k} {v:.2f}x" for k, v in ratios.items()))
    finally:
        report = env.teardown()
        shutil.rmtree(root, ignore_errors=True)
    print(f"\nteardown {report.seconds} s, leftovers: {report.leftovers or 'none'}")


if __name__ == "__main__":
    main()
