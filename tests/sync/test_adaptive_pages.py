"""Adaptive page size: a page the server cannot give whole (cut short, timed out, a worker's
limit) is asked again smaller, and the pass ends correct; fast pages grow back."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from syncd.errors import FaultError, TransientError
from syncd.sync.keyset import MIN_PAGE, PageSize, too_big
from tests.sync_rig import CUSTOMERS, make_rig, partner

PROTOCOLS = [("jsonrpc", 17), ("xmlrpc", 17), ("json2", 19)]


@pytest.mark.parametrize("protocol, version", PROTOCOLS, ids=[p for p, _ in PROTOCOLS])
@pytest.mark.parametrize("kind", ["truncate", "malformed", "http_502"])
def test_a_page_too_big_for_the_server_is_asked_again_smaller(tmp_path: Path, protocol: str,
                                                              version: int, kind: str) -> None:
    rig = make_rig(tmp_path, protocol, version, models=(CUSTOMERS,), page_size=1000)
    try:
        rig.db.import_records("res.partner", [partner(None, n) for n in range(1500)])
        # every answer of more than 300 rows fails; the retries at the same size would too
        rig.emulator.faults.add(kind, times=10**6, model="res.partner", method="search_read",
                                above=300)
        report = rig.sync()
        assert report.ok, report.error
        rig.assert_in_sync("after a full sync in small pages")
        rig.db.write("res.partner", rig.db.execute("res.partner", "search", [[]], {"limit": 400}),
                     {"name": "Renamed"})
        report = rig.sync()
        assert report.ok, report.error
        rig.assert_in_sync("after 400 changes")
    finally:
        rig.close()


def test_a_page_that_times_out_is_asked_again_smaller(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, models=(CUSTOMERS,), page_size=800)
    try:
        rig.db.import_records("res.partner", [partner(None, n) for n in range(500)])
        rig.emulator.faults.add("latency", times=3, model="res.partner", method="search_read",
                                above=200, seconds=2)
        rig.client.settings = replace(rig.client.settings, timeout=0.3)  # before it connects
        report = rig.sync()
        assert report.ok, report.error
        rig.assert_in_sync("after pages that timed out")
        # 800 and 400 timed out; 200 came back fast, and 400 again once it grew back
        assert rig.emulator.faults.pending() == []
    finally:
        rig.close()


def test_at_the_smallest_page_a_failure_still_fails_the_pass(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, models=(CUSTOMERS,), page_size=100)
    try:
        rig.db.import_records("res.partner", [partner(None, n) for n in range(50)])
        rig.emulator.faults.add("truncate", times=10**6, model="res.partner",
                                method="search_read")
        report = rig.sync()
        assert not report.ok and "truncated" in (report.error or "")
        assert not (rig.data_dir / "odoo_customers.json").exists()
    finally:
        rig.close()


def test_the_page_size_halves_on_failure_and_doubles_back_within_its_bounds() -> None:
    now = [0.0]
    size = PageSize(1000, clock=lambda: now[0])
    sizes = []
    for _ in range(8):
        size.shrink()
        sizes.append(size.size)
    assert sizes == [500, 250, 125, 62, 31, MIN_PAGE, MIN_PAGE, MIN_PAGE] and size.at_floor
    size.answered(5.0)  # slow: stays
    assert size.size == MIN_PAGE
    for _ in range(8):
        size.answered(0.01)
    assert size.size == 1000 and not size.at_floor
    assert PageSize(10).at_floor  # a configured page_size under MIN_PAGE never adapts


def test_which_failures_a_smaller_page_may_avoid() -> None:
    assert too_big(TransientError("truncated body"))
    assert not too_big(TransientError("HTTP 429", retry_after=5))
    assert too_big(FaultError("MemoryError: ", "builtins.MemoryError"))
    assert too_big(FaultError("Exception: CPU time limit exceeded.", "builtins.Exception"))
    assert too_big(FaultError("canceling statement due to statement timeout",
                              "psycopg2.errors.QueryCanceled"))
    assert not too_big(FaultError("Invalid field 'x'", "builtins.ValueError"))
