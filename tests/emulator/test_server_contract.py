"""One contract suite across the wire protocols: what a client sees over real HTTP.

Each test runs against XML-RPC and JSON-RPC on Odoo 17 and JSON-2 on Odoo 19 (plus JSON-RPC on 19
where 19 differs), with clients that share no code with syncd.
"""

from __future__ import annotations

import http.client
import json
import re
import socket
import xmlrpc.client
from typing import Any

import pytest
from wire_clients import Client, Failure, JsonRpcClient, XmlRpcClient, client

from syncd.emulator import Emulator

PROTOCOLS = [("xmlrpc", 17), ("jsonrpc", 17), ("json2", 19)]
DATETIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")

PARTNERS: list[dict[str, Any]] = [
    {"name": "Azure Interior", "email": "info@azure.example.com", "is_company": True},
    {"name": "Deco Addict", "email": "deco@addict.example.com", "is_company": True},
    {"name": "Brandon Freeman", "email": "brandon@azure.example.com", "parent": "Azure Interior"},
    {"name": "Colleen Diaz", "email": "colleen@azure.example.com", "parent": "Brandon Freeman"},
    {"name": "Zed Nobody", "email": False},
    {"name": "Archived Ann", "email": "ann@example.com", "active": False},
]


@pytest.fixture(params=PROTOCOLS, ids=[f"{p}-{v}" for p, v in PROTOCOLS])
def odoo(request: pytest.FixtureRequest, emulator: Any) -> tuple[Emulator, Client, dict[str, int]]:
    protocol, version = request.param
    em = emulator(version)
    ids: dict[str, int] = {}
    for spec in PARTNERS:
        values = {k: v for k, v in spec.items() if k != "parent"}
        if "parent" in spec:
            values["parent_id"] = ids[spec["parent"]]
        ids[spec["name"]] = em.db.create("res.partner", values)
    return em, client(em, protocol), ids


def names(cl: Client, domain: list[Any], **named: Any) -> set[str]:
    rows = cl.call("res.partner", "search_read", domain=domain, fields=["name"], **named)
    return {row["name"] for row in rows}


def test_authentication(odoo: tuple[Emulator, Client, dict[str, int]]) -> None:
    em, cl, _ = odoo
    assert cl.login(em.password if cl.protocol != "json2" else em.api_key) == 2
    assert cl.login("not-the-secret") is False
    with pytest.raises(Failure) as caught:
        cl.call("res.partner", "search", domain=[])
    failure = caught.value
    if cl.protocol == "xmlrpc":
        assert (failure.code, failure.text) == (3, "Access Denied")
    elif cl.protocol == "jsonrpc":
        assert (failure.code, failure.name, failure.message) == \
            (200, "odoo.exceptions.AccessDenied", "Access Denied")
    else:
        assert failure.status == 401 and failure.message == "Invalid apikey"


def test_api_key_works_in_place_of_the_password_on_rpc(emulator: Any) -> None:
    em = emulator(17)
    cl = XmlRpcClient(em)
    assert cl.login(em.api_key) == 2
    assert cl.call("res.partner", "search_count", domain=[]) == 0


