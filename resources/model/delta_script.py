"""The seeded dataset and its change script, and what they imply — computed without any Delta engine.

The script is data: each operation carries the SQL the engines execute (Spark and delta-rs both
understand it) and an equivalent numpy predicate the model applies. The model replays the script on
plain Arrow tables to get, per commit version, the exact Change Data Feed rows and the row count:
the expectation the checks hold the real table to is never read from the table itself.
"""

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

SCHEMA = pa.schema([("id", pa.int64()), ("category", pa.string()), ("amount", pa.int64()),
                    ("note", pa.string())])
CATEGORIES = np.array(["books", "games", "music", "tools"])
CHANGE_TYPES = ("insert", "update_preimage", "update_postimage", "delete")
OLD_ROWS_BELOW = 10**9  # schema-evolution steps add rows from this id on (jobs/delta_writer.py too)


@dataclass(frozen=True)
class Op:
    kind: str  # create | update | delete | merge | append
    sql: str = ""  # predicate (update/delete) in SQL both engines accept
    batch: str = ""  # input rows (create/merge/append)
    set_sql: dict[str, str] = field(default_factory=dict)  # update: column -> SQL expression

    def describe(self) -> str:
        if self.kind == "update":
            sets = ", ".join(f"{k} = {v}" for k, v in self.set_sql.items())
            return f"UPDATE SET {sets} WHERE {self.sql}"
        if self.kind == "delete":
            return f"DELETE WHERE {self.sql}"
        if self.kind == "merge":
            return f"MERGE (upsert on id) USING {self.batch}"
        return f"{self.kind.upper()} {self.batch}"


SCRIPT: tuple[Op, ...] = (
    Op("create", batch="seed"),
    Op("update", sql="id % 10 = 0", set_sql={"amount": "amount + 1000"}),
    Op("delete", sql="id % 7 = 3"),
    Op("merge", batch="upsert"),
    Op("append", batch="append"),
)

# The model's side of each predicate/expression: the same meaning, written independently.
_PREDICATES = {"id % 10 = 0": lambda cols: cols["id"] % 10 == 0,
               "id % 7 = 3": lambda cols: cols["id"] % 7 == 3}
_EXPRESSIONS = {"amount + 1000": lambda cols: cols["amount"] + 1000}


def _rows(ids: np.ndarray, rng: np.random.Generator, tag: str) -> pa.Table:
    return pa.table({
        "id": pa.array(ids, pa.int64()),
        "category": pa.array(CATEGORIES[rng.integers(0, len(CATEGORIES), len(ids))]),
        "amount": pa.array(rng.integers(0, 100_000, len(ids)), pa.int64()),
        "note": pa.array([f"{tag}-{i}" for i in ids]),
    }, schema=SCHEMA)


