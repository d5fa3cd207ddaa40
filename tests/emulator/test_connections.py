"""syncd's HTTP client against both connection behaviours, over real HTTP on 127.0.0.1.

Odoo's own server closes the connection after every answer; a proxy in front of it may keep
connections alive (docs/odoo-api.md §20). syncd.odoo.http.HttpConnection must work with both: a new
connection per request in the first case, one reused connection in the second.
"""

from __future__ import annotations

import xmlrpc.client
from typing import Any

import pytest

from syncd.emulator import Emulator
from syncd.odoo.http import HttpConnection
from tests.http_relay import count_connections

REQUESTS = 6


def xml_body(method: str, *params: Any) -> bytes:
    return xmlrpc.client.dumps(params, method).encode()


@pytest.mark.parametrize("keep_alive, connections", [(False, REQUESTS), (True, 1)],
                         ids=["odoo-closes", "proxy-keep-alive"])
def test_the_client_works_whether_the_server_closes_or_keeps_the_connection(
        emulator: Any, monkeypatch: pytest.MonkeyPatch, keep_alive: bool,
        connections: int) -> None:
    em: Emulator = emulator(17, keep_alive=keep_alive)
    em.db.create("res.partner", {"name": "Azure"})
    opened = count_connections(monkeypatch)
    http = HttpConnection(em.url, timeout=10)
    body = xml_body("execute_kw", "odoo", 2, "admin", "res.partner", "search_count", [[]])
    try:
        for _ in range(REQUESTS):
            response = http.request("POST", "/xmlrpc/2/object", body,
                                    {"Content-Type": "text/xml"})
            assert response.status == 200 and b"<int>1</int>" in response.body
    finally:
        http.close()
    assert len(opened) == connections
    assert em.stats.requests == REQUESTS


def test_a_drop_on_a_fresh_connection_is_not_resent(emulator: Any) -> None:
    """Only a reused keep-alive socket may be resent transparently: with Odoo closing every
    connection, a dropped request fails as transient (the caller's retry decides)."""
    from syncd.errors import TransientError

    em: Emulator = emulator(17)
    http = HttpConnection(em.url, timeout=10)
    body = xml_body("version")
    try:
        assert http.request("POST", "/xmlrpc/2/common", body).status == 200
        em.faults.add("drop")
        with pytest.raises(TransientError, match="closed the connection"):
            http.request("POST", "/xmlrpc/2/common", body)
        assert http.request("POST", "/xmlrpc/2/common", body).status == 200
    finally:
        http.close()
    assert em.stats.requests == 3


def test_a_login_costs_what_it_is_told_to() -> None:
    """Real 17/18 spend 0.40-0.48 s per common.login; the emulator's default is instant."""
    import time
    import xmlrpc.client

    from syncd.emulator.server import REAL_LOGIN_COST, Emulator as Server

    assert 0.40 <= REAL_LOGIN_COST <= 0.48
    for cost in (0.0, 0.2):
        with Server(17, login_cost=cost) as em:
            common = xmlrpc.client.ServerProxy(f"{em.url}/xmlrpc/2/common")
            began = time.monotonic()
            assert common.login(em.db.name, em.login, em.password) == 2
            took = time.monotonic() - began
            assert took >= cost


def test_connects_queue_as_on_odoo_while_the_server_is_not_accepting() -> None:
    """Odoo's threaded server listens with werkzeug's backlog of 128 (prefork: 8 per worker).
    With socketserver's default of 5, a client opening more connections than that while the
    accept loop is busy (it waits for the GIL behind the handler threads) has its SYNs
    dropped and waits a 1 s retransmission per connect. Here nothing accepts at all: every
    connect must still complete at once."""
    import socket

    from syncd.emulator.handler import EmulatorHTTPServer

    server = EmulatorHTTPServer(("127.0.0.1", 0), None, None, None)  # type: ignore[arg-type]
    sockets: list[socket.socket] = []
    try:
        for _ in range(32):
            # A dropped SYN is retried after 1 s: a connect that is not queued times out.
            sockets.append(socket.create_connection(server.server_address[:2], timeout=0.5))
    finally:
        for s in sockets:
            s.close()
        server.server_close()
    assert len(sockets) == 32
