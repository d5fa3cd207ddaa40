"""`[odoo] lang`: every read carries a lang in its context, over every protocol.

The emulator does not record request bodies, so the client talks to it through a recording
reverse proxy (real HTTP both ways) and the tests read the contexts off the wire.
"""

from __future__ import annotations

import threading
import xmlrpc.client
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import orjson
import pytest
from loguru import logger

from syncd.settings import OdooSettings
from syncd.emulator import Emulator
from syncd.odoo.client import OdooClient
from tests.http_relay import relay as forward

READS = ("search_read", "search", "search_count", "read", "fields_get")


@dataclass
class Sent:
    """One model method call as it went over the wire."""

    model: str
    method: str
    context: dict[str, Any] | None  # None: no context sent at all


@dataclass
class Recorder:
    url: str
    bodies: list[tuple[str, bytes]] = field(default_factory=list)

    def calls(self) -> list[Sent]:
        """The model method calls seen (version and login over execute_kw left out)."""
        sent = []
        for path, body in self.bodies:
            if path == "/jsonrpc":
                params = orjson.loads(body)["params"]
                if params["service"] == "object":
                    args = params["args"]
                    kwargs = args[6] if len(args) > 6 else {}
                    sent.append(Sent(args[3], args[4], kwargs.get("context")))
            elif path == "/xmlrpc/2/object":
                values: tuple[Any, ...] = xmlrpc.client.loads(body)[0]
                kwargs = values[6] if len(values) > 6 else {}
                sent.append(Sent(values[3], values[4], kwargs.get("context")))
            elif path.startswith("/json/2/"):
                model, method = path.removeprefix("/json/2/").split("/")
                sent.append(Sent(model, method, orjson.loads(body or b"{}").get("context")))
        return sent

    def reads(self) -> list[Sent]:
        return [s for s in self.calls() if s.method in READS]


class _Relay(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Any

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.recorder.bodies.append((self.path, body))
        host, port = self.server.upstream
        forward(self, host, port, self.path, body)

    do_GET = do_POST


@pytest.fixture
def recorded() -> Iterator[Callable[[Emulator], Recorder]]:
    servers: list[ThreadingHTTPServer] = []

    def start(em: Emulator) -> Recorder:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Relay)
        server.daemon_threads = True
        parts = urlsplit(em.url)
        server.upstream = (parts.hostname, parts.port)  # type: ignore[attr-defined]
        recorder = Recorder(f"http://127.0.0.1:{server.server_address[1]}")
        server.recorder = recorder  # type: ignore[attr-defined]
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        servers.append(server)
        return recorder

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


PROTOCOLS = [("jsonrpc", 17), ("xmlrpc", 17), ("json2", 19), ("jsonrpc", 16)]


def client_for(em: Emulator, recorder: Recorder, protocol: str, **changes: Any) -> OdooClient:
    values: dict[str, Any] = dict(url=recorder.url, database=em.db.name, username=em.login,
                                  password=em.password, protocol=protocol, timeout=10,
                                  api_key=em.api_key if protocol == "json2" else "")
    values.update(changes)
    return OdooClient(OdooSettings(**values), sleep=lambda _: None)


def every_read(c: OdooClient, partner: int) -> None:
    c.search_read("res.partner", [], ["name"], order="id", context={"active_test": False})
    c.search("res.partner", [], limit=5)
    c.search_count("res.partner", [], context={"active_test": False})
    c.read("res.partner", [partner], ["name"])
    c.fields_get("res.partner", ["type"])


@pytest.mark.parametrize("protocol, version", PROTOCOLS, ids=[f"{p}-{v}" for p, v in PROTOCOLS])
def test_every_read_carries_the_users_lang(emulator: Callable[..., Emulator],
                                           recorded: Callable[[Emulator], Recorder],
                                           protocol: str, version: int) -> None:
    em = emulator(version)
    partner = em.db.create("res.partner", {"name": "Chaise"})
    recorder = recorded(em)
    with client_for(em, recorder, protocol) as c:
        assert c.connect().lang == "en_US"  # what the emulator's context_get answers
        every_read(c, partner)
        every_read(c, partner)
    reads = recorder.reads()
    assert sorted({s.method for s in reads}) == sorted(READS) and len(reads) == 10
    assert all(s.context is not None and s.context["lang"] == "en_US" for s in reads), reads
    merged = [s.context for s in reads if s.method in ("search_read", "search_count")]
    assert merged == [{"lang": "en_US", "active_test": False}] * 4  # the caller's context kept
    # learned once per connection (JSON-2's login is that very call)
    assert [s.method for s in recorder.calls()].count("context_get") == 1


@pytest.mark.parametrize("protocol, version", PROTOCOLS, ids=[f"{p}-{v}" for p, v in PROTOCOLS])
def test_a_configured_lang_wins_over_the_users(emulator: Callable[..., Emulator],
                                               recorded: Callable[[Emulator], Recorder],
                                               protocol: str, version: int) -> None:
    em = emulator(version)
    partner = em.db.create("res.partner", {"name": "Chaise"})
    recorder = recorded(em)
    with client_for(em, recorder, protocol, lang="fr_FR") as c:
        assert c.connect().lang == "fr_FR"
        every_read(c, partner)
        rows = c.search_read("res.partner", [], ["name"], context={"lang": "de_DE"})
    reads = recorder.reads()
    assert [s.context and s.context["lang"] for s in reads] == ["fr_FR"] * 5 + ["de_DE"]
    assert [s.context for s in reads][0] == {"lang": "fr_FR", "active_test": False}
    assert rows == [{"id": partner, "name": "Chaise"}]  # the server accepted the context
    # No need to ask the user's language; JSON-2 still logs in through context_get.
    expected = 1 if protocol == "json2" else 0
    assert [s.method for s in recorder.calls()].count("context_get") == expected


@pytest.mark.parametrize("protocol", ["jsonrpc", "xmlrpc"])
def test_a_failing_context_get_leaves_the_lang_out(emulator: Callable[..., Emulator],
                                                   recorded: Callable[[Emulator], Recorder],
                                                   protocol: str) -> None:
    em = emulator(17)
    partner = em.db.create("res.partner", {"name": "Chaise"})
    em.faults.add("html", status=404, model="res.users", method="context_get")  # not transient
    recorder = recorded(em)
    lines: list[tuple[str, str]] = []
    sink = logger.add(lambda m: lines.append((m.record["level"].name, m.record["message"])),
                      level="DEBUG")
    try:
        with client_for(em, recorder, protocol) as c:
            assert c.connect().lang == ""
            every_read(c, partner)
    finally:
        logger.remove(sink)
    assert em.faults.pending() == []  # the fault fired
    contexts = [s.context for s in recorder.reads()]
    assert contexts == [{"active_test": False}, None, {"active_test": False}, None, None]
    failed = [(level, text) for level, text in lines if "context_get" in text]
    assert len(failed) == 1 and failed[0][0] == "DEBUG" and "HTTP 404" in failed[0][1]
