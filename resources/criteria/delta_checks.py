"""Data-quality checks on a seeded Delta table (seed 003 DQ-001..003, DQ-005) as pure functions.

Inputs are what each engine read back (Arrow tables, counts, schemas) and the expectation derived
from the change script by resources.model.delta_script — never from the table itself. An engine that could
not read is passed as the error text it raised.
"""

import pyarrow as pa

from resources.model.delta_script import (
    SCHEMA,
    Expected,
    change_counts,
    fingerprint,
    normalize,
    simple_type,
)
from resources.model.verdict import Verdict, verdict

Reading = pa.Table | str  # a table, or why the engine could not read it
EXPECTED_SCHEMA = [(f.name, simple_type(f.type)) for f in SCHEMA]
CDF_COLUMNS = ("_change_type", "_commit_version")


def _diff_rows(expected: pa.Table, actual: pa.Table, limit: int = 3) -> str:
    """Where two sorted tables first differ, in words."""
    want, got = expected.to_pylist(), actual.to_pylist()
    for index, (a, b) in enumerate(zip(want, got)):
        if a != b:
            return f"first difference at row {index}: expected {a}, got {b}"
    return f"{len(got)} rows, expected {len(want)}"


def row_count_and_schema(expected: Expected, counts: dict[str, int],
                         schemas: dict[str, list[tuple[str, str]]]) -> Verdict:
    """DQ-001: every engine reads the row count and the schema the seed script implies."""
    want = expected.row_counts[-1]
    problems = [f"{engine} reads {got} rows, the script implies {want}"
                for engine, got in counts.items() if got != want]
    for engine, schema in schemas.items():
        schema = [tuple(column) for column in schema]
        if schema != EXPECTED_SCHEMA:
            missing = [c for c in EXPECTED_SCHEMA if c not in schema]
            extra = [c for c in schema if c not in EXPECTED_SCHEMA]
            problems.append(f"{engine} schema differs: missing {missing or 'nothing'}, "
                            f"unexpected {extra or 'nothing'}")
    return verdict(problems, f"{want} rows and schema {EXPECTED_SCHEMA} on "
                              f"{', '.join(sorted(set(counts) | set(schemas)))}",
                    expected_rows=want, **{f"{e} rows": n for e, n in counts.items()})


def cdf_complete(expected: Expected, cdf_enabled: bool, readings: dict[str, Reading]) -> Verdict:
    """DQ-002: the Change Data Feed from version 0 holds exactly the expected insert /
    update_preimage / update_postimage / delete rows per commit version, on every engine."""
    if not cdf_enabled:
        return Verdict(False, "delta.enableChangeDataFeed is not true on the table: the Change "
                              "Data Feed was switched off, so row changes are no longer recorded")
    want = normalize(expected.changes, CDF_COLUMNS)
    want_counts = expected.counts()
    problems = []
    for engine, reading in readings.items():
        if isinstance(reading, str):
            problems.append(f"{engine} could not read the change feed: {reading}")
            continue
        got = normalize(reading, CDF_COLUMNS)
        if got.equals(want):
            continue
        got_counts = change_counts(got)
        wrong = [f"v{v} {t}: {got_counts.get((v, t), 0)} rows, expected {n}"
                 for (v, t), n in sorted(want_counts.items()) if got_counts.get((v, t), 0) != n]
        wrong += [f"v{v} {t}: {n} unexpected rows" for (v, t), n in sorted(got_counts.items())
                  if (v, t) not in want_counts]
        problems.append(f"{engine} change feed differs: " + ("; ".join(wrong) if wrong
                        else _diff_rows(want, got)))
    summary = ", ".join(f"v{v} {t}={n}" for (v, t), n in sorted(want_counts.items()))
    return verdict(problems, f"change feed matches the script on {', '.join(readings)}: {summary}",
                    expected_changes=summary)


def time_travel(expected: Expected, readings: dict[str, list[int]]) -> Verdict:
    """Every historical version reads back the row count the script implies."""
    want = expected.row_counts
    problems = []
    for engine, counts in readings.items():
        if len(counts) != len(want):
            problems.append(f"{engine} sees versions 0..{len(counts) - 1}, the script made "
                            f"0..{len(want) - 1}")
        problems += [f"{engine} version {v} has {got} rows, expected {exp}"
                     for v, (got, exp) in enumerate(zip(counts, want)) if got != exp]
    return verdict(problems, f"versions 0..{len(want) - 1} read back {want} rows",
                    expected_counts=str(want), **{e: str(c) for e, c in readings.items()})


def cross_version_readable(expected: Expected, readings: dict[str, Reading]) -> Verdict:
    """The table one release wrote is read identically by the other release and by delta-rs."""
    want = normalize(expected.final)
    problems = []
    for engine, reading in readings.items():
        if isinstance(reading, str):
            problems.append(f"{engine} cannot read the table: {reading}")
        elif not (got := normalize(reading)).equals(want):
            problems.append(f"{engine} reads different rows: {_diff_rows(want, got)}")
    return verdict(problems, f"{len(want)} identical rows read by {', '.join(readings)}")


def evolution_expectations(expected: Expected) -> list[tuple[str, list[tuple[str, str]]]]:
    base = list(EXPECTED_SCHEMA)
    added = base + [("score", "double")]
    widened = [(n, "double" if n == "amount" else t) for n, t in added]
    dropped = [(n, t) for n, t in widened if n != "note"]
    return [("add_column", added), ("change_type", widened), ("drop_column", dropped)]


def schema_evolution(expected: Expected, writer: str, steps: list[dict],
                     readers: dict[str, dict[str, Reading]]) -> Verdict:
    """DQ-003 on a scratch copy: after adding a column, changing a type and dropping a column, the
    writer sees the expected schema and the old rows unchanged. Which other engine can still read
    each step is reported; an engine that cannot (delta-rs on column mapping) is a finding, but one
    that reads wrong rows is a failure.

    steps: [{"step", "schema", "old_rows"}] as the writer read them; readers: engine -> step -> the
    snapshot as that engine read it (or its error)."""
    want_rows = fingerprint(expected.final)
    problems, findings = [], []
    for (name, want_schema), step in zip(evolution_expectations(expected), steps):
        if step["step"] != name:
            problems.append(f"step {step['step']!r} ran where {name!r} was expected")
            continue
        schema = [tuple(column) for column in step["schema"]]
        if schema != want_schema:
            problems.append(f"after {name} the {writer} schema is {schema}, expected {want_schema}")
        if step["old_rows"] != want_rows:
            problems.append(f"after {name} the old rows read by {writer} are {step['old_rows']}, "
                            f"expected {want_rows}")
        for engine, by_step in readers.items():
            reading = by_step.get(name)
            if isinstance(reading, str) or reading is None:
                findings.append(f"{engine} cannot read after {name}: {reading}")
                continue
            got = fingerprint(reading)
            if got != want_rows:
                problems.append(f"after {name} {engine} reads old rows {got}, expected {want_rows}")
    if len(steps) != 3:
        problems.append(f"{len(steps)} schema-evolution steps ran, expected 3")
    readable = {engine: ", ".join(step for step, r in by_step.items() if not isinstance(r, str))
                for engine, by_step in readers.items()}
    metadata = {f"{engine} reads": steps_read or "none" for engine, steps_read in readable.items()}
    if problems:
        return Verdict(False, "; ".join(problems + [f"finding: {f}" for f in findings]), metadata)
    message = f"{writer}: schema and old rows as expected after add_column, change_type, drop_column"
    return Verdict(True, message + ("; findings: " + "; ".join(findings) if findings else ""),
                   metadata)
