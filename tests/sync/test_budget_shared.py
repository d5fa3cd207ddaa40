"""``[sync] memory_mb`` is the pass's budget, not each model's: with ``workers`` > 1 the model
being written and those pulled ahead each hold a change set at once, so the engine gives each
``budget // min(workers, models)``.

Two data directories follow one emulated Odoo with the same budget, one with ``workers = 2``
(both models held at once, half the budget each) and one with ``workers = 1`` (one at a time,
the whole budget each). The budget holds either model's change set whole but not in half: the
first spills, the second does not, and both store the same bytes."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path
from typing import IO

from syncd.sinks.datadir import DataDir
from syncd.sinks.factory import opened
from syncd.sync.engine import run_pass
from syncd.sync.record import Layout
from syncd.sync.report import PassReport
from syncd.sync.upserts import PER_RECORD
from tests.sync.test_slices import files, twin
from tests.sync_rig import CUSTOMERS, PRODUCTS, Rig, fixed, make_rig, partner, with_settings

COUNT = 50  # records of each model, every one changed before the measured pass


class ScratchByThread(DataDir):
    """The data directory, counting the scratch files asked for by each thread."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.asked: Counter[str] = Counter()
        self._lock = threading.Lock()

    def scratch_file(self) -> IO[bytes]:
        with self._lock:
            self.asked[threading.current_thread().name] += 1
        return super().scratch_file()


def sync(rig: Rig) -> tuple[PassReport, Counter[str]]:
    workdir = ScratchByThread(rig.data_dir)
    with opened(rig.settings) as sink:
        report = run_pass(rig.settings, rig.client, sink, workdir, now=rig.now)
    assert report.ok, report.error
    return report, workdir.asked


def held(rig: Rig, name: str) -> int:
    """What ``name``'s change set holds in memory when every record of it changed."""
    layout = Layout(rig.spec(name).fields)
    return sum(len(layout.line(record)) + PER_RECORD for record in rig.expected(name))


def test_the_memory_budget_is_divided_between_the_models_held_at_once(tmp_path: Path) -> None:
    apart = make_rig(tmp_path / "apart", models=(CUSTOMERS, PRODUCTS), workers=2)
    at_once = twin(apart, tmp_path, workers=1)
    try:
        apart.now = at_once.now = lambda: fixed("2026-05-01 10:00:00")
        db = apart.db
        for n in range(COUNT):
            db.create("res.partner", partner(None, n))
            db.create("product.product", {"name": f"Product {n}", "default_code": f"P{n:04d}",
                                          "list_price": n + 0.5})
        for rig in (apart, at_once):
            sync(rig)  # a full sync streams its records: nothing held, nothing to spill
        db.write("res.partner", db.execute("res.partner", "search", [[]], {}),
                 {"phone": "+32 9 999 99 99"})
        db.write("product.product", db.execute("product.product", "search", [[]], {}),
                 {"list_price": 99.5})
        sizes = [held(apart, "customers"), held(apart, "products")]
        budget = max(sizes) + 100
        assert min(sizes) > budget // 2  # neither fits in half of it
        for rig in (apart, at_once):
            with_settings(rig, memory_bytes=budget)

        report, asked = sync(apart)
        # Each model's change set spilled: the one written on the pass's thread, and the one
        # pulled ahead in a worker.
        assert asked["MainThread"] > 0 and asked["syncd-pull-products"] > 0, asked
        assert [m.changed for m in report.models] == [COUNT, COUNT]
        whole, asked = sync(at_once)
        assert asked == Counter(), asked  # the whole budget each: nothing spilled
        assert [m.changed for m in whole.models] == [COUNT, COUNT]

        assert files(apart) == files(at_once)
        apart.assert_in_sync()
    finally:
        at_once.client.close()
        apart.close()
