"""CDC acceptance criteria (seed 003 user story 3, DQ-004) as pure functions over what was captured.

Rows are dicts keyed by column; captured changes are (op, pk, position) in the order of their binlog
position, position = "file:pos#row".
"""

from collections import Counter

from resources.model.verdict import Verdict, verdict

Captured = tuple[str, int, str]


def bulk_insert_captured(inserted: list[int], bronze_inserts: list[int], mirror_ids: list[int],
                         latency_s: float, budget_s: float) -> Verdict:
    problems = []
    missing_bronze = sorted(set(inserted) - set(bronze_inserts))
    missing_mirror = sorted(set(inserted) - set(mirror_ids))
    if missing_bronze:
        problems.append(f"{len(missing_bronze)} of {len(inserted)} inserts missing from the bronze "
                        f"table (ids {missing_bronze[:10]})")
    if missing_mirror:
        problems.append(f"{len(missing_mirror)} of {len(inserted)} rows missing from the mirror "
                        f"(ids {missing_mirror[:10]})")
    if latency_s > budget_s:
        problems.append(f"captured in {latency_s:.2f}s, over the {budget_s:.1f}s budget")
    return verdict(problems, f"{len(inserted)} inserts in bronze and mirror after {latency_s:.3f}s "
                             f"(budget {budget_s:.1f}s)", latency_s=round(latency_s, 4))


def transaction_order_preserved(expected: list[tuple[str, int]], captured: list[Captured]) -> Verdict:
    """Changes appear in commit order, and in statement order within a transaction."""
    got = [(op, pk) for op, pk, _pos in captured]
    if got == expected:
        return Verdict(True, f"{len(expected)} changes in commit and statement order",
                       {"order": ", ".join(f"{op} {pk}" for op, pk in got)})
    for index, (want, have) in enumerate(zip(expected, got)):
        if want != have:
            where = captured[index][2]
            return Verdict(False, f"change #{index} at {where} is {have[0]} of key {have[1]}, "
                                  f"expected {want[0]} of key {want[1]} (commit order: {expected})",
                           {"captured": str(got)})
    return Verdict(False, f"captured {len(got)} changes, expected {len(expected)}: "
                          f"{'missing ' + str(expected[len(got):]) if len(got) < len(expected) else 'extra ' + str(got[len(expected):])}",
                   {"captured": str(got)})


def _compare(source: list[dict], mirror: list[dict]) -> list[str]:
    src = {row["id"]: row for row in source}
    mir = {row["id"]: row for row in mirror}
    problems = [f"key {k} missing from the mirror" for k in sorted(set(src) - set(mir))[:10]]
    problems += [f"key {k} in the mirror but not in the source" for k in sorted(set(mir) - set(src))[:10]]
    for key in sorted(set(src) & set(mir)):
        diff = {c: (src[key][c], mir[key].get(c)) for c in src[key] if src[key][c] != mir[key].get(c)}
        if diff:
            problems.append(f"key {key} differs: " + ", ".join(
                f"{c} source={a!r} mirror={b!r}" for c, (a, b) in diff.items()))
        if len(problems) >= 10:
            break
    return problems


def mirror_matches_source(source: list[dict], mirror: list[dict]) -> Verdict:
    return verdict(_compare(source, mirror),
                   f"mirror equals the source row for row ({len(source)} rows, all columns exact)",
                   rows=len(source))


def resume_without_loss(source: list[dict], mirror: list[dict], positions: list[str]) -> Verdict:
    """After a stop and restart the mirror still equals the source and no binlog position was
    captured twice."""
    duplicates = [f"{pos} captured {n} times" for pos, n in Counter(positions).items() if n > 1]
    return verdict(_compare(source, mirror) + duplicates[:10],
                   f"resumed without loss or duplicate: {len(source)} rows, {len(positions)} changes",
                   changes=len(positions))
