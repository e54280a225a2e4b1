"""CDC checks fail on tampered captures: a dropped change, swapped order, a duplicate, a wrong value."""

from datetime import datetime
from decimal import Decimal

from resources.criteria import cdc_checks

ROWS = [{"id": i, "name": f"p{i}", "price": Decimal("1.50") + i, "stock": i,
         "updated_at": datetime(2026, 1, 1, 0, 0, i)} for i in range(5)]


def test_bulk_insert_passes_and_fails_on_a_dropped_change_or_slowness():
    ids = list(range(150))
    assert cdc_checks.bulk_insert_captured(ids, ids, ids, 0.2, 5).passed
    dropped = cdc_checks.bulk_insert_captured(ids, ids[:-1], ids, 0.2, 5)
    assert not dropped.passed and "1 of 150 inserts missing from the bronze table (ids [149])" in dropped.message
    slow = cdc_checks.bulk_insert_captured(ids, ids, ids, 6.5, 5)
    assert not slow.passed and "captured in 6.50s, over the 5.0s budget" in slow.message


def test_transaction_order_fails_on_swapped_changes_naming_the_position():
    expected = [("insert", 1), ("update", 1), ("delete", 2)]
    captured = [("insert", 1, "mysql-bin.000001:900#0"), ("update", 1, "mysql-bin.000001:950#0"),
                ("delete", 2, "mysql-bin.000001:990#0")]
    assert cdc_checks.transaction_order_preserved(expected, captured).passed
    swapped = [captured[1], captured[0], captured[2]]
    verdict = cdc_checks.transaction_order_preserved(expected, swapped)
    assert not verdict.passed
    assert "change #0 at mysql-bin.000001:950#0 is update of key 1, expected insert of key 1" in verdict.message
    short = cdc_checks.transaction_order_preserved(expected, captured[:2])
    assert not short.passed and "missing [('delete', 2)]" in short.message


def test_mirror_fails_on_a_lost_row_and_a_wrong_decimal():
    assert cdc_checks.mirror_matches_source(ROWS, ROWS).passed
    lost = cdc_checks.mirror_matches_source(ROWS, ROWS[:-1])
    assert not lost.passed and "key 4 missing from the mirror" in lost.message
    wrong = [dict(r) for r in ROWS]
    wrong[2]["price"] = Decimal("3.49")
    verdict = cdc_checks.mirror_matches_source(ROWS, wrong)
    assert not verdict.passed
    assert "key 2 differs: price source=Decimal('3.50') mirror=Decimal('3.49')" in verdict.message


def test_resume_fails_on_a_duplicate_position():
    positions = ["mysql-bin.000001:900#0", "mysql-bin.000001:900#1"]
    assert cdc_checks.resume_without_loss(ROWS, ROWS, positions).passed
    verdict = cdc_checks.resume_without_loss(ROWS, ROWS, positions + ["mysql-bin.000001:900#1"])
    assert not verdict.passed and "mysql-bin.000001:900#1 captured 2 times" in verdict.message
