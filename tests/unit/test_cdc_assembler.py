"""The Assembler turns Debezium's events into whole transactions in commit order, whatever order
the events arrive in (Kafka: data and markers are two topics) and however often they repeat (a run
resumed from its offsets)."""

from resources.cdc.debezium import Assembler


def change(tx: str, pos: int, pk: int, row: int = 0) -> dict:
    after = {"id": pk, "name": f"p{pk}", "price": "1.50", "stock": 1,
             "updated_at": 1_796_000_000_000_000}
    return {"op": "c", "before": None, "after": after, "transaction": {"id": tx},
            "source": {"file": "mysql-bin.000001", "pos": pos, "row": row, "gtid": tx,
                       "ts_ms": 1_796_000_000_000}}


def end(tx: str, count: int) -> dict:
    return {"status": "END", "id": tx, "event_count": count}


def assembled(events: list[tuple[str, dict]]) -> tuple[list[list[int]], Assembler]:
    handed: list[list[int]] = []
    assembler = Assembler(lambda changes: handed.append([c.pk for c in changes]))
    for kind, value in events:
        assembler.event(kind, value)
    return handed, assembler


def test_a_transaction_goes_over_once_its_end_and_all_its_changes_arrived():
    handed, assembler = assembled([
        ("end", end("0-1-1", 2)), ("change", change("0-1-1", 100, 1)),  # the END came first
        ("change", change("0-1-1", 100, 2, row=1))])
    assert handed == [[1, 2]] and assembler.waiting() == "nothing"


def test_transactions_go_over_in_commit_order_even_when_a_later_one_completes_first():
    handed, assembler = assembled([
        ("end", end("0-1-1", 2)), ("end", end("0-1-2", 1)),
        ("change", change("0-1-2", 300, 9)),  # complete, but behind 0-1-1
        ("change", change("0-1-1", 100, 1))])
    assert handed == [] and assembler.waiting() == "transaction 0-1-1: 1 of its 2 changes seen"
    assembler.event("change", change("0-1-1", 200, 2))
    assert handed == [[1, 2], [9]]


def test_repeats_after_a_restart_are_dropped_and_a_resumed_transaction_is_joined():
    handed, assembler = assembled([
        ("change", change("0-1-1", 100, 1)), ("end", end("0-1-1", 1)),
        ("change", change("0-1-2", 200, 2)),  # the old run died here, mid-transaction
        ("change", change("0-1-1", 100, 1)), ("end", end("0-1-1", 1)),  # the new run repeats
        ("change", change("0-1-2", 200, 2)), ("change", change("0-1-2", 250, 3)),
        ("end", end("0-1-2", 2))])
    assert handed == [[1], [2, 3]]
    assert assembler.repeated == 2


def test_an_end_without_changes_of_the_table_passes_without_handing_anything_over():
    handed, assembler = assembled([("end", end("0-1-7", 0)), ("change", change("0-1-8", 10, 4)),
                                   ("end", end("0-1-8", 1))])
    assert handed == [[4]]
