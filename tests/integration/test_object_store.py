"""The environment's object store for real (versitygw on 127.0.0.1): credentials enforced,
object_store_ready failing on a real missing bucket, delta-rs writers committing concurrently
without a lost row, delta-rs and delta-spark sharing one bucket table, and teardown leaving
neither its process nor its data."""

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import pyarrow as pa
import pytest
from botocore.exceptions import ClientError

from resources import delta
from resources.criteria.storage_checks import object_store_ready
from resources.platforms.environment import Environment
from resources.platforms.local import LocalPlatform
from resources.services.objectstore import ObjectStore
from resources.spark import connect_read_delta
from tests.conftest import LeakWatch

WRITERS, APPENDS, ROWS = 4, 5, 10


@pytest.fixture(scope="module")
def store(state_root):
    server = ObjectStore(state_root / "object-store")
    process = server.start()
    yield server
    process.stop(10)


def test_the_store_serves_its_keys_and_refuses_strangers(store):
    assert object_store_ready(store.access_facts()).passed
    with pytest.raises(ClientError, match="SignatureDoesNotMatch"):
        store.client(secret_key="not-the-secret").list_objects_v2(Bucket="tables")
    with pytest.raises(ClientError, match="AccessDenied"):
        store.client(signed=False).put_object(Bucket="tables", Key="x", Body=b"x")
    with pytest.raises(ClientError, match="No user exists with the provided access key"):
        store.client(access_key="TBNOBODY", secret_key=store.secret_key).list_buckets()


def test_a_missing_bucket_fails_object_store_ready(store):
    store.client().delete_bucket(Bucket="tables")
    try:
        verdict = object_store_ready(store.access_facts())
    finally:
        store.client().create_bucket(Bucket="tables")
    assert not verdict.passed
    assert f"bucket(s) tables missing at {store.endpoint} (it has spark-logs)" in verdict.message


def _append(location, writer: int) -> int:
    """One writer process: APPENDS appends of ROWS rows each to the shared table."""
    for n in range(APPENDS):
        rows = pa.table({"writer": [writer] * ROWS, "n": [n] * ROWS, "i": list(range(ROWS))})
        delta.write(location, rows, mode="append")
    return writer


def test_four_concurrent_delta_rs_writers_lose_no_row(store):
    """No lock table: the store's conditional put (If-None-Match) makes each commit safe."""
    location = store.table("test_c0ncurr3")
    delta.write(location, pa.table({"writer": pa.array([], pa.int64()),
                                    "n": pa.array([], pa.int64()),
                                    "i": pa.array([], pa.int64())}), mode="error")
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(WRITERS, mp_context=spawn) as pool:
        assert sorted(pool.map(_append, [location] * WRITERS, range(WRITERS))) == list(range(WRITERS))
    data = delta.read(location)
    assert len(data) == WRITERS * APPENDS * ROWS
    assert len(set(zip(*(data.column(c).to_pylist() for c in ("writer", "n", "i"))))) == len(data)
    assert delta.version(location) == WRITERS * APPENDS  # one commit each, none lost or merged
    commits = [n for n in store.entries("s3://tables/test_c0ncurr3/_delta_log")
               if n.endswith(".json")]  # listed from the store
    assert len(commits) == WRITERS * APPENDS + 1


@pytest.mark.spark
def test_delta_rs_and_delta_spark_share_one_bucket_table(coexisting):
    """delta-rs creates a table in the environment's store; Spark 4.1 + Delta reads it through
    Connect (s3a) and appends; delta-rs reads both halves back."""
    env, _jobs = coexisting
    location = env.new_table("test_1nter0p0", owner="test")
    delta.write(location, pa.table({"id": [1, 2, 3], "by": ["delta-rs"] * 3}), mode="error")
    url = env.deployments["spark-4.1"].endpoints.connect
    assert sorted(connect_read_delta(url, location.spark_uri).column("id").to_pylist()) == [1, 2, 3]

    from pyspark.sql import SparkSession

    spark = SparkSession.builder.remote(url).create()
    try:
        spark.createDataFrame([(4, "delta-spark"), (5, "delta-spark")], "id long, by string") \
            .write.format("delta").mode("append").save(location.spark_uri)
    finally:
        spark.stop()
    back = delta.read(location)
    assert sorted(zip(back.column("id").to_pylist(), back.column("by").to_pylist())) == [
        (1, "delta-rs"), (2, "delta-rs"), (3, "delta-rs"), (4, "delta-spark"), (5, "delta-spark")]
    assert location.uri.startswith("s3://tables/") and location.local_path.startswith(str(env.path))


def test_teardown_removes_the_store_s_process_and_data(state_dir):
    watch = LeakWatch(state_dir)
    env = Environment.create(LocalPlatform(state_dir), run_id="store-teardown", storage="s3")
    store = env.platform.object_store(env)
    store.client().put_object(Bucket="spark-logs", Key="3.5/events/app-1", Body=b"{}")
    assert (store.data_dir / "spark-logs" / "3.5" / "events" / "app-1").exists()
    pid = store.process.pid
    report = env.teardown()
    assert report.leftovers == [], report.leftovers
    assert any(e.what == f"process s3 (pid {pid})" and e.result == "stopped"
               for e in report.entries), report.lines()
    assert not store.running() and not store.root.exists()
    assert watch.leaks() == []
