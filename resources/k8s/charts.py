"""The Testbed charts as Helm sees them: load (with the library chart present), values for a
release, render, strict lint, and kubernetes-validate on every manifest.

Rendering goes through helm-python-sdk (Helm's Go SDK), so what is checked here is what
`helm install` would send.
"""

import re
from functools import lru_cache
from pathlib import Path

import yaml

from resources.model.catalog import ReleaseSpec
from resources.model.errors import ConfigError

CHARTS_DIR = Path(__file__).resolve().parents[2] / "charts"
# Kubernetes minors the charts are validated for (kubernetes-validate ships schemas for these).
KUBERNETES_VERSIONS = tuple(f"1.{minor}.0" for minor in range(29, 38))
RELEASE_NAME = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
# Dependency states in which Helm really loads the subchart (`unpacked`: our symlinked dir).
LOADED = {"ok", "unpacked"}


def _helm():
    import helm_python

    helm_python.disable_logging()
    return helm_python


def chart_dir(spec: ReleaseSpec) -> Path:
    """spark-<minor>: one chart per Spark line; a patch release overrides the image tag."""
    path = CHARTS_DIR / f"spark-{spec.minor}"
    if not (path / "Chart.yaml").exists():
        known = ", ".join(sorted(p.name for p in CHARTS_DIR.glob("spark-*")))
        raise ConfigError(f"release {spec.name}: no chart for Spark {spec.minor} in {CHARTS_DIR} "
                          f"(have {known}); add charts/spark-{spec.minor} or use a supported line")
    return path


def helm_release(spec: ReleaseSpec) -> str:
    """spark-3.5 -> spark-35: Helm release names prefix Service names, which allow no dots."""
    name = spec.name.replace(".", "")
    if not RELEASE_NAME.match(name) or len(name) > 40:
        raise ConfigError(f"release {spec.name}: {name!r} is not a usable Helm release name; "
                          f"rename it in resources/catalog.yaml (letters, digits, '-', <= 40)")
    return name


@lru_cache(maxsize=8)
def load(path: Path):
    """The chart, refusing one whose subcharts Helm would silently drop."""
    helm = _helm()
    deps = helm.dependency_list(str(path))
    broken = [f"{d['name']} ({d['status']})" for d in deps if d["status"] not in LOADED]
    if broken:
        raise ConfigError(f"chart {path.name}: dependencies not built: {', '.join(broken)}; "
                          f"restore the charts/testbed-lib symlink or run `helm dependency build "
                          f"{path}`")
    chart = helm.Chart.load(str(path))
    loaded = {d["name"] for d in chart.dependencies}
    missing = {d["name"] for d in deps} - loaded
    if missing:
        raise ConfigError(f"chart {path.name}: declared dependencies not loaded: {sorted(missing)}")
    return chart


def chart_defaults(path: Path) -> dict:
    return yaml.safe_load((path / "values.yaml").read_text())


def split_prefix(uri_path: str) -> tuple[str, str]:
    """spark-logs/3.5/events -> (spark-logs, 3.5/events): the catalog's prefix is bucket/key."""
    bucket, _, key = uri_path.partition("/")
    if not key:
        raise ConfigError(f"event_log_prefix {uri_path!r} needs a bucket and a key prefix, "
                          f"like spark-logs/3.5/events")
    return bucket, key


def release_values(spec: ReleaseSpec, env_id: str = "", owner: str = "",
                   s3: dict | None = None) -> dict:
    """Values that make the chart deploy exactly the catalog's release."""
    path = chart_dir(spec)
    defaults = chart_defaults(path)
    bucket, prefix = split_prefix(spec.event_log_prefix)
    values: dict = {
        "testbed": {"env": env_id, "owner": owner},
        "history": {"bucket": bucket, "prefix": prefix},
        "warehouse": {"prefix": spec.name.removeprefix("spark-")},
        "metastore": {"database": spec.metastore_db},
    }
    app_version = yaml.safe_load((path / "Chart.yaml").read_text())["appVersion"]
    if spec.version != app_version:
        tag = defaults["image"]["tag"]
        values["image"] = {"tag": tag.replace(app_version, spec.version, 1)}
    if s3:
        values["s3"] = s3
    return values


def parse(manifests: dict[str, str]) -> list[dict]:
    return [doc for text in manifests.values() for doc in yaml.safe_load_all(text) if doc]


def render(path: Path, release: str, namespace: str, values: dict | None = None) -> list[dict]:
    """Every object `helm install` would create, as dicts. Bad values raise ConfigError naming
    the field (schema) or the template's own message."""
    helm = _helm()
    chart = load(path)
    try:
        chart.validate_schema(values or {})
        return parse(chart.render(values or {}, name=release, namespace=namespace,
                                  is_install=True))
    except helm.HelmError as exc:
        raise ConfigError(f"chart {path.name} (release {release}): {exc}") from None


def lint(path: Path, values: dict | None = None, namespace: str = "testbed") -> list[str]:
    """`helm lint --strict`: warnings count as errors. Returns the findings (empty: clean)."""
    helm = _helm()
    report = helm.lint(str(path), values or {}, strict=True, namespace=namespace)
    return [f"{m['path']}: {m['error']}" for m in report["messages"] if m["severity"] >= 2] + list(
        report.get("errors") or [])


def embedded_objects(objects: list[dict]) -> list[dict]:
    """Manifests carried inside ConfigMaps (the executor pod template), validated like the rest."""
    found = []
    for obj in objects:
        if obj.get("kind") != "ConfigMap":
            continue
        for key, text in (obj.get("data") or {}).items():
            if key.endswith((".yaml", ".yml")):
                found += [doc for doc in yaml.safe_load_all(text) if isinstance(doc, dict)
                          and "kind" in doc]
    return found


def validate(objects: list[dict], versions=KUBERNETES_VERSIONS) -> list[str]:
    """kubernetes-validate --strict for each version; unknown fields and kinds are errors."""
    import kubernetes_validate

    problems = []
    for version in versions:
        for obj in objects + embedded_objects(objects):
            what = f"{obj.get('kind')}/{obj.get('metadata', {}).get('name', '?')}"
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                path = "/".join(str(p) for p in exc.path)
                problems.append(f"k8s {version}: {what}: {path}: {exc.message}")
            except kubernetes_validate.SchemaNotFoundError as exc:
                problems.append(f"k8s {version}: {what}: {exc.message}")
    return problems
