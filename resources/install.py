"""`python -m resources.install`: install every Spark release of the catalog into the cache.

One directory per version (`pip install --target`), SPARK_HOME = <dir>/pyspark. Built wheels are kept
in <cache>/wheels, so a re-install takes seconds; a present release is a no-op.
"""

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from resources.docker.compose import COMPOSE_MODULE, COMPOSE_VERSION, compose_binary
from resources.iceberg_spark import runtime_artifact, runtime_dir
from resources.model.catalog import ReleaseSpec, load_catalog
from resources.services import s3a
from resources.services.debezium import VERSION as DEBEZIUM_VERSION
from resources.services.iceberg_rest import POM as ICEBERG_REST_POM
from resources.services.iceberg_rest import VERSION as ICEBERG_REST_VERSION
from resources.services.kafka import VERSION as KAFKA_VERSION
from resources.services.lakana import PACKAGES as LAKANA_PACKAGES
from resources.services.lakana import venv_dir as lakana_venv_dir
from resources.services.objectstore import MODULE as VERSITYGW_MODULE
from resources.services.objectstore import VERSION as VERSITYGW_VERSION
from resources.services.objectstore import versitygw_binary
from resources.settings import (
    cache_dir,
    catalog_file,
    debezium_dir,
    go_suite_dir,
    iceberg_rest_dir,
    ivy_dir,
    kafka_dir,
    release_jars,
    s3a_dir,
    spark_home,
)


class InstallError(RuntimeError):
    pass


def _pip(*args: str, what: str) -> None:
    done = subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *args],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise InstallError(f"{what} failed:\n{done.stderr.strip()[-1500:]}")


def install_spark(version: str) -> Path:
    home = spark_home(version)
    if (home / "bin" / "spark-submit").exists() and (home / "jars").is_dir():
        return home
    wheels = cache_dir() / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    if not list(wheels.glob(f"pyspark-{version}-*.whl")):
        print(f"setup: building the pyspark {version} wheel (PyPI has only the sdist)", flush=True)
        _pip("wheel", "--no-deps", "-w", str(wheels), f"pyspark=={version}",
             what=f"building pyspark=={version} (is {version} a released Spark version? "
                  f"fix `version` in resources/catalog.yaml)")
    target = home.parent
    staging = target.with_name(f".{version}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    started = time.monotonic()
    # py4j comes along as pyspark's only dependency, at the version that release wants.
    _pip("install", "--target", str(staging), "--find-links", str(wheels), "--no-compile",
         f"pyspark=={version}", what=f"installing Spark {version} into {staging}")
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)  # a half-done install never looks installed
    for script in (home / "bin").iterdir():
        script.chmod(0o755)
    print(f"setup: Spark {version} installed in {target} ({time.monotonic() - started:.0f}s)",
          flush=True)
    return home


def resolve_jars(spec: ReleaseSpec) -> list[Path]:
    """Resolve the release's Maven packages with the Ivy that ships in its own Spark, into its own
    Ivy dir; retrieve exactly those jars (no transitive dependencies: Spark provides them)."""
    target = release_jars(spec.name)
    stamp = target / ".resolved"
    wanted = "\n".join(spec.maven_packages)
    if stamp.exists() and stamp.read_text() == wanted:
        return sorted(target.glob("*.jar"))
    ivy_jars = sorted((spark_home(spec.version) / "jars").glob("ivy-*.jar"))
    if not ivy_jars:
        raise InstallError(f"no Ivy jar in Spark {spec.version}: reinstall it (rm -r "
                           f"{spark_home(spec.version).parent}; make setup)")
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for coordinate in spec.maven_packages:
        group, artifact, version = coordinate.split(":")
        done = subprocess.run(
            ["java", "-cp", str(ivy_jars[-1]), "org.apache.ivy.Main", "-m2compatible",
             "-cache", str(ivy_dir(spec.name) / "cache"),
             "-dependency", group, artifact, version, "-notransitive", "-types", "jar",
             "-retrieve", f"{target}/[artifact]-[revision](-[classifier]).[ext]"],
            capture_output=True, text=True)
        if done.returncode != 0 or not list(target.glob(f"{artifact}-{version}*.jar")):
            raise InstallError(f"resolving {coordinate} for {spec.name} from Maven Central "
                               f"failed:\n{(done.stdout + done.stderr).strip()[-1500:]}")
    stamp.write_text(wanted)
    jars = sorted(target.glob("*.jar"))
    print(f"setup: {spec.name}: {', '.join(j.name for j in jars)}", flush=True)
    return jars


