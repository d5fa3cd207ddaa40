"""Fault injection and counters of the emulator, observed by raw HTTP clients on 127.0.0.1."""

from __future__ import annotations

import http.client
import json
import threading
import time
import xmlrpc.client
from typing import Any
from xml.parsers.expat import ExpatError

import pytest

from syncd.emulator import Emulator


def xml_body(method: str, *params: Any) -> bytes:
    return xmlrpc.client.dumps(params, method).encode()


def post(em: Emulator, path: str, body: bytes, content_type: str = "text/xml",
         conn: http.client.HTTPConnection | None = None) -> http.client.HTTPResponse:
    conn = conn or http.client.HTTPConnection("127.0.0.1", em.port, timeout=10)
    conn.request("POST", path, body=body, headers={"Content-Type": content_type})
    return conn.getresponse()


VERSION_CALL = ("/xmlrpc/2/common", xml_body("version"))


def search_call(model: str = "res.partner", method: str = "search") -> tuple[str, bytes]:
    return "/xmlrpc/2/object", xml_body("execute_kw", "odoo", 2, "admin", model, method, [[]], {})


def status_of(em: Emulator, call: tuple[str, bytes]) -> int:
    response = post(em, *call)
    response.read()
    return response.status


@pytest.mark.parametrize("kind", ["http_500", "http_502", "http_503", "http_504"])
def test_http_errors_fire_once_then_the_server_answers(emulator: Any, kind: str) -> None:
    em = emulator()
    em.faults.add(kind)
    assert status_of(em, VERSION_CALL) == int(kind[-3:])
    assert status_of(em, VERSION_CALL) == 200
    assert em.faults.pending() == []


def test_429_carries_retry_after(emulator: Any) -> None:
    em = emulator()
    em.faults.add("http_429", retry_after=7)
    response = post(em, *VERSION_CALL)
    response.read()
    assert response.status == 429
    assert response.getheader("Retry-After") == "7"


def test_times_counts_firings(emulator: Any) -> None:
    em = emulator()
    em.faults.add("http_503", times=2)
    assert [status_of(em, VERSION_CALL) for _ in range(3)] == [503, 503, 200]


def test_drop_closes_without_a_response(emulator: Any) -> None:
    em = emulator()
    em.faults.add("drop")
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        post(em, *VERSION_CALL)
    assert status_of(em, VERSION_CALL) == 200


def test_truncate_announces_more_than_it_sends(emulator: Any) -> None:
    em = emulator()
    em.faults.add("truncate")
    response = post(em, *VERSION_CALL)
    assert response.status == 200
    with pytest.raises(http.client.IncompleteRead):
        response.read()


def test_malformed_is_200_with_an_unparsable_body(emulator: Any) -> None:
    em = emulator()
    em.faults.add("malformed", times=2)
    proxy = xmlrpc.client.ServerProxy(em.url + "/xmlrpc/2/common")
    with pytest.raises((ExpatError, xmlrpc.client.ResponseError)):
        proxy.version()
    body = json.dumps({"jsonrpc": "2.0", "method": "call", "id": 1,
                       "params": {"service": "common", "method": "version", "args": []}})
    response = post(em, "/jsonrpc", body.encode(), "application/json")
    assert response.status == 200
    with pytest.raises(ValueError):
        json.loads(response.read())
    assert proxy.version()["server_version"] == "17.0-20240709"


def test_html_is_an_nginx_page(emulator: Any) -> None:
    em = emulator()
    em.faults.add("html")
    em.faults.add("html", status=504)
    for status in (502, 504):
        response = post(em, *VERSION_CALL)
        page = response.read().decode()
        assert response.status == status
        assert response.getheader("Content-Type").startswith("text/html")
        assert "<center>nginx</center>" in page and f"<title>{status} " in page


