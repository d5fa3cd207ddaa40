"""A pass whose changed records outgrow the memory budget spills them to scratch files and merges
those: on every sink, it writes exactly what the same pass writes with everything in memory (the
same snapshot bytes or table rows, the same journal, the same counts), and leaves no file behind,
not even when it fails or is killed in the middle.

Two data directories (and databases) follow one emulated Odoo; each pass runs on both, one with
the default budget (nothing spills) and one with a budget of a few records (it spills dozens of
runs)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any

import pytest

from syncd.emulator import Emulator
from syncd.odoo.client import OdooClient
from syncd.sinks.datadir import DataDir
from syncd.sinks.factory import opened
from syncd.sync.engine import run_pass
from syncd.sync.report import PassReport
from tests.sync.test_upserts import open_in
from tests.sync_rig import (CUSTOMERS, SINKS, Rig, fixed, make_rig, sink_settings,
                             with_settings)

HERE = Path(__file__).resolve().parent
TINY = 1500  # bytes: a spill every half dozen records


class CountingDir(DataDir):
    """The data directory, counting the scratch files a pass asks for."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.scratches = 0

    def scratch_file(self) -> IO[bytes]:
        self.scratches += 1
        return super().scratch_file()


@dataclass
class Pair:
    """The same Odoo synced twice: ``whole`` with the default budget, ``spilled`` with TINY."""

    whole: Rig
    spilled: Rig
    sink: str

    def sync(self) -> tuple[PassReport, PassReport, int, int]:
        """One pass on each; their reports and how many scratch files each asked for."""
        results = []
        for rig in (self.whole, self.spilled):
            workdir = CountingDir(rig.data_dir)
            with opened(rig.settings) as sink:
                report = run_pass(rig.settings, rig.client, sink, workdir, now=rig.now)
            assert report.ok, report.error
            results.append((report, workdir.scratches))
        return results[0][0], results[1][0], results[0][1], results[1][1]

    def close(self) -> None:
        self.whole.client.close()
        self.spilled.client.close()
        self.whole.emulator.stop()


def pair(tmp_path: Path, sink: str) -> Pair:
    em = Emulator(version=17)
    whole = make_rig(tmp_path / "whole", models=(CUSTOMERS,), reconcile_interval=0, sink=sink,
                     emulator=em)
    settings = replace(whole.settings, sync=replace(whole.settings.sync,
                                                    data_dir=tmp_path / "spilled" / "data"))
    if sink != "json":  # a database of its own
        settings = replace(settings, sink=sink_settings(sink, tmp_path / "spilled"))
    spilled = Rig(emulator=em, settings=settings,
                  client=OdooClient(settings.odoo, sleep=lambda s: None))
    for rig in (whole, spilled):
        with_settings(rig, journal=True)
        rig.now = lambda: fixed("2026-05-01 10:00:00")  # the journal's `at`, the same in both
    with_settings(spilled, memory_bytes=TINY)
    return Pair(whole, spilled, sink)


def stored(rig: Rig, sink: str) -> dict[str, Any]:
    """Everything the sink stored but the state: file bytes, or table rows."""
    if sink == "json":
        return {p.name: p.read_bytes() for p in sorted(rig.data_dir.iterdir())
                if p.name.startswith("odoo_")}
    if sink == "sqlite":
        assert rig.settings.sink.path is not None
        db = sqlite3.connect(rig.settings.sink.path)
        try:
            return {table: db.execute(f'SELECT * FROM "{table}" ORDER BY 1, 2').fetchall()
                    for table in ("odoo_customers", "syncd_changes")}
        finally:
            db.close()
    import psycopg

    with psycopg.connect(rig.settings.sink.dsn) as db:
        return {table: db.execute(f'SELECT *, record::text FROM "{table}" ORDER BY 1, 2').fetchall()
                for table in ("odoo_customers", "syncd_changes")}


def leftovers(rig: Rig) -> list[str]:
    return [p.name for p in rig.data_dir.iterdir() if p.name.startswith(".spill")]


def populate(em: Emulator, count: int) -> None:
    companies = [em.db.create("res.partner", {"name": f"Company {n}", "is_company": True,
                                              "email": f"c{n}@example.com"}) for n in range(10)]
    for n in range(count):
        em.db.create("res.partner", {"name": f"Person {n}", "email": f"p{n}@example.com",
                                     "phone": f"+32 2 {n:07d}", "parent_id": companies[n % 10]})


