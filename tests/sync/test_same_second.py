"""A rewrite that keeps its row's whole-second ``write_date`` (docs/odoo-api.md §22): a
transaction that began in the second of a stamp already read, and commits later, shows only in
the row's content. Guarantee 1 owes it to the next pass that starts after the commit, so every
pass reads every column of the rows in its window; these fail if a pass skips a row whose stamp
did not move."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from tests.sync_rig import CUSTOMERS, Rig, make_rig, partner

LOOKBACK = 30.0
SECOND = datetime(2024, 3, 1, 9, 0, 0, 100000)  # a tenth into the second


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    r = make_rig(tmp_path, models=(CUSTOMERS,), lookback=LOOKBACK, reconcile_interval=3600)
    r.db.clock.freeze(SECOND)
    yield r
    r.close()


def name_of(rig: Rig, record_id: int) -> str:
    return next(row["name"] for row in rig.snapshot("customers") if row["id"] == record_id)


def test_a_rewrite_committed_in_the_second_already_read_lands_in_the_next_pass(rig: Rig) -> None:
    record = rig.db.create("res.partner", partner(None, 1))
    assert rig.sync().ok  # reads the row stamped 09:00:00
    rig.db.clock.advance(0.5)
    rig.db.write("res.partner", record, {"name": "Same second"})  # stamped 09:00:00 again
    assert rig.sync().ok
    assert name_of(rig, record) == "Same second"
    rig.assert_in_sync("same-second rewrite")


def test_a_long_transaction_begun_in_the_second_already_read_lands_after_its_commit(
        rig: Rig) -> None:
    record = rig.db.create("res.partner", partner(None, 1))
    assert rig.sync().ok
    rig.db.clock.advance(0.3)
    long = rig.db.transaction()  # begins at 09:00:00.4: the stamp the pass just read
    long.write("res.partner", record, {"name": "Long"})
    for _ in range(int(LOOKBACK) // 3 - 1):  # passes every 3 s while it runs
        rig.db.clock.advance(3)
        assert rig.sync().ok
        assert name_of(rig, record) != "Long"
    rig.db.clock.advance(2.5)  # commits 29.6 s after it began: within the lookback
    long.commit()
    rig.db.clock.advance(0.5)
    assert rig.sync().ok
    assert name_of(rig, record) == "Long"
    rig.assert_in_sync("long same-second transaction")
