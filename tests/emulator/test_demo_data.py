"""Demo data: deterministic, sized as asked, and realistic enough to be believed."""

from __future__ import annotations

import random
import re
from datetime import datetime
from typing import Any

from syncd.emulator.clock import Clock
from syncd.emulator.demo_data import churn, ean13, populate
from syncd.emulator.store import Database

EMAIL = re.compile(r"^[a-z0-9._%+-]+@[a-z0-9-]+(\.[a-z0-9-]+)+$")
PHONE = re.compile(r"^\+\d{1,3}( \d+)+$")
SKU = re.compile(r"^[A-Z]{4}-\d{4}(-[A-Z]{3})?$")


def built(seed: int = 0, customers: int = 200, products: int = 300,
          start: datetime | None = None) -> Database:
    db = Database(version=17, clock=Clock(start=start or datetime(2024, 1, 1, 8, 0, 0, 1234)))
    populate(db, customers=customers, products=products, seed=seed)
    return db


def dump(db: Database, model: str) -> list[dict[str, Any]]:
    fields = [name for name, item in db.schema[model].fields.items()
              if name not in ("create_date", "write_date")]
    return db.execute(model, "search_read", [[]], {"fields": fields, "order": "id",
                                                   "context": {"active_test": False}})


def test_same_seed_same_data_other_seed_other_data() -> None:
    first, again = built(), built(start=datetime(2030, 6, 1))
    for model in ("res.partner", "product.product", "product.template", "res.country"):
        assert dump(first, model) == dump(again, model)
    assert dump(built(seed=1), "res.partner") != dump(first, "res.partner")
    assert churn(first, random.Random(5), 10) == churn(again, random.Random(5), 10)


def test_sizes_and_shared_import_stamps() -> None:
    db = built(customers=200, products=300)
    assert db.execute("res.partner", "search_count", [[]], {}) == 200
    assert db.execute("product.product", "search_count", [[]], {}) == 300
    assert 100 < db.execute("product.template", "search_count", [[]], {}) <= 300
    assert db.execute("res.country", "search_count", [[]], {}) == 25
    stamps = {row["write_date"] for row in db.execute("res.partner", "search_read", [[]],
                                                       {"fields": ["write_date"]})}
    assert len(stamps) == 1  # one frozen clock; with a running one, one stamp per import


def test_records_look_real() -> None:
    db = built()
    partners = db.execute("res.partner", "search_read", [[]],
                          {"fields": ["name", "email", "phone", "parent_id", "is_company",
                                      "country_id", "vat"]})
    by_id = {row["id"]: row for row in partners}
    contacts = [row for row in partners if not row["is_company"]]
    assert contacts and all(by_id[row["parent_id"][0]]["is_company"] for row in contacts)
    assert all(EMAIL.match(row["email"]) for row in partners)
    assert all(PHONE.match(row["phone"]) for row in partners)
    assert all(row["country_id"] for row in partners)
    assert any(row["vat"] for row in partners if row["is_company"])
    for row in contacts:  # firstname.lastname@ the company's domain
        assert row["email"].split("@")[1] == by_id[row["parent_id"][0]]["email"].split("@")[1]
    products = db.execute("product.product", "search_read", [[]],
                          {"fields": ["default_code", "barcode", "list_price", "categ_id"]})
    assert all(SKU.match(row["default_code"]) for row in products)
    assert len({row["default_code"] for row in products}) == len(products)
    assert all(ean13(row["barcode"][:12]) == row["barcode"] for row in products)
    assert all(row["list_price"] > 0 and row["categ_id"] for row in products)
    assert ean13("400638133393") == "4006381333931"  # a published valid EAN-13


def test_churn_changes_things_and_says_what() -> None:
    db = built(customers=40, products=40)
    before = dump(db, "res.partner") + dump(db, "product.product")
    db.clock.advance(60)
    lines = churn(db, random.Random(2), 12)
    assert len(lines) >= 6 and all(re.match(r"^[a-z.]+ \d+: ", line) for line in lines)
    assert dump(db, "res.partner") + dump(db, "product.product") != before
    changed = db.execute("res.partner", "search_count",
                         [[("write_date", ">=", "2024-01-01 08:01:00")]],
                         {"context": {"active_test": False}})
    assert changed >= 1