def change_most(em: Emulator) -> None:
    """What a mass update does, and more: most records written, some created, archived,
    deleted, and companies renamed (their people's parent_id shows the new name)."""
    ids = em.db.execute("res.partner", "search", [[]], {"order": "id"})
    em.db.write("res.partner", ids[20::2], {"phone": "+32 9 999 99 99"})
    for n, record_id in enumerate(ids[21::7]):
        em.db.write("res.partner", [record_id], {"email": f"changed{n}@example.com"})
    em.db.archive("res.partner", ids[30:40])
    em.db.unlink("res.partner", ids[40:45])
    em.db.write("res.partner", ids[0:3], {"name": "Renamed Company"})
    for n in range(25):
        em.db.create("res.partner", {"name": f"New {n}", "email": f"new{n}@example.com"})


@pytest.mark.parametrize("sink", SINKS)
def test_a_spilled_pass_writes_exactly_what_an_unspilled_one_writes(tmp_path: Path,
                                                                     sink: str) -> None:
    both = pair(tmp_path, sink)
    try:
        populate(both.whole.emulator, 300)
        first = both.sync()
        # A full sync streams: nothing to spill, and the copies are the same.
        assert first[2] == first[3] == 0
        assert stored(both.whole, sink) == stored(both.spilled, sink)
        change_most(both.whole.emulator)
        whole, spilled, kept, runs = both.sync()
        assert kept == 0 and runs > 20  # the budget is a few records: dozens of runs
        assert whole.models[0].changed > 150 and whole.models[0].removed >= 15
        for one, two in zip(whole.models, spilled.models):
            assert (one.changed, one.removed, one.records, one.fetched) == \
                (two.changed, two.removed, two.records, two.fetched)
        assert stored(both.whole, sink) == stored(both.spilled, sink)
        assert leftovers(both.spilled) == []
        both.spilled.assert_in_sync()
        # And again, changing the same records once more (ids spilled last time).
        change_most(both.whole.emulator)
        whole, spilled, _, runs = both.sync()
        assert runs > 20 and whole.models[0].changed == spilled.models[0].changed
        assert stored(both.whole, sink) == stored(both.spilled, sink)
    finally:
        both.close()


def test_a_pass_that_fails_after_spilling_leaves_no_scratch_file(tmp_path: Path) -> None:
    both = pair(tmp_path, "json")
    try:
        populate(both.whole.emulator, 200)
        both.sync()
        change_most(both.whole.emulator)
        rig = both.spilled
        before = stored(rig, "json")
        # Odoo fails mid-pass (after the pages that spilled), on the deletion check's ids.
        rig.emulator.faults.add("http_500", times=50, method="search")
        workdir = CountingDir(rig.data_dir)
        with opened(rig.settings) as sink:
            report = run_pass(rig.settings, rig.client, sink, workdir, now=rig.now)
        assert not report.ok and workdir.scratches > 10
        assert leftovers(rig) == [] and stored(rig, "json") == before
        if sys.platform == "linux":
            assert open_in(rig.data_dir) == []  # closed, not only unnamed
    finally:
        both.close()


def test_a_leftover_scratch_file_is_removed_by_the_next_pass(tmp_path: Path) -> None:
    """Where the platform cannot unname a scratch file at once, a killed process leaves it
    named; the next pass's start removes it, as it does any temp file."""
    rig = make_rig(tmp_path, models=(CUSTOMERS,))
    try:
        populate(rig.emulator, 20)
        assert rig.sync().ok
        left = rig.data_dir / ".spill.k1ll3d.syncd-tmp"
        left.write_bytes(b"\x05\x00\x00\x00{...}" * 1000)
        assert rig.sync().ok
        assert not left.exists()
    finally:
        rig.close()


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_a_pass_killed_while_it_holds_spilled_runs_leaves_nothing_and_the_next_pass_works(
        tmp_path: Path) -> None:
    rig = make_rig(tmp_path, models=(CUSTOMERS,), reconcile_interval=0)
    try:
        populate(rig.emulator, 200)
        assert rig.sync().ok
        change_most(rig.emulator)
        before = stored(rig, "json")
        child = subprocess.Popen(
            [sys.executable, str(HERE / "spill_child.py"), rig.emulator.url,
             rig.emulator.db.name, rig.emulator.login, rig.emulator.password, str(rig.data_dir)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            cwd=str(HERE.parents[1]))
        try:
            assert child.stdout is not None
            line = child.stdout.readline()  # the child is inside the pass, runs spilled
            assert line.startswith("spilled "), line
            if sys.platform == "linux":  # open in the child, with no name in the directory
                assert len(open_in(rig.data_dir, child.pid)) >= 3
            assert leftovers(rig) == []
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait()
        assert leftovers(rig) == [] and stored(rig, "json") == before
        assert rig.sync().ok
        rig.assert_in_sync()
        assert leftovers(rig) == []
    finally:
        rig.close()
