"""`python -m resources.install`: install every Spark release of the catalog into the cache.

One directory per version (`pip install --target`), SPARK_HOME = <dir>/pyspark. Built wheels are kept
in <cache>/wheels, so a re-install takes seconds; a present release is a no-op.
"""

import hashlib
import shutil
import subprocess
import sys
import time
from pathlib import Path

from resources.model.catalog import ReleaseSpec, load_catalog
from resources.services.debezium import VERSION as DEBEZIUM_VERSION
from resources.settings import (
    cache_dir,
    catalog_file,
    debezium_dir,
    ivy_dir,
    release_jars,
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


DEBEZIUM_SOURCES = Path(__file__).parent / "debezium"  # pom.xml + TestbedEngine.java


def install_debezium() -> Path:
    """The Debezium embedded engine: its jars (Maven, from resources/debezium/pom.xml) and
    TestbedEngine compiled against them. Stamped with the inputs' hash: a no-op when unchanged."""
    home = debezium_dir() / DEBEZIUM_VERSION
    pom, source = DEBEZIUM_SOURCES / "pom.xml", DEBEZIUM_SOURCES / "TestbedEngine.java"
    want = hashlib.sha256(pom.read_bytes() + source.read_bytes()).hexdigest()[:16]
    stamp = home / ".installed"
    if stamp.exists() and stamp.read_text() == want:
        return home
    for tool in ("mvn", "javac"):
        if not shutil.which(tool):
            raise InstallError(f"{tool} is missing: the Debezium engine is resolved with Maven and "
                               f"compiled with javac (apt-get install maven openjdk-17-jdk-headless)")
    started = time.monotonic()
    shutil.rmtree(home, ignore_errors=True)
    jars, classes = home / "jars", home / "classes"
    done = subprocess.run(["mvn", "-q", "-B", "-f", str(pom), "dependency:copy-dependencies",
                           f"-DoutputDirectory={jars}"], capture_output=True, text=True)
    if done.returncode != 0:
        raise InstallError(f"resolving Debezium {DEBEZIUM_VERSION} from Maven Central failed:\n"
                           f"{(done.stdout + done.stderr).strip()[-1500:]}")
    done = subprocess.run(["javac", "-d", str(classes), "-cp", f"{jars}/*", str(source)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise InstallError(f"compiling {source.name} failed:\n{done.stderr.strip()[-1500:]}")
    stamp.write_text(want)
    print(f"setup: Debezium {DEBEZIUM_VERSION} engine in {home} ({len(list(jars.glob('*.jar')))} jars, "
          f"{time.monotonic() - started:.0f}s)", flush=True)
    return home


def main() -> None:
    catalog = load_catalog(catalog_file())
    try:
        for spec in catalog.releases:
            install_spark(spec.version)
            resolve_jars(spec)
        install_debezium()
    except InstallError as exc:
        sys.exit(f"setup: {exc}")
    print(f"setup: ready ({', '.join(f'{s.name} {s.version}' for s in catalog.releases)}; "
          f"cache {cache_dir()})")


if __name__ == "__main__":
    main()
