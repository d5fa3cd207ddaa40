"""Odoo's own client library (odoo-client-lib) talks to the emulator as to a real Odoo.

odoolib logs in with `common.login` and calls `object.execute_kw` over the legacy `/xmlrpc/*`
endpoints or `/jsonrpc` (through httpx); whatever it gets back must equal what the in-memory
database answers to the same call.
"""

from __future__ import annotations

import json
from typing import Any

import odoolib
from odoolib.tools import AuthenticationError
import pytest

from syncd.emulator import Emulator
from syncd.emulator.demo_data import populate


def plain(value: Any) -> Any:
    """The value as any wire carries it (tuples become lists)."""
    return json.loads(json.dumps(value))


@pytest.fixture(scope="module")
def served() -> Any:
    em = Emulator(17)
    populate(em.db, customers=40, products=40, seed=3)
    em.start()
    yield em
    em.stop()


@pytest.mark.parametrize("protocol", ["xmlrpc", "jsonrpc"])
def test_odoolib_reads_what_the_database_holds(served: Emulator, protocol: str) -> None:
    em = served
    connection = odoolib.get_connection(hostname="127.0.0.1", protocol=protocol, port=em.port,
                                        database=em.db.name, login=em.login,
                                        password=em.password)
    connection.check_login()
    assert connection.user_id == 2
    partners = connection.get_model("res.partner")

    def direct(method: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
        return plain(em.db.execute("res.partner", method, args, kwargs))

    domain = [("id", ">", 3)]
    ids = partners.search(domain, order="id", limit=15)
    assert ids == direct("search", [domain], {"order": "id", "limit": 15})
    assert len(ids) == 15
    assert partners.search_count([]) == direct("search_count", [[]], {}) > 15
    rows = partners.read(ids, ["name", "write_date", "active"])
    assert plain(rows) == direct("read", [ids], {"fields": ["name", "write_date", "active"]})
    assert partners.search_read(domain, ["name"], 0, 15, "id") == \
        direct("search_read", [domain], {"fields": ["name"], "limit": 15, "order": "id"})
    fields = partners.fields_get(attributes=["type", "string"])
    assert plain(fields) == direct("fields_get", [], {"attributes": ["type", "string"]})
    assert fields["name"]["type"] == "char"
    assert connection.get_user_context()["uid"] == 2


@pytest.mark.parametrize("protocol", ["xmlrpc", "jsonrpc"])
def test_odoolib_sees_a_refused_login(served: Emulator, protocol: str) -> None:
    connection = odoolib.get_connection(hostname="127.0.0.1", protocol=protocol,
                                        port=served.port, database=served.db.name,
                                        login=served.login, password="wrong")
    with pytest.raises(AuthenticationError):
        connection.check_login()
