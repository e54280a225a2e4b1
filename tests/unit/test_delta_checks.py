"""The Delta checks on real tables (written by delta-rs, read back by delta-rs): each passes on the
scripted table and FAILS on a table tampered with behind its back, saying what differs."""

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from resources import delta
from resources.criteria import delta_checks
from resources.delta_writer import evolve_with_deltars
from resources.model import delta_script


@pytest.fixture
def scripted(tmp_path):
    inputs = delta_script.batches(400, seed=7)
    path = str(tmp_path / "test_table")
    delta.write_script(path, inputs, delta_script.SCRIPT)
    return path, delta_script.expected(inputs)


def readings(path):
    return ({"delta-rs": delta.table(path).count()}, {"delta-rs": delta.schema(path)})


def test_model_matches_the_engine_exactly(scripted):
    path, expected = scripted
    assert delta_checks.row_count_and_schema(expected, *readings(path)).passed
    assert delta_checks.cdf_complete(expected, True, {"delta-rs": delta.read_cdf(path)}).passed
    assert delta_checks.time_travel(expected, {"delta-rs": delta.row_counts(path)}).passed
    assert delta_checks.cross_version_readable(expected, {"delta-rs": delta.read(path)}).passed


def test_a_row_deleted_behind_its_back_fails_count_cdf_and_time_travel(scripted):
    path, expected = scripted
    DeltaTable(path).delete("id = 5")
    verdict = delta_checks.row_count_and_schema(expected, *readings(path))
    assert not verdict.passed
    assert f"delta-rs reads {expected.row_counts[-1] - 1} rows, the script implies " \
           f"{expected.row_counts[-1]}" in verdict.message
    cdf = delta_checks.cdf_complete(expected, True, {"delta-rs": delta.read_cdf(path)})
    assert not cdf.passed and "v5 delete: 1 unexpected rows" in cdf.message
    travel = delta_checks.time_travel(expected, {"delta-rs": delta.row_counts(path)})
    assert not travel.passed and "sees versions 0..5, the script made 0..4" in travel.message
    cross = delta_checks.cross_version_readable(expected, {"delta-rs": delta.read(path)})
    assert not cross.passed and "delta-rs reads different rows" in cross.message


def test_cdf_switched_off_fails(scripted):
    path, expected = scripted
    DeltaTable(path).alter.set_table_properties({"delta.enableChangeDataFeed": "false"})
    with pytest.raises(delta.CdfDisabled):
        delta.read_cdf(path)
    verdict = delta_checks.cdf_complete(expected, delta.cdf_enabled(path), {})
    assert not verdict.passed and "Change Data Feed was switched off" in verdict.message


def test_a_column_dropped_outside_the_script_fails(scripted):
    path, expected = scripted
    data = delta.read(path).drop_columns(["note"])
    write_deltalake(path, data, mode="overwrite", schema_mode="overwrite")
    verdict = delta_checks.row_count_and_schema(expected, *readings(path))
    assert not verdict.passed
    assert "delta-rs schema differs: missing [('note', 'string')]" in verdict.message


def test_a_changed_value_in_the_change_feed_is_named(scripted):
    path, expected = scripted
    cdf = delta.read_cdf(path)
    amounts = cdf.column("amount").to_pylist()
    amounts[0] += 1
    tampered = cdf.set_column(cdf.schema.get_field_index("amount"), "amount", pa.array(amounts))
    verdict = delta_checks.cdf_complete(expected, True, {"Spark readChangeFeed": tampered})
    assert not verdict.passed
    assert "Spark readChangeFeed change feed differs: first difference at row" in verdict.message


def test_an_engine_that_cannot_read_fails_cdf_and_cross_version(scripted):
    path, expected = scripted
    assert not delta_checks.cdf_complete(expected, True, {"spark": "Py4JError: boom"}).passed
    verdict = delta_checks.cross_version_readable(expected, {"Spark 4.1": "AnalysisException: x"})
    assert not verdict.passed and "Spark 4.1 cannot read the table: AnalysisException" in verdict.message


def evolution(path, tmp_path):
    steps = evolve_with_deltars(path, tmp_path / "scratch")
    as_dicts = [{"step": s.step, "schema": s.schema_, "old_rows": s.old_rows} for s in steps]
    readers = {"delta-rs": {s.step: delta.read(s.path) for s in steps}}
    return as_dicts, readers


def test_schema_evolution_passes_and_reports_readers(scripted, tmp_path):
    path, expected = scripted
    steps, readers = evolution(path, tmp_path)
    verdict = delta_checks.schema_evolution(expected, "delta-rs", steps, readers)
    assert verdict.passed, verdict.message
    assert verdict.metadata["delta-rs reads"] == "add_column, change_type, drop_column"


def test_schema_evolution_reports_an_unreadable_step_as_a_finding(scripted, tmp_path):
    path, expected = scripted
    steps, readers = evolution(path, tmp_path)
    readers["delta-rs"]["drop_column"] = "DeltaError: unsupported reader feature columnMapping"
    verdict = delta_checks.schema_evolution(expected, "Spark", steps, readers)
    assert verdict.passed
    assert "findings: delta-rs cannot read after drop_column: DeltaError" in verdict.message


def test_schema_evolution_fails_when_old_rows_change(scripted, tmp_path):
    path, expected = scripted
    DeltaTable(path).delete("id = 1")  # the scratch copy inherits the damage
    steps, readers = evolution(path, tmp_path)
    verdict = delta_checks.schema_evolution(expected, "delta-rs", steps, readers)
    assert not verdict.passed
    assert "after add_column the old rows read by delta-rs are" in verdict.message


def test_schema_evolution_fails_on_a_wrong_schema(scripted, tmp_path):
    path, expected = scripted
    steps, readers = evolution(path, tmp_path)
    steps[1]["schema"] = [c for c in steps[1]["schema"] if c[0] != "score"]
    verdict = delta_checks.schema_evolution(expected, "Spark", steps, readers)
    assert not verdict.passed and "after change_type the Spark schema is" in verdict.message


def test_the_dataset_is_deterministic_and_guards_its_size():
    assert delta_script.batches(100, 3)["seed"].equals(delta_script.batches(100, 3)["seed"])
    assert not delta_script.batches(100, 3)["seed"].equals(delta_script.batches(100, 4)["seed"])
    with pytest.raises(ValueError, match="rows must be at least 20"):
        delta_script.batches(5, 1)
