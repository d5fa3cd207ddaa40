"""One contract suite, run against every transport over real HTTP to the emulator."""

from __future__ import annotations

import base64
import re
import shutil
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest

from syncd.settings import OdooSettings
from syncd.emulator import Emulator
from syncd.errors import (AuthError, FaultError, InvalidFieldError, OdooError, TransientError,
                          UnknownModelError)
from syncd.odoo.transport import Transport, make_transport
from tests.http_relay import count_connections
from tests.http_relay import relay as forward

CASES = [("xmlrpc", 17), ("jsonrpc", 17), ("jsonrpc", 16), ("json2", 19), ("xmlrpc", 19)]
DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")


@dataclass
class Case:
    em: Emulator
    protocol: str
    settings: OdooSettings
    ids: dict[str, int]

    def transport(self, **changes: Any) -> Transport:
        values = {**self.settings.__dict__, **changes}
        return make_transport(self.protocol, OdooSettings(**values))


def seed(em: Emulator) -> dict[str, int]:
    company = em.db.create("res.partner", {"name": "Acme", "is_company": True,
                                           "email": "info@acme.test"})
    alice = em.db.create("res.partner", {"name": "Alice", "parent_id": company})
    bob = em.db.create("res.partner", {"name": "Bob"})  # no email: false on the wire
    old = em.db.create("res.partner", {"name": "Zed (archived)"})
    em.db.archive("res.partner", old)
    return {"company": company, "alice": alice, "bob": bob, "archived": old}


def settings_for(em: Emulator, protocol: str) -> OdooSettings:
    return OdooSettings(url=em.url, database=em.db.name, username=em.login, password=em.password,
                        api_key=em.api_key if protocol == "json2" else "", protocol=protocol,
                        timeout=10)


def make_case(emulator: Callable[..., Emulator], protocol: str, version: int,
              **kwargs: Any) -> Case:
    em = emulator(version, **kwargs)
    return Case(em, protocol, settings_for(em, protocol), seed(em))


@pytest.fixture(params=CASES, ids=[f"{p}-{v}" for p, v in CASES])
def case(request: pytest.FixtureRequest,
         emulator: Callable[..., Emulator]) -> Case:
    """An emulator that closes the connection after every answer, as Odoo's server does."""
    return make_case(emulator, *request.param)


@pytest.fixture(params=CASES, ids=[f"{p}-{v}" for p, v in CASES])
def proxied_case(request: pytest.FixtureRequest,
                 emulator: Callable[..., Emulator]) -> Case:
    """An emulator that keeps connections alive, as a proxy in front of Odoo may
    (docs/odoo-api.md §20)."""
    return make_case(emulator, *request.param, keep_alive=True)


@pytest.fixture
def transport(case: Case) -> Iterator[Transport]:
    t = case.transport()
    t.login()
    yield t
    t.close()


def test_version_needs_no_login(case: Case) -> None:
    t = case.transport(password="wrong", api_key="wrong" if case.protocol == "json2" else "")
    try:
        info = t.version()
    finally:
        t.close()
    # a packaged server says "17.0-20240709": the major comes from server_version_info
    assert info["server_version"].startswith(f"{case.em.version}.0")
    assert info["server_version_info"][:2] == [case.em.version, 0]
    assert t.protocol == case.protocol


def test_login_returns_the_uid(case: Case) -> None:
    t = case.transport()
    try:
        assert t.login() == case.em.db.authenticate(case.em.login, case.em.password)
    finally:
        t.close()


def test_refused_login_is_an_auth_error_naming_user_and_database(case: Case) -> None:
    t = case.transport(password="not-the-password",
                       api_key="not-the-key" if case.protocol == "json2" else "")
    with pytest.raises(AuthError) as caught:
        t.login()
    t.close()
    message = str(caught.value)
    assert "admin" in message and "'odoo'" in message
    assert "not-the-password" not in message and "not-the-key" not in message


def test_search_read_honours_domain_fields_limit_order_and_context(case: Case,
                                                                   transport: Transport) -> None:
    rows = transport.call("res.partner", "search_read",
                          {"domain": [["name", "!=", "Acme"]], "fields": ["name"],
                           "order": "name desc", "limit": 2, "context": None})
    assert [r["name"] for r in rows] == ["Bob", "Alice"]
    assert set(rows[0]) == {"id", "name"}
    everyone = transport.call("res.partner", "search_read",
                              {"domain": [], "fields": ["name"], "order": "id",
                               "context": {"active_test": False}})
    names = [r["name"] for r in everyone]
    assert "Zed (archived)" in names
    assert names.index("Acme") < names.index("Alice") < names.index("Bob")
    default = transport.call("res.partner", "search_read", {"domain": [], "fields": ["name"]})
    assert "Zed (archived)" not in [r["name"] for r in default]


