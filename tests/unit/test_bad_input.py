"""Bad input is refused before anything starts, with a message naming the field and the fix."""

import os
import socket

import pytest
import yaml

from resources.model.catalog import Catalog, ReleaseSpec, load_catalog
from resources.model.errors import ConfigError
from resources.platforms.environment import Environment
from resources.platforms.local import LocalPlatform
from tests.conftest import run_ephemeral


def spec(**changes) -> ReleaseSpec:
    base = load_catalog().get("spark-3.5").model_dump()
    return ReleaseSpec(**{**base, **changes})


def test_unknown_release_names_the_catalog():
    with pytest.raises(ConfigError, match=r"unknown release 'spark-9.9': the catalog has spark-3.5, spark-4.1"):
        load_catalog().get("spark-9.9")


def test_catalog_refuses_a_shared_metastore_database(tmp_path):
    doc = yaml.safe_load(open("resources/catalog.yaml"))
    doc["releases"][1]["metastore_db"] = doc["releases"][0]["metastore_db"]
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(ConfigError, match=r"share metastore_db='metastore_spark35': give each release its own"):
        load_catalog(path)


@pytest.mark.parametrize("changes, says", [
    ({"components": ("metastore", "worker")}, "a worker needs a master"),
    ({"components": ("history", "master")}, "needs its own 'metastore'"),
    ({"event_log_prefix": "/abs/events"}, "must be a relative path"),
    ({"version": "3.5"}, "version"),
    ({"metastore_db": "Metastore-35"}, "metastore_db"),
    ({"worker_memory": "1 GB"}, "worker_memory"),
    ({"version": "4.1.2", "delta_version": "4.1.0"},
     r"delta_version 4.1.0 supports Spark 4.1.0 to 4.1.1, not 4.1.2"),
    ({"version": "3.5.7", "delta_version": "4.0.0"}, r"supports Spark 4.0.0 to 4.0.99, not 3.5.7.*Delta 3.3.x"),
    ({"delta_version": "2.4.0"}, r"delta_version 2.4.0 is not a known Delta line; for Spark 3.5.7 use Delta 3.3.x"),
])
def test_release_spec_validation(changes, says):
    with pytest.raises(ValueError, match=says):
        spec(**changes)


def test_missing_spark_install_says_make_setup(state_dir):
    platform = LocalPlatform(state_dir)
    with pytest.raises(ConfigError, match=r"Spark 3.5.99 for release spark-3.5 is not installed .*run `make setup`"):
        platform.preflight([spec(version="3.5.99")])
    assert not list((state_dir / "envs").glob("env-*"))


def test_missing_delta_jars_say_make_setup(state_dir, releases_installed, monkeypatch, tmp_path):
    monkeypatch.setattr("resources.services.spark.release_jars", lambda name: tmp_path / name)
    with pytest.raises(ConfigError, match=r"the jars of release spark-3.5 \(io.delta:delta-spark_2.12:3.3.2.*\) are not in .*run `make setup`"):
        LocalPlatform(state_dir).preflight([spec()])


def test_port_already_taken(state_dir, releases_installed):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(ConfigError, match=rf"port {port} \(ports.master.rpc\) is already taken"):
            LocalPlatform(state_dir).preflight([spec(ports={"master.rpc": port})])


def test_port_for_unknown_component_role(state_dir, releases_installed):
    with pytest.raises(ConfigError, match=r"ports.connect.grpc names no port of its components"):
        LocalPlatform(state_dir).preflight([spec(ports={"connect.grpc": 15002})])


