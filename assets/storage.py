"""The environment's object store as an asset (issue: real S3 on loopback).

`storage/object_store`: on the local platform with storage s3 (the default), an S3-compatible store
of the environment's own on 127.0.0.1 (versitygw), holding the releases' event logs
(s3a://spark-logs/<minor>/events) and the Delta tables (s3://tables/test_<8 hex>). The releases
are downstream of it. With storage local, or on Kubernetes (the cluster's own object store), there
is none and its check says so as a warning.
"""

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetExecutionContext,
    AssetKey,
    MaterializeResult,
    MetadataValue,
    asset,
    asset_check,
)

from assets.common import guarded, to_result
from resources.criteria import storage_checks
from resources.environment import TestbedEnvironment
from resources.model.verdict import not_evaluated

STORE = AssetKey(["storage", "object_store"])


@asset(key=STORE, group_name="storage", kinds={"s3"},
       description="The environment's S3-compatible object store on 127.0.0.1 (storage s3, the "
                   "default): buckets spark-logs (event logs, one prefix per release) and tables "
                   "(Delta), credentials made per environment.")
def object_store(context: AssetExecutionContext, testbed: TestbedEnvironment) -> MaterializeResult:
    env = testbed.environment
    store = env.platform.object_store(env)
    if store is None:
        return MaterializeResult(metadata={"storage": env.state.storage,
                                           "platform": env.platform.name})
    facts = store.access_facts()
    context.log.info(f"object store {facts.endpoint} ready: {', '.join(facts.buckets)}")
    return MaterializeResult(metadata={
        "storage": "s3", "endpoint": MetadataValue.url(facts.endpoint),
        "buckets": ", ".join(facts.buckets), "data_dir": MetadataValue.path(facts.data_dir),
        "ready_seconds": round(store.process.ready_seconds, 3) if store.process else 0.0,
        "rss_mb": facts.rss_mb})


@asset_check(asset=STORE, name="object_store_ready", blocking=True,
             description="The store answers the environment's keys, has its buckets, and refuses "
                         "an unsigned request and one signed with a wrong secret.")
def object_store_ready(context: AssetCheckExecutionContext,
                       testbed: TestbedEnvironment) -> AssetCheckResult:
    def gather() -> AssetCheckResult:
        env = testbed.environment
        store = env.platform.object_store(env)
        verdict = storage_checks.object_store_ready(store.access_facts()) if store else \
            not_evaluated(f"this environment keeps its data in {env.state.storage} storage on "
                          f"the {env.platform.name} platform, not in an object store of its own")
        return to_result(verdict, testbed, asset_key=STORE, check_name="object_store_ready",
                         context=context)

    return guarded(testbed, gather)


def build() -> tuple[list, list]:
    return [object_store], [object_store_ready]