def test_search_and_search_count(case: Case, transport: Transport) -> None:
    ids = transport.call("res.partner", "search", {"domain": [["name", "in", ["Alice", "Bob"]]],
                                                   "order": "id"})
    assert ids == [case.ids["alice"], case.ids["bob"]]
    assert transport.call("res.partner", "search", {"domain": [], "order": "id desc",
                                                    "limit": 1})[0] > case.ids["bob"] - 1
    archived = transport.call("res.partner", "search",
                              {"domain": [["id", "=", case.ids["archived"]]],
                               "context": {"active_test": False}})
    assert archived == [case.ids["archived"]]
    assert transport.call("res.partner", "search_count",
                          {"domain": [["name", "in", ["Alice", "Bob", "Zed (archived)"]]]}) == 2


def test_read_of_a_deleted_id_returns_fewer_rows(case: Case, transport: Transport) -> None:
    case.em.db.unlink("res.partner", case.ids["bob"])
    rows = transport.call("res.partner", "read",
                          {"ids": [case.ids["alice"], case.ids["bob"]], "fields": ["name"]})
    assert [(r["id"], r["name"]) for r in rows] == [(case.ids["alice"], "Alice")]


def test_fields_get_with_attributes(transport: Transport) -> None:
    fields = transport.call("res.partner", "fields_get", {"attributes": ["type", "relation"]})
    assert fields["parent_id"] == {"type": "many2one", "relation": "res.partner"}
    assert fields["name"]["type"] == "char"


def test_unknown_model_is_an_unknown_model_error(transport: Transport) -> None:
    with pytest.raises(UnknownModelError) as caught:
        transport.call("no.such.model", "search_read", {"domain": [], "fields": ["name"]})
    assert "no.such.model" in str(caught.value)


def test_invalid_field_names_the_field_in_one_line(transport: Transport) -> None:
    with pytest.raises(InvalidFieldError) as caught:
        transport.call("res.partner", "search_read", {"domain": [], "fields": ["name", "nope_x"]})
    message = str(caught.value)
    assert "nope_x" in message
    assert "\n" not in message and "Traceback" not in message


def test_other_faults_carry_odoo_name_and_one_line(transport: Transport) -> None:
    with pytest.raises(FaultError) as caught:
        transport.call("res.partner", "search_read", {"domain": [["name", "~~", "x"]],
                                                      "fields": ["name"]})
    assert not isinstance(caught.value, (UnknownModelError, InvalidFieldError))
    assert caught.value.name
    assert "\n" not in str(caught.value) and "File " not in str(caught.value)


def test_wire_values_have_odoo_shapes(case: Case, transport: Transport) -> None:
    rows = transport.call("res.partner", "read",
                          {"ids": [case.ids["alice"], case.ids["bob"]],
                           "fields": ["name", "email", "parent_id", "write_date"]})
    alice, bob = sorted(rows, key=lambda r: r["id"])
    assert alice["parent_id"] == [case.ids["company"], "Acme"]
    assert bob["parent_id"] is False and bob["email"] is False
    assert DATETIME.match(alice["write_date"])


def test_values_are_identical_across_transports(emulator: Callable[..., Emulator]) -> None:
    em = emulator(19)
    ids = seed(em)
    params = {"domain": [], "fields": ["name", "email", "parent_id", "is_company", "write_date",
                                       "child_ids"], "order": "id",
              "context": {"active_test": False}}
    seen = []
    for protocol in ("xmlrpc", "jsonrpc", "json2"):
        t = make_transport(protocol, settings_for(em, protocol))
        t.login()
        seen.append(t.call("res.partner", "search_read", params))
        t.close()
    assert seen[0] == seen[1] == seen[2]
    assert len(seen[0]) == len(ids)


def version_login_and_twenty_calls(case: Case) -> None:
    t = case.transport()
    try:
        t.version()
        t.login()
        for _ in range(20):
            assert t.call("res.partner", "search_count", {"domain": []}) == 3
    finally:
        t.close()


