"""Domain semantics, ordering and faults of the emulated ORM, through Database.execute."""

from __future__ import annotations

from typing import Any

import pytest

from syncd.emulator.faults import OdooFault
from syncd.emulator.store import Database


@pytest.fixture
def db() -> Database:
    db = Database(version=17)
    be = db.create("res.country", {"name": "Belgium", "code": "BE"})
    fr = db.create("res.country", {"name": "France", "code": "FR"})
    azure = db.create("res.partner", {"name": "Azure Interior", "is_company": True,
                                      "email": "info@azure.example.com", "country_id": be,
                                      "customer_rank": 5})
    deco = db.create("res.partner", {"name": "Deco Addict", "is_company": True,
                                     "email": "deco@addict.example.com", "country_id": fr,
                                     "customer_rank": 1})
    brandon = db.create("res.partner", {"name": "Brandon Freeman", "parent_id": azure,
                                        "email": "brandon@azure.example.com"})
    db.create("res.partner", {"name": "Colleen Diaz", "parent_id": brandon,
                              "email": "colleen_diaz@azure.example.com"})
    db.create("res.partner", {"name": "Zed Nobody"})
    db.create("res.partner", {"name": "Archived Ann", "active": False, "parent_id": deco})
    return db


def names(db: Database, domain: list[Any], **kwargs: Any) -> set[str]:
    rows = db.execute("res.partner", "search_read", [domain], {"fields": ["name"], **kwargs})
    return {row["name"] for row in rows}


def fault(db: Database, model: str, method: str, args: list[Any],
          kwargs: dict[str, Any] | None = None) -> OdooFault:
    with pytest.raises(OdooFault) as caught:
        db.execute(model, method, args, kwargs or {})
    return caught.value


COMPANIES = {"Azure Interior", "Deco Addict"}
CASES: list[tuple[list[Any], set[str]]] = [
    ([("name", "=", "Zed Nobody")], {"Zed Nobody"}),
    ([("email", "!=", "info@azure.example.com"), ("is_company", "=", True)], {"Deco Addict"}),
    ([("customer_rank", ">", 1)], {"Azure Interior"}),
    ([("customer_rank", ">=", 1)], COMPANIES),
    ([("customer_rank", "<", 5), ("is_company", "=", True)], {"Deco Addict"}),
    ([("customer_rank", "<=", 5), ("is_company", "=", True)], COMPANIES),
    ([("email", "=?", False), ("is_company", "=", True)], COMPANIES),
    ([("email", "=?", "deco@addict.example.com")], {"Deco Addict"}),
    ([("name", "in", ["Zed Nobody", "Nobody"])], {"Zed Nobody"}),
    ([("email", "in", [False, "deco@addict.example.com"])], {"Zed Nobody", "Deco Addict"}),
    ([("email", "not in", ["deco@addict.example.com"])],  # NULL rows qualify
     {"Azure Interior", "Brandon Freeman", "Colleen Diaz", "Zed Nobody"}),
    ([("email", "not in", [False, "deco@addict.example.com"])],
     {"Azure Interior", "Brandon Freeman", "Colleen Diaz"}),
    ([("email", "like", "azure")], {"Azure Interior", "Brandon Freeman", "Colleen Diaz"}),
    ([("email", "like", "AZURE")], set()),
    ([("email", "ilike", "AZURE")], {"Azure Interior", "Brandon Freeman", "Colleen Diaz"}),
    ([("name", "like", "a_d")], {"Brandon Freeman"}),  # '_' is a wildcard, as in SQL
    ([("email", "=like", "colleen\\_%")], {"Colleen Diaz"}),
    ([("name", "=ilike", "zed%")], {"Zed Nobody"}),
    ([("email", "ilike", "")], COMPANIES | {"Brandon Freeman", "Colleen Diaz", "Zed Nobody"}),
    ([("email", "not ilike", "")], {"Zed Nobody"}),  # expression.py: empty pattern OR IS NULL
    ([("name", "=like", "zed%")], set()),
    ([("email", "not like", "azure")], {"Deco Addict", "Zed Nobody"}),
    ([("email", "not ilike", "AZURE")], {"Deco Addict", "Zed Nobody"}),
    ([("email", "=", False)], {"Zed Nobody"}),
    ([("parent_id", "=", False), ("is_company", "=", False)], {"Zed Nobody"}),
    ([("parent_id", "!=", False)], {"Brandon Freeman", "Colleen Diaz"}),
    ([("parent_id", "=", "Azure Interior")], {"Brandon Freeman"}),
    ([("country_id", "ilike", "bel")], {"Azure Interior"}),
    ([("country_id", "not ilike", "bel"), ("is_company", "=", True)], {"Deco Addict"}),
    ([("parent_id.name", "=", "Azure Interior")], {"Brandon Freeman"}),
    ([("country_id.code", "in", ["FR"])], {"Deco Addict"}),
    ([("parent_id", "child_of", "Azure Interior")],
     {"Azure Interior", "Brandon Freeman", "Colleen Diaz"}),
    ([("id", "parent_of", "Colleen Diaz")], {"Azure Interior", "Brandon Freeman", "Colleen Diaz"}),
    ([("child_ids", "any", [("email", "ilike", "colleen")])], {"Brandon Freeman"}),
    ([("child_ids", "not any", []), ("is_company", "=", True)], {"Deco Addict"}),  # Ann archived
    ([("child_ids", "!=", False)], {"Azure Interior", "Brandon Freeman"}),
    (["|", ("name", "=", "Zed Nobody"), ("is_company", "=", True)], COMPANIES | {"Zed Nobody"}),
    (["&", ("is_company", "=", True), "!", ("name", "ilike", "azure")], {"Deco Addict"}),
    (["!", "|", ("is_company", "=", True), ("email", "=", False)],
     {"Brandon Freeman", "Colleen Diaz"}),
    (["|", "&", ("is_company", "=", True), ("name", "like", "Deco"),
      "&", ("email", "ilike", "azure"), ("parent_id", "!=", False)],
     {"Deco Addict", "Brandon Freeman", "Colleen Diaz"}),
    ([("email", "ilike", "azure"), ("is_company", "=", False), ("name", "like", "C")],
     {"Colleen Diaz"}),  # implicit AND of three
    ([(1, "=", 1)], COMPANIES | {"Brandon Freeman", "Colleen Diaz", "Zed Nobody"}),
    ([(0, "=", 1)], set()),
]


