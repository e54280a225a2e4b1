"""A release catalog of your own: `testbed run --catalog FILE` or TESTBED_CATALOG (which the UI's
code location reads too). A bad file fails before anything starts, naming the file, the field and
the fix."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import yaml

from pipelines import cli
from resources.model.catalog import CATALOG_FILE


def package_catalog() -> dict:
    return yaml.safe_load(CATALOG_FILE.read_text())


def write(tmp_path: Path, doc: dict) -> Path:
    path = tmp_path / "my-catalog.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def refused(path: Path, capsys, state_dir: Path) -> str:
    assert cli.main(["run", "coexistence", "--catalog", str(path)]) == 2
    error = capsys.readouterr().err
    assert str(path) in error, error
    assert not list((state_dir / "envs").glob("env-*")), "something started"
    return error


def test_an_unknown_key_is_named_with_its_release_and_the_fix(tmp_path, capsys, state_dir):
    doc = package_catalog()
    doc["releases"][1]["metastore_dbs"] = "metastore_x"
    error = refused(write(tmp_path, doc), capsys, state_dir)
    assert "releases[1] (spark-4.1).metastore_dbs: unknown key: remove it or fix its spelling " \
           "(known keys: name, version" in error


def test_a_shared_database_is_refused(tmp_path, capsys, state_dir):
    doc = package_catalog()
    doc["releases"][1]["metastore_db"] = doc["releases"][0]["metastore_db"]
    error = refused(write(tmp_path, doc), capsys, state_dir)
    assert "releases spark-3.5 and spark-4.1 share metastore_db='metastore_spark35': give each " \
           "release its own metastore_db" in error


def test_an_unsupported_delta_pair_is_refused(tmp_path, capsys, state_dir):
    doc = package_catalog()
    doc["releases"][1]["version"] = "4.1.2"
    error = refused(write(tmp_path, doc), capsys, state_dir)
    assert "releases[1] (spark-4.1): delta_version 4.1.0 supports Spark 4.1.0 to 4.1.1, not " \
           "4.1.2" in error


def test_a_pinned_port_that_is_taken_is_refused(tmp_path, capsys, state_dir, releases_installed):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        doc = package_catalog()
        doc["releases"][0]["ports"] = {"master.rpc": port}
        error = refused(write(tmp_path, doc), capsys, state_dir)
    assert f"release spark-3.5: port {port} (ports.master.rpc) is already taken on 127.0.0.1; " \
           f"free it or drop ports.master.rpc" in error


def test_two_names_that_make_one_asset_key_are_refused(tmp_path, capsys, state_dir):
    doc = package_catalog()
    extra = {**doc["releases"][0], "name": "spark-3.5.8", "metastore_db": "metastore_a",
             "event_log_prefix": "spark-logs/a/events"}
    twin = {**extra, "name": "spark-3.5-8", "metastore_db": "metastore_b",
            "event_log_prefix": "spark-logs/b/events"}
    doc["releases"] += [extra, twin]
    error = refused(write(tmp_path, doc), capsys, state_dir)
    assert "share key='spark_3_5_8'" in error


def test_the_code_location_reads_testbed_catalog(tmp_path):
    """What `make ui` loads: TESTBED_CATALOG decides the release assets."""
    doc = package_catalog()
    doc["releases"].append({**doc["releases"][0], "name": "spark-3.5.8", "version": "3.5.8",
                            "metastore_db": "metastore_spark358",
                            "event_log_prefix": "spark-logs/3.5.8/events"})
    env = {**os.environ, "TESTBED_CATALOG": str(write(tmp_path, doc))}
    code = ("from pipelines.definitions import defs; "
            "print(sorted(k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()"
            " if k.path[-1] == 'release'))")
    listed = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert listed.returncode == 0, listed.stderr
    assert "spark_3_5_8/release" in listed.stdout
    env["TESTBED_CATALOG"] = str(tmp_path / "missing.yaml")
    broken = subprocess.run([sys.executable, "-m", "pipelines.cli", "run"], env=env,
                            capture_output=True, text=True)
    assert broken.returncode == 2
    assert f"release catalog {tmp_path / 'missing.yaml'}: cannot read it" in broken.stderr
