"""Benchmark: the kubernetes platform on the simulated cluster (real kube-apiserver, controllers,
scheduler and etcd; kwok nodes), in a loopback-only network namespace.

Per round: control plane start (etcd .. a Ready fake node), `helm install` of both charts and the
readiness wait (real controllers, kwok playing the kubelet), the platform's whole cycle (preflight,
deploy both, facts, both Jobs, teardown), the namespace deletion alone, and the control plane's
RSS. Medians over the rounds. Not a test: it prints numbers.

    python benchmarks/k8s_cluster.py              # 3 rounds (~2 min here)
    python benchmarks/k8s_cluster.py --rounds 5
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

S3 = {"s3_endpoint": "http://minio.minio.svc:9000", "s3_access_key": "testbed",
      "s3_secret_key": "testbed-secret"}


def one_round() -> dict:
    """Inside the namespace: a fresh cluster, one platform cycle, its numbers."""
    from resources.k8s.simulated.cluster import SimulatedCluster
    from resources.model.catalog import load_catalog
    from resources.platforms.environment import Environment, run_acceptance_jobs
    from resources.platforms.kubernetes import KubernetesPlatform, KubernetesSettings
    from resources.processes import rss_bytes
    from resources.settings import clusters_dir

    specs = list(load_catalog().releases)
    numbers: dict = {}
    with tempfile.TemporaryDirectory(prefix="bench-k8s-", dir=clusters_dir()) as root:
        started = time.monotonic()
        with SimulatedCluster(Path(root) / "cluster") as cluster:
            numbers["control plane ready s"] = round(time.monotonic() - started, 2)
            runner = cluster.service_account_kubeconfig()
            os.environ["TESTBED_KUBECONFIG"] = str(runner)
            platform = KubernetesPlatform(Path(root) / "state", grace_seconds=5, ready_timeout=120,
                                          settings=KubernetesSettings(**S3))
            platform.poll_seconds = 0.25
            installs: list[float] = []
            plain_install = platform.install

            def timed_install(namespace, spec, values):
                began = time.monotonic()
                plain_install(namespace, spec, values)
                installs.append(time.monotonic() - began)
            platform.install = timed_install

            cycle = time.monotonic()
            platform.preflight(specs)
            env = Environment.create(platform, "bench")
            began = time.monotonic()
            env.deploy_all(specs)
            numbers["helm install both s"] = round(max(installs), 2)
            numbers["install + ready both s"] = round(time.monotonic() - began, 2)
            for spec in specs:
                env.facts(spec.name)
            began = time.monotonic()
            run_acceptance_jobs(env, specs, timeout=120)
            numbers["both Jobs complete s"] = round(time.monotonic() - began, 2)
            numbers["control plane RSS MB"] = round(
                rss_bytes([p.pid for p in cluster.processes if p.pid]) / 2**20)
            report = env.teardown()
            numbers["platform cycle s"] = round(time.monotonic() - cycle, 2)
            numbers["namespace deletion s"] = next(
                e.seconds for e in report.entries if e.kind == "namespace")
            if report.leftovers:
                raise SystemExit(f"teardown left {report.leftovers}")
    return numbers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inside:
        print(json.dumps(one_round()), flush=True)
        return
    from resources.k8s.simulated import build, netns
    from resources.settings import clusters_dir

    began = time.monotonic()
    build.ensure_built(log=lambda line: print(f"build: {line}", flush=True))
    print(f"binaries ready in {time.monotonic() - began:.1f}s (cached after the first build)")
    rounds = []
    for i in range(args.rounds):
        out = Path(tempfile.mkstemp(prefix="bench-k8s-", suffix=".json")[1])
        with open(out, "w") as sink:
            clusters_dir().mkdir(parents=True, exist_ok=True)
            code = netns.run_isolated([sys.executable, __file__, "--inside"],
                                      tmpfs=clusters_dir(), stdout=sink)
        lines = [line for line in out.read_text().splitlines() if line.startswith("{")]
        out.unlink()
        if code != 0 or not lines:
            raise SystemExit(f"round {i + 1} failed (exit {code})")
        rounds.append(json.loads(lines[-1]))
        print(f"round {i + 1}: {rounds[-1]}", flush=True)
    print(f"\nmedians over {len(rounds)} rounds (simulated cluster, loopback-only namespace):")
    for key in rounds[0]:
        print(f"  {key:<26} {statistics.median(r[key] for r in rounds):>8}")


if __name__ == "__main__":
    main()
