"""The charts as Helm renders them: dependencies, strict lint, schemas, kubernetes-validate,
naming and labels, probes and requests, and agreement with the release catalog."""

import copy
import shutil
import zipfile

import pytest
import yaml

from resources import hive
from resources.k8s import charts
from resources.k8s import facts as k8s
from resources.model.errors import ConfigError
from resources.settings import spark_home
from tests.k8s.conftest import NAMESPACE, render_release

CHARTS = [charts.CHARTS_DIR / "spark-3.5", charts.CHARTS_DIR / "spark-4.1"]
LABELS = ("app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/version",
          "app.kubernetes.io/component", "app.kubernetes.io/part-of", "testbed.io/env")


@pytest.mark.parametrize("path", CHARTS, ids=lambda p: p.name)
def test_library_chart_is_loaded(path):
    deps = {d["name"]: d["status"] for d in charts._helm().dependency_list(str(path))}
    assert deps == {"testbed-lib": "unpacked"}
    assert [d["name"] for d in charts.load(path).dependencies] == ["testbed-lib"]


def test_chart_without_its_library_is_refused_before_rendering(tmp_path):
    copy_dir = tmp_path / "spark-3.5"
    shutil.copytree(charts.CHARTS_DIR / "spark-3.5", copy_dir, symlinks=True)
    (copy_dir / "charts" / "testbed-lib").unlink()
    with pytest.raises(ConfigError, match=r"testbed-lib \(missing\).*helm dependency build"):
        charts.load(copy_dir)


@pytest.mark.parametrize("path", CHARTS, ids=lambda p: p.name)
def test_lint_strict_is_clean(path, s3):
    assert charts.lint(path, {"s3": s3}) == []


@pytest.mark.parametrize("path", CHARTS, ids=lambda p: p.name)
@pytest.mark.parametrize("bad, field", [
    ({"spark-standalone": {"enabled": True}}, "additional properties 'spark-standalone'"),
    ({"metastore": {"database": "Metastore-35"}}, "/metastore/database"),
    ({"history": {"prefix": "/3.5/events"}}, "/history/prefix"),
    ({"history": {"bucket": "Spark_Logs"}}, "/history/bucket"),
    ({"jars": {"artifacts": [{"group": "g", "artifact": "a", "version": "1", "sha1": "abc"}]}},
     "/jars/artifacts/0/sha1"),
    ({"image": {"pullPolicy": "Sometimes"}}, "/image/pullPolicy"),
], ids=["seed-flag", "db", "prefix", "bucket", "sha1", "pull-policy"])
def test_schema_refuses_bad_values_naming_the_field(path, s3, bad, field):
    with pytest.raises(ConfigError, match=field):
        charts.render(path, "spark-x", NAMESPACE, {"s3": s3, **bad})


@pytest.mark.parametrize("path", CHARTS, ids=lambda p: p.name)
def test_missing_s3_settings_name_the_fix(path, s3):
    with pytest.raises(ConfigError, match="s3.endpoint: set the S3 endpoint URL"):
        charts.render(path, "spark-x", NAMESPACE, {})
    with pytest.raises(ConfigError, match="s3.existingSecret .* or both s3.accessKey"):
        charts.render(path, "spark-x", NAMESPACE, {"s3": {"endpoint": s3["endpoint"]}})


@pytest.mark.parametrize("release", ["spark-3.5", "35spark", "x" * 41])
def test_release_names_that_would_break_service_names_are_refused(s3, release):
    with pytest.raises(ConfigError, match=f"release name \"{release}\""):
        charts.render(CHARTS[0], release, NAMESPACE, {"s3": s3})


def test_every_manifest_validates_strictly_on_supported_kubernetes(both):
    assert charts.validate(both) == []
    pod_templates = charts.embedded_objects(both)
    assert [o["kind"] for o in pod_templates] == ["Pod"]  # the executor pod template is checked


