"""Building the control plane's binaries from the Go module proxy, once, cached by version.

`go install k8s.io/kubernetes/cmd/...` is refused (kubernetes' go.mod replaces its 31 staging
modules with local paths), so a wrapper module requires k8s.io/kubernetes and points each staging
module at its published v0.<minor>.<patch>; the replaces are read from kubernetes' own go.mod, not
copied here. etcd has no installable main at 3.6, so a second wrapper's main calls etcdmain.Main.
kwok installs as is; its stage files (node heartbeat, pod ready/complete/delete) come from its
module. Cold: ~250 MB of modules and ~15 CPU-minutes; the build cache (~4 GB) is deleted after.
"""

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from resources.model.errors import ConfigError
from resources.settings import tools_dir

KUBERNETES = "1.34.4"
ETCD = "3.6.16"
KWOK = "0.8.0"
KUBE_BINARIES = ("kube-apiserver", "kube-controller-manager", "kube-scheduler")
# kwok's own stage files (kwokctl adds them; the kwok binary has none).
KWOK_STAGES = ("kustomize/stage/node/fast/node-initialize.yaml",
               "kustomize/stage/node/heartbeat/node-heartbeat.yaml",
               "kustomize/stage/pod/fast/pod-ready.yaml",
               "kustomize/stage/pod/fast/pod-complete.yaml",
               "kustomize/stage/pod/fast/pod-delete.yaml")

ETCD_MAIN = """package main

import (
\t"os"

\t"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
"""


class BuildError(ConfigError):
    pass


def kube_dir() -> Path:
    return tools_dir() / f"kubernetes-{KUBERNETES}"


def etcd_binary() -> Path:
    return tools_dir() / f"etcd-{ETCD}" / "etcd"


def kwok_dir() -> Path:
    return tools_dir() / f"kwok-{KWOK}"


def binaries() -> dict[str, Path]:
    found = {name: kube_dir() / name for name in KUBE_BINARIES}
    found["etcd"] = etcd_binary()
    found["kwok"] = kwok_dir() / "kwok"
    return found


def stage_files() -> list[Path]:
    return [kwok_dir() / "stages" / Path(stage).name for stage in KWOK_STAGES]


def missing() -> list[str]:
    return [name for name, path in binaries().items() if not path.exists()] + \
        [f"kwok stage {p.name}" for p in stage_files() if not p.exists()]


def ensure_built(log=print) -> dict[str, Path]:
    """The binaries, built first when any is missing (a no-op when all are cached)."""
    if not missing():
        return binaries()
    if not shutil.which("go"):
        raise BuildError("go is missing: the simulated cluster's control plane is built from the "
                         "Go module proxy (install Go, https://go.dev/dl, or apt-get install golang)")
    with tempfile.TemporaryDirectory(prefix="testbed-kube-build-") as tmp:
        # A private build cache: ~4 GB for kubernetes, gone with the temporary directory.
        env = {**os.environ, "GOCACHE": str(Path(tmp) / "gocache"), "GOFLAGS": "-modcacherw",
               "CGO_ENABLED": "0"}
        work = Path(tmp)
        if not all(binaries()[n].exists() for n in KUBE_BINARIES):
            _build_kubernetes(work / "kube", env, log)
        if not etcd_binary().exists():
            _build_etcd(work / "etcd", env, log)
        if not (kwok_dir() / "kwok").exists() or not all(p.exists() for p in stage_files()):
            _build_kwok(work / "kwok", env, log)
    return binaries()


