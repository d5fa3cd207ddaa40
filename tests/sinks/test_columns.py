"""Typed columns of the database sinks: types, empty values, deterministic renames."""

from __future__ import annotations

from syncd.sinks.database import Column, columns_for

TYPES = {"name": "char", "qty": "integer", "price": "monetary", "active": "boolean",
         "day": "date", "write_date": "datetime", "partner_id": "many2one",
         "tag_ids": "many2many", "data": "json", "kind": "selection"}


def test_each_odoo_type_gets_its_column_kind() -> None:
    columns = columns_for(list(TYPES), TYPES)
    assert [(c.name, c.kind) for c in columns] == [
        ("name", "text"), ("qty", "integer"), ("price", "float"), ("active", "boolean"),
        ("day", "date"), ("write_date", "datetime"), ("partner_id", "m2o_id"),
        ("tag_ids", "ids"), ("data", "json"), ("kind", "text"), ("partner_id_name", "m2o_name")]


def test_false_is_null_except_in_boolean_columns() -> None:
    record = {"id": 1, **{name: False for name in TYPES}}
    values = {c.name: c.value(record) for c in columns_for(list(TYPES), TYPES)}
    assert values.pop("active") is False
    assert set(values.values()) == {None}


def test_values_as_odoo_gave_them() -> None:
    record = {"id": 1, "name": "Zoë", "qty": 0, "price": 3, "active": True, "day": "2026-01-02",
              "write_date": "2026-01-02 03:04:05", "partner_id": [7, "Acme, Inc."],
              "tag_ids": [3, 5], "data": {"a": [1]}, "kind": "b2b"}
    values = {c.name: c.value(record) for c in columns_for(list(TYPES), TYPES)}
    assert values == {"name": "Zoë", "qty": 0, "price": 3.0, "active": True, "day": "2026-01-02",
                      "write_date": "2026-01-02 03:04:05", "partner_id": 7,
                      "partner_id_name": "Acme, Inc.", "tag_ids": [3, 5], "data": {"a": [1]},
                      "kind": "b2b"}
    assert isinstance(values["price"], float)


def test_collisions_and_long_names_are_renamed_deterministically() -> None:
    long = "x" * 70
    types = {"record": "char", "partner_id": "many2one", "partner_id_name": "char", long: "char"}
    columns = columns_for(list(types), types)
    names = [c.name for c in columns]
    assert names[:3] == ["record_1", "partner_id", "partner_id_name"]
    assert names[-1] == "partner_id_name_1"
    assert len(names[3].encode()) == 63 and names[3].startswith("x" * 54 + "_")
    assert columns_for(list(types), types) == columns  # the same every pass
    assert len(set(names)) == len(names)
    assert Column("c", "f", "m2o_id").value({"f": 5}) == 5