@pytest.mark.parametrize("domain, expected", CASES, ids=[str(d) for d, _ in CASES])
def test_operators(db: Database, domain: list[Any], expected: set[str]) -> None:
    assert names(db, domain) == expected
    assert db.execute("res.partner", "search_count", [domain], {}) == len(expected)


def test_leaves_as_lists_and_tuples_alike(db: Database) -> None:
    assert names(db, [["name", "=", "Zed Nobody"]]) == names(db, [("name", "=", "Zed Nobody")])


def test_many2one_name_search_sees_archived_targets(db: Database) -> None:
    (azure,) = db.execute("res.partner", "search", [[("name", "=", "Azure Interior")]], {})
    db.archive("res.partner", azure)
    assert names(db, [("parent_id", "=", "Azure Interior")]) == {"Brandon Freeman"}


def test_active_test(db: Database) -> None:
    assert "Archived Ann" not in names(db, [])
    assert "Archived Ann" in names(db, [], context={"active_test": False})
    # a domain that mentions `active` anywhere switches the implicit filter off
    assert names(db, [("active", "=", False)]) == {"Archived Ann"}
    assert "Archived Ann" in names(db, ["|", ("active", "=", True), ("active", "=", False)])
    # read ignores active
    ann = db.execute("res.partner", "search", [[("active", "=", False)]], {})
    assert db.execute("res.partner", "read", [ann], {"fields": ["active"]}) == \
        [{"id": ann[0], "active": False}]
    # res.country has no active field: nothing is hidden
    assert db.execute("res.country", "search_count", [[]], {}) == 2


def test_order_offset_limit(db: Database) -> None:
    every = db.execute("res.partner", "search", [[]], {"order": "id"})
    assert every == sorted(every) and len(every) == 5
    assert db.execute("res.partner", "search", [[]], {"order": "id desc", "limit": 2}) == \
        every[::-1][:2]
    assert db.execute("res.partner", "search", [[]], {"order": "id", "offset": 1,
                                                      "limit": 2}) == every[1:3]
    for empty in (None, 0, False):
        assert db.execute("res.partner", "search", [[]], {"order": "id", "limit": empty}) == every
    ranked = db.execute("res.partner", "search_read", [[]],
                        {"fields": ["name"], "order": "customer_rank desc, name"})
    assert [row["name"] for row in ranked][:2] == ["Azure Interior", "Deco Addict"]
    by_email = db.execute("res.partner", "search_read", [[]], {"fields": ["email"],
                                                               "order": "email"})
    assert by_email[-1]["email"] is False  # NULLS LAST for ASC
    by_email = db.execute("res.partner", "search_read", [[]], {"fields": ["email"],
                                                               "order": "email desc"})
    assert by_email[0]["email"] is False  # NULLS FIRST for DESC
    by_email = db.execute("res.partner", "search_read", [[]],
                          {"fields": ["email"], "order": "email asc nulls first"})
    assert by_email[0]["email"] is False


