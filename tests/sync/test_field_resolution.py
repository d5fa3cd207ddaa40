"""A configured field this Odoo lacks: a misspelling gets the closest name, a field known to
live in another version or module gets the plain warning; either is said once, never fatal."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from loguru import logger

from syncd.settings import ModelSpec
from syncd.sync.coverage import missing_reason, missing_text, suggestion
from tests.sync_rig import make_rig


@pytest.fixture
def warnings() -> Iterator[list[str]]:
    lines: list[str] = []
    sink = logger.add(lines.append, level="WARNING", format="{message}")
    yield lines
    logger.remove(sink)


def sync_twice(tmp_path: Path, version: int, *fields: str) -> list[dict[str, object]]:
    spec = ModelSpec(name="customers", model="res.partner", fields=fields)
    rig = make_rig(tmp_path, "jsonrpc", version, models=(spec,), reconcile_interval=0)
    try:
        rig.db.create("res.partner", {"name": "A", "email": "a@example.com"})
        assert rig.sync().ok
        rig.db.create("res.partner", {"name": "B"})
        assert rig.sync().ok
        return rig.snapshot("customers")
    finally:
        rig.close()


def missing_lines(lines: list[str]) -> list[str]:
    return [line.strip() for line in lines if "missing_fields=" in line]


def test_a_misspelled_field_offers_the_closest_name_once(tmp_path: Path,
                                                         warnings: list[str]) -> None:
    rows = sync_twice(tmp_path, 17, "name", "emial")
    assert missing_lines(warnings) == [
        "model=customers missing_fields=emial this Odoo has no such field "
        "(did you mean email?); left out"]
    assert [set(row) for row in rows] == [{"id", "name"}] * 2


def test_a_field_of_another_version_gets_the_plain_warning(tmp_path: Path,
                                                           warnings: list[str]) -> None:
    # res.partner.mobile is gone from Odoo 19 (saas-18.2; docs/odoo-api.md §12)
    rows = sync_twice(tmp_path, 19, "name", "mobile")
    assert missing_lines(warnings) == [
        "model=customers missing_fields=mobile this Odoo has no such field; left out"]
    assert [set(row) for row in rows] == [{"id", "name"}] * 2


def test_a_field_of_another_version_is_kept_where_it_exists(tmp_path: Path,
                                                            warnings: list[str]) -> None:
    rows = sync_twice(tmp_path, 18, "name", "mobile")  # 18 still has res.partner.mobile
    assert missing_lines(warnings) == []
    assert [set(row) for row in rows] == [{"id", "name", "mobile"}] * 2


def test_several_missing_fields_name_which_suggestion_is_for_which(tmp_path: Path,
                                                                  warnings: list[str]) -> None:
    sync_twice(tmp_path, 19, "name", "mobile", "is_compnay", "zzz")
    assert missing_lines(warnings) == [
        "model=customers missing_fields=mobile,is_compnay,zzz this Odoo has no such field "
        "(did you mean is_company for is_compnay?); left out"]


def test_a_known_field_gets_no_look_alike_suggestion() -> None:
    # A database without the account module, with a Studio field of a similar name.
    available = ["name", "email", "x_customer_rank"]
    assert suggestion("res.partner", "customer_rank", available) is None
    assert suggestion("res.partner", "custmer_rank", available) == "x_customer_rank"
    assert missing_text("res.partner", ["customer_rank"], available) == \
        "this Odoo has no such field"


def test_syncd_fields_says_which_version_dropped_mobile() -> None:
    assert missing_reason("res.partner", "mobile", ["name", "phone"]) == \
        "no such field on this Odoo (up to Odoo 18; removed in saas-18.2 and Odoo 19); left out"


def test_unrelated_short_names_get_no_suggestion() -> None:
    assert suggestion("res.partner", "nope", ["name", "phone", "email"]) is None