HERE = Path(__file__).parent  # resources/debezium/, resources/kafka/: a pom.xml each


def install_maven(what: str, home: Path, pom: Path, sources: tuple[Path, ...] = (),
                  provided: Path | None = None) -> Path:
    """pom's dependencies into home/jars (Maven Central once, then offline), and sources compiled
    against them into home/classes. Stamped with the inputs' hash: a no-op when unchanged.
    provided: a jars dir whose artifacts the user already has (a Spark's): those are dropped."""
    want = hashlib.sha256(b"".join(p.read_bytes() for p in (pom, *sources))).hexdigest()[:16]
    stamp = home / ".installed"
    if stamp.exists() and stamp.read_text() == want:
        return home
    for tool in ("mvn", "javac") if sources else ("mvn",):
        if not shutil.which(tool):
            raise InstallError(f"{tool} is missing: {what} is resolved with Maven and compiled with "
                               f"javac (apt-get install maven openjdk-17-jdk-headless)")
    started = time.monotonic()
    shutil.rmtree(home, ignore_errors=True)
    jars, classes = home / "jars", home / "classes"
    done = subprocess.run(["mvn", "-q", "-B", "-f", str(pom), "dependency:copy-dependencies",
                           f"-DoutputDirectory={jars}"], capture_output=True, text=True)
    if done.returncode != 0:
        raise InstallError(f"resolving {what} from Maven Central failed:\n"
                           f"{(done.stdout + done.stderr).strip()[-1500:]}")
    if provided is not None:
        have = {_artifact(jar.name) for jar in provided.glob("*.jar")}
        for jar in jars.glob("*.jar"):
            if _artifact(jar.name) in have:
                jar.unlink()
    if sources:
        done = subprocess.run(["javac", "-d", str(classes), "-cp", f"{jars}/*",
                               *map(str, sources)], capture_output=True, text=True)
        if done.returncode != 0:
            raise InstallError(f"compiling {what} failed:\n{done.stderr.strip()[-1500:]}")
    stamp.write_text(want)
    print(f"setup: {what} in {home} ({len(list(jars.glob('*.jar')))} jars, "
          f"{time.monotonic() - started:.0f}s)", flush=True)
    return home


def _artifact(jar: str) -> str:
    """httpclient-4.5.14.jar -> httpclient"""
    return re.sub(r"-\d[^-]*(-[a-z]+)?\.jar$", "", jar)


def install_s3a(version: str) -> Path:
    """hadoop-aws and the AWS SDK modules for the Hadoop inside Spark `version` (one set per
    Hadoop version, shared by the releases that ship it)."""
    home = spark_home(version)
    hadoop = s3a.hadoop_version(home)
    pom = cache_dir() / "s3a" / f"pom-{hadoop}.xml"
    pom.parent.mkdir(parents=True, exist_ok=True)
    pom.write_text(s3a.pom(hadoop))
    return install_maven(f"S3A for Hadoop {hadoop}", s3a_dir(hadoop), pom,
                         provided=home / "jars")


def require_go(why: str) -> None:
    """InstallError naming what needs Go and how to get it, when there is no `go`."""
    if not shutil.which("go"):
        raise InstallError(f"go is missing: {why} (install Go, https://go.dev/dl, or apt-get "
                           f"install golang)")


