"""gzip on the wire: syncd asks for it, the emulator gives it as a compressing proxy does (Odoo
itself never compresses), and an answer either way reads the same."""

from __future__ import annotations

import gzip
import random
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from syncd.emulator import Emulator
from syncd.errors import TransientError
from syncd.odoo.client import OdooClient
from syncd.odoo.http import HttpConnection
from syncd.settings import OdooSettings

CASES = [("xmlrpc", 17), ("jsonrpc", 17), ("json2", 19)]


def settings_for(em: Emulator, protocol: str) -> OdooSettings:
    return OdooSettings(url=em.url, database=em.db.name, username=em.login, password=em.password,
                        api_key=em.api_key if protocol == "json2" else "", protocol=protocol,
                        timeout=10)


def page(em: Emulator, protocol: str, *, sleep: Callable[[float], None] = lambda s: None
         ) -> tuple[list[dict[str, object]], int]:
    """One page of 1,000 partners and the bytes the server sent for it."""
    with OdooClient(settings_for(em, protocol), sleep=sleep, rng=random.Random(3)) as client:
        client.connect()
        sent = em.stats.bytes_sent
        rows = client.search_read("res.partner", [], ["name", "email", "write_date"],
                                  limit=1000, order="id")
        return rows, em.stats.bytes_sent - sent


@pytest.mark.parametrize("protocol, version", CASES)
def test_a_gzipped_answer_reads_as_the_plain_one_in_fewer_bytes(
        emulator: Callable[..., Emulator], protocol: str, version: int) -> None:
    plain_em, gzip_em = emulator(version), emulator(version, gzip=True)
    for em in (plain_em, gzip_em):
        em.db.import_records("res.partner", [{"name": f"Partner {n}", "email": f"p{n}@x.test"}
                                             for n in range(1000)])
    plain, plain_bytes = page(plain_em, protocol)
    zipped, zipped_bytes = page(gzip_em, protocol)
    assert len(plain) == 1000
    assert [(r["id"], r["name"], r["email"]) for r in zipped] == \
        [(r["id"], r["name"], r["email"]) for r in plain]
    assert zipped_bytes * 4 < plain_bytes


def test_a_truncated_gzipped_answer_is_retried(emulator: Callable[..., Emulator]) -> None:
    em = emulator(17, gzip=True)
    em.db.import_records("res.partner", [{"name": f"Partner {n}"} for n in range(1000)])
    sleeps: list[float] = []
    em.faults.add("truncate", times=1, method="search_read")
    rows, _ = page(em, "jsonrpc", sleep=sleeps.append)
    assert len(rows) == 1000 and len(sleeps) == 1


@pytest.fixture
def bad_gzip_server() -> Iterator[str]:
    """A server whose answers claim gzip and are not."""
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = gzip.compress(b'{"ok": true}')[:-6] if self.path == "/cut" else b"not gzip"
            self.send_response(200)
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("path, reason", [("/junk", "undecodable gzip body"),
                                          ("/cut", "truncated gzip body")])
def test_a_gzip_body_that_does_not_decode_is_transient(bad_gzip_server: str, path: str,
                                                       reason: str) -> None:
    conn = HttpConnection(bad_gzip_server, timeout=5)
    with pytest.raises(TransientError, match=reason):
        conn.request("GET", path)
    conn.close()