def _go(args: list[str], cwd: Path, env: dict, what: str) -> str:
    done = subprocess.run(["go", *args], cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise BuildError(f"{what}: go {' '.join(args)} failed:\n{done.stderr.strip()[-2000:]}")
    return done.stdout


def _module_file(module: str, version: str, cwd: Path, env: dict) -> dict:
    return json.loads(_go(["mod", "download", "-json", f"{module}@{version}"], cwd, env,
                          f"downloading {module}"))


def staging_replaces(gomod: str, version: str) -> list[str]:
    """`k8s.io/x => k8s.io/x v0.<minor>.<patch>` for each `k8s.io/x => ./staging/...` line of
    kubernetes' go.mod."""
    published = "v0." + version.split(".", 1)[1]
    modules = re.findall(r"^\s*(k8s\.io/\S+)\s+=>\s+\./staging/", gomod, re.MULTILINE)
    return [f"{m} => {m} {published}" for m in modules]


def _install(staging: Path, target: Path) -> None:
    """Into the cache in one step: copied next to the target first (/tmp may be another
    filesystem), then renamed, so a half-copied directory never looks installed."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    shutil.copytree(staging, partial)
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)


def _build_kubernetes(work: Path, env: dict, log) -> None:
    started = time.monotonic()
    log(f"building kube-apiserver, kube-controller-manager, kube-scheduler {KUBERNETES} "
        f"(once; ~10 min on 2 cores)")
    work.mkdir(parents=True)
    info = _module_file("k8s.io/kubernetes", f"v{KUBERNETES}", work, env)
    upstream = Path(info["GoMod"]).read_text()
    replaces = staging_replaces(upstream, KUBERNETES)
    if len(replaces) < 20:
        raise BuildError(f"kubernetes v{KUBERNETES} go.mod lists {len(replaces)} staging modules; "
                         f"expected ~31: its layout changed, update build.py")
    go_line = re.search(r"^go (\S+)", upstream, re.MULTILINE).group(1)
    (work / "go.mod").write_text(
        f"module testbed.io/kubebuild\n\ngo {go_line}\n\n"
        f"require k8s.io/kubernetes v{KUBERNETES}\n\n"
        "replace (\n" + "".join(f"\t{r}\n" for r in replaces) + ")\n")
    packages = [f"k8s.io/kubernetes/cmd/{name}" for name in KUBE_BINARIES]
    _go(["get", *(f"{p}@v{KUBERNETES}" for p in packages)], work, env, "resolving kubernetes")
    version = "k8s.io/component-base/version"
    major, minor = KUBERNETES.split(".")[:2]
    ldflags = (f"-s -w -X {version}.gitVersion=v{KUBERNETES} -X {version}.gitMajor={major} "
               f"-X {version}.gitMinor={minor}")
    out = work / "bin"
    _go(["build", "-trimpath", "-ldflags", ldflags, "-o", str(out) + "/", *packages], work, env,
        "building kubernetes")
    _install(out, kube_dir())
    log(f"kubernetes binaries in {kube_dir()} ({time.monotonic() - started:.0f}s)")


def _build_etcd(work: Path, env: dict, log) -> None:
    started = time.monotonic()
    log(f"building etcd {ETCD} (once)")
    work.mkdir(parents=True)
    (work / "go.mod").write_text("module testbed.io/etcdbuild\n\ngo 1.24\n")
    (work / "main.go").write_text(ETCD_MAIN)
    _go(["get", f"go.etcd.io/etcd/server/v3@v{ETCD}"], work, env, "resolving etcd")
    _go(["mod", "tidy"], work, env, "resolving etcd")
    out = work / "bin"
    _go(["build", "-trimpath", "-ldflags", "-s -w", "-o", str(out / "etcd"), "."], work, env,
        "building etcd")
    _install(out, etcd_binary().parent)
    log(f"etcd in {etcd_binary()} ({time.monotonic() - started:.0f}s)")


def _build_kwok(work: Path, env: dict, log) -> None:
    started = time.monotonic()
    log(f"building kwok {KWOK} (once)")
    work.mkdir(parents=True)
    out = work / "bin"
    _go(["install", f"sigs.k8s.io/kwok/cmd/kwok@v{KWOK}"], work, {**env, "GOBIN": str(out)},
        "building kwok")
    source = Path(_module_file("sigs.k8s.io/kwok", f"v{KWOK}", work, env)["Dir"])
    (out / "stages").mkdir()
    for stage in KWOK_STAGES:
        shutil.copy(source / stage, out / "stages" / Path(stage).name)
    _install(out, kwok_dir())
    log(f"kwok in {kwok_dir()} ({time.monotonic() - started:.0f}s)")


if __name__ == "__main__":
    ensure_built()
