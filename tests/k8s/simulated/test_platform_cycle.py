"""The kubernetes platform's whole cycle against a real API server: helm install of both charts
as the testbed-runner ServiceAccount, readiness from real controllers (kwok plays the kubelet),
facts from live objects, Jobs the Job controller completes, teardown by the namespace controller,
the TTL reaper; and what a simulated node cannot show is reported "not evaluated", never passed.
All of it in a loopback-only network namespace whose no-route counter proves that nothing dialled
a pod's or a service's (fake) address."""

import os
import shutil
import time

import pytest
from kubernetes import client

from resources.criteria import release_checks
from resources.k8s import charts
from resources.k8s import facts as k8s
from resources.k8s.cluster import SIMULATED, namespace_for
from resources.k8s.simulated import netns
from resources.model.catalog import load_catalog
from resources.model.errors import ConfigError
from resources.platforms.environment import (
    Environment,
    probe_table,
    run_acceptance_jobs,
)
from tests.k8s.conftest import values_file

CATALOG = load_catalog()
SPECS = list(CATALOG.releases)


def owned_namespaces(admin) -> list[str]:
    return sorted(ns["metadata"]["name"] for ns in admin.owned_namespaces())


def test_full_cycle_on_live_objects_dials_nothing_but_loopback(platform, admin):
    """One environment through the whole cycle, shared by every assertion on it (a teardown
    waits ~10 s for the namespace controller)."""
    dials_before = netns.no_route_count()
    platform.preflight(SPECS)  # the runner's rights, asked of the API server
    env = Environment.create(platform, "run-sim")
    namespace = platform.namespace(env)
    deployments = env.deploy_all(SPECS)
    assert {h.release for h in env.state.handles if h.kind == "helm_release"} == \
        {"spark-35", "spark-41"}
    secrets = platform.cluster.core.list_namespaced_secret(namespace, label_selector="owner=helm")
    assert len(secrets.items) == 2, "helm stores each release in its namespace"
    for spec in SPECS:  # what the API server holds is what the chart renders
        release = charts.helm_release(spec)
        rendered = charts.render(charts.chart_dir(spec), release, namespace, platform.values(
            spec, env.state.env_id, env.state.owner_run_id[:63]))
        assert k8s.release_facts(platform.cluster.release_objects(namespace, release), release,
                                 namespace) == k8s.release_facts(rendered, release, namespace)
    d35 = deployments["spark-3.5"]
    assert set(d35.component_seconds) == {"spark-35-postgresql", "spark-35-metastore",
                                          "spark-35-history", "spark-35-master", "spark-35-worker"}

    facts = [env.facts(spec.name) for spec in SPECS]
    for f in facts:
        assert release_checks.release_ready(f).passed, f
        assert f.unobserved.startswith(SIMULATED), f.unobserved
    assert (facts[0].metastore_db, facts[1].metastore_db) == ("metastore_spark35",
                                                             "metastore_spark41")
    assert facts[0].event_log_dir == facts[0].history_log_dir == "s3a://spark-logs/3.5/events"
    services = release_checks.services_isolated(facts)
    assert services.passed, services.message

    jobs = run_acceptance_jobs(env, SPECS, timeout=90)
    job_names = [j.metadata.name for j in platform.cluster.batch.list_namespaced_job(namespace).items]
    assert len(job_names) == 2 and all(
        (platform.cluster.plain(platform.cluster.batch.read_namespaced_job(n, namespace))
         ["status"].get("succeeded")) for n in job_names), "the Job controller completed both Jobs"
    for verdict in (release_checks.sparkpi_completes(jobs["spark-3.5"]),
                    release_checks.connect_job_completes(jobs["spark-4.1"]),
                    release_checks.metastore_isolated(
                        facts, {s.name: f"default.{probe_table(s)}" for s in SPECS}),
                    release_checks.history_isolated(facts),
                    release_checks.event_logs_on_own_prefix(facts)):
        # What only a running container can tell: a warning that says why, never a pass.
        assert not verdict.evaluated and not verdict.passed, verdict
        assert "not evaluated" in verdict.message
    assert SIMULATED in release_checks.sparkpi_completes(jobs["spark-3.5"]).message
    assert "databases are distinct" in release_checks.metastore_isolated(facts, {}).message
    assert netns.no_route_count() == dials_before, \
        "something dialled a non-loopback address during the cycle"

    # The counter moves when the API server's service proxy dials the History Server's (fake)
    # pod address: exactly the call the platform does not make on simulated nodes.
    with pytest.raises(client.ApiException):
        platform.cluster.service_get(namespace, "spark-35-history", "http", "api/v1/applications")
    assert netns.no_route_count() > dials_before

    report = env.teardown()
    verdict = release_checks.nothing_left(report)
    assert verdict.passed, verdict.message
    assert platform.cluster.namespace_phase(namespace) is None
    assert namespace not in owned_namespaces(admin)


