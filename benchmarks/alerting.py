"""Benchmark: the alerting stack on Debian's AlertManager + Prometheus (prints numbers; not a test).

Startup to ready, POST -> listed in GET /api/v2/alerts (seed 003: < 5 s), POST -> delivered to the
webhook (group_wait 1 s), silence -> suppressed, Prometheus rule -> webhook, and idle RSS.

    python benchmarks/alerting.py [--samples 20]
"""

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import yaml

from resources import alerting
from resources.alerting import AlertingStack, probe_alert, probe_name
from resources.processes import rss_bytes


def median_range(values: list[float], unit: float = 1000.0, suffix: str = "ms") -> str:
    values = [v * unit for v in values]
    return f"{statistics.median(values):.1f} {suffix} ({min(values):.1f}-{max(values):.1f})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=20)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-alerting-", dir="/var/tmp"))
    stack = AlertingStack(root)
    try:
        stack.write_alertmanager_config(yaml.safe_dump(
            alerting.render_alertmanager_config(stack.webhook.url)))
        stack.write_rules(yaml.safe_dump(alerting.render_rules()))
        began = time.perf_counter()
        stack.start_alertmanager()
        am_ready = time.perf_counter() - began
        began = time.perf_counter()
        prom_started = time.monotonic()  # the webhook stamps deliveries with time.monotonic()
        stack.start_prometheus()
        prom_ready = time.perf_counter() - began
        rule = stack.webhook.wait_for("TestbedAlwaysFiring", 60)
        rule_s = rule[0].at - prom_started if rule else None
        listed, delivered, suppressed = [], [], []
        for _ in range(args.samples):
            name = probe_name("Bench")
            posted, posted_mono = time.perf_counter(), time.monotonic()
            stack.post_alerts([probe_alert(name, severity="critical")])
            while not stack.alerts(alertname=name):
                time.sleep(0.002)
            listed.append(time.perf_counter() - posted)
            got = stack.webhook.wait_for(name, 15)
            delivered.append(got[0].at - posted_mono if got else float("nan"))
        for _ in range(min(args.samples, 5)):
            name = probe_name("BenchSilenced")
            stack.silence({"alertname": name})
            posted = time.perf_counter()
            stack.post_alerts([probe_alert(name, severity="warning")])
            while not any(a["status"]["state"] == "suppressed" for a in stack.alerts(alertname=name)):
                time.sleep(0.002)
            suppressed.append(time.perf_counter() - posted)
        rss = rss_bytes([p.pid for p in stack.started])
        print(f"ready: alertmanager {am_ready:.2f} s, prometheus {prom_ready:.2f} s "
              f"(incl. discovering AlertManager)")
        print(f"POST -> listed (n={len(listed)}): {median_range(listed)}  target < 5 s")
        print(f"POST -> delivered to webhook: {median_range(delivered, 1.0, 's')}  (group_wait 1 s)")
        print(f"silence -> suppressed (n={len(suppressed)}): {median_range(suppressed)}")
        if rule_s is not None:
            print(f"always-firing rule -> webhook: {rule_s:.2f} s after Prometheus was started")
        print(f"RSS alertmanager + prometheus, idle: {rss / 2**20:.0f} MiB")
    finally:
        stack.stop(5)
        stack.webhook.close()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
