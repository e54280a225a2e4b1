"""Static coexistence on rendered manifests: the pair the platform installs passes, and each kind
of conflict fails with a message naming what is shared."""

import copy

from resources.k8s import coexistence
from resources.k8s import facts as k8s
from tests.k8s.conftest import NAMESPACE, render_release, values_file


def failed(verdicts: dict) -> dict[str, str]:
    return {name: v.message for name, v in verdicts.items() if not v.passed}


def test_spark_35_and_41_coexist_in_one_namespace(both):
    verdicts = coexistence.check(both, NAMESPACE)
    assert failed(verdicts) == {}
    assert "spark-35=metastore_spark35, spark-41=metastore_spark41" in \
        verdicts["metastore_isolated"].message
    assert "spark-35=s3a://spark-logs/3.5/events, spark-41=s3a://spark-logs/4.1/events" in \
        verdicts["history_isolated"].message


def test_conflicting_values_file_fails_naming_what_is_shared(catalog, s3):
    conflicting = values_file("conflicting-spark-4.1.yaml")
    objects = render_release(catalog.get("spark-3.5"), s3) + render_release(
        catalog.get("spark-4.1"), s3, extra=conflicting)
    problems = failed(coexistence.check(objects, NAMESPACE))
    assert set(problems) == {"metastore_isolated", "history_isolated", "services_isolated"}
    assert "spark-35 and spark-41 share metastore database 'metastore_spark35'" in \
        problems["metastore_isolated"]
    assert "overlapping prefixes s3a://spark-logs/3.5/events and s3a://spark-logs/3.5/events" in \
        problems["history_isolated"]
    assert "share data dir s3a://spark-warehouse/3.5" in problems["services_isolated"]


def test_two_releases_of_one_chart_coexist_when_given_their_own_db_and_prefix(catalog, s3):
    spec = catalog.get("spark-3.5")
    objects = render_release(spec, s3, "spark-35-a") + render_release(
        spec, s3, "spark-35-b", extra={"metastore": {"database": "metastore_spark35_b"},
                                       "history": {"prefix": "3.5-b/events"},
                                       "warehouse": {"prefix": "3.5-b"}})
    assert failed(coexistence.check(objects, NAMESPACE)) == {}


def test_two_releases_of_one_chart_with_defaults_share_the_history_prefix(catalog, s3):
    spec = catalog.get("spark-3.5")
    objects = render_release(spec, s3, "spark-35-a") + render_release(spec, s3, "spark-35-b")
    problems = failed(coexistence.check(objects, NAMESPACE))
    # Names never collide (they derive from the release); the data locations do.
    assert "objects_distinct" not in problems and "selectors_distinct" not in problems
    assert "spark-35-a and spark-35-b write event logs to overlapping prefixes" in \
        problems["history_isolated"]


def test_same_release_name_twice_duplicates_objects(catalog, s3):
    objects = render_release(catalog.get("spark-3.5"), s3, "spark-35") + render_release(
        catalog.get("spark-4.1"), s3, "spark-35")
    message = failed(coexistence.check(objects, NAMESPACE))["objects_distinct"]
    assert "Service testbed-env-0123456789/spark-35-metastore is rendered by spark-35 and " \
           "spark-35" in message


def test_same_node_port_fails_services_isolated(catalog, s3):
    history = {"history": {"service": {"type": "NodePort", "nodePort": 30080}}}
    objects = render_release(catalog.get("spark-3.5"), s3, extra=history) + render_release(
        catalog.get("spark-4.1"), s3, extra=history)
    message = failed(coexistence.check(objects, NAMESPACE))["services_isolated"]
    assert "spark-35/history and spark-41/history share port 30080" in message


def test_selector_without_instance_label_fails(both):
    objects = copy.deepcopy(both)
    for obj in objects:
        if obj["kind"] == "Service" and k8s.name(obj) == "spark-41-metastore":
            del obj["spec"]["selector"][k8s.INSTANCE]  # what a chart without it would render
            del obj["spec"]["selector"]["app.kubernetes.io/name"]
    message = failed(coexistence.check(objects, NAMESPACE))["selectors_distinct"]
    assert "Service spark-41-metastore of spark-41 selects pods of spark-35 and spark-41" in message


def test_shared_configmap_and_cluster_role_fail(both):
    objects = copy.deepcopy(both)
    worker = next(o for o in objects if k8s.name(o) == "spark-35-worker")
    worker["spec"]["template"]["spec"]["volumes"].append(
        {"name": "foreign", "configMap": {"name": "spark-41-conf"}})
    objects.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                    "metadata": {"name": "spark", "labels": {k8s.INSTANCE: "spark-41"}},
                    "rules": []})
    problems = failed(coexistence.check(objects, NAMESPACE))
    assert "ConfigMap spark-41-conf is used by spark-35 and spark-41" in problems["references_distinct"]
    assert "cluster-scoped ClusterRole spark of spark-41" in problems["cluster_scoped_owned"]


def test_external_s3_secret_may_be_shared(catalog, s3):
    external = {"s3": {"endpoint": s3["endpoint"], "existingSecret": "minio-credentials"}}
    objects = [o for spec in catalog.releases for o in render_release(spec, {}, extra=external)]
    verdicts = coexistence.check(objects, NAMESPACE)
    assert failed(verdicts) == {}
    assert "external, read-only: Secret minio-credentials" in verdicts["references_distinct"].message