OPERATOR_CASES = [
    ([("name", "=", "Deco Addict")], {"Deco Addict"}),
    ([("name", "!=", "Deco Addict"), ("is_company", "=", True)], {"Azure Interior"}),
    ([("name", ">", "Colleen Diaz")], {"Deco Addict", "Zed Nobody"}),
    ([("name", ">=", "Deco Addict")], {"Deco Addict", "Zed Nobody"}),
    ([("name", "<", "Brandon Freeman")], {"Azure Interior"}),
    ([("name", "<=", "Brandon Freeman")], {"Azure Interior", "Brandon Freeman"}),
    ([("name", "in", ["Zed Nobody", "Deco Addict", "Nobody"])], {"Zed Nobody", "Deco Addict"}),
    ([("name", "not in", ["Zed Nobody", "Deco Addict", "Azure Interior"])],
     {"Brandon Freeman", "Colleen Diaz"}),
    ([("email", "like", "azure")], {"Azure Interior", "Brandon Freeman", "Colleen Diaz"}),
    ([("name", "ilike", "DECO")], {"Deco Addict"}),
    ([("name", "=like", "%Nobody")], {"Zed Nobody"}),
    ([("name", "=ilike", "zed%")], {"Zed Nobody"}),
    ([("email", "not ilike", "AZURE"), ("email", "!=", False)], {"Deco Addict"}),
    ([("email", "=", False)], {"Zed Nobody"}),
    ([("email", "=?", False), ("is_company", "=", True)], {"Azure Interior", "Deco Addict"}),
    ([("parent_id", "child_of", "Azure Interior")],
     {"Azure Interior", "Brandon Freeman", "Colleen Diaz"}),
    ([("name", "=", "Colleen Diaz"), ("id", "parent_of", "Colleen Diaz")], {"Colleen Diaz"}),
    (["|", ("name", "=", "Zed Nobody"), ("is_company", "=", True)],
     {"Zed Nobody", "Azure Interior", "Deco Addict"}),
    (["&", ("is_company", "=", True), "!", ("name", "ilike", "azure")], {"Deco Addict"}),
    (["!", "|", ("is_company", "=", True), ("email", "=", False)],
     {"Brandon Freeman", "Colleen Diaz"}),
    (["|", "&", ("is_company", "=", True), ("name", "like", "Deco"),
      "&", ("email", "ilike", "azure"), ("parent_id", "!=", False)],
     {"Deco Addict", "Brandon Freeman", "Colleen Diaz"}),
]


@pytest.mark.parametrize("domain, expected", OPERATOR_CASES, ids=range(len(OPERATOR_CASES)))
def test_domain_operators(odoo: tuple[Emulator, Client, dict[str, int]], domain: list[Any],
                          expected: set[str]) -> None:
    em, cl, ids = odoo
    resolved = [[leaf[0], leaf[1], ids.get(leaf[2], leaf[2])
                 if leaf[1] in ("child_of", "parent_of") else leaf[2]]
                if isinstance(leaf, tuple) else leaf for leaf in domain]
    assert names(cl, resolved) == expected
    assert cl.call("res.partner", "search_count", domain=resolved) == len(expected)


def test_order_and_paging(odoo: tuple[Emulator, Client, dict[str, int]]) -> None:
    _, cl, ids = odoo
    active = sorted(i for name, i in ids.items() if name != "Archived Ann")
    assert cl.call("res.partner", "search", domain=[], order="id") == active
    assert cl.call("res.partner", "search", domain=[], order="id desc", limit=2) == active[::-1][:2]
    assert cl.call("res.partner", "search", domain=[], order="id", offset=1, limit=2) == active[1:3]
    page = cl.call("res.partner", "search_read", domain=[("id", ">", active[2])],
                   fields=["name"], order="id", limit=2)
    assert [row["id"] for row in page] == active[3:5]
    by_name = cl.call("res.partner", "search_read", domain=[], fields=["name"], order="name desc")
    assert [row["name"] for row in by_name] == sorted(
        (n for n in ids if n != "Archived Ann"), reverse=True)


def test_active_test(odoo: tuple[Emulator, Client, dict[str, int]]) -> None:
    _, cl, ids = odoo
    assert "Archived Ann" not in names(cl, [])
    assert "Archived Ann" in names(cl, [], context={"active_test": False})
    assert cl.call("res.partner", "search_count", domain=[("active", "=", False)]) == 1
    rows = cl.call("res.partner", "read", ids=[ids["Archived Ann"]], fields=["active"])
    assert rows == [{"id": ids["Archived Ann"], "active": False}]


def test_values_on_the_wire(odoo: tuple[Emulator, Client, dict[str, int]]) -> None:
    _, cl, ids = odoo
    rows = cl.call("res.partner", "read", ids=[ids["Brandon Freeman"], ids["Zed Nobody"]],
                   fields=["name", "email", "parent_id", "write_date"])
    brandon, zed = sorted(rows, key=lambda row: row["id"])
    assert brandon["parent_id"] == [ids["Azure Interior"], "Azure Interior"]
    assert zed["email"] is False and zed["parent_id"] is False
    assert DATETIME.match(brandon["write_date"])
    assert cl.call("res.partner", "read", ids=[ids["Zed Nobody"], 99999], fields=["name"]) == \
        [{"id": ids["Zed Nobody"], "name": "Zed Nobody"}]


