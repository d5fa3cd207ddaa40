"""The client counts the bytes it carries (OdooClient.traffic): the bodies as on the wire, over
every connection it opens, for whoever reports them (the daemon's metrics)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from syncd.emulator import Emulator
from syncd.odoo.client import OdooClient
from syncd.settings import OdooSettings

HEADERS_AT_MOST = 600  # bytes of status line and headers per answer, which are not counted


def client_for(em: Emulator, protocol: str) -> OdooClient:
    return OdooClient(OdooSettings(url=em.url, database=em.db.name, username=em.login,
                                   password=em.password,
                                   api_key=em.api_key if protocol == "json2" else "",
                                   protocol=protocol, timeout=10), sleep=lambda s: None)


def read_everything(client: OdooClient) -> None:
    client.connect()
    rows = client.search_read("res.partner", [], ["name", "email"], order="id")
    assert len(rows) == 500


@pytest.mark.parametrize("protocol, version", [("jsonrpc", 17), ("xmlrpc", 17), ("json2", 19)])
def test_the_bodies_are_counted_as_carried_compressed_or_not(
        emulator: Callable[..., Emulator], protocol: str, version: int) -> None:
    received = {}
    for gzip in (False, True):
        em = emulator(version, gzip=gzip)
        em.db.import_records("res.partner", [{"name": f"Partner {n}", "email": f"p{n}@x.test"}
                                             for n in range(500)])
        with client_for(em, protocol) as client:
            read_everything(client)
            traffic = client.traffic
        answers = em.stats.requests
        assert 0 < traffic.bytes_received <= em.stats.bytes_sent
        assert em.stats.bytes_sent - traffic.bytes_received <= HEADERS_AT_MOST * answers
        assert 0 < traffic.bytes_sent <= em.stats.bytes_received
        assert em.stats.bytes_received - traffic.bytes_sent <= HEADERS_AT_MOST * answers
        received[gzip] = traffic.bytes_received
    assert received[True] * 3 < received[False]  # the compressed size, not the decoded one


def test_the_count_goes_on_across_reconnections(emulator: Callable[..., Emulator]) -> None:
    em = emulator(17)
    em.db.import_records("res.partner", [{"name": f"P{n}"} for n in range(500)])
    with client_for(em, "jsonrpc") as client:
        read_everything(client)
        first = client.traffic.bytes_received
        client.close()  # a later call connects (and logs in) again, on a new transport
        read_everything(client)
        assert client.traffic.bytes_received > first * 1.9