def test_unwritable_state_dir(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("not a dir")
    with pytest.raises(ConfigError, match=r"is not writable.*set TESTBED_STATE_DIR"):
        LocalPlatform(blocked / "state").preflight([])


def test_missing_java(state_dir, monkeypatch):
    monkeypatch.setenv("JAVA_HOME", "/nonexistent/jdk")
    with pytest.raises(ConfigError, match=r"JAVA_HOME=/nonexistent/jdk has no bin/java"):
        LocalPlatform(state_dir).preflight([])


@pytest.mark.skipif(os.getuid() != 0, reason="only root runs PostgreSQL as the postgres user")
def test_state_dir_unreachable_by_postgres(tmp_path):
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    with pytest.raises(ConfigError, match=r"not searchable by the postgres user"):
        LocalPlatform(private / "state").preflight([])


def test_deploy_of_bad_spec_starts_nothing(state_dir):
    platform = LocalPlatform(state_dir)
    env = Environment.create(platform, run_id="bad-input")
    with pytest.raises(ConfigError):
        env.deploy(spec(version="3.5.99"))
    assert "postgres" not in env.services and env.state.handles == []
    assert env.teardown().leftovers == []
    assert not env.path.exists()


def test_unknown_platform():
    from resources.platforms.registry import make_platform

    with pytest.raises(ConfigError, match=r"platform 'nomad' is not available.*TESTBED_PLATFORM=local"):
        make_platform("nomad", "/tmp", 60, 10)


def test_deploy_target_chooses_the_platform_when_testbed_platform_is_unset(monkeypatch, tmp_path):
    from resources.platforms.registry import housekeeping_platform

    monkeypatch.delenv("TESTBED_PLATFORM", raising=False)
    monkeypatch.setenv("DEPLOY_TARGET", "nomad")
    with pytest.raises(ConfigError, match=r"platform 'nomad' is not available"):
        housekeeping_platform(state=str(tmp_path))
    monkeypatch.setenv("TESTBED_PLATFORM", "local")  # the explicit one wins
    assert housekeeping_platform(state=str(tmp_path)).name == "local"


def test_catalog_model_is_frozen():
    catalog = load_catalog()
    assert isinstance(catalog, Catalog)
    with pytest.raises(ValueError):
        catalog.releases[0].version = "1.0.0"


def test_missing_postgresql_names_the_package(tmp_path):
    from resources.services.postgres import find_postgres_bin

    with pytest.raises(ConfigError, match=r"PostgreSQL server binaries .* are missing: apt-get install postgresql"):
        find_postgres_bin(tmp_path)
    assert find_postgres_bin().joinpath("initdb").exists()


def test_a_platform_refuses_a_service_it_cannot_run_before_anything_starts(state_dir):
    """The test_infrastructure job on kubernetes: its CDC source and alerting stack are services
    that platform cannot run, and the run says so before it starts anything."""
    from pipelines.definitions import defs

    result = run_ephemeral(
        defs.resolve_job_def("test_infrastructure"), raise_on_error=False,
        run_config={"resources": {"testbed": {"config": {"platform": "kubernetes",
                                                         "state_dir": str(state_dir)}}}})
    assert not result.success
    error = str(result.all_events[-1].event_specific_data.error)
    assert "the kubernetes platform cannot run service 'mariadb' (the CDC source); it runs " \
           "releases only; use platform local" in error
    assert not list((state_dir / "envs").glob("env-*"))


def test_an_environment_refuses_a_service_its_platform_cannot_run(state_dir):
    from resources.platforms.kubernetes import KubernetesPlatform, KubernetesSettings
    from resources.services.alertmanager import AlertManager

    platform = KubernetesPlatform(state_dir, settings=KubernetesSettings(
        s3_endpoint="http://s3:9000", s3_access_key="a", s3_secret_key="b"))
    env = Environment.create(platform, run_id="refused")
    with pytest.raises(ConfigError, match=r"kubernetes platform cannot run service 'alertmanager'"):
        env.start(AlertManager(env.path / "alerting"))
    assert env.state.handles == [] and env.teardown().leftovers == []


def test_an_unknown_storage_names_the_setting(state_dir, monkeypatch):
    monkeypatch.setenv("TESTBED_STORAGE", "s4")
    with pytest.raises(ConfigError, match=r"storage 's4' is not one of local, s3: fix "
                                          r"TESTBED_STORAGE or the resource's `storage` field"):
        Environment.create(LocalPlatform(state_dir), run_id="bad-storage")
    assert not list((state_dir / "envs").glob("env-*"))


def test_a_missing_object_store_build_says_make_setup(state_dir, releases_installed, monkeypatch,
                                                      tmp_path):
    monkeypatch.setattr("resources.services.objectstore.tools_dir", lambda: tmp_path)
    with pytest.raises(ConfigError, match=r"versitygw 1.8.0 is not built at .*: run `make setup` "
                                          r"\(it needs go\), or run with storage local"):
        LocalPlatform(state_dir).preflight([spec()], ("s3",))
    LocalPlatform(state_dir).preflight([spec()])  # storage local needs no store


def test_missing_s3a_jars_say_make_setup(state_dir, releases_installed, monkeypatch, tmp_path):
    monkeypatch.setattr("resources.services.s3a.s3a_dir", lambda hadoop: tmp_path / hadoop)
    with pytest.raises(ConfigError, match=r"release spark-3.5: hadoop-aws 3.3.4 and its AWS SDK "
                                          r"modules are not in .*: run `make setup`"):
        LocalPlatform(state_dir).preflight([spec()], ("s3",))


def test_a_hadoop_without_a_known_sdk_names_where_to_add_it():
    """3.4.1 is the 3.4 line but not 3.4.2's SDK: guessing by the line would load the wrong one."""
    from resources.services.s3a import sdk_for

    assert sdk_for("3.4.2").version == "2.29.52" and sdk_for("3.3.4").version == "1.12.262"
    with pytest.raises(ConfigError, match=r"Hadoop 3\.4\.1 has no S3A recipe.*SDK_FOR_HADOOP in "
                                          r"resources/services/s3a\.py, or run with storage local"):
        sdk_for("3.4.1")


def test_connect_versions_on_the_command_line_are_checked_before_anything_starts(capsys):
    from pipelines import cli

    assert cli.main(["run", "connect_suites", "--versions", "4.1.0,9.9.9"]) == 2
    said = capsys.readouterr().err
    assert "no Connect target '9.9.9' in the catalog's connect list (it has 3.5.7, 3.5.8, " \
           "4.1.0, 4.1.1): add `- version: 9.9.9` under connect:" in said
    assert cli.main(["run", "coexistence", "--versions", "4.1.0"]) == 2
    assert "--versions applies to connect_suites, not coexistence" in capsys.readouterr().err