def test_conflicting_release_fails_the_isolation_checks_then_the_reaper_takes_it(platform, admin):
    """spark-4.1 installed with spark-3.5's database, event-log prefix and warehouse beside it:
    the configuration halves fail from what the API server holds, naming the clash. Then its
    record is lost (as if it had been made on another machine) and its TTL runs out: `sweep`
    finds the namespace by its labels alone, and the namespace controller removes it, pods and
    Helm's records included; a namespace that is not ours stays."""
    conflicting = values_file("conflicting-spark-4.1.yaml")
    plain_values = platform.values

    def values(spec, env_id, owner):
        base = plain_values(spec, env_id, owner)
        if spec.name != "spark-4.1":
            return base
        return {k: {**base.get(k, {}), **v} if isinstance(v, dict) else v
                for k, v in {**base, **conflicting}.items()}

    platform.values = values
    env = Environment.create(platform, "run-sim-conflict", ttl_seconds=1)
    namespace = platform.namespace(env)
    stranger = namespace_for("env-stranger")
    admin.core.create_namespace({"metadata": {"name": stranger}})  # no owner label: not ours
    try:
        env.deploy_all(SPECS)
        facts = [env.facts(spec.name) for spec in SPECS]
        metastore = release_checks.metastore_isolated(facts, {})
        assert metastore.evaluated and not metastore.passed
        assert "spark-3.5 and spark-4.1 share metastore database 'metastore_spark35'" in \
            metastore.message
        history = release_checks.history_isolated(facts)
        assert history.evaluated and not history.passed
        assert "overlapping prefixes s3a://spark-logs/3.5/events and " \
               "s3a://spark-logs/3.5/events" in history.message
        services = release_checks.services_isolated(facts)
        assert not services.passed and "share data dir s3a://spark-warehouse/3.5" in \
            services.message

        shutil.rmtree(env.path)  # the record is gone; the labels remain
        time.sleep(1.5)  # past the TTL of 1 s
        found = [what for what, _handle in platform.strays(set(), time.time())]
        assert any(namespace in what and "TTL 1s expired" in what for what in found), found
        platform.sweep()
        assert platform.cluster.namespace_phase(namespace) is None
        assert admin.namespace_phase(stranger) == "Active"
    finally:
        admin.delete_namespace(stranger)
        if admin.namespace_phase(namespace) is not None:
            env.teardown()


def test_a_role_without_namespace_rights_stops_the_preflight(platform, admin, monkeypatch,
                                                             simulated_account):
    """The runner role minus `create namespaces`: the preflight asks the API server and refuses,
    naming the right and the fix, before anything is created."""
    kubeconfig = simulated_account("no-namespaces", drop=("namespaces", "create"))
    monkeypatch.setenv("TESTBED_KUBECONFIG", str(kubeconfig))  # read when the platform connects
    before = owned_namespaces(admin)
    with pytest.raises(ConfigError) as caught:
        platform.preflight(SPECS)
    assert "may not create namespaces" in str(caught.value)
    assert "deploy/rbac.yaml" in str(caught.value)
    assert owned_namespaces(admin) == before


def test_the_control_plane_processes_carry_the_cluster_label():
    """What lets a caller that lost track of the cluster find and stop it (marked())."""
    from pathlib import Path

    from resources.processes import marked

    root = Path(os.environ["KUBECONFIG"]).parent
    names = sorted(Path(p.cmdline()[0]).name for p in marked(str(root)))
    assert names == ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"]