def test_xmlrpc_sends_datetimes_as_strings(emulator: Any) -> None:
    em = emulator(17)
    pid = em.db.create("res.partner", {"name": "A\x01B\tC"})
    body = xmlrpc.client.dumps(("odoo", 2, "admin", "res.partner", "read", [[pid]],
                                {"fields": ["name", "write_date"]}), "execute_kw")
    conn = http.client.HTTPConnection("127.0.0.1", em.port, timeout=10)
    conn.request("POST", "/xmlrpc/2/object", body=body, headers={"Content-Type": "text/xml"})
    raw = conn.getresponse().read().decode()
    assert "dateTime.iso8601" not in raw
    assert re.search(r"<string>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d</string>", raw)
    assert "<string>AB\tC</string>" in raw  # control characters stripped, tab kept


@pytest.mark.parametrize("version", [17, 19])
def test_json_keeps_the_control_characters_xmlrpc_strips(emulator: Any, version: int) -> None:
    """Odoo's XML-RPC marshaller strips C0 controls but tab, LF, CR (XML 1.0 cannot carry
    them); JSON-RPC and JSON-2 send the string as stored (docs/odoo-api.md §14)."""
    em = emulator(version)
    stored = "A\x01B\x1fC\tD\nE\rF\x7fG"
    pid = em.db.create("res.partner", {"name": stored})
    clients: list[Any] = [XmlRpcClient(em), JsonRpcClient(em)]
    for cl in clients:
        cl.login(em.password)
    # CR goes out raw, and an XML parser reads a raw CR as LF (XML 1.0 end-of-line handling)
    assert clients[0].call("res.partner", "read", ids=[pid], fields=["name"]) == \
        [{"id": pid, "name": "ABC\tD\nE\nF\x7fG"}]
    assert clients[1].call("res.partner", "read", ids=[pid], fields=["name"]) == \
        [{"id": pid, "name": stored}]
    if version >= 19:
        conn = http.client.HTTPConnection("127.0.0.1", em.port, timeout=10)
        conn.request("POST", "/json/2/res.partner/read",
                     body=json.dumps({"ids": [pid], "fields": ["name"]}),
                     headers={"Content-Type": "application/json",
                              "Authorization": f"bearer {em.api_key}"})
        assert json.loads(conn.getresponse().read()) == [{"id": pid, "name": stored}]


def expect_fault(cl: Client, version: int, model: str, method: str, *, xml_code: int,
                 text: str, name: str, status: int, **named: Any) -> None:
    with pytest.raises(Failure) as caught:
        cl.call(model, method, **named)
    failure = caught.value
    if cl.protocol == "xmlrpc":
        assert failure.code == xml_code
        assert failure.text.rstrip().endswith(text) if xml_code == 1 else failure.text == text
    elif cl.protocol == "jsonrpc":
        assert failure.code == (0 if version >= 19 else 200)
        assert failure.name == name
        assert text in failure.message or text in failure.body["data"]["debug"]
    else:
        assert failure.status == status


def test_fault_unknown_field(odoo: tuple[Emulator, Client, dict[str, int]]) -> None:
    em, cl, _ = odoo
    expect_fault(cl, em.version, "res.partner", "search_read", domain=[], fields=["x"],
                 xml_code=1, text="ValueError: Invalid field 'x' on model 'res.partner'",
                 name="builtins.ValueError", status=500)


def test_fault_unknown_model(odoo: tuple[Emulator, Client, dict[str, int]]) -> None:
    em, cl, _ = odoo
    expect_fault(cl, em.version, "no.such.model", "search", domain=[], xml_code=2,
                 text="Object no.such.model doesn't exist", name="odoo.exceptions.UserError",
                 status=404)


