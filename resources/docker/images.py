"""Container images, built here: no registry can be reached, so nothing is pulled.

testbed/base            Debian bookworm (minbase) from `debootstrap`, imported with `docker import`
testbed/postgres        FROM base: PostgreSQL 15 from apt
testbed/spark-<version> FROM base: JRE 17 + Python from apt, the Spark install and release jars
                        `make setup` cached (copied, not downloaded again), Testbed's Spark jobs
testbed/service-<kind>  FROM base: a service's Debian packages (MariaDB, AlertManager, Prometheus)
testbed/dagster         FROM base: Python, the project and its dependencies from a wheelhouse
                        made on the host (compose/dagster)

Each image is tagged by the content of its inputs (its Dockerfile, its parent's tag, the files it
copies), so a rebuild happens only when one of them changes and a warm `images()` takes seconds.
Packages come over apt's http (no certificate needed); no image runs pip, so the intercepting
proxy's CA never goes into a build. A failed build raises ImageBuildError with the failing step's
log tail.
"""

import hashlib
import io
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from resources.docker.engine import DEBIAN_CLI, Engine, engine_dir
from resources.model.catalog import ReleaseSpec
from resources.model.errors import ConfigError
from resources.settings import release_jars, spark_home

SUITE = "bookworm"
JOBS_DIR = Path(__file__).resolve().parent.parent / "jobs"
PROJECT = Path(__file__).resolve().parents[2]
ASSETS = Path(__file__).resolve().parent / "files"
LABEL = "testbed.io/image"
# Where things are inside the Spark images (compose files name these paths).
SPARK_HOME = "/opt/spark"
JARS_DIR = "/opt/jars"
JOBS = "/opt/jobs"
APT = ("apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "
       "--no-install-recommends {} && rm -rf /var/lib/apt/lists/*")


class ImageBuildError(RuntimeError):
    """An image could not be built; the message has the failing step's log tail."""


@dataclass(frozen=True)
class Recipe:
    repo: str  # e.g. testbed/spark-3.5.7
    dockerfile: str  # "{base}" stands for the base image
    files: dict[str, Path] = field(default_factory=dict)  # context path -> host file or dir

    def tag(self, base: str) -> str:
        digest = hashlib.sha256(self.dockerfile.format(base=base).encode())
        for name, path in sorted(self.files.items()):
            digest.update(name.encode())
            digest.update(fingerprint(path).encode())
        return digest.hexdigest()[:12]


def fingerprint(path: Path) -> str:
    """Names, sizes and mtimes under path: cheap (no reading 500 MB of jars), and it changes
    whenever `make setup` reinstalls something."""
    if not path.exists():
        raise ConfigError(f"{path} is missing (an image copies it): run `make setup`")
    entries = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    digest = hashlib.sha256()
    for entry in entries:
        stat = entry.stat()
        digest.update(f"{entry.relative_to(path.parent)}:{stat.st_size}:{stat.st_mtime_ns}\n"
                      .encode())
    return digest.hexdigest()


def apt_mirror(sources: Path = Path("/etc/apt/sources.list.d/debian.sources")) -> str:
    """The Debian mirror the host's apt uses (the only way out of this machine is a registry)."""
    for candidate in (sources, Path("/etc/apt/sources.list")):
        if candidate.exists():
            match = re.search(r"(?:URIs:|^deb)\s+(\S+/debian)\b", candidate.read_text(), re.M)
            if match:
                return match.group(1)
    return "http://deb.debian.org/debian"


def base_tag() -> str:
    recipe = f"debootstrap --variant=minbase {SUITE} {apt_mirror()} v1"
    return hashlib.sha256(recipe.encode()).hexdigest()[:12]


POSTGRES = Recipe("testbed/postgres", f"""FROM {{base}}
RUN {APT.format("postgresql-15")}
COPY postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint.sh
# An empty named volume takes this directory's owner when first mounted.
RUN mkdir -p /var/lib/postgresql/data && chown postgres:postgres /var/lib/postgresql/data
USER postgres
ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/bin:/usr/bin:/bin
ENTRYPOINT ["/usr/local/bin/postgres-entrypoint.sh"]
""", {"postgres-entrypoint.sh": ASSETS / "postgres-entrypoint.sh"})


def spark_recipe(spec: ReleaseSpec) -> Recipe:
    files = {"spark": spark_home(spec.version), "jobs": JOBS_DIR}
    copy_jars = ""
    if spec.maven_packages:
        files["jars"] = release_jars(spec.name)
        copy_jars = f"COPY jars {JARS_DIR}\n"
    return Recipe(f"testbed/spark-{spec.version}", f"""FROM {{base}}
RUN {APT.format("openjdk-17-jre-headless python3 procps libpostgresql-jdbc-java")}
COPY spark {SPARK_HOME}
{copy_jars}COPY jobs {JOBS}
ENV SPARK_HOME={SPARK_HOME} JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64 PYSPARK_PYTHON=python3 \\
    PATH={SPARK_HOME}/bin:/usr/local/bin:/usr/bin:/bin
WORKDIR /opt/work
""", files)


