"""The write_date behaviour of docs/odoo-api.md (§1-§5, §9-§11), reproduced in-process through
Database.execute."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from syncd.emulator.clock import Clock
from syncd.emulator.faults import OdooFault
from syncd.emulator.store import Database

T0 = datetime(2024, 3, 1, 5, 35, 15, 977432)  # seen on a real server: API shows 05:35:15


def make(version: int, start: datetime = T0) -> Database:
    return Database(version=version, clock=Clock(start=start))


def search(db: Database, domain: list[Any], **kwargs: Any) -> list[int]:
    return sorted(db.execute("res.partner", "search", [domain], kwargs))


def shown(db: Database, ids: list[int]) -> set[str]:
    rows = db.execute("res.partner", "read", [ids], {"fields": ["write_date"]})
    return {row["write_date"] for row in rows}


@pytest.mark.parametrize("version", [16, 17, 18])
def test_greater_than_the_shown_value_matches_the_records_shown_at_it(version: int) -> None:
    db = make(version)
    ids = db.import_records("res.partner", [{"name": "A"}, {"name": "B"}])
    (w,) = shown(db, ids)
    assert w == "2024-03-01 05:35:15"
    assert search(db, [("write_date", ">", w)]) == ids


@pytest.mark.parametrize("version", [16, 17, 18])
def test_equal_to_the_shown_value_matches_nothing(version: int) -> None:
    db = make(version)
    ids = db.import_records("res.partner", [{"name": "A"}, {"name": "B"}])
    (w,) = shown(db, ids)
    assert search(db, [("write_date", "=", w)]) == []
    assert search(db, [("write_date", ">=", w)]) == ids
    db.clock.freeze(datetime(2024, 3, 1, 6, 0, 0))  # exactly whole second: '=' matches
    exact = db.create("res.partner", {"name": "C"})
    assert search(db, [("write_date", "=", "2024-03-01 06:00:00")]) == [exact]


def test_a_transaction_is_invisible_until_commit_and_carries_its_start_time() -> None:
    db = make(17)
    tx = db.transaction()  # BEGIN at T1
    slow = tx.create("res.partner", {"name": "Imported slowly"})
    db.clock.advance(90)  # meanwhile, other writes at T2 > T1
    quick = db.create("res.partner", {"name": "Quick"})
    (t2,) = shown(db, [quick])
    assert search(db, []) == [quick]
    assert db.execute("res.partner", "read", [[slow]], {"fields": ["name"]}) == []
    db.clock.advance(30)
    tx.commit()
    (t1,) = shown(db, [slow])
    assert t1 == "2024-03-01 05:35:15" and t1 < t2
    assert search(db, []) == sorted([slow, quick])
    # a pass that took its watermark from T2 never sees the late commit without a lookback
    assert search(db, [("write_date", ">", t2)]) == [quick]


def test_rolled_back_transaction_leaves_nothing() -> None:
    db = make(17)
    with pytest.raises(RuntimeError):
        with db.transaction() as tx:
            tx.create("res.partner", {"name": "Ghost"})
            raise RuntimeError("import failed")
    assert search(db, [], context={"active_test": False}) == []


def test_an_import_of_5000_rows_shares_one_stamp() -> None:
    db = Database(version=17)  # a running clock: the stamp is still one for all rows
    ids = db.import_records("res.partner", [{"name": f"P{i}"} for i in range(5000)])
    rows = db.execute("res.partner", "search_read", [[]], {"fields": ["write_date"]})
    assert len(rows) == 5000 and len({row["write_date"] for row in rows}) == 1
    assert len({db.tables["res.partner"].rows[i]["write_date"] for i in ids}) == 1
    assert len({db.tables["res.partner"].rows[i]["create_date"] for i in ids}) == 1


def test_datetime_literals_on_17_drop_the_offset_and_accept_t() -> None:
    db = make(17, datetime(2024, 1, 1, 9, 12, 5, 500000))
    pid = db.create("res.partner", {"name": "A"})
    assert search(db, [("write_date", ">", "2024-01-01T09:12:05+05:00")]) == [pid]
    assert search(db, [("write_date", ">", "2024-01-01 09:12:05")]) == [pid]
    assert search(db, [("write_date", ">", "2024-01-01T09:12:06Z")]) == []
    assert search(db, [("write_date", ">", "2024-01-01")]) == []  # means 23:59:59 on 16-18
    assert search(db, [("write_date", ">=", "2024-01-01")]) == [pid]
    with pytest.raises(OdooFault) as caught:
        search(db, [("write_date", ">", "yesterday")])
    assert caught.value.xmlrpc_code == 1
    assert caught.value.fault_string().rstrip().endswith("invalid input syntax for type timestamp")


def test_datetime_literals_on_19_reject_offsets_and_t() -> None:
    db = make(19)
    for literal in ("2024-01-01T09:12:05", "2024-01-01 09:12:05+05:00"):
        with pytest.raises(OdooFault) as caught:
            search(db, [("write_date", ">", literal)])
        assert caught.value.name == "builtins.ValueError"
        assert caught.value.message == f"expecting only datetimes with no timezone: {literal!r}"


def test_datetime_comparisons_on_19_are_widened_to_the_second() -> None:
    db = make(19, datetime(2024, 1, 1, 9, 12, 5, 500000))
    pid = db.create("res.partner", {"name": "A"})
    w = "2024-01-01 09:12:05"
    assert search(db, [("write_date", ">", w)]) == []       # >= 09:12:06
    assert search(db, [("write_date", "=", w)]) == [pid]     # the whole second
    assert search(db, [("write_date", "<=", w)]) == [pid]    # < 09:12:06
    assert search(db, [("write_date", "!=", w)]) == []
    assert search(db, [("write_date", ">=", "2024-01-01")]) == [pid]  # midnight UTC
    older = make(17, datetime(2024, 1, 1, 9, 12, 5, 500000))
    older.create("res.partner", {"name": "A"})
    assert search(older, [("write_date", ">", w)]) == [pid]
    assert search(older, [("write_date", "=", w)]) == []
    assert search(older, [("write_date", "<=", w)]) == []


@pytest.mark.parametrize("version", [16, 17, 18, 19])
def test_greater_or_equal_means_the_same_everywhere(version: int) -> None:
    db = make(version, datetime(2024, 1, 1, 9, 12, 5, 500000))
    first = db.create("res.partner", {"name": "A"})
    db.clock.advance(1)
    second = db.create("res.partner", {"name": "B"})
    assert search(db, [("write_date", ">=", "2024-01-01 09:12:05")]) == [first, second]
    assert search(db, [("write_date", ">=", "2024-01-01 09:12:06")]) == [second]
    assert search(db, [("write_date", "<", "2024-01-01 09:12:06")]) == [first]


def test_deletions_leave_no_trace() -> None:
    db = make(17)
    keep, gone = db.import_records("res.partner", [{"name": "Keep"}, {"name": "Gone"}])
    db.clock.advance(10)
    db.unlink("res.partner", gone)
    assert search(db, [], context={"active_test": False}) == [keep]
    assert search(db, [("write_date", ">", "2000-01-01 00:00:00")],
                   context={"active_test": False}) == [keep]
    assert db.execute("res.partner", "read", [[keep, gone]], {"fields": ["name"]}) == \
        [{"id": keep, "name": "Keep"}]
    assert gone not in db.tables["res.partner"].ids
    assert gone not in db.tables["res.partner"].rows


def test_a_template_write_moves_its_variants_write_date() -> None:
    """product.product.write_date is a stored compute on product_tmpl_id.write_date
    (addons/product/models/product_product.py _compute_write_date; docs/odoo-api.md §10)."""
    db = make(17)
    variant = db.create("product.product", {"name": "Desk", "default_code": "FURN-0001",
                                            "list_price": 100.0})
    other = db.create("product.product", {"name": "Chair", "default_code": "FURN-0002"})
    (before,) = db.execute("product.product", "read", [[variant]],
                           {"fields": ["write_date", "product_tmpl_id", "list_price"]})
    template = before["product_tmpl_id"][0]
    db.clock.advance(3600)
    db.write("product.template", template, {"list_price": 120.0, "name": "Oak Desk"})
    (after,) = db.execute("product.product", "read", [[variant]],
                          {"fields": ["write_date", "list_price", "display_name"]})
    assert after["list_price"] == 120.0 and after["display_name"] == "[FURN-0001] Oak Desk"
    assert after["write_date"] == "2024-03-01 06:35:15" != before["write_date"]
    since = [("write_date", ">=", "2024-03-01 05:35:16")]
    assert db.execute("product.template", "search", [since], {}) == [template]
    assert db.execute("product.product", "search", [since], {}) == [variant]  # not `other`
    assert other not in db.execute("product.product", "search", [since], {})
    # writing a template field through the variant stamps both
    db.clock.advance(60)
    db.write("product.product", variant, {"list_price": 130.0})
    stamps = {db.tables["product.product"].rows[variant]["write_date"],
              db.tables["product.template"].rows[template]["write_date"]}
    assert stamps == {T0 + timedelta(seconds=3660)}


def test_a_variant_keeps_its_newer_stamp_when_an_older_transaction_writes_the_template() -> None:
    """The compute takes max(own write_date, template's): a late commit does not move it back."""
    db = make(17)
    variant = db.create("product.product", {"name": "Desk"})
    template = db.tables["product.product"].rows[variant]["product_tmpl_id"]
    tx = db.transaction()  # BEGIN at T0
    tx.write("product.template", template, {"name": "Oak Desk"})
    db.clock.advance(90)
    db.write("product.product", variant, {"default_code": "D1"})  # committed at T0+90
    tx.commit()
    assert db.tables["product.product"].rows[variant]["write_date"] == T0 + timedelta(seconds=90)
    assert db.tables["product.template"].rows[template]["write_date"] == T0


def test_fields_get_reports_what_write_date_depends_on() -> None:
    db = make(17)
    variant = db.execute("product.product", "fields_get", [],
                         {"attributes": ["depends", "store", "related"]})
    assert variant["write_date"] == {"depends": ["product_tmpl_id.write_date"], "store": True}
    assert variant["name"] == {"depends": ["product_tmpl_id.name"], "store": False,
                               "related": "product_tmpl_id.name"}
    users = db.execute("res.users", "fields_get", [], {"attributes": ["depends", "related"]})
    assert users["write_date"] == {"depends": []}
    assert users["name"] == {"depends": ["partner_id.name"], "related": "partner_id.name"}
    partner = db.execute("res.partner", "fields_get", [["complete_name"]],
                         {"attributes": ["depends", "store"]})
    assert partner["complete_name"]["store"] is True
    assert "parent_id.name" in partner["complete_name"]["depends"]


def test_a_partner_write_leaves_its_users_write_date_alone() -> None:
    """res.users _inherits res.partner without a compute on write_date (docs/odoo-api.md §10)."""
    db = make(17)
    uid = db.create("res.users", {"login": "marc", "name": "Marc Demo"})
    (user,) = db.execute("res.users", "read", [[uid]], {"fields": ["partner_id", "write_date"]})
    partner = user["partner_id"][0]
    assert user["partner_id"][1] == "Marc Demo"
    db.clock.advance(3600)
    db.write("res.partner", partner, {"name": "Marc Renamed"})
    (after,) = db.execute("res.users", "read", [[uid]],
                          {"fields": ["name", "display_name", "write_date"]})
    assert after["name"] == after["display_name"] == "Marc Renamed"
    assert after["write_date"] == user["write_date"]
    later = [("write_date", ">=", "2024-03-01 05:35:16")]
    assert db.execute("res.users", "search", [later], {}) == []
    # a write through the user (an inherited field) stamps the user too
    db.clock.advance(60)
    db.write("res.users", uid, {"email": "marc@example.com"})
    assert db.execute("res.users", "search", [later], {}) == [uid]


def test_renaming_a_company_rewrites_its_contacts() -> None:
    """complete_name is stored: the recompute writes the contacts whose name changed, and
    _write_multi stamps them (docs/odoo-api.md §9); a contact elsewhere keeps its stamp."""
    db = make(17)
    company = db.create("res.partner", {"name": "Azure", "is_company": True})
    contact = db.create("res.partner", {"name": "Ann", "parent_id": company})
    deeper = db.create("res.partner", {"name": "Bob", "parent_id": contact})
    stranger = db.create("res.partner", {"name": "Carl"})
    db.clock.advance(600)
    db.write("res.partner", company, {"name": "Azure Interior"})
    moved = search(db, [("write_date", ">=", "2024-03-01 05:45:15")])
    assert moved == sorted([company, contact, deeper])
    rows = db.execute("res.partner", "read", [[contact, deeper, stranger]],
                      {"fields": ["complete_name", "parent_id"]})
    assert [row["complete_name"] for row in rows] == [
        "Azure Interior, Ann", "Azure Interior, Bob", "Carl"]
    assert rows[1]["parent_id"] == [contact, "Azure Interior, Ann"]
    # a write that changes no one's name (the email) moves only the written row
    db.clock.advance(600)
    db.write("res.partner", company, {"email": "info@azure.example.com"})
    assert search(db, [("write_date", ">=", "2024-03-01 05:55:15")]) == [company]


def test_renaming_a_category_leaves_its_products_alone() -> None:
    """product.category names reach products only as many2one display names
    (docs/odoo-api.md §11)."""
    db = make(17)
    category = db.create("product.category", {"name": "Desks"})
    variant = db.create("product.product", {"name": "Desk", "categ_id": category})
    db.clock.advance(600)
    db.write("product.category", category, {"name": "Office Desks"})
    assert db.execute("product.product", "search",
                      [[("write_date", ">=", "2024-03-01 05:45:15")]], {}) == []
    (row,) = db.execute("product.product", "read", [[variant]], {"fields": ["categ_id"]})
    assert row["categ_id"] == [category, "Office Desks"]


def _company_with_contacts(version: int) -> tuple[Database, int, list[int]]:
    db = make(version)
    company = db.create("res.partner", {"name": "Acme", "is_company": True})
    contacts = db.import_records("res.partner", [{"name": "Ann", "parent_id": company},
                                                 {"name": "Bob", "parent_id": company}])
    db.clock.advance(60)
    return db, company, contacts


@pytest.mark.parametrize("version", [17, 18])
def test_a_write_to_a_company_stamps_its_contacts_on_18_only(version: int) -> None:
    """Odoo 18's `_children_sync` calls `_commercial_sync_to_children` on every write to a
    commercial entity, and its write stamps the contacts even when it changes nothing."""
    for values in ({"email": "info@acme.example.com"}, {}):
        db, company, contacts = _company_with_contacts(version)
        before = shown(db, contacts)
        db.execute("res.partner", "write", [[company], values], {})
        assert (shown(db, contacts) != before) is (version >= 18)


@pytest.mark.parametrize("version", [17, 18])
def test_a_commercial_field_reaches_the_contacts_on_both(version: int) -> None:
    db, company, contacts = _company_with_contacts(version)
    before = shown(db, contacts)
    db.execute("res.partner", "write", [[company], {"vat": "BE0477472701"}], {})
    assert shown(db, contacts) != before
    rows = db.execute("res.partner", "read", [contacts], {"fields": ["vat"]})
    assert {row["vat"] for row in rows} == {"BE0477472701"}


def test_a_translation_edit_stamps_the_record_and_reads_in_its_language() -> None:
    """`_update_field_translations` ends with `self[field_name] = self[field_name]`."""
    for version in (17, 18):
        db = make(version)
        tag = db.create("res.partner.category", {"name": "Gold"})
        db.clock.advance(60)
        before = db.execute("res.partner.category", "read", [[tag]], {"fields": ["write_date"]})
        assert db.execute("res.partner.category", "update_field_translations",
                          [[tag], "name", {"fr_FR": "Or"}], {}) is True
        after = db.execute("res.partner.category", "read", [[tag]],
                           {"fields": ["name", "write_date"], "context": {"lang": "fr_FR"}})
        assert after[0]["name"] == "Or" and after[0]["write_date"] > before[0]["write_date"]
        english = db.execute("res.partner.category", "read", [[tag]], {"fields": ["name"]})
        assert english[0]["name"] == "Gold"
        described = db.execute("res.partner.category", "fields_get", [["name"]],
                               {"attributes": ["translate"]})
        assert described == {"name": {"translate": True}}
