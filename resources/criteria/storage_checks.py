"""Acceptance criteria of the environment's object store, as pure functions over what it answered."""

from resources.model.facts import ObjectStoreFacts
from resources.model.verdict import Verdict, verdict


def object_store_ready(facts: ObjectStoreFacts) -> Verdict:
    """It answers with the environment's keys, has every bucket the environment uses, and refuses
    both an unsigned request and one signed with a wrong secret."""
    problems = []
    if facts.list_error:
        problems.append(f"the store at {facts.endpoint} refused the environment's own keys: "
                        f"{facts.list_error}")
    else:
        missing = [b for b in facts.expected_buckets if b not in facts.buckets]
        if missing:
            problems.append(f"bucket(s) {', '.join(missing)} missing at {facts.endpoint} (it has "
                            f"{', '.join(facts.buckets) or 'none'})")
    if not facts.unsigned_refused:
        problems.append(f"an unsigned request was not refused ({facts.unsigned}): anyone on "
                        f"this machine could read and write the environment's data")
    if not facts.wrong_key_refused:
        problems.append(f"a request signed with a wrong secret was not refused "
                        f"({facts.wrong_key}): signatures are not checked")
    return verdict(problems,
                   f"{facts.endpoint} serves {', '.join(facts.buckets)} to the environment's keys; "
                   f"unsigned ({facts.unsigned}) and wrong-key ({facts.wrong_key}) requests refused",
                   endpoint=facts.endpoint, buckets=", ".join(facts.buckets),
                   unsigned=facts.unsigned, wrong_key=facts.wrong_key, rss_mb=facts.rss_mb)
