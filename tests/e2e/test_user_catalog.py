"""A catalog of your own, from the command line: Spark 3.5.8 beside 3.5.7 (built from PyPI like
the others, on a port of your choosing) and 4.1, deployed side by side, every coexistence check
passing across the three."""

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
    port = free_port()
    doc["releases"].append({"name": "spark-3.5.8", "version": "3.5.8",
                            "components": ["metastore", "history", "master", "worker"],
                            "metastore_db": "metastore_spark358",
                            "event_log_prefix": "spark-logs/3.5.8/events",
                            "ports": {"master.rpc": port}})
    catalog = tmp_path / "three-releases.yaml"
    catalog.write_text(yaml.safe_dump(doc, sort_keys=False))
    watch = LeakWatch(state_dir)
    assert cli.main(["run", "coexistence", "--catalog", str(catalog)]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith(("PASS", "FAIL", "WARN"))]
    # 3 release_ready, 2 SparkPi, 1 Connect probe, 3 isolation checks x 3 releases, nothing_left
    assert len(rows) == 16 and all(row.startswith("PASS") for row in rows), out
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
