"""`syncd fields MODEL` and `syncd models` against the emulator over HTTP: the real command for
each command's answer and its exit 1, the command line run in this process (tests/in_process.py)
for the rest."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import orjson

from syncd.emulator import Emulator
from syncd.emulator.registry import ABSTRACT, WIZARD
from tests.in_process import cli
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
    assert rows["display_name"] == [" ", "char", "no",
                                    "own write_date (computed from its stored fields)"]
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
    result = cli(tmp_path, env, "fields", "product.product", "--json")
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
    assert cli(tmp_path, env, "once").returncode == 0
    state = orjson.loads((tmp_path / "data" / "last_sync.json").read_bytes())
    assert state["models"]["products"]["parents"] == []


def test_fields_of_a_model_showing_a_parent_it_does_not_follow_by_itself(
        tmp_path: Path, odoo: Emulator) -> None:
    """res.users shows its res.partner's name (_inherits) and its write_date stays when the
    partner is renamed: `fields` says the pass goes via res.partner, and the pass does."""
    (tmp_path / "syncd.toml").write_text('[models.users]\nmodel = "res.users"\n'
                                         'fields = ["name", "login", "write_date"]\n')
    env = environment(tmp_path, odoo)
    result = cli(tmp_path, env, "fields", "users", "--json")
    assert result.returncode == 0, result.stderr
    by_name = {f["field"]: f for f in json_lines(result.stdout)}
    assert by_name["name"]["seen"] == "via res.partner" and not by_name["name"]["stored"]
    assert by_name["login"]["seen"] == "own write_date"
    assert cli(tmp_path, env, "once").returncode == 0
    state = orjson.loads((tmp_path / "data" / "last_sync.json").read_bytes())
    parents = state["models"]["users"]["parents"]
    assert [(p["model"], p["fields"]) for p in parents] == [("res.partner", ["name"])]


def _fields_json(tmp_path: Path, env: dict[str, str], name: str) -> dict[str, dict[str, Any]]:
    result = cli(tmp_path, env, "fields", name, "--json")
    assert result.returncode == 0, result.stderr
    return {f["field"]: f for f in json_lines(result.stdout)}


def _settle(where: Path, env: dict[str, str], em: Emulator) -> None:
    """Two passes an hour apart on Odoo's clock: the rows written so far are then older than
    the window every pass re-reads, so only a moved write_date brings one back."""
    assert cli(where, env, "once").returncode == 0
    em.db.clock.advance(3600)
    assert cli(where, env, "once").returncode == 0


def _snapshot(tmp_path: Path, name: str) -> dict[int, dict[str, Any]]:
    return {r["id"]: r for r in orjson.loads((tmp_path / "data" / f"odoo_{name}.json").read_bytes())}


def test_a_parent_field_that_is_itself_not_stored_is_not_seen(tmp_path: Path,
                                                               odoo: Emulator) -> None:
    """product.product.uom_name shows product.template.uom_name, itself a non-stored
    uom_id.name: a unit renamed moves no stamp (seen on 17 and 18), and `fields` says so."""
    unit = odoo.db.create("uom.uom", {"name": "Units"})
    odoo.db.write("product.template", list(odoo.db.tables["product.template"].rows),
                  {"uom_id": unit})
    (tmp_path / "syncd.toml").write_text('[models.products]\nmodel = "product.product"\n'
                                         'fields = ["name", "uom_name"]\n')
    env = environment(tmp_path, odoo)
    by_name = _fields_json(tmp_path, env, "products")
    assert by_name["uom_name"]["seen"] == "not seen"
    assert "product.template.uom_name is not stored" in by_name["uom_name"]["note"]
    assert by_name["name"]["seen"] == ("own write_date (Odoo moves it when product.template "
                                       "changes)")
    # on the template itself it is one link away from uom.uom: the pass follows that
    template = _fields_json(tmp_path, env, "product.template")
    assert template["uom_name"]["seen"] == "via uom.uom"
    # the pass does what `fields` says: it follows nothing, and the rename is not seen once
    # the products are older than the lookback window every pass re-reads
    _settle(tmp_path, env, odoo)
    odoo.db.write("uom.uom", [unit], {"name": "Pieces"})
    assert cli(tmp_path, env, "once").returncode == 0
    state = orjson.loads((tmp_path / "data" / "last_sync.json").read_bytes())
    assert state["models"]["products"]["parents"] == []
    assert {r["uom_name"] for r in _snapshot(tmp_path, "products").values()} == {"Units"}


def test_template_computes_shown_on_variants_are_not_seen(tmp_path: Path,
                                                          odoo: Emulator) -> None:
    """weight_uom_name, volume_uom_name (from a system parameter) and product_variant_count
    are non-stored computes of product.template: a variant shows them through _inherits, and
    no change of theirs moves a stamp."""
    names = ["weight_uom_name", "volume_uom_name", "product_variant_count"]
    (tmp_path / "syncd.toml").write_text('[models.products]\nmodel = "product.product"\n'
                                         f'fields = {orjson.dumps(["name", *names]).decode()}\n')
    env = environment(tmp_path, odoo)
    by_name = _fields_json(tmp_path, env, "products")
    for name in names:
        assert by_name[name]["seen"] == "not seen", name
        assert by_name[name]["stored"] is False
        assert f"product.template.{name} is not stored" in by_name[name]["note"]
    assert cli(tmp_path, env, "once").returncode == 0
    values = {(r["weight_uom_name"], r["volume_uom_name"], r["product_variant_count"])
              for r in _snapshot(tmp_path, "products").values()}
    assert values == {("kg", "m³", 1)}


def test_company_dependent_fields_are_seen_on_17_and_18(tmp_path: Path) -> None:
    """res.partner.barcode and product.product.standard_price: `store: False` on 17 (kept in
    ir.property) yet a write moves write_date, and the next pass picks it up."""
    for version in (17, 18):
        where = tmp_path / str(version)
        where.mkdir()
        with Emulator(version) as em:
            who = em.db.create("res.partner", {"name": "A", "barcode": "111"})
            (where / "syncd.toml").write_text('[models.people]\nmodel = "res.partner"\n'
                                              'fields = ["name", "barcode"]\n')
            env = environment(where, em)
            by_name = _fields_json(where, env, "people")
            assert by_name["barcode"]["seen"] == "own write_date"
            assert by_name["barcode"]["stored"] is (version >= 18)
            cost = _fields_json(where, env, "product.product")["standard_price"]
            assert cost["seen"] == "own write_date"
            _settle(where, env, em)
            em.db.write("res.partner", [who], {"barcode": "222"})
            assert cli(where, env, "once").returncode == 0
            assert _snapshot(where, "people")[who]["barcode"] == "222"


def test_a_company_rename_or_unlink_refreshes_its_contacts(tmp_path: Path,
                                                           odoo: Emulator) -> None:
    """Renaming (or deleting) a company recomputes its contacts' stored complete_name, which
    stamps them: parent_id and commercial_partner_id names stay fresh, and `fields` says so."""
    company = odoo.db.create("res.partner", {"name": "Acme", "is_company": True})
    contact = odoo.db.create("res.partner", {"name": "Ann", "parent_id": company})
    (tmp_path / "syncd.toml").write_text(
        '[models.people]\nmodel = "res.partner"\n'
        'fields = ["name", "parent_id", "commercial_partner_id", "display_name"]\n')
    env = environment(tmp_path, odoo)
    by_name = _fields_json(tmp_path, env, "people")
    for name in ("parent_id", "commercial_partner_id"):
        assert by_name[name]["seen"] == "own write_date" and by_name[name]["note"] is None
    assert by_name["country_id"]["note"].endswith("res.country is renamed")
    assert by_name["display_name"]["seen"] == "own write_date (computed from its stored fields)"
    _settle(tmp_path, env, odoo)
    odoo.db.write("res.partner", [company], {"name": "Acme Corp"})
    assert cli(tmp_path, env, "once").returncode == 0
    row = _snapshot(tmp_path, "people")[contact]
    assert row["parent_id"] == [company, "Acme Corp"]
    assert row["commercial_partner_id"] == [company, "Acme Corp"]
    assert row["display_name"] == "Acme Corp, Ann"
    odoo.db.clock.advance(3600)
    assert cli(tmp_path, env, "once").returncode == 0
    odoo.db.unlink("res.partner", [company])
    assert cli(tmp_path, env, "once").returncode == 0
    row = _snapshot(tmp_path, "people")[contact]
    assert row["parent_id"] is False and row["display_name"] == "Ann"


def test_fields_lists_a_configured_field_this_odoo_lacks(tmp_path: Path, odoo: Emulator) -> None:
    (tmp_path / "syncd.toml").write_text('[models.people]\nmodel = "res.partner"\n'
                                         'fields = ["name", "emial"]\n')
    env = environment(tmp_path, odoo)
    text = cli(tmp_path, env, "fields", "people")
    assert text.returncode == 0, text.stderr
    assert rows_of(text.stdout)["emial"] == [
        "*", "-", "-", "no such field on this Odoo (did you mean email?); left out"]
    data = json_lines(cli(tmp_path, env, "fields", "people", "--json").stdout)
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
    listed = {row["model"] for row in odoo.db.execute("ir.model", "search_read", [[]],
                                                      {"fields": ["model"]})}
    assert set(ABSTRACT) <= listed  # ir.model has rows for abstract models, as in Odoo
    assert not set(ABSTRACT) & set(table)  # no table, no write_date: left out
    data = json_lines(syncd(tmp_path, env, "models", "--json").stdout)
    assert [m["model"] for m in data] == sorted(table)
    assert {"model": "product.product", "name": "Product Variant",
            "configured_as": ["products"]} in data
    assert not (tmp_path / "data").exists()


def test_odoo_unreachable_or_refusing_is_one_line_exit_1(tmp_path: Path, odoo: Emulator) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    # A refused connection is retried within the retry budget before it fails (the default
    # budget's exit 1 is tests/test_cli.py's): one second of retries, not the default's backoff.
    (tmp_path / "syncd.toml").write_text("[odoo]\nretry_budget = 1\n")
    down = environment(tmp_path, odoo, ODOO_URL=f"http://127.0.0.1:{port}")
    refused = environment(tmp_path, odoo, ODOO_PASSWORD=SECRET)
    for env in (down, refused):
        for args in (["models"], ["fields", "customers"]):
            result = cli(tmp_path, env, *args)
            assert result.returncode == 1, result.stderr
            one_error_line(result)
            assert result.stdout == "" and SECRET not in result.stderr