def test_keep_alive_reuses_one_connection(proxied_case: Case,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    opened = count_connections(monkeypatch)
    version_login_and_twenty_calls(proxied_case)
    assert len(opened) == 1
    assert proxied_case.em.stats.requests == 22


def test_with_odoo_closing_every_connection_each_request_gets_a_fresh_one(
        case: Case, monkeypatch: pytest.MonkeyPatch) -> None:
    opened = count_connections(monkeypatch)
    version_login_and_twenty_calls(case)
    assert len(opened) == 22  # one per request, none left waiting on a closed socket
    assert case.em.stats.requests == 22  # and nothing was sent twice


def test_a_connection_the_server_closed_is_reopened(proxied_case: Case) -> None:
    em = proxied_case.em
    transport = proxied_case.transport()
    try:
        transport.login()
        assert transport.call("res.partner", "search_count", {"domain": []}) == 3
        close_idle_connections(em)
        assert transport.call("res.partner", "search_count", {"domain": []}) == 3
        # and when the server drops the reused socket right after reading the request, once
        em.faults.add("drop")
        assert transport.call("res.partner", "search_count", {"domain": []}) == 3
    finally:
        transport.close()
    assert em.stats.requests == 5  # login, three calls, the dropped one resent


def test_a_drop_on_a_fresh_connection_is_transient_and_not_resent(case: Case,
                                                                  transport: Transport) -> None:
    """With Odoo closing every connection no socket is reused, so a dropped request may have
    reached Odoo: it is not resent behind the caller's back (the client's retry decides)."""
    case.em.faults.add("drop")
    with pytest.raises(TransientError, match="closed the connection"):
        transport.call("res.partner", "search_count", {"domain": []})
    assert transport.call("res.partner", "search_count", {"domain": []}) == 3
    assert case.em.stats.requests == 3  # login, the dropped call (once), the next one


def close_idle_connections(em: Emulator) -> None:
    """Cut every keep-alive socket from the server side, as a proxy or Odoo's worker would."""
    server = em._server  # noqa: SLF001 - the facade has no public switch for this
    assert server is not None
    server.close_all()


class Relay(BaseHTTPRequestHandler):
    """A forward proxy (absolute-URI requests) that is also a reverse proxy mounting Odoo under
    /odoo: what it saw is recorded in `server.seen`."""

    protocol_version = "HTTP/1.1"
    server: Any

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def do_POST(self) -> None:
        self.server.seen.append((self.path, self.headers.get("Proxy-Authorization")))
        parts = urlsplit(self.path)
        host, port = (parts.hostname, parts.port) if parts.hostname else self.server.upstream
        path = parts.path.removeprefix("/odoo")
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        forward(self, str(host), int(port), path, body, drop=("proxy-authorization",))

    do_GET = do_POST


@pytest.fixture
def relay(case: Case) -> Iterator[Any]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Relay)
    server.daemon_threads = True
    server.seen = []  # type: ignore[attr-defined]
    parts = urlsplit(case.em.url)
    server.upstream = (parts.hostname, parts.port)  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_plain_http_goes_through_the_environment_proxy(case: Case, relay: Any,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("no_proxy", "NO_PROXY", "HTTP_PROXY"):
        monkeypatch.delenv(name, raising=False)
    port = relay.server_address[1]
    monkeypatch.setenv("http_proxy", f"http://proxy%20user:pr%40xy@127.0.0.1:{port}")
    t = case.transport()
    try:
        t.login()
        assert t.call("res.partner", "search_count", {"domain": []}) == 3
    finally:
        t.close()
    assert len(relay.seen) == 2
    for target, authorization in relay.seen:
        assert target.startswith(case.em.url + "/")  # absolute-URI form
        assert authorization == "Basic " + base64.b64encode(b"proxy user:pr@xy").decode()

    relay.seen.clear()
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    t = case.transport()
    try:
        t.login()
    finally:
        t.close()
    assert relay.seen == []


def test_an_url_with_a_path_prefix(case: Case, relay: Any) -> None:
    t = case.transport(url=f"http://127.0.0.1:{relay.server_address[1]}/odoo/")
    try:
        assert t.version()["server_version_info"][:2] == [case.em.version, 0]
        t.login()
        assert t.call("res.partner", "search_count", {"domain": []}) == 3
    finally:
        t.close()
    assert all(target.startswith("/odoo/") for target, _ in relay.seen)


@pytest.fixture
def tls_relay(emulator: Callable[..., Emulator], tmp_path: Any) -> Iterator[tuple[Any, Any]]:
    """A TLS reverse proxy (self-signed certificate for 127.0.0.1) in front of an emulator."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    em = emulator(17)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Relay)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.daemon_threads = True
    server.seen = []  # type: ignore[attr-defined]
    server.upstream = ("127.0.0.1", em.port)  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    yield server, cert
    server.shutdown()
    server.server_close()


def test_tls_is_verified(tls_relay: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    server, cert = tls_relay
    url = f"https://127.0.0.1:{server.server_address[1]}/odoo"
    settings = OdooSettings(url=url, database="odoo", username="admin", password="admin",
                            protocol="jsonrpc", timeout=10)
    untrusted = make_transport("jsonrpc", settings)
    with pytest.raises(OdooError, match="certificate") as caught:
        untrusted.version()
    untrusted.close()
    assert not isinstance(caught.value, TransientError)  # retrying cannot fix it

    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the system trust store, as OpenSSL reads it
    trusted = make_transport("jsonrpc", settings)
    try:
        assert trusted.version()["server_version"].startswith("17.0")
        assert trusted.login() == 2
    finally:
        trusted.close()