def test_faults_match_only_their_requests(emulator: Any) -> None:
    em = emulator()
    em.faults.add("http_502", path="/jsonrpc")
    em.faults.add("http_503", model="res.partner", method="search_count")
    em.faults.add("http_500", model="res.users")
    assert status_of(em, VERSION_CALL) == 200
    assert status_of(em, search_call("res.partner", "search")) == 200
    assert status_of(em, search_call("res.partner", "search_count")) == 503
    assert status_of(em, search_call("res.partner", "search_count")) == 200
    assert status_of(em, search_call("res.users", "search")) == 500
    assert [rule.path for rule in em.faults.pending()] == ["/jsonrpc"]
    em.faults.clear()
    assert em.faults.pending() == []


def test_unknown_kind_is_refused(emulator: Any) -> None:
    em = emulator()
    with pytest.raises(ValueError, match="unknown fault kind"):
        em.faults.add("explode")


def test_latency_delays_then_answers(emulator: Any) -> None:
    em = emulator()
    em.faults.add("latency", seconds=0.3)
    started = time.monotonic()
    assert status_of(em, VERSION_CALL) == 200
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    assert status_of(em, VERSION_CALL) == 200
    assert time.monotonic() - started < 0.3


def test_latency_and_a_failure_fire_on_the_same_request(emulator: Any) -> None:
    em = emulator()
    em.faults.add("latency", seconds=0.2)
    em.faults.add("http_502")
    started = time.monotonic()
    assert status_of(em, VERSION_CALL) == 502
    assert time.monotonic() - started >= 0.2


def test_stop_interrupts_latency(emulator: Any) -> None:
    em = emulator()
    em.faults.add("latency", seconds=60)
    outcome: list[BaseException | int] = []
    done = threading.Event()

    def call() -> None:
        try:
            outcome.append(status_of(em, VERSION_CALL))
        except (http.client.HTTPException, OSError) as exc:
            outcome.append(exc)
        done.set()

    threading.Thread(target=call, daemon=True).start()
    deadline = time.monotonic() + 5
    while em.stats.requests == 0:
        assert time.monotonic() < deadline, "request never reached the server"
        done.wait(0.01)
    started = time.monotonic()
    em.stop()
    assert done.wait(5)
    assert time.monotonic() - started < 3
    assert isinstance(outcome[0], BaseException)


def test_stop_closes_idle_keep_alive_connections(emulator: Any) -> None:
    em = emulator(keep_alive=True)
    conn = http.client.HTTPConnection("127.0.0.1", em.port, timeout=10)
    post(em, *VERSION_CALL, conn=conn).read()
    started = time.monotonic()
    em.stop()
    assert time.monotonic() - started < 3
    with pytest.raises((http.client.HTTPException, OSError)):
        post(em, *VERSION_CALL, conn=conn).read()


def test_stats_count_requests_calls_logins_and_bytes(emulator: Any) -> None:
    em = emulator()
    sent = received = 0
    calls = [("/xmlrpc/2/common", xml_body("login", "odoo", "admin", "admin")),
             ("/xmlrpc/2/common", xml_body("authenticate", "odoo", "admin", "wrong", {})),
             search_call("res.partner", "search_count"),
             search_call("res.partner", "search_count"),
             VERSION_CALL]
    for path, body in calls:
        response = post(em, path, body)
        received += len(response.read())
        sent += len(body)
    assert em.stats.requests == 5
    assert em.stats.by_path == {"/xmlrpc/2/common": 3, "/xmlrpc/2/object": 2}
    assert em.stats.logins == 2
    assert em.stats.by_call == {("res.partner", "search_count"): 2}
    assert em.stats.calls("res.partner") == 2
    assert sent < em.stats.bytes_received < sent + 5 * 400  # bodies plus headers
    assert received < em.stats.bytes_sent < received + 5 * 400
    assert em.stats.deprecated_calls == 0
    em.stats.reset()
    assert (em.stats.requests, em.stats.logins, em.stats.bytes_sent, em.stats.by_path) == \
        (0, 0, 0, {})


def test_deprecated_endpoints_are_counted_on_19(emulator: Any) -> None:
    em = emulator(19)
    assert status_of(em, VERSION_CALL) == 200
    response = http.client.HTTPConnection("127.0.0.1", em.port, timeout=10)
    response.request("GET", "/web/version")
    assert response.getresponse().status == 200
    assert em.stats.deprecated_calls == 1
    assert em.stats.requests == 2
