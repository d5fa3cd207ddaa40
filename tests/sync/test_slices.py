"""A rebuild read in id slices over several connections, and models pulled in parallel
(``[sync] workers`` > 1, syncd.sync.parallel): the same bytes, digests and guarantees as one
scan, on every transport; a failure or a stop in any worker fails the pass cleanly, nothing
committed and no thread left behind."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from syncd.odoo.client import OdooClient
from syncd.settings import ModelSpec
from syncd.sinks.datadir import DataDir
from syncd.sinks.factory import make_sink, opened
from syncd.sync.engine import run_pass
from syncd.sync.parallel import Fleet, _Frontier, sliced_pages
from syncd.sync.state import State
from tests.sync_rig import (COMPANIES, CUSTOMERS, EVERYONE, PRODUCTS, PROTOCOLS, Rig, make_rig,
                            partner, with_settings)

CASES = [pytest.param((p, v), id=f"{p}-{v}") for p, v in PROTOCOLS]
FROZEN = datetime(2026, 3, 2, 10, 0, 0, 250000)
NOW = datetime(2026, 3, 2, 10, 5, 0)  # this machine's clock, fixed: equal state files
PAGE = 20


def state_of(rig: Rig) -> State:
    sink = make_sink(rig.settings)
    try:
        return sink.read_state()
    finally:
        sink.close()


def twin(rig: Rig, tmp_path: Path, *, workers: int) -> Rig:
    """Another data directory on the same server, passes with ``workers``."""
    settings = replace(rig.settings, sync=replace(rig.settings.sync, data_dir=tmp_path / "twin",
                                                  workers=workers))
    return Rig(emulator=rig.emulator, settings=settings,
               client=OdooClient(settings.odoo, sleep=lambda s: None), now=rig.now)


def files(rig: Rig) -> dict[str, bytes]:
    """Every snapshot and journal file (the state file holds stat()s: compared apart)."""
    return {p.name: p.read_bytes() for p in sorted(rig.data_dir.iterdir())
            if p.name.startswith("odoo_") or "journal" in p.name}


@pytest.fixture(params=CASES)
def rig(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Rig]:
    protocol, version = request.param
    r = make_rig(tmp_path, protocol, version, models=(CUSTOMERS, COMPANIES, EVERYONE, PRODUCTS),
                 page_size=PAGE, reconcile_interval=0, workers=4)
    r.now = lambda: NOW
    yield r
    r.close()


def populate(rig: Rig) -> None:
    """Batches a minute apart (a burst of 3 pages in one second among them), a gap of many
    pages with no rows at all, archived rows and products, then the clock stops."""
    db = rig.db
    db.clock.freeze(FROZEN)
    ids = db.import_records("res.partner", [partner(None, n, company=n % 3 == 0)
                                            for n in range(300)])
    db.clock.advance(60)
    db.unlink("res.partner", ids[80:230])  # a gap: the slices over it are empty
    db.archive("res.partner", ids[10:15])
    db.import_records("res.partner", [partner(None, n) for n in range(300, 370)])  # one second
    db.clock.advance(60)
    db.import_records("product.product", [{"name": f"Item {n}", "list_price": n + 0.5}
                                          for n in range(90)])
    db.clock.advance(61)


def test_a_sliced_rebuild_stores_the_bytes_and_digests_of_one_scan(rig: Rig,
                                                                   tmp_path: Path) -> None:
    populate(rig)
    with_settings(rig, journal=True)
    one = twin(rig, tmp_path, workers=1)
    try:
        rig.emulator.stats.reset()
        assert rig.sync().ok
        sliced = rig.emulator.stats.calls("res.partner", "search")
        rig.emulator.stats.reset()
        assert one.sync().ok
        assert rig.emulator.stats.calls("res.partner", "search") == 0  # one scan: no slices
        assert sliced == 3  # the highest id of each res.partner model: all three were sliced
        rig.assert_in_sync("sliced rebuild")
        assert files(rig) == files(one)
        mine, theirs = state_of(rig), state_of(one)
        for name in mine.models:
            a, b = mine.models[name], theirs.models[name]
            assert (a.watermark, a.settled, a.records, a.recent) == \
                (b.watermark, b.settled, b.records, b.recent), name
        assert [m.name for m in rig.reports[-1].models] == \
            [spec.name for spec in rig.settings.models]  # written in the configured order
        # and every pass after it agrees too (in place: windows, digests, the journal)
        rig.db.write("res.partner", [1, 250, 370], {"email": "changed@example.com"})
        rig.db.clock.advance(1)
        assert rig.sync().ok and one.sync().ok
        rig.assert_in_sync("after a pass in place")
        assert files(rig) == files(one)
    finally:
        one.client.close()


def test_rows_written_during_a_sliced_rebuild_land_by_the_next_pass(rig: Rig) -> None:
    populate(rig)
    db = rig.db
    db.clock.freeze(db.clock.now())
    ids = sorted(r["id"] for r in rig.expected("customers"))
    pages: list[int] = []
    long = db.transaction()
    late = long.create("res.partner", partner(None, 900))  # stamped now, committed mid-pass

    def meanwhile() -> None:  # before each page request, whichever worker asks
        pages.append(1)
        if len(pages) == 4:  # a few pages into the first model, more to come
            db.clock.advance(0.5)
            db.write("res.partner", [ids[0], ids[-1]], {"name": "renamed mid-pass"})
            db.unlink("res.partner", [ids[1], ids[-2]])
            db.import_records("res.partner", [partner(None, n) for n in range(400, 430)])
            long.commit()
            db.clock.advance(1000)  # the pass now sees stamps far past its start

    assert rig.sync(meanwhile).ok
    assert len(pages) > 4
    assert rig.sync().ok  # reconcile_interval 0: deletions are checked every pass
    rig.assert_in_sync("the pass after a sliced rebuild that Odoo changed under")
    assert late in {r["id"] for r in rig.snapshot("customers")}


def test_a_burst_of_many_pages_in_one_second_is_read_once(rig: Rig) -> None:
    rig.db.clock.freeze(FROZEN)
    rig.db.import_records("res.partner", [partner(None, n) for n in range(237)])
    assert rig.sync().ok
    rig.assert_in_sync("after the burst")
    rig.db.import_records("res.partner", [partner(None, n) for n in range(300, 420)])
    before = rig.client.requests
    report = rig.sync()  # in place: the window holds both bursts, one scan, nothing lost
    assert report.ok
    rig.assert_in_sync("after the second burst")
    # pages, not a loop: three res.partner models of 18 pages each (companies asks its domain
    # of each page too), and the products' one
    assert rig.client.requests - before <= 3 * 19 + 19 + 1


def threads_left(before: set[threading.Thread]) -> list[threading.Thread]:
    """Threads started since ``before`` and still alive, but the emulator's request handlers
    (it serves from this process: a handler of a connection the pass cut may still be ending)."""
    return [t for t in threading.enumerate()
            if t not in before and "process_request_thread" not in t.name]


def nothing_committed(rig: Rig, action: Callable[[], Any]) -> Any:
    """Run ``action`` (a failing pass); no stored byte changes, no syncd thread remains."""
    before = {p.name: p.read_bytes() for p in rig.data_dir.iterdir() if p.is_file()}
    threads = set(threading.enumerate())
    result = action()
    after = {p.name: p.read_bytes() for p in rig.data_dir.iterdir() if p.is_file()}
    after.pop(".syncd-error.json", None)
    before.pop(".syncd-error.json", None)
    assert after == before
    assert threads_left(threads) == []  # every worker of the pass was joined
    return result


def test_a_fault_in_a_slice_reader_fails_the_pass_cleanly(rig: Rig) -> None:
    populate(rig)
    assert rig.sync().ok
    resync_all(rig)
    pages: list[int] = []

    def meanwhile() -> None:
        pages.append(1)
        if len(pages) == 3:  # the first page and a slice or two are read: now every page fails
            rig.emulator.faults.add("http_500", times=10_000, model="res.partner",
                                    method="search_read")

    report = nothing_committed(rig, lambda: rig.sync(meanwhile))
    assert not report.ok and report.error and report.error.startswith("customers: ")
    assert "HTTP 500" in report.error
    rig.emulator.faults.clear()
    assert rig.sync().ok
    rig.assert_in_sync("after the failure")


def test_a_model_pulled_ahead_that_fails_fails_the_pass_naming_it(rig: Rig) -> None:
    populate(rig)
    assert rig.sync().ok
    rig.db.write("product.product", [1], {"list_price": 99.0})
    rig.emulator.faults.add("http_503", times=10_000, model="product.product")
    report = nothing_committed(rig, rig.sync)
    assert not report.ok and report.error and report.error.startswith("products: ")
    rig.emulator.faults.clear()
    assert rig.sync().ok
    rig.assert_in_sync("after the failure")


def resync_all(rig: Rig) -> None:
    with opened(rig.settings) as sink:
        DataDir(rig.data_dir).request_resync(sink, [], [s.name for s in rig.settings.models])


def test_a_stop_seen_by_a_worker_interrupts_the_pass(rig: Rig) -> None:
    populate(rig)
    assert rig.sync().ok
    resync_all(rig)  # a rebuild of every model: slices and models read at once
    calls: list[int] = []
    lock = threading.Lock()

    def should_stop() -> bool:  # asked from the workers too: the sixth ask says stop
        with lock:
            calls.append(1)
            return len(calls) >= 6

    def interrupted() -> Any:
        with opened(rig.settings) as sink:
            return run_pass(rig.settings, rig.client, sink, DataDir(rig.data_dir),
                            now=rig.now, should_stop=should_stop)

    report = nothing_committed(rig, interrupted)
    assert report.interrupted and not report.ok
    assert rig.sync().ok
    rig.assert_in_sync("after the stop")


# -- the slices themselves -------------------------------------------------------------------------
def test_slices_span_a_page_of_rows_learnt_as_they_are_read() -> None:
    # dense ids: a page of 1000 rows spans 1000 ids; every slice one page, the last one open
    frontier = _Frontier(1000, 100_000, 1000)
    handed = []
    while (bounds := frontier.next()) is not None:
        handed.append(bounds)
        lo, hi = bounds
        if hi is not None:
            frontier.learn(lo, hi, 1000, 1000, hi)  # one full page, ending at the slice's end
    assert handed[0] == (1000, 2000) and handed[-1] == (99_000, None) and len(handed) == 99
    assert all(a[1] == b[0] for a, b in zip(handed, handed[1:]))
    # a gap: empty slices widen fourfold each, so it is crossed in a few requests
    frontier = _Frontier(0, 10**9, 1000)
    spans = []
    for _ in range(6):
        lo, hi = frontier.next()  # type: ignore[misc]
        assert hi is not None
        spans.append(hi - lo)
        frontier.learn(lo, hi, 0, 1000, None)
    assert spans == [1000, 4000, 16_000, 64_000, 256_000, 1_024_000]
    # sparse rows: as wide as a page of them; a dense stretch: as narrow as a page spanned
    frontier = _Frontier(0, 10**9, 1000)
    lo, hi = frontier.next()  # type: ignore[misc]
    frontier.learn(lo, hi, 100, 1000, 990)  # one row in ten: a page spans 10,000 ids
    assert frontier.span == 4000  # at most four times wider at once
    lo, hi = frontier.next()  # type: ignore[misc]
    frontier.learn(lo, hi, 400, 1000, hi - 3)
    assert frontier.span == 10_000
    lo, hi = frontier.next()  # type: ignore[misc]
    frontier.learn(lo, hi, 1000, 1000, lo + 2500)  # a full page that spanned 2500 ids
    assert frontier.span == 2500
    # nothing past the first page when the rebuild began: one slice, open above
    frontier = _Frontier(1000, 1000, 1000)
    assert frontier.next() == (1000, None) and frontier.next() is None


def test_at_most_workers_plus_one_pages_are_held_ahead_of_the_consumer(emulator: Any) -> None:
    odoo = emulator(17)
    odoo.db.import_records("res.partner", [{"name": f"P{n}"} for n in range(1500)])
    from syncd.settings import OdooSettings

    client = OdooClient(OdooSettings(url=odoo.url, database=odoo.db.name, username=odoo.login,
                                     password=odoo.password), sleep=lambda s: None)
    workers = 3
    client.connections = workers
    lock = threading.Lock()
    answered = {"pages": 0}
    full = threading.Event()
    consumed = {"pages": 0}
    original = client.search_read

    def counting(*args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        rows = original(*args, **kwargs)
        with lock:
            answered["pages"] += 1
            if answered["pages"] - consumed["pages"] >= workers:
                full.set()
        return rows

    client.search_read = counting  # type: ignore[method-assign]
    fleet = Fleet(workers)
    peak = 0
    seen: list[int] = []
    try:
        for page in sliced_pages(client, "res.partner", [], ["name"], context={},
                                 page_size=25, check_stop=lambda: None, fleet=fleet):
            seen.extend(row["id"] for row in page)
            with lock:
                consumed["pages"] += 1
                ahead = answered["pages"] - consumed["pages"]
                peak = max(peak, ahead)
                if ahead < workers:
                    full.clear()  # set again once the readers have filled what they may
            # the readers (started once the first page is handed over) fill what they may,
            # then wait for room
            if 1 < consumed["pages"] < 55:
                assert full.wait(timeout=30), consumed
            with lock:
                peak = max(peak, answered["pages"] - consumed["pages"])
    finally:
        fleet.close()
        client.close()
    assert seen == sorted(seen) and len(seen) == 1500 == len(set(seen))
    assert workers <= peak <= workers + 1


SMALL = ModelSpec(name="small", model="res.partner", fields=("name",))


def test_a_model_that_fits_in_a_page_costs_one_request_as_without_workers(
        tmp_path: Path) -> None:
    rig = make_rig(tmp_path, models=(SMALL,), page_size=PAGE, workers=4)
    try:
        rig.db.import_records("res.partner", [{"name": f"P{n}"} for n in range(PAGE - 1)])
        rig.client.connect()
        rig.emulator.stats.reset()
        assert rig.sync().ok
        # one fields_get, one page: no highest-id probe, no slices
        assert rig.emulator.stats.by_call == {("res.partner", "fields_get"): 1,
                                              ("res.partner", "search_read"): 1}
    finally:
        rig.close()


def test_one_worker_sends_the_requests_of_one_scan(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, models=(CUSTOMERS, PRODUCTS), page_size=PAGE, workers=1)
    threads = set(threading.enumerate())
    try:
        rig.db.import_records("res.partner", [partner(None, n) for n in range(5 * PAGE)])
        assert rig.sync().ok
        assert rig.emulator.stats.calls("res.partner", "search") == 0
        # 5 full pages and the empty one that ends the scan, one at a time
        assert rig.emulator.stats.calls("res.partner", "search_read") == 6
        assert rig.emulator.stats.round_trips() == rig.emulator.stats.requests
        assert threads_left(threads) == []  # none was started
    finally:
        rig.close()