def test_strict_validation_catches_an_unknown_field(both):
    broken = copy.deepcopy(next(o for o in both if o["kind"] == "Deployment"))
    broken["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}  # a typo
    problems = charts.validate([broken], versions=("1.33.0",))
    assert problems and "readinesProbe" in problems[0]


def test_names_labels_and_selectors_derive_from_the_release(both):
    for obj in both:
        release = k8s.instance(obj)
        assert k8s.name(obj).startswith(f"{release}-"), k8s.name(obj)
        missing = [label for label in LABELS if not k8s.labels(obj).get(label)]
        assert not missing, f"{obj['kind']} {k8s.name(obj)} lacks {missing}"
        assert k8s.labels(obj)["testbed.io/env"] == "env-0123456789"
        selector = (obj.get("spec") or {}).get("selector")
        if obj["kind"] == "Service":
            assert selector[k8s.INSTANCE] == release
        elif obj["kind"] in k8s.WORKLOADS:
            assert selector["matchLabels"][k8s.INSTANCE] == release
    assert not [o for o in both if o["kind"] in k8s.CLUSTER_SCOPED]


def test_every_container_has_probes_and_requests(both):
    for workload in (o for o in both if o["kind"] in k8s.WORKLOADS):
        spec = k8s.pod_spec(workload)
        for container in spec["containers"]:
            where = f"{k8s.name(workload)}/{container['name']}"
            assert container.get("readinessProbe") and container.get("livenessProbe"), where
            assert container["resources"]["requests"]["memory"], where
        for container in spec.get("initContainers") or []:
            assert container["resources"]["requests"]["memory"], k8s.name(workload)


def test_chart_defaults_agree_with_the_catalog(catalog, s3):
    for spec in catalog.releases:
        path = charts.chart_dir(spec)
        objects = charts.render(path, charts.helm_release(spec), NAMESPACE, {"s3": s3})
        facts = k8s.release_facts(objects, charts.helm_release(spec), NAMESPACE)
        assert facts.version == spec.version
        assert facts.metastore_db == spec.metastore_db
        assert facts.event_log_dir == f"s3a://{spec.event_log_prefix}"
        assert facts.history_log_dir == facts.event_log_dir
        kinds = {c.kind for c in facts.components} - {"postgresql"}
        assert kinds == set(spec.components)


def _installed(version: str):
    home = spark_home(version)
    if not (home / "jars").exists():
        pytest.skip(f"Spark {version} is not installed at {home}: run `make setup`")
    return home


@pytest.mark.parametrize("path", CHARTS, ids=lambda p: p.name)
def test_jars_match_the_releases_hadoop(path):
    version = yaml.safe_load((path / "Chart.yaml").read_text())["appVersion"]
    home = _installed(version)
    hadoop = next((home / "jars").glob("hadoop-client-api-*.jar")).name.split("-")[-1][:-4]
    artifacts = {a["artifact"]: a["version"] for a in charts.chart_defaults(path)["jars"]["artifacts"]}
    assert artifacts["hadoop-aws"] == hadoop


def test_metastore_model_classes_match_the_jar(both):
    home = _installed("3.5.7")
    listed = k8s.hive_property(both, "spark-35", "datanucleus.autoStartClassNames").split(",")
    assert listed == hive.model_classes(home)
    with zipfile.ZipFile(next((_installed("4.1.0") / "jars").glob("hive-metastore-*.jar"))) as jar:
        assert jar.read("package.jdo")  # same model in 4.1's metastore (compared by model_classes)
    assert hive.model_classes(_installed("4.1.0")) == listed


def test_a_patch_release_overrides_only_the_image_tag(catalog, s3):
    spec = catalog.get("spark-3.5").model_copy(update={"name": "spark-3.5-8", "version": "3.5.8"})
    values = charts.release_values(spec, s3=s3)
    assert values["image"] == {"tag": "3.5.8-scala2.12-java17-python3-ubuntu"}
    assert charts.helm_release(spec) == "spark-35-8"
    objects = render_release(spec, s3)
    assert {k8s.labels(o)["app.kubernetes.io/version"] for o in objects} == {"3.5.8"}
