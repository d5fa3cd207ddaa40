"""A pass that fails while a model pulled ahead holds a spilled change set it never took closes
that change set (``_Ahead.drop_untaken``): its scratch files are closed before ``run_pass``
returns, not when a garbage collection finds them. A failed pass's frames outlive it in
reference cycles (its error's traceback), so without the close they would stay open, each one a
file descriptor and its disk space, until the next collection.

The order is forced: the third model's pull returns its change set (spilled) while the second
model's pull waits at its first page; only then does Odoo fail the second model's requests."""

from __future__ import annotations

import gc
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from syncd.sinks.datadir import DataDir
from syncd.sinks.factory import opened
from syncd.sync import engine
from syncd.sync.changes import ChangeSet
from syncd.sync.engine import run_pass
from tests.sync.test_upserts import open_in
from tests.sync_rig import CUSTOMERS, EVERYONE, PRODUCTS, make_rig, partner, with_settings

COUNT = 60
DEADLINE = 60.0  # seconds a gate waits before the test gives up on it


@pytest.mark.skipif(sys.platform != "linux", reason="open files are read from /proc")
def test_a_failed_pass_closes_the_spilled_change_set_of_a_pull_it_never_took(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rig = make_rig(tmp_path, models=(CUSTOMERS, PRODUCTS, EVERYONE), workers=3)
    try:
        for n in range(COUNT):
            rig.db.create("res.partner", partner(None, n))
        rig.db.create("product.product", {"name": "Product", "list_price": 1.5})
        assert rig.sync().ok
        rig.db.write("res.partner", rig.db.execute("res.partner", "search", [[]], {}),
                     {"name": "Renamed"})
        # A third of it each: a spill every few records.
        with_settings(rig, memory_bytes=3000)

        pulled = threading.Event()
        spilled: list[int] = []
        real_pull = engine.pull

        def pull(spec: Any, *args: Any, **kwargs: Any) -> ChangeSet:
            change = real_pull(spec, *args, **kwargs)
            if spec.name == EVERYONE.name:
                spilled.append(change.upserts.spilled)  # not the change set: nothing kept
                pulled.set()
            return change

        monkeypatch.setattr(engine, "pull", pull)
        failing: list[bool] = []

        def should_stop() -> bool:
            if threading.current_thread().name == f"syncd-pull-{PRODUCTS.name}" and not failing:
                # The pass's thread answers everyone's questions while it waits for products.
                assert pulled.wait(DEADLINE), "everyone's pull never returned"
                rig.emulator.faults.add("http_503", times=10_000, model=PRODUCTS.model)
                failing.append(True)
            return False

        gc.disable()  # no collection may close what the pass left open
        try:
            with opened(rig.settings) as sink:
                report = run_pass(rig.settings, rig.client, sink, DataDir(rig.data_dir),
                                  now=rig.now, should_stop=should_stop)
                scratch = [f for f in open_in(rig.data_dir) if f.endswith(" (deleted)")]
        finally:
            gc.enable()
        assert not report.ok and report.error and report.error.startswith("products: "), \
            report.error
        assert spilled and spilled[0] > 3  # its change set held runs in scratch files
        assert scratch == []
    finally:
        rig.close()
