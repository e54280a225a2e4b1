"""A catalog of your own, from the command line: Spark 3.5.8 beside 3.5.7 (built from PyPI like
the others, on a port of your choosing, sharing S3A's jars with 3.5.7: the same Hadoop), deployed
side by side, every coexistence check passing across the two. (The package's catalog, 3.5 beside
4.1, runs in test_coexistence_job.py; leaving 4.1 out here keeps the suite inside its budget.)"""

import re

import pytest
import yaml

from pipelines import cli
from resources.install import install_spark
from resources.model.catalog import CATALOG_FILE
from resources.ports import free_port
from tests.conftest import LeakWatch

pytestmark = [pytest.mark.spark, pytest.mark.e2e]


@pytest.fixture(scope="module")
def spark_358():
    """Installed like `make setup` installs the catalog's releases (cached after the first time)."""
    return install_spark("3.5.8")


def test_3_5_8_beside_3_5_7_passes_every_coexistence_check(state_dir, tmp_path, monkeypatch,
                                                          capsys, releases_installed, spark_358):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    doc = yaml.safe_load(CATALOG_FILE.read_text())
    doc["releases"] = [r for r in doc["releases"] if r["version"].startswith("3.5.")]
    port = free_port()
    doc["releases"].append({"name": "spark-3.5.8", "version": "3.5.8",
                            "components": ["metastore", "history", "master", "worker"],
                            "metastore_db": "metastore_spark358",
                            "event_log_prefix": "spark-logs/3.5.8/events",
                            "ports": {"master.rpc": port}})
    catalog = tmp_path / "two-3.5-releases.yaml"
    catalog.write_text(yaml.safe_dump(doc, sort_keys=False))
    watch = LeakWatch(state_dir)
    assert cli.main(["run", "coexistence", "--catalog", str(catalog)]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith(("PASS", "FAIL", "WARN"))]
    # 2 release_ready, 2 sparkpi, 4 isolation checks x 2 releases, object_store_ready, nothing_left
    assert len(rows) == 14 and all(row.startswith("PASS") for row in rows), out
    assert re.search(r"PASS +spark_3_5_8/release +sparkpi_completes", out)
    assert re.search(r"spark_3_5_8/release +deployed: Spark 3\.5\.8, ready in", out)
    assert re.search(r"service spark-3\.5\.8-master: ready in", out)  # progress, plain lines
    assert f"spark://127.0.0.1:{port}" in _master_url(tmp_path)
    assert watch.leaks() == []


def _master_url(tmp_path) -> str:
    """The 3.5.8 master's address, as its asset recorded it (the pinned port)."""
    from dagster import AssetKey, DagsterInstance

    with DagsterInstance.get() as instance:
        event = instance.get_latest_materialization_event(AssetKey(["spark_3_5_8", "release"]))
    return str(event.asset_materialization.metadata["master"].value)
