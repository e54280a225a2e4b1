"""object_store_ready passes on a store that serves its buckets to the environment's keys only, and
FAILS, saying what, on one that lacks a bucket, rejects the right keys, or accepts what it must
refuse."""

from resources.criteria.storage_checks import object_store_ready
from resources.model.facts import ObjectStoreFacts


def store(**changes) -> ObjectStoreFacts:
    base = dict(endpoint="http://127.0.0.1:9000", data_dir="/envs/e1/s3/data",
                expected_buckets=["spark-logs", "tables"], buckets=["spark-logs", "tables"],
                unsigned="refused: 403 AccessDenied", unsigned_refused=True,
                wrong_key="refused: 403 SignatureDoesNotMatch", wrong_key_refused=True)
    return ObjectStoreFacts(**{**base, **changes})


def test_a_store_with_its_buckets_that_refuses_strangers_is_ready():
    verdict = object_store_ready(store())
    assert verdict.passed, verdict.message
    assert "unsigned (refused: 403 AccessDenied)" in verdict.message


def test_a_missing_bucket_fails_naming_it():
    verdict = object_store_ready(store(buckets=["spark-logs"]))
    assert not verdict.passed
    assert "bucket(s) tables missing at http://127.0.0.1:9000 (it has spark-logs)" in verdict.message


def test_a_store_that_accepts_unsigned_requests_fails():
    verdict = object_store_ready(store(unsigned="accepted: listed bucket spark-logs",
                                       unsigned_refused=False))
    assert not verdict.passed
    assert "an unsigned request was not refused (accepted: listed bucket spark-logs)" \
        in verdict.message


def test_a_store_that_does_not_check_signatures_fails():
    verdict = object_store_ready(store(wrong_key="accepted: listed bucket spark-logs",
                                       wrong_key_refused=False))
    assert not verdict.passed
    assert "signed with a wrong secret was not refused" in verdict.message


def test_a_store_that_refuses_the_environment_s_own_keys_fails():
    verdict = object_store_ready(store(buckets=[], list_error="InvalidAccessKeyId"))
    assert not verdict.passed
    assert "refused the environment's own keys: InvalidAccessKeyId" in verdict.message