def test_default_order_is_the_models(db: Database) -> None:
    rows = db.execute("res.partner", "search_read", [[]], {"fields": ["display_name"]})
    assert [row["display_name"] for row in rows] == [
        "Azure Interior", "Azure Interior, Brandon Freeman", "Azure Interior, Colleen Diaz",
        "Deco Addict", "Zed Nobody"]
    countries = db.execute("res.country", "search_read", [[]], {"fields": ["name"]})
    assert [row["name"] for row in countries] == ["Belgium", "France"]


def test_domain_argument_names_and_positions(db: Database) -> None:
    by_position = db.execute("res.partner", "search", [[("is_company", "=", True)], 0, 1, "id"],
                             {})
    assert by_position == db.execute("res.partner", "search", [],
                                     {"domain": [("is_company", "=", True)], "limit": 1,
                                      "order": "id"})
    assert db.execute("res.partner", "search", [], {"args": [("is_company", "=", True)]}) == \
        db.execute("res.partner", "search", [[("is_company", "=", True)]], {})
    old = Database(version=16)
    old.create("res.partner", {"name": "A"})
    assert old.execute("res.partner", "search", [[]], {"count": True}) == 1


def test_faults(db: Database) -> None:
    error = fault(db, "res.partner", "search", [[("x", "=", 1)]])
    assert (error.name, error.xmlrpc_code) == ("builtins.ValueError", 1)
    assert error.message == "Invalid field res.partner.x in leaf ('x', '=', 1)"
    error = fault(db, "no.such.model", "search", [[]])
    assert (error.xmlrpc_code, error.http_status) == (2, 404)
    assert error.fault_string() == "Object no.such.model doesn't exist"
    error = fault(db, "res.partner", "frobnicate", [])
    assert error.message == "The method 'frobnicate' does not exist on the model 'res.partner'"
    error = fault(db, "res.partner", "_search", [[]])
    assert error.xmlrpc_code == 4
    assert error.message == "Private methods (such as _search) cannot be called remotely."
    error = fault(db, "res.partner", "search", [[]], {"order": "nope"})
    assert error.message == "Invalid field 'nope' on model 'res.partner'"
    assert fault(db, "res.partner", "search", [[]], {"order": "id; drop"}).xmlrpc_code == 2
    error = fault(db, "res.partner", "search_read", [[]], {"fields": ["x"]})
    assert error.fault_string().rstrip().endswith(
        "ValueError: Invalid field 'x' on model 'res.partner'")
    for bad in ("not a domain", [("name", "=")], ["&", ("name", "=", "a")],
                [("name", "~", "a")]):
        assert fault(db, "res.partner", "search", [bad]).http_status == 422
    assert fault(db, "res.partner", "search", [[]], {"bogus": 1}).http_status == 422
    assert fault(db, "res.partner", "search", [[]], {"count": True}).http_status == 422
    assert fault(db, "res.partner", "search", [[]], {"limit": "ten"}).http_status == 422
    old = Database(version=16)
    assert fault(old, "res.partner", "search", [[("child_ids", "any", [])]]).http_status == 422


def test_mobile_is_gone_on_19(db: Database) -> None:
    """res.partner.mobile is still on 18.0 and removed in saas-18.2 (odoo/odoo#189739),
    so 19.0 is the first major without it (docs/odoo-api.md §12)."""
    assert "mobile" in db.execute("res.partner", "fields_get", [], {"attributes": ["type"]})
    assert "mobile" in Database(version=18).execute("res.partner", "fields_get", [], {})
    newer = Database(version=19)
    assert "mobile" not in newer.execute("res.partner", "fields_get", [], {})
    error = fault(newer, "res.partner", "search_read", [[]], {"fields": ["name", "mobile"]})
    assert error.message == "Invalid field 'mobile' on model 'res.partner'"
