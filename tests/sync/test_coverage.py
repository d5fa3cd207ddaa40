"""Coverage: the snapshot holds what the server has, even after someone edits the file by hand;
and per field, how a pass sees its changes (the verdict `syncd fields` prints)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from syncd.sync.coverage import classify
from syncd.sync.related import parents_of
from tests.sync_rig import CUSTOMERS, Rig, fixed, make_rig, partner


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    r = make_rig(tmp_path, models=(CUSTOMERS,), reconcile_interval=3600)
    r.now = lambda: fixed("2024-05-01 10:00:00")  # the reconcile stays an hour away
    yield r
    r.close()


def test_a_record_removed_by_hand_is_back_in_the_same_pass(rig: Rig) -> None:
    ids = [rig.db.create("res.partner", partner(None, n)) for n in range(5)]
    assert rig.sync().ok
    path = rig.data_dir / "odoo_customers.json"
    canonical = path.read_bytes()
    edited = [r for r in json.loads(canonical) if r["id"] != ids[2]]
    edited.append({"id": 999_999, "name": "Not in Odoo"})  # an extra one, too
    path.write_text(json.dumps(edited, indent=4))  # valid JSON, another layout

    searches = rig.emulator.stats.calls("res.partner", "search")
    report = rig.sync()

    assert report.ok and not report.models[0].full
    assert rig.emulator.stats.calls("res.partner", "search") > searches  # the id check ran
    assert path.read_bytes() == canonical
    rig.assert_in_sync("after the hand edit")


def test_an_untouched_file_does_not_trigger_the_membership_check(rig: Rig) -> None:
    rig.db.create("res.partner", partner(None, 1))
    assert rig.sync().ok
    searches = rig.emulator.stats.calls("res.partner", "search")
    assert rig.sync().ok
    assert rig.emulator.stats.calls("res.partner", "search") == searches


# -- how a pass sees each field's changes (syncd.sync.coverage.classify) ---------------------------
# fields_get(EXPLAIN) of product.product as Odoo 17 answers it (abridged): its write_date is
# recomputed from the template's, and product.template.name is translatable.
VARIANT: dict[str, dict[str, Any]] = {
    "write_date": {"type": "datetime", "store": True, "depends": ["product_tmpl_id.write_date"]},
    "product_tmpl_id": {"type": "many2one", "relation": "product.template", "store": True},
    "name": {"type": "char", "store": False, "related": "product_tmpl_id.name",
             "translate": True},
    "categ_id": {"type": "many2one", "relation": "product.category", "store": False,
                 "related": "product_tmpl_id.categ_id"},
    "seller_country": {"type": "char", "store": False,
                       "related": "product_tmpl_id.seller_ids.country_id.code"},
    "default_code": {"type": "char", "store": True},
    "lst_price": {"type": "float", "store": False, "depends": ["list_price"]},
    "variant_seller_ids": {"type": "one2many", "relation": "product.supplierinfo",
                           "store": True},
}


# res.users as Odoo 17 answers it (abridged): _inherits res.partner, and its write_date depends
# on nothing, so renaming the partner leaves the user's stamp alone (docs/odoo-api.md §10).
USER: dict[str, dict[str, Any]] = {
    "write_date": {"type": "datetime", "store": True, "depends": []},
    "partner_id": {"type": "many2one", "relation": "res.partner", "store": True},
    "login": {"type": "char", "store": True},
    "name": {"type": "char", "store": False, "related": "partner_id.name"},
    "email": {"type": "char", "store": False, "related": "partner_id.email"},
}


def test_a_template_field_is_seen_through_the_variants_own_write_date() -> None:
    # Odoo moves the variant's stamp when its template changes: the pass follows no parent.
    assert parents_of(VARIANT, ["name", "categ_id"], lambda model: {}) == []
    view = classify(VARIANT, "name")
    assert view.seen == "own write_date (Odoo moves it when product.template changes)"
    assert view.caveat == ""  # translations move write_date (docs/odoo-api.md §11)
    assert not view.stored
    categ = classify(VARIANT, "categ_id")
    assert categ.seen == "own write_date (Odoo moves it when product.template changes)"
    assert "product.category is renamed" in categ.caveat


def test_a_parent_whose_stamp_does_not_move_ours_is_followed() -> None:
    assert classify(USER, "name").seen == "via res.partner"
    assert classify(USER, "login").seen == "own write_date"
    # the same template fields, on an Odoo whose variant write_date depended on nothing
    without_depends = {**VARIANT, "write_date": {"type": "datetime", "store": True}}
    assert classify(without_depends, "categ_id").seen == "via product.template"


def test_fields_no_write_date_sync_can_see() -> None:
    deep = classify(VARIANT, "seller_country")
    assert deep.seen == "not seen" and "more than one link" in deep.caveat
    computed = classify(VARIANT, "lst_price")
    assert computed.changes_seen.startswith("not seen: computed, not stored")
    children = classify(VARIANT, "variant_seller_ids")
    assert children.seen == "not seen" and "product.supplierinfo" in children.caveat
    own = classify(VARIANT, "default_code", configured=True)
    assert (own.seen, own.caveat, own.configured) == ("own write_date", "", True)


@pytest.mark.parametrize("described, expected", [
    (USER, {("res.partner", "name"), ("res.partner", "email")}),
    (VARIANT, set()),
], ids=["res.users", "product.product"])
def test_every_field_the_pass_follows_is_listed_via_its_parent(
        described: dict[str, dict[str, Any]], expected: set[tuple[str, str]]) -> None:
    followed = {(p.model, shown) for p in parents_of(described, list(described), lambda m: {})
                for shown in p.fields}
    listed = {(classify(described, name).seen.removeprefix("via "), name) for name in described
              if classify(described, name).seen.startswith("via ")}
    assert listed == followed == expected