def batches(rows: int, seed: int) -> dict[str, pa.Table]:
    """Deterministic inputs: `rows` seed rows, an upsert batch half over existing ids and half new,
    and an append batch of new ids. Same (rows, seed) -> same bytes, on every engine."""
    if rows < 20:
        raise ValueError(f"rows must be at least 20 (got {rows}): the script needs rows to change")
    rng = np.random.default_rng(seed)
    half = max(1, rows // 20)
    appended = max(1, rows // 10)
    return {
        "seed": _rows(np.arange(rows), rng, "seed"),
        "upsert": _rows(np.arange(rows - half, rows + half), rng, "upsert"),
        "append": _rows(np.arange(rows + half, rows + half + appended), rng, "append"),
    }


@dataclass
class Expected:
    changes: pa.Table  # the data columns + _change_type + _commit_version
    row_counts: list[int]  # per version
    final: pa.Table  # the table's rows after the last version, sorted by id

    def counts(self) -> dict[tuple[int, str], int]:
        return change_counts(self.changes)


def _columns(table: pa.Table) -> dict[str, np.ndarray]:
    return {name: table.column(name).to_numpy(zero_copy_only=False) for name in ("id", "amount")}


def _tag(table: pa.Table, change: str, version: int) -> pa.Table:
    return table.append_column("_change_type", pa.array([change] * len(table), pa.string())) \
        .append_column("_commit_version", pa.array([version] * len(table), pa.int64()))


def expected(inputs: dict[str, pa.Table], script: tuple[Op, ...] = SCRIPT) -> Expected:
    state = inputs[script[0].batch].slice(0, 0)
    changes, counts = [], []
    for version, op in enumerate(script):
        if op.kind in ("create", "append"):
            batch = inputs[op.batch]
            changes.append(_tag(batch, "insert", version))
            state = pa.concat_tables([state, batch])
        elif op.kind == "update":
            mask = _PREDICATES[op.sql](_columns(state))
            before = state.filter(pa.array(mask))
            after = before
            for column, expression in op.set_sql.items():
                index = after.schema.get_field_index(column)
                after = after.set_column(index, column, pa.array(
                    _EXPRESSIONS[expression](_columns(before)), after.schema.field(column).type))
            changes += [_tag(before, "update_preimage", version), _tag(after, "update_postimage", version)]
            state = pa.concat_tables([state.filter(pa.array(~mask)), after])
        elif op.kind == "delete":
            mask = _PREDICATES[op.sql](_columns(state))
            changes.append(_tag(state.filter(pa.array(mask)), "delete", version))
            state = state.filter(pa.array(~mask))
        elif op.kind == "merge":
            source = inputs[op.batch]
            matched = pc.is_in(state.column("id"), value_set=source.column("id"))
            known = pc.is_in(source.column("id"), value_set=state.column("id"))
            changes += [_tag(state.filter(matched), "update_preimage", version),
                        _tag(source.filter(known), "update_postimage", version),
                        _tag(source.filter(pc.invert(known)), "insert", version)]
            state = pa.concat_tables([state.filter(pc.invert(matched)), source])
        else:
            raise ValueError(f"unknown operation {op.kind!r}")
        counts.append(len(state))
    return Expected(changes=pa.concat_tables(changes), row_counts=counts,
                    final=state.sort_by("id"))


def change_counts(changes: pa.Table) -> dict[tuple[int, str], int]:
    grouped = changes.group_by(["_commit_version", "_change_type"]).aggregate([("id", "count")])
    return {(v, t): n for v, t, n in zip(grouped.column("_commit_version").to_pylist(),
                                         grouped.column("_change_type").to_pylist(),
                                         grouped.column("id_count").to_pylist())}


def normalize(table: pa.Table, extra: tuple[str, ...] = ()) -> pa.Table:
    """Only the columns we compare, plain types (delta-rs gives string_view), a stable order."""
    names = [f.name for f in SCHEMA] + list(extra)
    columns = {}
    for name in names:
        column = table.column(name)
        if pa.types.is_string_view(column.type) or pa.types.is_large_string(column.type):
            column = column.cast(pa.string())
        if name in ("id", "amount", "_commit_version"):
            column = column.cast(pa.int64())
        columns[name] = column
    order = [(n, "ascending") for n in ("_commit_version", "_change_type") if n in names]
    return pa.table(columns).sort_by(order + [("id", "ascending")])


def simple_type(arrow_type: pa.DataType) -> str:
    """Arrow type -> the Spark simpleString name, so both engines' schemas compare directly."""
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type) \
            or pa.types.is_string_view(arrow_type):
        return "string"
    return {pa.int64(): "bigint", pa.int32(): "int", pa.float64(): "double",
            pa.float32(): "float", pa.bool_(): "boolean"}.get(arrow_type, str(arrow_type))


def fingerprint(data: pa.Table) -> dict[str, float]:
    """Engine-neutral summary of the rows from before schema evolution: count and sums."""
    old = data.filter(pc.less(data.column("id"), OLD_ROWS_BELOW))
    return {"rows": len(old), "id_sum": int(pc.sum(old.column("id")).as_py() or 0),
            "amount_sum": float(pc.sum(old.column("amount").cast(pa.float64())).as_py() or 0.0)}
