"""charts/iceberg-rest as Helm renders it: the library chart loaded, strict lint, schema errors that
name the field, kubernetes-validate on every supported minor, names and labels from the release,
readiness on /v1/config, agreement with what the review deploys locally, and coexistence with the
two Spark charts in one namespace."""

import pytest

from assets.iceberg import DATABASE
from resources.k8s import charts, coexistence
from resources.k8s import facts as k8s
from resources.model.errors import ConfigError
from resources.services.iceberg_rest import VERSION
from tests.k8s.conftest import NAMESPACE

CHART = charts.CHARTS_DIR / "iceberg-rest"
OWNER = {"testbed": {"env": "env-0123456789", "owner": "pytest"}}


def render(release: str = "iceberg-rest", extra: dict | None = None) -> list[dict]:
    return charts.render(CHART, release, NAMESPACE, {**OWNER, **(extra or {})})


def test_library_chart_is_loaded_and_lint_is_clean():
    assert [d["name"] for d in charts.load(CHART).dependencies] == ["testbed-lib"]
    assert charts.lint(CHART, OWNER) == []


def test_every_manifest_validates_strictly_on_supported_kubernetes():
    assert charts.validate(render()) == []


@pytest.mark.parametrize("bad, field", [
    ({"database": {"database": "Iceberg-Catalog"}}, "/database/database"),
    ({"catalog": {"heap": "lots"}}, "/catalog/heap"),
    ({"catalog": {"warehouse": "/var/lib/warehouse"}}, "/catalog/warehouse"),
    ({"jars": {"artifacts": [{"group": "g", "artifact": "a", "version": "1", "sha1": "abc"}]}},
     "/jars/artifacts/0/sha1"),
    ({"metastore": {"database": "x"}}, "additional properties 'metastore'"),
], ids=["db", "heap", "warehouse", "sha1", "unknown-key"])
def test_schema_refuses_bad_values_naming_the_field(bad, field):
    defaults = charts.chart_defaults(CHART)
    values = {key: {**defaults.get(key, {}), **value} if isinstance(value, dict) and
              key in defaults else value for key, value in bad.items()}
    with pytest.raises(ConfigError, match=field):
        render(extra=values)


def test_names_labels_probes_and_the_local_deploys_settings():
    objects = render()
    for obj in objects:
        assert k8s.name(obj).startswith("iceberg-rest-"), k8s.name(obj)
        assert k8s.labels(obj)["testbed.io/env"] == "env-0123456789"
        assert k8s.instance(obj) == "iceberg-rest"
    deployment = next(o for o in objects if o["kind"] == "Deployment")
    container = k8s.pod_spec(deployment)["containers"][0]
    assert container["image"] == f"apache/iceberg-rest-fixture:{VERSION}"  # the server reviewed
    assert container["readinessProbe"]["httpGet"]["path"] == "/v1/config"
    assert container["command"][-1] == "org.apache.iceberg.rest.RESTCatalogServer"
    assert container["resources"]["requests"]["memory"]
    config = next(o for o in objects if o["kind"] == "ConfigMap"
                  and k8s.name(o) == "iceberg-rest-catalog")["data"]
    assert config["CATALOG_URI"] == f"jdbc:postgresql://iceberg-rest-postgresql:5432/{DATABASE}"
    assert "CATALOG_REST_PORT" in config and "REST_PORT" not in config  # REST_PORT is ignored
    assert not any(o["kind"] in k8s.CLUSTER_SCOPED for o in objects)


def test_the_catalog_coexists_with_both_spark_releases_in_one_namespace(both):
    verdicts = coexistence.check(both + render(), NAMESPACE)
    assert coexistence.problems(verdicts) == []


def test_two_catalog_releases_coexist_and_one_name_twice_does_not():
    assert coexistence.problems(coexistence.check(render("cat-a") + render("cat-b"),
                                                  NAMESPACE)) == []
    twice = coexistence.check(render("cat-a") + render("cat-a"), NAMESPACE)
    assert "Deployment.apps iceberg-test/cat-a-catalog is rendered by cat-a and cat-a" in \
        twice["objects_distinct"].message.replace(NAMESPACE, "iceberg-test")


def test_a_catalog_release_named_like_a_spark_release_clashes_on_its_postgresql(both):
    verdicts = coexistence.check(both + render("spark-35"), NAMESPACE)
    problems = coexistence.problems(verdicts)
    assert any("Service" in p and "spark-35-postgresql is rendered by spark-35 and spark-35" in p
               for p in problems), problems