def test_fault_bad_datetime_literal(odoo: tuple[Emulator, Client, dict[str, int]]) -> None:
    em, cl, _ = odoo
    expect_fault(cl, em.version, "res.partner", "search", domain=[("write_date", ">", "soon")],
                 xml_code=1, text="invalid input syntax for type timestamp",
                 name="psycopg2.errors.InvalidDatetimeFormat", status=500)


@pytest.mark.parametrize("protocol", ["xmlrpc", "jsonrpc"])
def test_fault_unknown_database(emulator: Any, protocol: str) -> None:
    em = emulator(17)
    cl = client(em, protocol)
    cl.db = "nope"
    with pytest.raises(Failure) as caught:
        cl.call("res.partner", "search", domain=[])
    failure = caught.value
    if protocol == "xmlrpc":
        assert failure.code == 1
        assert failure.text.rstrip().endswith('FATAL:  database "nope" does not exist')
        assert "psycopg2.OperationalError: " in failure.text
    else:
        assert failure.name == "psycopg2.OperationalError"
    with pytest.raises((Failure, xmlrpc.client.Fault)):  # login too: the registry is missing
        cl.login(em.password)


def test_jsonrpc_error_code_is_0_on_19(emulator: Any) -> None:
    cl = client(emulator(19), "jsonrpc")
    with pytest.raises(Failure) as caught:
        cl.call("no.such.model", "search", domain=[])
    assert caught.value.code == 0 and caught.value.name == "odoo.exceptions.UserError"


def test_json2_statuses(emulator: Any) -> None:
    em = emulator(19)
    cl = client(em, "json2")
    assert isinstance(cl, type(cl))
    auth = {"Authorization": f"bearer {em.api_key}"}
    status, body = cl.post("/json/2/res.partner/search", b"{}",
                           {**auth, "Content-Type": "text/plain"})
    assert status == 415
    status, body = cl.post("/json/2/res.partner/search", b"{}",
                           {"Content-Type": "application/json"})
    assert (status, body["name"], body["arguments"]) == \
        (401, "werkzeug.exceptions.Unauthorized", ["Invalid apikey", 401])
    with pytest.raises(Failure) as caught:
        cl.call("res.partner", "search", ids=[1], domain=[])
    assert caught.value.status == 422
    with pytest.raises(Failure) as caught:
        cl.call("res.partner", "search", bogus_argument=1)
    assert caught.value.status == 422
    status, body = cl.post("/json/2/res.partner/search",
                           b'{"domain": [], "context": {"lang": "en_US"}}',
                           {**auth, "Content-Type": "application/json; charset=utf-8",
                            "X-Odoo-Database": em.db.name})
    assert (status, body) == (200, [])
    assert cl.call("res.users", "context_get")["uid"] == 2
    for model, method, status, name in [
            ("no.such.model", "search", 404, "werkzeug.exceptions.NotFound"),
            ("res.partner", "no_such_method", 404, "werkzeug.exceptions.NotFound"),
            ("res.partner", "_private", 403, "odoo.exceptions.AccessError")]:
        with pytest.raises(Failure) as caught:
            cl.call(model, method)
        assert (caught.value.status, caught.value.name) == (status, name)
    with pytest.raises(Failure) as caught:
        cl.call("res.partner", "search_read", domain=[], fields=["x"])
    assert caught.value.status == 500 and caught.value.body["debug"].startswith("Traceback")


def test_private_methods_are_access_errors(emulator: Any) -> None:
    cl = client(emulator(17), "xmlrpc")
    with pytest.raises(Failure) as caught:
        cl.call("res.partner", "_private")
    assert caught.value.code == 4
    assert caught.value.text == "Private methods (such as _private) cannot be called remotely."


def test_json2_only_on_19(emulator: Any) -> None:
    em = emulator(17)
    conn = http.client.HTTPConnection("127.0.0.1", em.port, timeout=10)
    conn.request("POST", "/json/2/res.partner/search", body=b"{}",
                 headers={"Content-Type": "application/json",
                          "Authorization": f"bearer {em.api_key}"})
    response = conn.getresponse()
    assert response.status == 404 and b"<title>404 Not Found</title>" in response.read()


