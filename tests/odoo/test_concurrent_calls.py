"""Calls from several threads at once ([sync] workers): each on a connection of its own, at
most `connections` at a time, over every transport; one at a time until a pass's first answer;
`abort` cuts a call waiting for its answer or pausing before a retry, and every call after it
until the next pass."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from syncd.emulator import Emulator
from syncd.errors import PassInterrupted
from syncd.odoo.client import OdooClient
from syncd.settings import OdooSettings

PROTOCOLS = [("jsonrpc", 17), ("xmlrpc", 17), ("json2", 19)]


def client_for(em: Emulator, protocol: str = "jsonrpc", **kwargs: Any) -> OdooClient:
    return OdooClient(OdooSettings(url=em.url, database=em.db.name, username=em.login,
                                   password=em.password,
                                   api_key=em.api_key if protocol == "json2" else "",
                                   protocol=protocol, timeout=60), **kwargs)


def most_at_once(spans: list[tuple[float, float]]) -> int:
    events = sorted([(begun, 1) for begun, _ in spans] + [(ended, -1) for _, ended in spans])
    current = peak = 0
    for _, step in events:
        current += step
        peak = max(peak, current)
    return peak


def in_threads(count: int, call: Callable[[int], Any]) -> list[Any]:
    results: list[Any] = [None] * count

    def run(n: int) -> None:
        try:
            results[n] = call(n)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            results[n] = exc

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
        assert not thread.is_alive()
    return results


CONNECTIONS = [(p, v, False) for p, v in PROTOCOLS] + [("jsonrpc", 17, True)]


@pytest.mark.parametrize("protocol, version, keep_alive", CONNECTIONS,
                         ids=[p + ("-keep-alive" if k else "") for p, _, k in CONNECTIONS])
def test_calls_from_several_threads_use_at_most_connections_at_once(
        emulator: Callable[..., Emulator], protocol: str, version: int,
        keep_alive: bool) -> None:
    em = emulator(version, keep_alive=keep_alive)
    ids = em.db.import_records("res.partner", [{"name": f"P{n}"} for n in range(80)])
    with client_for(em, protocol, sleep=lambda s: None) as client:
        client.connections = 3
        client.connect()
        em.stats.reset()
        em.faults.add("latency", times=8, seconds=0.1, method="search_read")
        requests = client.requests

        def page(n: int) -> list[int]:
            rows = client.search_read("res.partner", [["id", ">", ids[10 * n] - 1]], ["name"],
                                      order="id", limit=10)
            return [row["id"] for row in rows]

        results = in_threads(8, page)
    assert results == [ids[10 * n:10 * n + 10] for n in range(8)]  # each its own answer
    assert client.requests - requests == 8 == em.stats.requests
    assert 2 <= most_at_once(em.stats.spans) <= 3
    assert 0 < client.traffic.bytes_received <= em.stats.bytes_sent


def test_until_the_first_answer_of_a_pass_its_calls_go_one_at_a_time(
        emulator: Callable[..., Emulator]) -> None:
    em = emulator(17)
    em.db.import_records("res.partner", [{"name": f"P{n}"} for n in range(10)])
    with client_for(em, sleep=lambda s: None) as client:
        client.connections = 4
        client.connect()
        client.begin_pass()
        em.stats.reset()
        em.faults.add("latency", times=1, seconds=0.3)  # the first answer is slow
        in_threads(4, lambda n: client.search("res.partner", [], limit=1))
        spans = sorted(em.stats.spans, key=lambda span: span[1])
        first_answered = spans[0][1]
        assert all(begun >= first_answered for begun, _ in spans[1:])
        assert client.pass_clock is not None
        # the pass has had its answer: the calls that follow go at once
        em.stats.reset()
        em.faults.add("latency", times=4, seconds=0.3)
        in_threads(4, lambda n: client.search("res.partner", [], limit=1))
        assert most_at_once(em.stats.spans) >= 2


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 20
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)  # polling a condition with a deadline


@pytest.mark.parametrize("where", ["waiting for an answer", "pausing before a retry"])
def test_abort_cuts_a_call_and_every_call_after_it_until_the_next_pass(
        emulator: Callable[..., Emulator], where: str) -> None:
    em = emulator(17)
    em.db.import_records("res.partner", [{"name": f"P{n}"} for n in range(10)])
    with client_for(em) as client:  # the real sleep: a retry's pause is a real wait
        client.connections = 2
        client.connect()
        client.begin_pass()
        if where == "waiting for an answer":
            em.faults.add("latency", times=1, seconds=60, method="search")
        else:
            em.faults.add("http_429", times=1, retry_after=60, method="search")
        results: list[Any] = []
        worker = threading.Thread(target=lambda: results.extend(
            in_threads(1, lambda n: client.search("res.partner", []))))
        worker.start()
        wait_until(lambda: not em.faults.pending(), "the call to reach the server")
        started = time.monotonic()
        client.abort()
        worker.join(timeout=10)
        assert not worker.is_alive() and time.monotonic() - started < 5
        assert isinstance(results[0], PassInterrupted)
        with pytest.raises(PassInterrupted):
            client.search("res.partner", [])  # none starts after an abort
        em.faults.clear()
        client.begin_pass()
        assert len(client.search("res.partner", [])) == 10  # the next pass calls again
