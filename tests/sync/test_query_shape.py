"""What an idle pass asks Odoo: one window query per model, with no redundant `id > 0` (it makes
a database with a write_date index walk the primary key instead). Watched on the wire, through
a recording relay in front of the emulator."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
import pytest

from syncd.odoo.client import OdooClient
from syncd.sync.digests import Digests
from tests.sync_rig import CUSTOMERS, Rig, make_rig, partner


def recording_relay(rig: Rig, seen: list[dict[str, Any]]) -> ThreadingHTTPServer:
    """An HTTP relay to the rig's emulator that keeps every JSON-RPC body it forwards."""
    upstream = rig.emulator.port

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            seen.append(json.loads(body))
            conn = http.client.HTTPConnection("127.0.0.1", upstream, timeout=10)
            conn.request("POST", self.path, body, {k: v for k, v in self.headers.items()
                                                   if k.lower() not in ("host", "connection")})
            answer = conn.getresponse()
            data = answer.read()
            conn.close()
            self.send_response_only(answer.status)
            for name, value in answer.getheaders():
                if name.lower() not in ("connection", "content-length"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)
            self.close_connection = True

        def log_message(self, *args: Any) -> None:
            pass

    return ThreadingHTTPServer(("127.0.0.1", 0), Handler)


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[tuple[Rig, list[dict[str, Any]]]]:
    rig = make_rig(tmp_path, "jsonrpc", 17, models=(CUSTOMERS,), page_size=100)
    seen: list[dict[str, Any]] = []
    server = recording_relay(rig, seen)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    odoo = replace(rig.settings.odoo, url=f"http://127.0.0.1:{server.server_address[1]}")
    rig.settings = replace(rig.settings, odoo=odoo)
    rig.client = OdooClient(odoo, sleep=lambda s: None)
    yield rig, seen
    server.shutdown()
    server.server_close()
    rig.close()


def searches(seen: list[dict[str, Any]]) -> list[tuple[str, list[Any], dict[str, Any]]]:
    """(method, domain, kwargs) of every model call in `seen`."""
    calls = []
    for body in seen:
        args = body["params"]["args"]
        if body["params"]["method"] == "execute_kw":
            calls.append((args[4], args[5][0] if args[5] else [], args[6]))
    return calls


def test_an_idle_pass_is_one_window_query_without_id_above_zero(
        rig: tuple[Rig, list[dict[str, Any]]]) -> None:
    r, seen = rig
    r.db.import_records("res.partner", [partner(None, n) for n in range(250)])
    assert r.sync().ok
    full = searches(seen)
    pages = [(domain, kw) for method, domain, kw in full if method == "search_read"
             and kw.get("order") == "id"]
    assert [kw["limit"] for _, kw in pages] == [100, 100, 100]
    assert ["id", ">", 0] not in pages[0][0]  # the first page: the domain alone
    assert all(["id", ">", 0] not in domain for domain, _ in pages)
    assert all(any(term[:2] == ["id", ">"] for term in domain) for domain, _ in pages[1:])
    r.db.clock.advance(1000)  # the import leaves every change window
    assert r.sync().ok
    seen.clear()
    report = r.sync()
    assert report.ok and not any(m.written for m in report.models)
    idle = searches(seen)
    assert len(idle) == 1  # one request for the one model
    method, domain, kwargs = idle[0]
    assert method == "search_read" and len(domain) == 1 and domain[0][:2] == ["write_date", ">="]
    r.assert_in_sync("idle")


@pytest.mark.parametrize("spec, asks_active", [
    (CUSTOMERS, False),
    (replace(CUSTOMERS, include_archived=True), True),  # archived rows are in the copy
    (replace(CUSTOMERS, fields=(*CUSTOMERS.fields, "active")), True),  # configured
    (replace(CUSTOMERS, domain=(("active", "in", [True, False]),)), True),  # no active_test
])
def test_a_full_sync_asks_active_only_where_a_row_may_be_archived(
        rig: tuple[Rig, list[dict[str, Any]]], spec: Any, asks_active: bool) -> None:
    """Read with active_test (and a domain that does not name `active`), every row is active:
    a full sync leaves `active` out of its pages (about 8% of the bytes), and the window pass
    right after, which does fetch it, still recognises every row it read."""
    r, seen = rig
    r.settings = replace(r.settings, models=(spec,))
    r.db.import_records("res.partner", [partner(None, n) for n in range(250)])
    archived = r.db.import_records("res.partner", [partner(None, 900)])
    r.db.write("res.partner", archived, {"active": False})
    report = r.sync()
    assert report.ok and report.models[0].full
    pages = [kw for method, _, kw in searches(seen) if method == "search_read"
             and kw.get("order") == "id"]
    assert len(pages) == 3 and all(("active" in kw["fields"]) == asks_active for kw in pages)
    marked = recent_marks(r)
    assert len(marked) >= 250
    seen.clear()
    again = r.sync()  # the import is still in the window: every row comes back
    assert again.ok and not again.models[0].full
    window = [kw for method, _, kw in searches(seen) if method == "search_read"]
    assert window and all("active" in kw["fields"] for kw in window)
    assert again.models[0].fetched >= 250
    assert again.models[0].changed == 0 and not again.models[0].written
    after = recent_marks(r)  # each row's mark as the full sync took it
    assert {i: after[i] for i in marked} == marked
    r.assert_in_sync("after the window pass")


def recent_marks(rig: Rig) -> dict[int, int]:
    """The marks the state file keeps for the rows of the customers window."""
    data = orjson.loads((rig.data_dir / "last_sync.json").read_bytes())
    return dict(Digests.from_json(data["models"]["customers"]["recent"], "recent").items())
