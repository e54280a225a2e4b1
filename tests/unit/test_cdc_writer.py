"""The CDC writer lands a batch in two Delta tables, one commit each: a writer that dies between
them must, on its replay, still bring the mirror to the source's state (real tables, delta-rs)."""

from datetime import datetime
from decimal import Decimal

import pytest

from resources import delta
from resources.cdc import stream
from resources.cdc.stream import CdcStream, Change, create_tables
from resources.services.mariadb import Credentials


class Replayed(CdcStream):
    """The writer alone: transactions are handed to _flush as an engine's reader would."""
    engine = "test"
    default_server_id = 1

    def _open(self) -> None:
        pass

    def _read(self) -> None:
        pass

    def restarted(self) -> "Replayed":
        return Replayed(self.creds, self.bronze, self.mirror, self.checkpoint, self.server_id)


class Died(Exception):
    pass


def row(pk: int, stock: int) -> dict:
    return {"id": pk, "name": f"p{pk}", "price": Decimal("1.50"), "stock": stock,
            "updated_at": datetime(2026, 11, 30)}


def batch(first_pos: int, stocks: dict[int, int]):
    changes = [Change("insert", pk, None, row(pk, stock), "mysql-bin.000001", first_pos, i, 0)
               for i, (pk, stock) in enumerate(stocks.items())]
    return [(changes, ("mysql-bin.000001", first_pos + 100))]


@pytest.mark.parametrize("dies_after", ["mirror", "bronze"])
def test_a_writer_that_dies_between_its_two_commits_loses_and_duplicates_nothing(
        tmp_path, monkeypatch, dies_after):
    bronze, mirror = str(tmp_path / "bronze"), str(tmp_path / "mirror")
    create_tables(bronze, mirror)
    first = Replayed(Credentials("u", "p", "127.0.0.1", 1), bronze, mirror, tmp_path / "ckpt", 1)
    first._flush(batch(100, {1: 10, 2: 20}))

    # the process dies right after its first table commit of the next batch, whichever that is
    commits: list[str] = []
    real_write, real_apply = delta.write, CdcStream._apply_mirror

    def write(where, data, **kwargs):
        real_write(where, data, **kwargs)
        if where == bronze:
            commits.append("bronze")
            if commits == [dies_after]:
                raise Died

    def apply(self, changes):
        real_apply(self, changes)
        commits.append("mirror")
        if commits == [dies_after]:
            raise Died

    monkeypatch.setattr(stream.delta, "write", write)
    monkeypatch.setattr(CdcStream, "_apply_mirror", apply)
    second = batch(300, {2: 21, 3: 30})
    try:
        first._flush(second)
    except Died:
        pass
    monkeypatch.undo()

    # the restart replays from the checkpoint, which the dead writer never moved past batch one
    again = first.restarted()
    again._written_key = again._last_written_key()
    again._flush(second)

    mirror_rows = sorted(zip(*delta.read(mirror).select(["id", "stock"]).to_pydict().values()))
    assert mirror_rows == [(1, 10), (2, 21), (3, 30)], f"mirror after a death after {commits}"
    keys = [(r["binlog_pos"], r["row_index"]) for r in delta.read(bronze).to_pylist()]
    assert sorted(keys) == [(100, 0), (100, 1), (300, 0), (300, 1)], "bronze lost or repeated"
