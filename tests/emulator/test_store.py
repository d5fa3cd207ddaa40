"""Database: users, clock, transactions, values as Odoo returns them, RPC-style methods."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from syncd.emulator.clock import Clock
from syncd.emulator.faults import OdooFault
from syncd.emulator.registry import ABSTRACT
from syncd.emulator.store import Database


def test_clock_frozen_advanced_and_offset() -> None:
    start = datetime(2024, 1, 1, 10, 0, 0, 123456)
    clock = Clock(start=start)
    assert clock.now() == start
    clock.advance(1.5)
    assert clock.now() == start + timedelta(seconds=1.5)
    running = Clock(offset=-7200)
    assert abs((datetime.now(UTC).replace(tzinfo=None) - running.now()).total_seconds() - 7200) < 5
    running.set_offset(3600)
    assert abs((running.now() - datetime.now(UTC).replace(tzinfo=None)).total_seconds() - 3600) < 5
    running.freeze(start)
    assert running.now() == start
    running.unfreeze()
    assert running.now().year >= 2025 and running.now().tzinfo is None


def test_users_passwords_and_api_keys() -> None:
    db = Database()
    assert db.authenticate("admin", "admin") == 2
    assert db.authenticate("admin", "syncd-emulator-api-key") == 2
    assert db.authenticate("admin", "wrong") is None and db.authenticate("nobody", "x") is None
    assert db.uid_for_api_key("syncd-emulator-api-key") == 2 and db.uid_for_api_key("x") is None
    uid = db.add_user("bot", "secret", api_key="bot-key")
    assert uid == 3 and db.authenticate("bot", "secret") == uid
    assert db.check_credentials(uid, "bot-key") and not db.check_credentials(uid, "admin")
    assert not db.check_credentials(99, "admin") and not db.check_credentials(2, "")
    db.archive("res.users", uid)
    assert db.authenticate("bot", "secret") is None
    assert db.execute("res.users", "context_get", [], {}, uid=2) == \
        {"lang": "en_US", "tz": "UTC", "uid": 2}


def test_values_come_back_as_odoo_sends_them() -> None:
    db = Database(clock=Clock(start=datetime(2024, 2, 3, 4, 5, 6, 999999)))
    be = db.create("res.country", {"name": "Belgium", "code": "BE"})
    company = db.create("res.partner", {"name": "Azure", "is_company": True, "country_id": be})
    person = db.create("res.partner", {"name": "Ann", "parent_id": company})
    rows = db.execute("res.partner", "read", [[person, company]],
                      {"fields": ["name", "email", "parent_id", "child_ids", "write_date",
                                  "customer_rank", "is_company", "company_type", "country_id",
                                  "display_name", "category_id"]})
    ann, azure = rows  # read keeps the order of the ids asked for
    assert ann == {"id": person, "name": "Ann", "email": False, "parent_id": [company, "Azure"],
                   "child_ids": [], "write_date": "2024-02-03 04:05:06", "customer_rank": 0,
                   "is_company": False, "company_type": "person", "country_id": False,
                   "display_name": "Azure, Ann", "category_id": []}
    assert azure["child_ids"] == [person] and azure["country_id"] == [be, "Belgium"]
    everything = db.execute("res.partner", "read", [[person]], {})[0]
    assert everything["id"] == person and "write_date" in everything and "name" in everything
    # a deleted many2one target reads as False (ON DELETE SET NULL); a deleted company's
    # contacts get their complete_name recomputed, which stamps them (seen on 17 and 18)
    db.clock.advance(5)
    db.unlink("res.partner", company)
    (ann_after,) = db.execute("res.partner", "read", [[person]], {"fields": ["parent_id",
                                                                           "write_date"]})
    assert ann_after == {"id": person, "parent_id": False, "write_date": "2024-02-03 04:05:11"}


def test_fields_get_filters_fields_and_attributes() -> None:
    db = Database()
    described = db.execute("res.partner", "fields_get", [["name", "parent_id"]],
                           {"attributes": ["type", "relation"]})
    assert described == {"name": {"type": "char"},
                         "parent_id": {"type": "many2one", "relation": "res.partner"}}
    every = db.execute("product.product", "fields_get", [], {})
    assert every["list_price"]["type"] == "float" and every["write_date"]["type"] == "datetime"
    assert every["type"]["selection"][0] == ["consu", "Consumable"]


def test_transaction_rollback_and_visibility() -> None:
    db = Database(clock=Clock(start=datetime(2024, 1, 1)))
    keep = db.create("res.partner", {"name": "Keep"})
    tx = db.transaction()
    tx.write("res.partner", keep, {"name": "Changed"})
    new = tx.create("res.partner", {"name": "New"})
    tx.write("res.partner", new, {"email": "new@example.com"})
    assert db.execute("res.partner", "search_read", [[]], {"fields": ["name"]}) == \
        [{"id": keep, "name": "Keep"}]
    tx.rollback()
    assert db.execute("res.partner", "search_read", [[]], {"fields": ["name"]}) == \
        [{"id": keep, "name": "Keep"}]
    with pytest.raises(RuntimeError):
        tx.commit()
    with db.transaction() as tx2:
        later = tx2.create("res.partner", {"name": "Later", "email": "l@example.com"})
        tx2.archive("res.partner", keep)
    assert db.execute("res.partner", "search", [[]], {}) == [later]
    with pytest.raises(OdooFault) as caught:
        db.write("res.partner", 4242, {"name": "x"})
    assert caught.value.name == "odoo.exceptions.MissingError"
    assert later != new  # ids of a rolled-back transaction are not reused, like sequences


def test_rpc_create_write_unlink_and_name_search() -> None:
    db = Database()
    ids = db.execute("res.partner", "create", [[{"name": "A"}, {"name": "B"}]], {})
    single = db.execute("res.partner", "create", [{"name": "C", "email": "c@x.com"}], {})
    assert isinstance(ids, list) and isinstance(single, int)
    assert db.execute("res.partner", "write", [[single], {"name": "Cee"}], {}) is True
    assert db.execute("res.partner", "name_search", ["ee"], {}) == [[single, "Cee"]]
    assert db.execute("res.partner", "unlink", [ids], {}) is True
    assert db.execute("res.partner", "search", [[]], {}) == [single]
    with pytest.raises(OdooFault) as caught:
        db.execute("res.partner", "create", [{"nope": 1}], {})
    assert caught.value.message == "Invalid field 'nope' on model 'res.partner'"


def test_product_variants_inherit_and_cascade() -> None:
    db = Database()
    category = db.create("product.category", {"name": "Furniture"})
    template = db.create("product.template", {"name": "Desk", "list_price": 10.0,
                                              "categ_id": category})
    black, white = db.import_records("product.product", [
        {"product_tmpl_id": template, "default_code": "FURN-0001-BLK"},
        {"product_tmpl_id": template, "default_code": "FURN-0001-WHT"}])
    found = db.execute("product.product", "search",
                       [[("name", "=", "Desk"), ("categ_id", "child_of", category)]],
                       {"order": "id"})
    assert found == [black, white]
    assert db.execute("product.product", "search", [[("product_tmpl_id", "ilike", "desk")]],
                      {"order": "default_code desc"}) == [white, black]
    db.archive("product.template", template)
    assert db.execute("product.product", "search", [[]], {}) == []
    db.unarchive("product.template", template)
    db.unlink("product.product", black)
    assert db.execute("product.template", "search", [[]], {}) == [template]
    db.unlink("product.product", white)  # the last variant takes its template along
    assert db.execute("product.template", "search", [[]], {"context": {"active_test": False}}) \
        == []


def test_concurrent_calls_are_serialised() -> None:
    db = Database()
    errors: list[BaseException] = []

    def writer(offset: int) -> None:
        try:
            for i in range(200):
                db.create("res.partner", {"name": f"W{offset}-{i}"})
                db.execute("res.partner", "search_count", [[("name", "like", "W")]], {})
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    table = db.tables["res.partner"]
    assert len(table.ids) == len(table.rows) == 800
    assert table.ids == sorted(table.ids) == sorted(table.rows)


def test_the_admin_can_have_its_partner_and_category_names_are_stored() -> None:
    db = Database(admin_partner=True)
    (admin,) = db.execute("res.users", "read", [[2]], {"fields": ["partner_id", "name"]})
    assert admin["partner_id"] and admin["partner_id"][1] == admin["name"] == "Mitchell Admin"
    described = db.execute("product.category", "fields_get", [["complete_name"]],
                           {"attributes": ["store"]})
    assert described == {"complete_name": {"store": True}}


def test_abstract_models_are_listed_but_refuse_access() -> None:
    """ir.model lists abstract models (base, mail.thread, ...), which have no table and no
    write_date field; calling one is an AccessError, as on a real Odoo."""
    db = Database()
    rows = db.execute("ir.model", "search_read", [[["model", "in", list(ABSTRACT)]]],
                      {"fields": ["model", "name", "transient"]})
    assert {row["model"]: row["name"] for row in rows} == ABSTRACT
    assert not any(row["transient"] for row in rows)
    stamped = db.execute("ir.model", "search_read", [[["field_id.name", "=", "write_date"]]],
                         {"fields": ["model"]})
    assert {row["model"] for row in stamped} == set(db.schema)
    for name in ABSTRACT:
        with pytest.raises(OdooFault) as fault:
            db.execute(name, "search_read", [[]], {"fields": ["id"]})
        assert fault.value.name == "odoo.exceptions.AccessError"
        assert fault.value.xmlrpc_code == 4
