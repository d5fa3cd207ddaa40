"""`syncd fields MODEL` and `syncd models`: the real command against the emulator over HTTP."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import orjson

from syncd.emulator import Emulator
from syncd.emulator.registry import WIZARD
from tests.test_cli import SECRET, environment, odoo, one_error_line, syncd  # noqa: F401

CUSTOMERS = ["name", "email", "phone", "is_company", "parent_id", "country_id", "vat",
             "write_date"]  # the default configuration's customers


def rows_of(text: str) -> dict[str, list[str]]:
    """Table rows by field name: [marker, type, stored, changes seen]."""
    found = {}
    for line in text.splitlines()[1:]:
        if line.startswith(("* ", "  ")) and "  " in line[2:]:
            marker, rest = line[:1], line[2:].split(None, 3)
            found[rest[0]] = [marker, *rest[1:]]
    return found


def test_fields_of_a_configured_name_marks_its_fields(tmp_path: Path, odoo: Emulator) -> None:
    result = syncd(tmp_path, environment(tmp_path, odoo), "fields", "customers")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["FIELD", "TYPE", "STORED", "CHANGES", "SEEN"]
    rows = rows_of(result.stdout)
    assert [name for name, row in rows.items() if row[0] == "*"] == CUSTOMERS
    assert rows["email"] == ["*", "char", "yes", "own write_date"]
    assert rows["country_id"][:3] == ["*", "many2one", "yes"]
    assert rows["country_id"][3].startswith("own write_date; not seen:")
    assert "res.country is renamed" in rows["country_id"][3]
    assert rows["display_name"] == [" ", "char", "no", "not seen: computed, not stored (its "
                                    "inputs change without moving write_date)"]
    assert rows["child_ids"][3].startswith("not seen:")
    assert lines[-1] == "* configured in customers (res.partner)"
    assert not (tmp_path / "data").exists()  # it writes nothing


def json_lines(text: str) -> list[dict[str, Any]]:
    """Every --json output is JSON Lines: one object per line, nothing else."""
    objects = [orjson.loads(line) for line in text.splitlines()]
    assert objects and all(isinstance(item, dict) for item in objects), text[:200]
    return objects


def test_fields_json_of_an_odoo_model_says_what_the_pass_follows(tmp_path: Path,
                                                                 odoo: Emulator) -> None:
    env = environment(tmp_path, odoo)
    result = syncd(tmp_path, env, "fields", "product.product", "--json")
    assert result.returncode == 0, result.stderr
    fields: list[dict[str, Any]] = json_lines(result.stdout)
    by_name = {f["field"]: f for f in fields}
    assert set(by_name) == set(odoo.db.execute("product.product", "fields_get", [], {}))
    assert all(f["model"] == "product.product" for f in fields)
    assert by_name["default_code"] == {"model": "product.product", "field": "default_code",
                                       "type": "char", "stored": True, "configured": True,
                                       "seen": "own write_date", "note": None}
    assert by_name["lst_price"]["seen"] == "not seen" and not by_name["lst_price"]["stored"]
    # A template write moves its variants' write_date (docs/odoo-api.md §10): the variant's own
    # window sees the template fields, and nothing is followed.
    moved = {f["field"] for f in fields if f["configured"]
             and f["seen"] == "own write_date (Odoo moves it when product.template changes)"}
    assert moved == {"name", "list_price", "categ_id"}
    assert not any(f["seen"].startswith("via ") for f in fields)
    # The pass follows exactly what it says: the same rule decided both.
    assert syncd(tmp_path, env, "once").returncode == 0
    state = orjson.loads((tmp_path / "data" / "last_sync.json").read_bytes())
    assert state["models"]["products"]["parents"] == []


def test_fields_of_a_model_showing_a_parent_it_does_not_follow_by_itself(
        tmp_path: Path, odoo: Emulator) -> None:
    """res.users shows its res.partner's name (_inherits) and its write_date stays when the
    partner is renamed: `fields` says the pass goes via res.partner, and the pass does."""
    (tmp_path / "syncd.toml").write_text('[models.users]\nmodel = "res.users"\n'
                                         'fields = ["name", "login", "write_date"]\n')
    env = environment(tmp_path, odoo)
    result = syncd(tmp_path, env, "fields", "users", "--json")
    assert result.returncode == 0, result.stderr
    by_name = {f["field"]: f for f in json_lines(result.stdout)}
    assert by_name["name"]["seen"] == "via res.partner" and not by_name["name"]["stored"]
    assert by_name["login"]["seen"] == "own write_date"
    assert syncd(tmp_path, env, "once").returncode == 0
    state = orjson.loads((tmp_path / "data" / "last_sync.json").read_bytes())
    parents = state["models"]["users"]["parents"]
    assert [(p["model"], p["fields"]) for p in parents] == [("res.partner", ["name"])]


def test_fields_lists_a_configured_field_this_odoo_lacks(tmp_path: Path, odoo: Emulator) -> None:
    (tmp_path / "syncd.toml").write_text('[models.people]\nmodel = "res.partner"\n'
                                         'fields = ["name", "emial"]\n')
    env = environment(tmp_path, odoo)
    text = syncd(tmp_path, env, "fields", "people")
    assert text.returncode == 0, text.stderr
    assert rows_of(text.stdout)["emial"] == [
        "*", "-", "-", "no such field on this Odoo (did you mean email?); left out"]
    data = json_lines(syncd(tmp_path, env, "fields", "people", "--json").stdout)
    assert data[1] == {"model": "res.partner", "field": "emial", "type": None, "stored": None,
                       "configured": True, "seen": "missing",
                       "note": "no such field on this Odoo (did you mean email?); left out"}


def test_an_unknown_model_is_one_line_naming_it_exit_1(tmp_path: Path, odoo: Emulator) -> None:
    for args in (["fields", "res.partnr"], ["fields", "res.partnr", "--json"]):
        result = syncd(tmp_path, environment(tmp_path, odoo), *args)
        assert result.returncode == 1
        line = one_error_line(result)
        assert "'res.partnr'" in line and "customers" in line
        assert result.stdout == ""
    (tmp_path / "syncd.toml").write_text('[models.stock]\nmodel = "stock.quant"\n'
                                         'fields = ["quantity"]\n')
    result = syncd(tmp_path, environment(tmp_path, odoo), "fields", "stock")
    assert result.returncode == 1
    assert one_error_line(result) == ("syncd: error: stock: model 'stock.quant' does not exist "
                                      "on this Odoo (a module not installed? see 'syncd models')")


def test_models_lists_readable_models_without_wizards(tmp_path: Path, odoo: Emulator) -> None:
    env = environment(tmp_path, odoo)
    text = syncd(tmp_path, env, "models")
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[0].split() == ["MODEL", "DESCRIPTION", "CONFIGURED", "AS"]
    table = {line.split()[0]: line.split(None, 1)[1] for line in lines[1:]}
    assert table["res.partner"].split() == ["Contact", "customers"]
    assert table["res.country"].split() == ["Country", "-"]
    assert WIZARD not in table and WIZARD in odoo.db.schema  # transient: left out
    data = json_lines(syncd(tmp_path, env, "models", "--json").stdout)
    assert [m["model"] for m in data] == sorted(table)
    assert {"model": "product.product", "name": "Product Variant",
            "configured_as": ["products"]} in data
    assert not (tmp_path / "data").exists()


def test_odoo_unreachable_or_refusing_is_one_line_exit_1(tmp_path: Path, odoo: Emulator) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    down = environment(tmp_path, odoo, ODOO_URL=f"http://127.0.0.1:{port}")
    refused = environment(tmp_path, odoo, ODOO_PASSWORD=SECRET)
    for env in (down, refused):
        for args in (["models"], ["fields", "customers"]):
            result = syncd(tmp_path, env, *args)
            assert result.returncode == 1, result.stderr
            one_error_line(result)
            assert result.stdout == "" and SECRET not in result.stderr
