"""The release catalog: which releases exist, at which versions, with which components.

Releases are data (resources/catalog.yaml), validated here: a bad entry fails before anything starts
with a message that names the field and the fix.
"""

import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from resources.model.errors import ConfigError

ComponentKind = Literal["metastore", "history", "master", "worker", "connect"]
# The catalog ships beside the model, in the resources package (package data).
CATALOG_FILE = Path(__file__).resolve().parent.parent / "catalog.yaml"

# Delta line -> the Spark versions it runs on (Delta's compatibility table). Delta 4.1.0 is
# binary-incompatible with Spark 4.1.2+ (NoClassDefFoundError IgnoreCachedData).
DELTA_SUPPORT = (("3.3", "3.5.0", "3.5.99"), ("4.0", "4.0.0", "4.0.99"), ("4.1", "4.1.0", "4.1.1"))


def _v(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def _delta_for(spark_version: str) -> str:
    lines = [f"Delta {minor}.x" for minor, low, high in DELTA_SUPPORT
             if _v(low) <= _v(spark_version) <= _v(high)]
    return " or ".join(lines) or "no Delta line (none supports it yet)"


class ReleaseSpec(BaseModel):
    """One deployable unit at one version, e.g. spark-3.5 at 3.5.7 with its metastore and history."""

    model_config = {"frozen": True, "extra": "forbid"}

    name: str = Field(pattern=r"^[a-z][a-z0-9]*(-[a-z0-9.]+)*$")
    version: str = Field(pattern=r"^\d+\.\d+\.\d+$")
    components: tuple[ComponentKind, ...]
    metastore_db: str = Field(pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    event_log_prefix: str = Field(pattern=r"^[A-Za-z0-9._/-]+$")
    # Fixed ports per component role ("master.rpc": 7077); unset roles get a free port.
    ports: dict[str, int] = Field(default_factory=dict)
    # JVM sizes (sized for a 2-core box): a number with m or g, as Spark takes them.
    worker_memory: str = Field("1g", pattern=r"^\d+[mg]$")
    daemon_memory: str = Field("512m", pattern=r"^\d+[mg]$")
    driver_memory: str = Field("512m", pattern=r"^\d+[mg]$")
    # Delta Lake on this release (jars from Maven Central, cached by `make setup`); None: no Delta.
    delta_version: str | None = Field(None, pattern=r"^\d+\.\d+\.\d+$")
    # Spark 3.x only: the version of org.apache.spark:spark-connect_2.12 its Connect server loads
    # (3.x installs ship no Connect jar; default: the release's own version).
    connect_jar: str | None = Field(None, pattern=r"^\d+\.\d+\.\d+$")

    @model_validator(mode="after")
    def _delta_fits_spark(self) -> "ReleaseSpec":
        if self.delta_version is None:
            return self
        delta_minor = ".".join(self.delta_version.split(".")[:2])
        for minor, lowest, highest in DELTA_SUPPORT:
            if minor == delta_minor:
                if _v(lowest) <= _v(self.version) <= _v(highest):
                    return self
                raise ValueError(
                    f"delta_version {self.delta_version} supports Spark {lowest} to {highest}, not "
                    f"{self.version}: pick the Delta line for Spark {self.minor} "
                    f"({_delta_for(self.version)})")
        raise ValueError(f"delta_version {self.delta_version} is not a known Delta line; "
                         f"for Spark {self.version} use {_delta_for(self.version)}")

    @property
    def scala(self) -> str:
        return "2.12" if self.version.startswith("3.") else "2.13"

    @property
    def maven_packages(self) -> tuple[str, ...]:
        """Jars this release needs from Maven Central, resolved without their dependencies (Spark
        ships the rest; a transitive resolve would pull hadoop-aws and the AWS SDK)."""
        packages: tuple[str, ...] = ()
        if self.delta_version is not None:
            packages += (f"io.delta:delta-spark_{self.scala}:{self.delta_version}",
                         f"io.delta:delta-storage:{self.delta_version}")
        if "connect" in self.components and self.version.startswith("3."):
            packages += (f"org.apache.spark:spark-connect_{self.scala}:"
                         f"{self.connect_jar or self.version}",)
        return packages

    @model_validator(mode="after")
    def _connect_jar_fits(self) -> "ReleaseSpec":
        if self.connect_jar is not None and ("connect" not in self.components
                                             or not self.version.startswith("3.")):
            raise ValueError(f"connect_jar is for Spark 3.x releases with a connect component "
                             f"(Spark 4 ships its Connect server): remove it from {self.name}")
        return self

    @field_validator("components")
    @classmethod
    def _components_make_sense(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if "worker" in value and "master" not in value:
            raise ValueError("a worker needs a master: add 'master' to components")
        if "metastore" not in value:
            raise ValueError("every release needs its own 'metastore'")
        if len(set(value)) != len(value):
            raise ValueError("components are listed twice")
        return value

    @field_validator("event_log_prefix")
    @classmethod
    def _relative_prefix(cls, value: str) -> str:
        if value.startswith("/") or ".." in value.split("/"):
            raise ValueError("event_log_prefix must be a relative path like spark-logs/3.5/events")
        return value

    @property
    def key(self) -> str:
        """spark-3.5 -> spark_3_5: the asset key prefix and a safe identifier."""
        return re.sub(r"[^a-z0-9]", "_", self.name)

    @property
    def minor(self) -> str:
        return ".".join(self.version.split(".")[:2])


class ConnectTarget(BaseModel):
    """A Spark version the Connect client suites (seed 002) run against: deployed as a release of
    its own (`connect-<version>`: a metastore and a Connect server, nothing else)."""

    model_config = {"frozen": True, "extra": "forbid"}

    version: str = Field(pattern=r"^\d+\.\d+\.\d+$")
    # Spark 3.x: the spark-connect_2.12 version, when Maven Central has none for this version
    # (3.5.8): a mixed-version pair upstream does not promise, reported with every result.
    connect_jar: str | None = Field(None, pattern=r"^\d+\.\d+\.\d+$")
    driver_memory: str = Field("1g", pattern=r"^\d+[mg]$")

    @model_validator(mode="after")
    def _valid_release(self) -> "ConnectTarget":
        self.release  # noqa: B018 - its own validation (connect_jar on Spark 4) speaks here
        return self

    @property
    def release(self) -> ReleaseSpec:
        tag = self.version.replace(".", "")
        return ReleaseSpec(name=f"connect-{self.version}", version=self.version,
                           components=("metastore", "connect"),
                           metastore_db=f"metastore_connect_{tag}",
                           event_log_prefix=f"spark-logs/connect-{self.version}/events",
                           connect_jar=self.connect_jar, driver_memory=self.driver_memory)

    @property
    def key(self) -> str:
        """3.5.7 -> spark_3_5_7: the asset key part."""
        return "spark_" + self.version.replace(".", "_")

    @property
    def mixed_version(self) -> str | None:
        if self.connect_jar and self.connect_jar != self.version:
            return (f"Connect server jar {self.connect_jar} on Spark {self.version} (Maven Central "
                    f"has no spark-connect {self.version}): a mixed-version pair upstream does "
                    f"not promise")
        return None


class Catalog(BaseModel):
    model_config = {"extra": "forbid"}

    releases: tuple[ReleaseSpec, ...]
    # The versions the Spark Connect client suites run against (empty: no connect suites).
    connect: tuple[ConnectTarget, ...] = ()

    @model_validator(mode="after")
    def _distinct_connect(self) -> "Catalog":
        versions = [target.version for target in self.connect]
        twice = sorted({v for v in versions if versions.count(v) > 1})
        if twice:
            raise ValueError(f"connect lists {', '.join(twice)} twice: one entry per version")
        return self

    def connect_target(self, version: str) -> ConnectTarget:
        for target in self.connect:
            if target.version == version:
                return target
        known = ", ".join(t.version for t in self.connect) or "none"
        raise ConfigError(f"no Connect target {version!r} in the catalog's connect list "
                          f"(it has {known}): add `- version: {version}` under connect:")

    @model_validator(mode="after")
    def _distinct(self) -> "Catalog":
        # key: spark-3.5.8 and spark-3.5-8 would be one asset key, spark_3_5_8.
        for field in ("name", "key", "metastore_db", "event_log_prefix"):
            seen: dict[str, str] = {}
            for spec in self.releases:
                value = getattr(spec, field)
                if value in seen:
                    raise ValueError(
                        f"releases {seen[value]} and {spec.name} share {field}={value!r}: "
                        f"give each release its own {field}"
                    )
                seen[value] = spec.name
        return self

    def get(self, name: str) -> ReleaseSpec:
        for spec in self.releases + tuple(t.release for t in self.connect):
            if spec.name == name:
                return spec
        known = ", ".join(spec.name for spec in self.releases)
        raise ConfigError(f"unknown release {name!r}: the catalog has {known}")


def load_catalog(path: Path = CATALOG_FILE) -> Catalog:
    """The catalog in `path`, validated. Every problem is one line naming the file, the release and
    the field, and saying what to do."""
    try:
        doc = yaml.safe_load(Path(path).read_text())
    except OSError as exc:
        raise ConfigError(f"release catalog {path}: cannot read it ({exc.strerror}); set "
                          f"TESTBED_CATALOG or --catalog to a readable YAML file") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"release catalog {path} is not YAML: {exc}") from None
    try:
        return Catalog.model_validate(doc)
    except ValidationError as exc:
        problems = [_problem(doc, error) for error in exc.errors()]
        raise ConfigError(f"release catalog {path} is invalid:\n" + "\n".join(
            f"  {path}: {problem}" for problem in problems)) from None


def _problem(doc, error: dict) -> str:
    """One validation error in words: where (release name and field), what, the fix."""
    loc = list(error["loc"])
    where = ""
    if len(loc) >= 2 and loc[0] == "releases" and isinstance(loc[1], int):
        releases = doc.get("releases") if isinstance(doc, dict) else None
        name = releases[loc[1]].get("name") if isinstance(releases, list) and \
            loc[1] < len(releases) and isinstance(releases[loc[1]], dict) else None
        where = f"releases[{loc[1]}]" + (f" ({name})" if name else "")
        loc = loc[2:]
    elif loc:
        where = ".".join(map(str, loc))
        loc = []
    field = ".".join(map(str, loc))
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        known = ", ".join(ReleaseSpec.model_fields) if where.startswith("releases[") else "releases"
        message = f"unknown key: remove it or fix its spelling (known keys: {known})"
    elif error["type"] == "missing":
        message = "missing: add it"
    target = f"{where}.{field}" if where and field else where or field or "catalog"
    return f"{target}: {message}"