def wheelhouse(project: Path = PROJECT) -> tuple[Path, Path]:
    """Wheels of the project's dependencies (kept by pyproject.toml's hash) and of the project
    itself (kept by its sources' hash), made on the host, where pip reaches PyPI through the
    machine's CA: the image installs them with --no-index and needs no certificate. Built from a
    copy of the sources: setuptools' build/ in the checkout would keep files deleted since."""
    home = engine_dir() / "wheelhouse"
    files = sorted(p for part in ("pipelines", "assets", "resources", "pyproject.toml")
                   for p in ([project / part] if part.endswith(".toml")
                             else (project / part).rglob("*"))
                   if p.is_file() and "__pycache__" not in p.parts)
    sources = hashlib.sha256()
    for path in files:
        sources.update(f"{path.relative_to(project)}\n".encode() + path.read_bytes())
    deps = home / ("deps-" + hashlib.sha256((project / "pyproject.toml").read_bytes())
                   .hexdigest()[:12])
    own = home / f"project-{sources.hexdigest()[:12]}"
    need_deps = not (deps / "requirements.txt").exists()
    need_own = not any(own.glob("testbed-*.whl"))
    if not (need_deps or need_own):
        return deps, own
    home.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=home) as tmp:
        copy = Path(tmp) / "testbed"
        for path in files:
            target = copy / path.relative_to(project)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
        if need_deps:
            shutil.rmtree(deps, ignore_errors=True)
            _pip_wheel(copy, deps, "the project's dependencies")
            for wheel in deps.glob("testbed-*.whl"):
                wheel.unlink()
            (deps / "requirements.txt").write_text("".join(
                f"{wheel.name.split('-')[0]}=={wheel.name.split('-')[1]}\n"
                for wheel in sorted(deps.glob("*.whl"))))
        if need_own:
            for old in home.glob("project-*"):
                shutil.rmtree(old, ignore_errors=True)
            _pip_wheel(copy, own, "the project", "--no-deps")
    return deps, own


