"""The Dagster-on-Kubernetes deployment in deploy/: the instance config validates against Dagster's
own schemas, the K8sRunLauncher it names really constructs, and the official chart's values say the
same as dagster.yaml."""

import re
from pathlib import Path

import pytest
import yaml
from dagster._config import process_config
from dagster._core.instance.config import dagster_instance_config
from dagster._core.run_coordinator import QueuedRunCoordinator
from dagster_k8s import K8sRunLauncher

from resources.k8s import charts
from tests.k8s.emulator import emulated_api

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


@pytest.fixture
def instance_config(monkeypatch):
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", "not-used-here")
    config, _ = dagster_instance_config(str(DEPLOY))
    return config


def test_instance_config_and_run_launcher_validate(instance_config):
    launcher = instance_config["run_launcher"]
    assert (launcher["module"], launcher["class"]) == ("dagster_k8s", "K8sRunLauncher")
    result = process_config(K8sRunLauncher.config_type(), launcher["config"])
    assert result.success, result.errors
    coordinator = instance_config["run_coordinator"]
    assert process_config(QueuedRunCoordinator.config_type(), coordinator["config"]).success


def test_a_misspelt_run_launcher_field_is_refused(instance_config):
    config = {**instance_config["run_launcher"]["config"], "job_namspace": "dagster"}
    result = process_config(K8sRunLauncher.config_type(), config)
    assert not result.success
    assert 'unexpected config entry "job_namspace"' in result.errors[0].message


def test_the_run_launcher_constructs_against_an_api_server(instance_config, tmp_path):
    config = process_config(K8sRunLauncher.config_type(),
                            instance_config["run_launcher"]["config"]).value
    with emulated_api(tmp_path) as (_emulator, kubeconfig, _cluster):
        launcher = K8sRunLauncher(**{**config, "load_incluster_config": False,
                                     "kubeconfig_file": str(kubeconfig)})
    assert launcher.job_namespace == "dagster"
    assert "testbed-s3" in launcher.env_secrets


def _snake(key: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", key).lower()


def _plain(value):
    """The chart's [{name: x}] lists are dagster.yaml's [x]."""
    if isinstance(value, list) and value and all(isinstance(v, dict) and set(v) == {"name"}
                                                 for v in value):
        return [v["name"] for v in value]
    return value


def test_chart_values_say_what_dagster_yaml_says(instance_config):
    values = yaml.safe_load((DEPLOY / "dagster-values.yaml").read_text())
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    from_chart = {_snake(k): _plain(v)
                  for k, v in values["runLauncher"]["config"]["k8sRunLauncher"].items()}
    fields = K8sRunLauncher.config_type()
    assert set(from_chart) <= set(fields), set(from_chart) - set(fields)
    ours = instance_config["run_launcher"]["config"]
    assert {k: ours[k] for k in from_chart} == from_chart

    deployment = values["dagster-user-deployments"]["deployments"][0]
    pyproject = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    module = re.search(r'module_name = "([^"]+)"', pyproject).group(1)
    assert deployment["dagsterApiGrpcArgs"] == ["-m", module]
    assert values["serviceAccount"]["name"] == ours["service_account_name"]


def test_runner_rbac_is_valid_and_covers_what_the_platform_calls():
    objects = list(yaml.safe_load_all((DEPLOY / "rbac.yaml").read_text()))
    assert charts.validate(objects, versions=("1.29.0", "1.37.0")) == []
    role = next(o for o in objects if o["kind"] == "ClusterRole")
    granted = {(group, resource) for rule in role["rules"] for group in rule["apiGroups"]
               for resource in rule["resources"]}
    needed = {("", "namespaces"), ("", "pods/exec"), ("", "services/proxy"), ("", "pods/log"),
              ("apps", "deployments"), ("apps", "statefulsets"), ("batch", "jobs"),
              ("", "secrets"), ("rbac.authorization.k8s.io", "roles")}
    assert needed <= granted
