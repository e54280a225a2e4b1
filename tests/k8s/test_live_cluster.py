"""Seed 000 on a real cluster: both releases installed by Helm into one testbed-<env> namespace,
their jobs, every isolation check, and nothing left. Runs when a kubeconfig and an S3 store are
configured (README, section Kubernetes); the Connect probe Job needs TESTBED_K8S_CLIENT_IMAGE to
name the deploy/Dockerfile image pushed where the cluster can pull it."""


import pytest

from resources import settings
from resources.criteria import release_checks
from resources.k8s.cluster import kubeconfig_path
from resources.model.catalog import load_catalog
from resources.platforms.environment import Environment, probe_table, run_acceptance_job
from resources.platforms.kubernetes import KubernetesPlatform

pytestmark = [
    pytest.mark.skipif(kubeconfig_path() is None and not settings.in_cluster(),
                       reason="no kubeconfig: live Kubernetes cluster tests need one "
                              "(KUBECONFIG or TESTBED_KUBECONFIG)"),
    pytest.mark.skipif(not settings.s3_settings()["s3_endpoint"],
                       reason="TESTBED_S3_ENDPOINT unset: live Kubernetes cluster tests need an "
                              "S3 store (MinIO) for event logs and tables"),
]


def test_coexistence_on_a_live_cluster(tmp_path):
    catalog = load_catalog()
    platform = KubernetesPlatform.for_run(tmp_path, 600, 30)
    platform.preflight(list(catalog.releases))
    with Environment.create(platform, "pytest-live") as env:
        for spec in catalog.releases:
            env.deploy(spec)
        results = {spec.name: run_acceptance_job(env, spec, 600) for spec in catalog.releases}
        facts = [env.facts(spec.name) for spec in catalog.releases]
        for verdict in (
                release_checks.sparkpi_completes(results["spark-3.5"]),
                release_checks.connect_job_completes(results["spark-4.1"]),
                *(release_checks.release_ready(f) for f in facts),
                release_checks.metastore_isolated(
                    facts, {s.name: f"default.{probe_table(s)}" for s in catalog.releases}),
                release_checks.history_isolated(facts),
                release_checks.services_isolated(facts)):
            assert verdict.passed, verdict.message
        report = env.teardown()
    assert report.leftovers == []