def install_versitygw() -> Path:
    """The object store, built from the Go module proxy once (~2 CPU-minutes), kept by version."""
    binary = versitygw_binary()
    if binary.exists():
        return binary
    require_go(f"versitygw {VERSITYGW_VERSION} is built with `go install`")
    started = time.monotonic()
    staging = binary.parent.with_name(binary.parent.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    print(f"setup: building versitygw {VERSITYGW_VERSION} (once, ~2 min)", flush=True)
    done = subprocess.run(["go", "install", f"{VERSITYGW_MODULE}@v{VERSITYGW_VERSION}"],
                          capture_output=True, text=True,
                          env={**os.environ, "GOBIN": str(staging), "GOFLAGS": "-trimpath"})
    if done.returncode != 0:
        raise InstallError(f"go install {VERSITYGW_MODULE}@v{VERSITYGW_VERSION} failed:\n"
                           f"{done.stderr.strip()[-1500:]}")
    shutil.rmtree(binary.parent, ignore_errors=True)
    staging.rename(binary.parent)
    print(f"setup: versitygw in {binary} ({time.monotonic() - started:.0f}s)", flush=True)
    return binary


def install_go_suites() -> Path:
    """The Go Connect client suites (tests/go): spark-connect-go and its 385 MB of modules fetched
    from the module proxy and every test binary compiled once (~3-4 min cold), so runs are offline
    and start in seconds."""
    module = go_suite_dir()
    stamp = cache_dir() / "go-suites.stamp"
    want = hashlib.sha256(b"".join(p.read_bytes() for p in sorted(module.rglob("*"))
                                   if p.is_file() and p.suffix in (".go", ".mod", ".sum"))).hexdigest()
    if stamp.exists() and stamp.read_text() == want:
        return module
    require_go("the Connect client suites are Go tests")
    started = time.monotonic()
    print("setup: fetching and compiling the Go Connect client suites (once, ~3-4 min)", flush=True)
    for argv in (["go", "mod", "download"], ["go", "build", "./..."],
                 ["go", "test", "-count=1", "-run", "^$", "./..."]):
        done = subprocess.run(argv, cwd=module, capture_output=True, text=True)
        if done.returncode != 0:
            raise InstallError(f"{' '.join(argv)} in {module} failed:\n"
                               f"{(done.stdout + done.stderr).strip()[-1500:]}")
    stamp.write_text(want)
    print(f"setup: Go Connect client suites ready ({time.monotonic() - started:.0f}s)", flush=True)
    return module


def install_compose() -> Path:
    """Docker Compose v2 from its official source through the Go module proxy (~3-4 CPU-minutes,
    once, kept by version). `go install ...@version` refuses its go.mod (it has `exclude`
    directives), so a wrapper module copies those lines and builds the cmd package."""
    binary = compose_binary()
    if binary.exists():
        return binary
    require_go(f"Docker Compose {COMPOSE_VERSION} is built from source")
    started = time.monotonic()
    print(f"setup: building Docker Compose {COMPOSE_VERSION} (once, ~3-4 min)", flush=True)
    wrapper = cache_dir() / "compose-build"
    shutil.rmtree(wrapper, ignore_errors=True)
    wrapper.mkdir(parents=True)

    def go(*argv: str) -> str:
        done = subprocess.run(["go", *argv], cwd=wrapper, capture_output=True, text=True,
                              env={**os.environ, "GOFLAGS": "-trimpath"})
        if done.returncode != 0:
            raise InstallError(f"go {' '.join(argv)} (Docker Compose {COMPOSE_VERSION}) failed:\n"
                               f"{done.stderr.strip()[-1500:]}")
        return done.stdout

    (wrapper / "go.mod").write_text("module testbed.local/compose\n\ngo 1.24\n")
    upstream = json.loads(go("mod", "download", "-json", f"{COMPOSE_MODULE}@v{COMPOSE_VERSION}"))
    excludes = re.search(r"^exclude \(.*?^\)", Path(upstream["GoMod"]).read_text(), re.M | re.S)
    if excludes:
        with open(wrapper / "go.mod", "a") as mod:
            mod.write("\n" + excludes.group(0) + "\n")
    go("get", f"{COMPOSE_MODULE}/cmd@v{COMPOSE_VERSION}")
    staging = binary.with_name(binary.name + ".partial")
    staging.parent.mkdir(parents=True, exist_ok=True)
    go("build", "-o", str(staging), f"{COMPOSE_MODULE}/cmd")
    staging.rename(binary)
    shutil.rmtree(wrapper, ignore_errors=True)
    print(f"setup: Docker Compose in {binary} ({time.monotonic() - started:.0f}s)", flush=True)
    return binary


def install_debezium() -> Path:
    """The Debezium embedded engine, and TestbedEngine.java compiled against it."""
    return install_maven(f"Debezium {DEBEZIUM_VERSION} engine", debezium_dir() / DEBEZIUM_VERSION,
                         HERE / "debezium" / "pom.xml", (HERE / "debezium" / "TestbedEngine.java",))


def install_kafka() -> Path:
    """A Kafka broker and Kafka Connect, for the debezium-kafka CDC engine."""
    return install_maven(f"Kafka {KAFKA_VERSION}", kafka_dir() / KAFKA_VERSION,
                         HERE / "kafka" / "pom.xml")


def install_iceberg_rest() -> Path:
    """Apache Iceberg's REST catalog server: no runnable jar exists, its classpath does."""
    return install_maven(f"Iceberg REST catalog server {ICEBERG_REST_VERSION}",
                         iceberg_rest_dir() / ICEBERG_REST_VERSION, ICEBERG_REST_POM)


def install_iceberg_spark(version: str) -> Path:
    """The iceberg-spark-runtime for Spark `version` at the REST server's Iceberg version (one
    48 MB jar, no dependencies), with the Ivy inside that Spark, for spark_compatible."""
    artifact = runtime_artifact(version)
    jar = runtime_dir() / f"{artifact}-{ICEBERG_REST_VERSION}.jar"
    if jar.exists():
        return jar
    ivy_jars = sorted((spark_home(version) / "jars").glob("ivy-*.jar"))
    if not ivy_jars:
        raise InstallError(f"no Ivy jar in Spark {version}: reinstall it (rm -r "
                           f"{spark_home(version).parent}; make setup)")
    staging = runtime_dir() / ".partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    started = time.monotonic()
    done = subprocess.run(
        ["java", "-cp", str(ivy_jars[-1]), "org.apache.ivy.Main", "-m2compatible",
         "-cache", str(cache_dir() / "ivy" / "iceberg-spark"), "-dependency", "org.apache.iceberg",
         artifact, ICEBERG_REST_VERSION, "-notransitive", "-types", "jar",
         "-retrieve", f"{staging}/[artifact]-[revision](-[classifier]).[ext]"],
        capture_output=True, text=True)
    if done.returncode != 0 or not (staging / jar.name).exists():
        raise InstallError(f"resolving org.apache.iceberg:{artifact}:{ICEBERG_REST_VERSION} from "
                           f"Maven Central failed:\n{(done.stdout + done.stderr).strip()[-1500:]}")
    (staging / jar.name).rename(jar)
    shutil.rmtree(staging, ignore_errors=True)
    print(f"setup: {jar.name} ({time.monotonic() - started:.0f}s)", flush=True)
    return jar


def install_lakana() -> Path:
    """lakana-server, the second catalog of the Iceberg review, in a venv of its own (its FastAPI
    and pydantic-settings stay out of the orchestrator's environment)."""
    venv = lakana_venv_dir()
    stamp = venv / ".installed"
    want = " ".join(LAKANA_PACKAGES)
    if stamp.exists() and stamp.read_text() == want:
        return venv
    started = time.monotonic()
    shutil.rmtree(venv, ignore_errors=True)
    done = subprocess.run([sys.executable, "-m", "venv", str(venv)], capture_output=True, text=True)
    if done.returncode != 0:
        raise InstallError(f"creating the lakana venv {venv} failed:\n{done.stderr[-800:]}")
    done = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check",
                           *LAKANA_PACKAGES], capture_output=True, text=True)
    if done.returncode != 0:
        raise InstallError(f"pip install {want} failed:\n{done.stderr.strip()[-1500:]}")
    stamp.write_text(want)
    print(f"setup: lakana-server in {venv} ({time.monotonic() - started:.0f}s)", flush=True)
    return venv


def main() -> None:
    catalog = load_catalog(catalog_file())
    try:
        for spec in catalog.releases:
            install_spark(spec.version)
            resolve_jars(spec)
            install_s3a(spec.version)
            install_iceberg_spark(spec.version)
        for target in catalog.connect:  # the Connect client suites' servers
            install_spark(target.version)
            resolve_jars(target.release)
            install_s3a(target.version)  # with storage s3 they log events to the store
        install_go_suites()
        install_compose()
        install_versitygw()
        install_debezium()
        install_kafka()
        install_iceberg_rest()
        install_lakana()
    except InstallError as exc:
        sys.exit(f"setup: {exc}")
    print(f"setup: ready ({', '.join(f'{s.name} {s.version}' for s in catalog.releases)}; "
          f"Connect suites on {', '.join(t.version for t in catalog.connect) or 'none'}; "
          f"cache {cache_dir()})")


if __name__ == "__main__":
    main()
