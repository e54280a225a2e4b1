"""The simulated-cluster tier: a real control plane (etcd, kube-apiserver with RBAC, controllers,
scheduler) with kwok nodes, one per session, in the loopback-only network namespace that
`testbed cluster run` made (tests/k8s/test_simulated_cluster.py starts this session so). The
platform runs as deploy/rbac.yaml's testbed-runner ServiceAccount, as a run pod would."""

import os
from pathlib import Path

import pytest
from kubernetes import config

from resources.k8s.cluster import Cluster
from resources.k8s.simulated import netns
from resources.k8s.simulated.session import RUNNER_KUBECONFIG
from resources.platforms.kubernetes import KubernetesPlatform, KubernetesSettings
from tests.k8s.conftest import S3_SETTINGS


@pytest.fixture(scope="session")
def runner_kubeconfig() -> Path:
    assert not netns.not_isolated(), "the simulated tier runs only under `testbed cluster run`"
    return Path(os.environ[RUNNER_KUBECONFIG])


@pytest.fixture(scope="session")
def admin() -> Cluster:
    return Cluster(config.new_client_from_config(os.environ["KUBECONFIG"]))


@pytest.fixture
def platform(runner_kubeconfig, tmp_path, monkeypatch) -> KubernetesPlatform:
    """The platform as the testbed-runner ServiceAccount (helm and the official client alike)."""
    monkeypatch.setenv("TESTBED_KUBECONFIG", str(runner_kubeconfig))
    platform = KubernetesPlatform(tmp_path / "state", grace_seconds=5, ready_timeout=90,
                                  settings=KubernetesSettings(**S3_SETTINGS))
    platform.poll_seconds = 0.5
    return platform


@pytest.fixture
def simulated_account(tmp_path):
    """make(name, drop=(resource, verb)): deploy/rbac.yaml's ServiceAccount and ClusterRole under
    another name, minus one verb on one resource; its kubeconfig."""
    import copy

    import yaml

    from resources.k8s.simulated.cluster import RBAC, account_kubeconfig

    def make(name: str, drop: tuple[str, str]) -> Path:
        documents = copy.deepcopy([d for d in yaml.safe_load_all(RBAC.read_text()) if d])
        for document in documents:
            document["metadata"]["name"] = name
            if document["kind"] == "ClusterRole":
                for rule in document["rules"]:
                    if drop[0] in rule["resources"]:
                        rule["verbs"] = [v for v in rule["verbs"] if v != drop[1]]
            if document["kind"] == "ClusterRoleBinding":
                document["roleRef"]["name"] = name
                document["subjects"][0]["name"] = name
        return account_kubeconfig(Path(os.environ["KUBECONFIG"]), documents,
                                  tmp_path / f"{name}.kubeconfig")
    return make
