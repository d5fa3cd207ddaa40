"""The emulator as a server with N workers (`Capacity`): at most N requests handled at once, each
charged `row_cost` per row it examined, outside the database lock (as PostgreSQL spends it in a
process of its own); one link's bandwidth shared by answers sent at once; the round trips a
client waited for one after the other."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from syncd.emulator import Emulator
from syncd.errors import TransientError
from syncd.emulator.__main__ import parse_arguments
from syncd.emulator.injection import Link, Stats
from syncd.odoo.client import OdooClient
from syncd.settings import OdooSettings


def client_for(em: Emulator, connections: int = 1) -> OdooClient:
    client = OdooClient(OdooSettings(url=em.url, database=em.db.name, username=em.login,
                                     password=em.password, timeout=30), sleep=lambda s: None)
    client.connections = connections
    client.connect()
    return client


def test_at_most_n_requests_are_handled_at_once(emulator: Callable[..., Emulator]) -> None:
    em = emulator(17, server_workers=2, row_cost=0.002)
    em.db.import_records("res.partner", [{"name": f"P{n}"} for n in range(50)])
    with client_for(em, connections=6) as client:
        started = time.monotonic()
        threads = [threading.Thread(target=client.search_read,
                                    args=("res.partner", [], ["name"]),
                                    kwargs={"order": "id", "limit": 50}) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
    assert em.capacity.peak == 2
    assert elapsed >= 3 * 50 * 0.002  # six requests of 0.1 s, two at a time


def test_a_request_is_charged_for_its_rows_outside_the_database_lock(
        emulator: Callable[..., Emulator]) -> None:
    em = emulator(17, row_cost=0.01)
    em.db.import_records("res.partner", [{"name": f"P{n}"} for n in range(300)])
    with client_for(em) as client:
        started = time.monotonic()
        client.search_read("res.partner", [], ["name"], order="id", limit=5)
        assert time.monotonic() - started >= 5 * 0.01  # five rows examined
        em.db.reset_visits()
        failed: list[BaseException] = []

        def read_window() -> None:
            try:
                client.search_read("res.partner", [["write_date", ">=", "2000-01-01"]],
                                   ["name"], limit=1)
            except TransientError as exc:  # the emulator stops under it
                failed.append(exc)

        scan = threading.Thread(target=read_window, daemon=True)
        scan.start()  # no index on write_date: 300 rows examined, 3 s charged
        deadline = time.monotonic() + 10
        while em.db.visits < 300:  # the query has run; its cost is being paid
            assert time.monotonic() < deadline
            time.sleep(0.01)  # polling a condition with a deadline
        assert em.db.lock.acquire(timeout=1)  # the cost is not paid holding the database
        em.db.lock.release()
        em.stop()  # and a stop cuts it short
        scan.join(timeout=5)
        assert not scan.is_alive() and failed


def test_a_link_is_shared_by_answers_sent_at_once() -> None:
    link = Link(latency=0.01, bandwidth=1000.0)
    first = link.delay(500)
    second = link.delay(500)  # sent at once: waits for the first to be on its way
    assert abs(first - 0.51) < 1e-9
    assert 0.8 < second <= 1.01 + 1e-9  # less the time between the two calls
    assert Link(latency=0.02).delay(10**9) == 0.02  # no cap: the latency alone


def test_round_trips_count_the_requests_waited_for_one_after_the_other() -> None:
    stats = Stats()
    for begun, ended in [(0.0, 1.0), (1.0, 2.0), (2.0, 3.0)]:  # one at a time
        stats.count_span(begun, ended)
    assert stats.round_trips() == 3
    stats.reset()
    for begun, ended in [(0.0, 1.0), (0.1, 1.1), (0.2, 1.2), (1.2, 2.0), (1.3, 2.1)]:
        stats.count_span(begun, ended)  # three at once, then two at once
    assert stats.round_trips() == 2 and len(stats.spans) == 5


def test_the_command_line_sets_workers_and_the_cost_of_a_row() -> None:
    args = parse_arguments(["--server-workers", "2", "--row-cost-us", "50"])
    assert args.server_workers == 2 and args.row_cost_us == 50.0
    args = parse_arguments([])
    assert args.server_workers == 0 and args.row_cost_us == 0.0