def _pip_wheel(project: Path, into: Path, what: str, *args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q",
                           "--disable-pip-version-check", *args, "-w", str(into), str(project)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise ImageBuildError(f"pip wheel of {what} failed:\n{done.stderr.strip()[-1500:]}")


def dagster_recipe(deps: Path, own: Path) -> Recipe:
    """The code location and Dagster itself (webserver, daemon, run workers), installed from
    the wheelhouse; the project's layer alone changes with its code."""
    return Recipe("testbed/dagster", f"""FROM {{base}}
RUN {APT.format("python3 python3-venv")}
COPY deps /tmp/deps
RUN python3 -m venv /opt/venv && /opt/venv/bin/pip install -q --no-index \\
    --disable-pip-version-check --find-links /tmp/deps -r /tmp/deps/requirements.txt \\
    && rm -rf /tmp/deps
COPY project /tmp/project
RUN /opt/venv/bin/pip install -q --no-index --no-deps --disable-pip-version-check \\
    /tmp/project/*.whl && rm -rf /tmp/project
ENV PATH=/opt/venv/bin:/usr/local/bin:/usr/bin:/bin DAGSTER_HOME=/opt/dagster/home
RUN mkdir -p /opt/dagster/home
WORKDIR /opt/dagster
""", {"deps": deps, "project": own})


def service_recipe(kind: str, packages: tuple[str, ...]) -> Recipe:
    """A service's binaries from apt, at the paths its process recipe names (Debian on both
    sides); its files come from the host, bind-mounted at the same paths."""
    return Recipe(f"testbed/service-{kind}", f"""FROM {{base}}
RUN {APT.format(" ".join(packages))}
""")


def recipes(specs: list[ReleaseSpec]) -> list[Recipe]:
    return [POSTGRES, *{spec.version: spark_recipe(spec) for spec in specs}.values()]


@dataclass
class Built:
    image: str  # repo:tag
    seconds: float
    cached: bool


def exists(image: str) -> bool:
    inspected = subprocess.run([DEBIAN_CLI, "image", "inspect", image], capture_output=True)
    return inspected.returncode == 0


def build_base(log) -> Built:
    """Debian from debootstrap (~2 min), imported as testbed/base:<tag>."""
    image = f"testbed/base:{base_tag()}"
    if exists(image):
        return Built(image, 0.0, True)
    if shutil.which("debootstrap") is None:
        raise ConfigError("debootstrap is missing (the base image is made with it): "
                          "apt-get install debootstrap (make setup does it)")
    started = time.monotonic()
    root = engine_dir() / "base-rootfs"
    shutil.rmtree(root, ignore_errors=True)
    mirror = apt_mirror()
    log.write(f"$ debootstrap --variant=minbase {SUITE} {root} {mirror}\n")
    log.flush()
    done = subprocess.run(["debootstrap", "--variant=minbase", SUITE, str(root), mirror],
                          stdout=log, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        raise ImageBuildError(f"debootstrap of Debian {SUITE} from {mirror} failed "
                              f"(exit {done.returncode}); log {log.name}:\n{_tail(log.name)}")
    (root / "etc/apt/sources.list").write_text(
        f"deb {mirror} {SUITE} main\ndeb {mirror} {SUITE}-updates main\n"
        f"deb {mirror.removesuffix('/debian')}/debian-security {SUITE}-security main\n")
    for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for entry in (root / cache).glob("*"):
            if entry.is_file():
                entry.unlink()
    tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
    imported = subprocess.run([DEBIAN_CLI, "import", "-c", 'CMD ["/bin/bash"]',
                               "-c", f"LABEL {LABEL}=testbed/base", "-", image],
                              stdin=tar.stdout, capture_output=True, text=True)
    tar.wait()
    shutil.rmtree(root, ignore_errors=True)
    if imported.returncode != 0:
        raise ImageBuildError(f"docker import of the base image failed: {imported.stderr.strip()}")
    return Built(image, round(time.monotonic() - started, 1), False)


def build(recipe: Recipe, base: str, log) -> Built:
    """The recipe's image FROM base, unless an image with its content tag exists."""
    image = f"{recipe.repo}:{recipe.tag(base)}"
    if exists(image):
        return Built(image, 0.0, True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(dir=engine_dir()) as tmp:
        context = Path(tmp) / "context.tar"
        dockerfile = recipe.dockerfile.format(base=base).encode()
        with tarfile.open(context, "w") as tar:
            info = tarfile.TarInfo("Dockerfile")
            info.size = len(dockerfile)
            tar.addfile(info, io.BytesIO(dockerfile))
            for name, path in recipe.files.items():
                tar.add(path, arcname=name)
        api = Engine.client().api
        with open(context, "rb") as body:
            stream = api.build(fileobj=body, custom_context=True, tag=image, rm=True,
                               forcerm=True, decode=True, labels={LABEL: recipe.repo},
                               timeout=1800)
            failed = ""
            for chunk in stream:
                text = chunk.get("stream") or chunk.get("status") or ""
                if text:
                    log.write(text if text.endswith("\n") else text + "\n")
                if "error" in chunk:
                    failed = chunk["error"]
                    log.write(f"ERROR: {failed}\n")
            log.flush()
    if failed:
        raise ImageBuildError(f"building {image} failed: {failed.strip()}\n"
                              f"last lines of its log ({log.name}):\n{_tail(log.name)}")
    return Built(image, round(time.monotonic() - started, 1), False)


def _tail(path: str, lines: int = 15) -> str:
    return "\n".join(Path(path).read_text(errors="replace").strip().splitlines()[-lines:])


def service_image(kind: str, packages: tuple[str, ...], say=print) -> str:
    """The image a service of this kind runs in (built when missing)."""
    engine_dir().mkdir(parents=True, exist_ok=True)
    with open(engine_dir() / "build.log", "a") as log:
        base = build_base(log)
        found = build(service_recipe(kind, packages), base.image, log)
    if not found.cached:
        say(f"images: built {found.image} in {found.seconds}s")
    return found.image


def images(specs: list[ReleaseSpec], say=print, dagster: bool = False) -> dict[str, Built]:
    """Every image the specs need, by repo (built when missing, else found in seconds); with
    dagster, the image of Dagster on Docker too (compose/dagster)."""
    engine_dir().mkdir(parents=True, exist_ok=True)
    with open(engine_dir() / "build.log", "a") as log:
        base = build_base(log)
        if not base.cached:
            say(f"images: built {base.image} in {base.seconds}s")
        built = {"testbed/base": base}
        for recipe in recipes(specs) + ([dagster_recipe(*wheelhouse())] if dagster else []):
            found = build(recipe, base.image, log)
            if not found.cached:
                say(f"images: built {found.image} in {found.seconds}s")
            built[recipe.repo] = found
    return built


if __name__ == "__main__":  # python -m resources.docker.images: build what the catalog needs
    from resources.docker.engine import ensure
    from resources.model.catalog import load_catalog
    from resources.settings import catalog_file

    ensure()
    started = time.monotonic()
    result = images(list(load_catalog(catalog_file()).releases), dagster=True)
    client = Engine.client()
    for repo, found in result.items():  # compose/docker-compose.yml (run by hand) names these
        client.images.get(found.image).tag(repo, "latest")
    print(f"images: {', '.join(b.image for b in result.values())} "
          f"({time.monotonic() - started:.1f}s)")
