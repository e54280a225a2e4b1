"""The compose platform's files and refusals, without an engine: compose files made from the
catalog's data (validated by the real compose binary), and bad input refused before anything
starts, naming the field or the cause and the fix."""

import socket
import time

import pytest
import yaml

from resources.docker import compose as compose_cli
from resources.docker import engine
from resources.docker.compose import compose
from resources.docker.inspect import abandoned
from resources.docker.project import (
    HAND_HEADER,
    LABELS,
    ContainerArchives,
    ReleaseProject,
    hand_document,
    host,
)
from resources.model.errors import ConfigError
from resources.platforms.compose import ComposePlatform
from resources.settings import spark_home

CHECKED_IN = "compose/docker-compose.yml"


def test_checked_in_compose_file_is_the_catalogs_pair(catalog):
    text = open(CHECKED_IN).read()
    assert text.startswith(HAND_HEADER)
    assert yaml.safe_load(text) == yaml.safe_load(yaml.safe_dump(hand_document(
        list(catalog.releases)))), "regenerate it: python -m resources.docker.project"


def test_compose_accepts_the_checked_in_file():
    """`compose config` (the real binary) parses and validates it; no engine needed."""
    services = compose("testbed-pair", [CHECKED_IN], "config", "--services").split()
    assert sorted(services) == sorted(
        ["postgres", "spark-3-5-metastore", "spark-3-5-history", "spark-3-5-master",
         "spark-3-5-worker", "spark-4-1-metastore", "spark-4-1-history", "spark-4-1-connect"])


def test_each_release_has_its_own_database_volumes_and_loopback_ports(catalog):
    labels = dict.fromkeys(LABELS, "x")
    docs = {s.name: ReleaseProject(s, "img", labels, (s.metastore_db, "pw")).document()
            for s in catalog.releases}
    for name, doc in docs.items():
        for service in doc["services"].values():
            assert all(p["host_ip"] == "127.0.0.1" and "published" not in p
                       for p in service["ports"])  # the engine picks free host ports
            assert set(LABELS) <= set(service["labels"]) and service["init"] is True
        site = doc["configs"][f"{host(name, 'metastore')}-hive-site"]["content"]
        assert f"postgres:5432/{catalog.get(name).metastore_db}</value>" in site
    volumes = [set(doc["volumes"]) for doc in docs.values()]
    assert volumes[0].isdisjoint(volumes[1])


def test_one_prefix_is_one_volume_and_a_fixed_port_is_published_as_given(catalog):
    spec = catalog.get("spark-4.1").model_copy(update={
        "event_log_prefix": catalog.get("spark-3.5").event_log_prefix,
        "ports": {"history.ui": 28080}})
    doc = ReleaseProject(spec, "img", {}, ("u", "p")).document()
    assert "events-spark-logs-3-5-events" in doc["volumes"]  # really shared with spark-3.5
    history = doc["services"]["spark-4-1-history"]
    assert history["ports"] == [{"target": 18080, "host_ip": "127.0.0.1", "protocol": "tcp",
                                 "published": "28080"}]


def test_releases_that_would_share_a_compose_service_are_refused(catalog, tmp_path):
    twin = catalog.get("spark-3.5").model_copy(update={"name": "spark-3-5",
                                                       "metastore_db": "other"})
    with pytest.raises(ConfigError, match="releases spark-3.5 and spark-3-5 would both run "
                                          "compose service spark-3-5-metastore.*rename one"):
        ComposePlatform(tmp_path).preflight([catalog.get("spark-3.5"), twin])


def test_storage_s3_is_refused_naming_the_setting(tmp_path):
    with pytest.raises(ConfigError, match="storage 's3' is not available on the compose "
                                          "platform.*TESTBED_STORAGE=local"):
        ComposePlatform(tmp_path).resolve_storage("s3")


def test_a_taken_fixed_port_is_refused_before_anything_starts(catalog, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        spec = catalog.get("spark-3.5").model_copy(update={"ports": {"master.ui": port}})
        with pytest.raises(ConfigError, match=f"port {port} \\(ports.master.ui\\) is already "
                                              f"taken on 127.0.0.1; free it"):
            ComposePlatform(tmp_path).preflight([spec])


def test_compose_not_built_and_no_engine_are_named_with_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("TESTBED_CACHE", str(tmp_path))
    with pytest.raises(ConfigError, match="Docker Compose 2.40.3 is not built.*make setup"):
        compose_cli.check_installed()
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no.sock")
    with pytest.raises(ConfigError, match=f"no Docker engine answers at DOCKER_HOST=unix://"
                                          f"{tmp_path}/no.sock: start it, or unset DOCKER_HOST"):
        engine.ensure()


def test_a_project_is_abandoned_when_its_owner_is_gone_or_its_ttl_expired():
    me = socket.gethostname()
    now = time.time()
    owner, created, ttl = LABELS[1], LABELS[2], LABELS[3]
    alive = {owner: f"{me}:1:{_started(1)}", created: str(now), ttl: "3600"}
    assert abandoned(alive, now) is None
    assert abandoned({**alive, owner: f"{me}:999999999:1.0"}, now) == "owner pid 999999999 is gone"
    assert "TTL 3600s expired" in abandoned({**alive, created: str(now - 7200)}, now)
    elsewhere = {**alive, owner: "another-host:1:1.0"}  # another machine: only its TTL counts
    assert abandoned(elsewhere, now) is None


def _started(pid: int) -> float:
    import psutil

    return psutil.Process(pid).create_time()


def test_hive_site_names_the_model_classes_of_the_release(catalog):
    spec = catalog.get("spark-3.5")
    assert spark_home(spec.version).exists()
    doc = ReleaseProject(spec, "img", {}, ("u", "p")).document()
    site = doc["configs"]["spark-3-5-metastore-hive-site"]["content"]
    assert "org.apache.hadoop.hive.metastore.model.MTable" in site


def test_class_data_archives_are_dumped_once_and_kept_only_from_clean_stops(catalog, tmp_path):
    archives = ContainerArchives(tmp_path, "sha256:abcdef0123456789", "env-1")
    assert archives.flags("master")[0] == \
        f"-XX:ArchiveClassesAtExit={tmp_path}/abcdef012345-master.env-1.dumping"
    doc = ReleaseProject(catalog.get("spark-3.5"), "img", {}, ("u", "p"),
                         archives=archives).document()
    master = doc["services"]["spark-3-5-master"]
    assert master["stop_grace_period"] == "60s"  # its first stop writes the archive
    assert "ArchiveClassesAtExit" in master["environment"]["SPARK_DAEMON_JAVA_OPTS"]
    for jvm in ("master", "worker"):  # what the two JVMs dumped as they stopped
        (tmp_path / f"abcdef012345-{jvm}.env-1.dumping").write_bytes(b"x")
    ContainerArchives.keep(tmp_path, "env-1", clean={"master"})  # the worker was killed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["abcdef012345-master.jsa"]
    assert archives.flags("master") == [f"-XX:SharedArchiveFile={tmp_path}/abcdef012345-master.jsa"]
    doc = ReleaseProject(catalog.get("spark-3.5"), "img", {}, ("u", "p"),
                         archives=archives).document()
    assert "stop_grace_period" not in doc["services"]["spark-3-5-master"]
