"""Benchmark: the compose platform against the local one, measured side by side in one run.

Prints the image builds (per image and in all; --cold removes Testbed's images first, so every
image is built from nothing, the Debian base included), a rebuild when nothing changed, then the
whole coexistence job on compose and on local processes, interleaved (compose, local, compose, ...)
so whatever else the machine does hits both alike, with the peak memory of the containers
(docker stats) during the compose runs. Both run with storage local (event logs in volumes or
directories). Targets on the 2-core box: warm compose cycle <= 1.5 x the local cycle; all images
cold <= 6 min, <= 5 s when nothing changed. Not a test: it prints numbers.

    python benchmarks/compose.py                 # 2 warm cycles of each platform
    python benchmarks/compose.py --cold --warm 3
"""

import argparse
import re
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

TARGET_RATIO = 1.5
TARGET_COLD_S = 360
TARGET_WARM_BUILD_S = 5
UNITS = {"B": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30}


class StatsSampler(threading.Thread):
    """Peak of the summed memory of the running Testbed containers (docker stats)."""

    def __init__(self):
        super().__init__(daemon=True)
        self.peak, self.stop_flag = 0, threading.Event()

    def run(self) -> None:
        from resources.docker.engine import DEBIAN_CLI

        while not self.stop_flag.is_set():
            ids = subprocess.run([DEBIAN_CLI, "ps", "-q", "--filter", "label=testbed.io/env"],
                                 capture_output=True, text=True).stdout.split()
            if ids:
                out = subprocess.run([DEBIAN_CLI, "stats", "--no-stream", "--format",
                                      "{{.MemUsage}}", *ids], capture_output=True, text=True).stdout
                total = 0.0
                for line in out.splitlines():
                    match = re.match(r"([\d.]+)(\w+)", line.strip())
                    if match:
                        total += float(match.group(1)) * UNITS.get(match.group(2), 1)
                self.peak = max(self.peak, total)
            self.stop_flag.wait(1.0)


def remove_images() -> None:
    from resources.docker.engine import DEBIAN_CLI

    for _ in range(3):  # a parent goes only once its children have gone
        listed = subprocess.run([DEBIAN_CLI, "images", "-q", "--filter", "reference=testbed/*"],
                                capture_output=True, text=True).stdout.split()
        if not listed:
            break
        subprocess.run([DEBIAN_CLI, "rmi", "-f", *set(listed)], capture_output=True)
        subprocess.run([DEBIAN_CLI, "image", "prune", "-f"], capture_output=True)


def build_images(specs) -> tuple[dict, float]:
    from resources.docker.images import images

    started = time.monotonic()
    built = images(specs, say=lambda line: None)
    return built, time.monotonic() - started


def one_cycle(state_dir: Path, platform: str) -> tuple[float, bool, float]:
    """Wall seconds of one coexistence job (benchmarks/coexistence.py's run), whether it
    passed, peak container bytes."""
    from coexistence import one_run  # the sibling benchmark (benchmarks/ is on sys.path)

    sampler = StatsSampler()
    if platform == "compose":
        sampler.start()
    run = one_run(state_dir, parallel=True, storage="local", platform=platform)
    sampler.stop_flag.set()
    return run["wall"], run["success"], sampler.peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", action="store_true", help="remove Testbed's images first")
    parser.add_argument("--warm", type=int, default=2, help="warm cycles per platform")
    args = parser.parse_args()

    from resources.docker.engine import ensure
    from resources.model.catalog import load_catalog

    ensure()
    specs = list(load_catalog().releases)
    if args.cold:
        remove_images()
    built, total = build_images(specs)
    print("images" + (" (cold: built from nothing)" if args.cold else ""))
    for repo, found in built.items():
        took = "cached" if found.cached else f"{found.seconds:6.1f}s"
        print(f"  {repo:22} {took}  {found.image}")
    print(f"  all images: {total:.1f}s" + (f"  (target <= {TARGET_COLD_S}s cold)"
                                            if args.cold else ""))
    _, again = build_images(specs)
    print(f"  nothing changed: {again:.2f}s  (target <= {TARGET_WARM_BUILD_S}s)")

    state = Path(tempfile.mkdtemp(prefix="bench-compose-", dir="/var/tmp"))
    state.chmod(0o755)
    walls: dict[str, list[float]] = {"compose": [], "local": []}
    peak = 0.0
    try:
        for platform in ("compose", "local"):  # cold: first deploys warm the page cache
            one_cycle(state, platform)
        for _ in range(args.warm):
            for platform in ("compose", "local"):
                wall, ok, bytes_ = one_cycle(state, platform)
                if not ok:
                    raise SystemExit(f"the coexistence job failed on {platform}")
                walls[platform].append(wall)
                peak = max(peak, bytes_)
    finally:
        shutil.rmtree(state, ignore_errors=True)
    compose, local = (statistics.median(walls[p]) for p in ("compose", "local"))
    print(f"coexistence cycle, median of {args.warm} warm runs each (interleaved)")
    print(f"  compose {compose:6.1f}s  {walls['compose']}")
    print(f"  local   {local:6.1f}s  {walls['local']}")
    print(f"  ratio   {compose / local:6.2f}   (target <= {TARGET_RATIO})")
    print(f"  peak container memory (docker stats): {peak / 2**30:.2f} GiB")


if __name__ == "__main__":
    main()