@pytest.mark.parametrize("version", [16, 17, 18, 19])
def test_versions(emulator: Any, version: int) -> None:
    """A packaged server's release.version carries its build date; server_version_info and
    server_serie the bare series; /web/version exists from 19 (docs/odoo-api.md §13)."""
    em = emulator(version)
    built = {16: "16.0-20240709", 17: "17.0-20240709", 18: "18.0-20241010",
             19: "19.0-20250918"}[version]
    for path in ("/web/version", "/json/version"):
        conn = http.client.HTTPConnection("127.0.0.1", em.port, timeout=10)
        conn.request("GET", path)
        response = conn.getresponse()
        if version >= 19:
            assert response.status == 200
            assert json.loads(response.read()) == \
                {"version_info": [version, 0, 0, "final", 0, ""], "version": built}
        else:
            assert response.status == 404 and b"404 Not Found" in response.read()
    common = xmlrpc.client.ServerProxy(em.url + "/xmlrpc/2/common")
    assert common.version() == {"server_version": built,
                                "server_version_info": [version, 0, 0, "final", 0, ""],
                                "server_serie": f"{version}.0", "protocol_version": 1}
    assert JsonRpcClient(em).rpc("common", "version")["server_serie"] == f"{version}.0"
    assert xmlrpc.client.ServerProxy(em.url + "/xmlrpc/2/db").server_version() == built


def test_paths_and_methods(emulator: Any) -> None:
    em = emulator(17)
    conn = http.client.HTTPConnection("127.0.0.1", em.port, timeout=10)
    for verb, path, status in [("GET", "/nowhere", 404), ("GET", "/xmlrpc/2/common", 405),
                               ("GET", "/jsonrpc", 405)]:
        conn.request(verb, path)
        response = conn.getresponse()
        assert response.status == status, path
        assert response.getheader("Content-Type").startswith("text/html")
        response.read()


def test_legacy_xmlrpc_uses_string_fault_codes(emulator: Any) -> None:
    em = emulator(17)
    legacy = xmlrpc.client.ServerProxy(em.url + "/xmlrpc/object")
    with pytest.raises(xmlrpc.client.Fault) as caught:
        legacy.execute_kw("odoo", 2, "wrong", "res.partner", "search", [[]])
    assert (caught.value.faultCode, caught.value.faultString) == ("AccessDenied", "Access Denied")
    assert legacy.execute_kw("odoo", 2, "admin", "res.partner", "search_count", [[]]) == 0


def test_each_answer_closes_the_connection_by_default(emulator: Any) -> None:
    """Odoo's own server answers one request per connection (docs/odoo-api.md §20)."""
    em = emulator(17)
    conn = http.client.HTTPConnection("127.0.0.1", em.port, timeout=10)
    body = xmlrpc.client.dumps((), "version")
    conn.request("POST", "/xmlrpc/2/common", body=body, headers={"Content-Type": "text/xml"})
    first = conn.getresponse()
    assert first.getheader("Connection") == "close" and first.getheader("Content-Length")
    first.read()
    assert conn.sock is None  # http.client closed it, as the server asked
    raw = socket.create_connection(("127.0.0.1", em.port), timeout=10)
    with raw:
        raw.sendall(b"GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n")
        received = b""
        while chunk := raw.recv(65536):  # the server ends the stream: recv returns b""
            received += chunk
    assert received.startswith(b"HTTP/1.1 404 ") and b"Connection: close" in received


def test_keep_alive(emulator: Any) -> None:
    em = emulator(17, keep_alive=True)
    conn = http.client.HTTPConnection("127.0.0.1", em.port, timeout=10)
    body = xmlrpc.client.dumps((), "version")
    conn.request("POST", "/xmlrpc/2/common", body=body, headers={"Content-Type": "text/xml"})
    first = conn.getresponse()
    first.read()
    sock = conn.sock
    conn.request("POST", "/xmlrpc/2/common", body=body, headers={"Content-Type": "text/xml"})
    second = conn.getresponse()
    assert second.status == 200 and b"17.0" in second.read()
    assert sock is not None and conn.sock is sock
    assert first.getheader("Content-Length") and first.getheader("Connection") != "close"
