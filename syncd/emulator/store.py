"""Database: the emulated Odoo database (models, users, committed rows) and its ORM entry.

Direct control (`create`, `write`, `import_records`, ...) runs each call as its own committed
transaction; `transaction()` opens a longer one. `execute` is the ORM as Odoo exposes it over
RPC (see orm.py). One RLock guards everything: the HTTP server is threaded.
`visits` counts rows examined by queries (see query.py for the cost model).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from syncd.emulator.clock import Clock
from syncd.emulator.faults import bad_argument, no_access, unknown_model, value_error
from syncd.emulator.literals import parse_date, parse_timestamp
from syncd.emulator.models import Model, build_schema
from syncd.emulator.records import View
from syncd.emulator.registry import ABSTRACT, add_registry, field_rows, registry_rows
from syncd.emulator.table import Row, Table
from syncd.emulator.transaction import Op, Transaction
from syncd.emulator.translations import Translations

ADMIN_UID = 2
# res.partner writes that can change other partners' stored complete_name
_RENAMES = frozenset({"name", "is_company", "parent_id"})
# res.partner._commercial_fields() of the base module: synced from a company to its contacts
_COMMERCIAL = frozenset({"vat"})
ADMIN_API_KEY = "syncd-emulator-api-key"


class Database:
    def __init__(self, name: str = "odoo", version: int = 17, clock: Clock | None = None, *,
                 admin_partner: bool = False) -> None:
        """`admin_partner`: the admin user gets its res.partner ("Mitchell Admin"), as in a
        real database; off by default so a test's partners are all the partners there are."""
        if not 16 <= version <= 19:
            raise ValueError(f"unsupported Odoo version {version} (16..19)")
        self.name = name
        self.version = version
        self.clock = clock if clock is not None else Clock()
        self.schema: dict[str, Model] = build_schema(version)
        add_registry(self.schema)  # ir.model, ir.model.fields (and a transient model)
        self.tables: dict[str, Table] = {model: Table() for model in self.schema}
        self.translations: Translations = {}
        self.lock = threading.RLock()
        self.visits = 0
        self._thread = threading.local()  # this thread's visits since its last take_visits
        self._sequences: dict[str, int] = {model: 0 for model in self.schema}
        self._secrets: dict[int, tuple[str, str, set[str]]] = {}  # uid -> (login, pw, keys)
        self._sequences["res.users"] = 1  # uid 1 is OdooBot/__system__ in Odoo
        self.add_user("admin", "admin", ADMIN_API_KEY, name="Mitchell Admin",
                      partner=admin_partner)
        models = registry_rows(self.schema)
        ids = self.import_records("ir.model", models)
        self.import_records("ir.model.fields", field_rows(
            self.schema, {str(row["model"]): id_ for row, id_ in zip(models, ids)}))

    # users ------------------------------------------------------------------------------
    def add_user(self, login: str, password: str, api_key: str | None = None, *,
                 name: str | None = None, partner: bool = False) -> int:
        """A login user. With `partner`, it gets its own res.partner, as every Odoo user has
        (res.users `_inherits` res.partner: name, email and lang live there). Without, its
        name is kept on the user row, so the partners a test creates are all there is."""
        with self.transaction() as tx:
            uid = self.next_id("res.users")
            if partner:
                partner_id = self.next_id("res.partner")
                tx.stage_rows("res.partner", [{"id": partner_id, "name": name or login}])
                tx.stage_rows("res.users", [{"id": uid, "login": login, "partner_id": partner_id}])
            else:
                tx.stage_rows("res.users", [{"id": uid, "login": login, "name": name or login}])
        self._secrets[uid] = (login, password, {api_key} if api_key else set())
        return uid

    def set_password(self, uid: int, password: str) -> None:
        """The user changes its password (its API keys stay)."""
        with self.lock:
            login, _, keys = self._secrets[uid]
            self._secrets[uid] = (login, password, keys)

    def authenticate(self, login: str, secret: str) -> int | None:
        with self.lock:
            for uid, (known, _, _) in self._secrets.items():
                if known == login and self.check_credentials(uid, secret):
                    return uid
        return None

    def check_credentials(self, uid: int, secret: str) -> bool:
        with self.lock:
            entry = self._secrets.get(uid)
            row = self.tables["res.users"].rows.get(uid)
            if entry is None or row is None or row.get("active") is False:
                return False
            return bool(secret) and (secret == entry[1] or secret in entry[2])

    def uid_for_api_key(self, key: str) -> int | None:
        with self.lock:
            for uid, (_, _, keys) in self._secrets.items():
                if key in keys and self.check_credentials(uid, key):
                    return uid
        return None

    # direct control -----------------------------------------------------------------------
    def transaction(self) -> Transaction:
        """A transaction stamped now; use as a context manager or commit()/rollback()."""
        return Transaction(self)

    def create(self, model: str, values: dict[str, Any]) -> int:
        with self.transaction() as tx:
            return tx.create(model, values)

    def import_records(self, model: str, rows: list[dict[str, Any]]) -> list[int]:
        """Create all rows in ONE transaction: they share one write_date (docs/odoo-api.md §4)."""
        with self.transaction() as tx:
            return tx.import_records(model, rows)

    def write(self, model: str, ids: int | Iterable[int], values: dict[str, Any]) -> None:
        with self.transaction() as tx:
            tx.write(model, ids, values)

    def unlink(self, model: str, ids: int | Iterable[int]) -> None:
        with self.transaction() as tx:
            tx.unlink(model, ids)

    def archive(self, model: str, ids: int | Iterable[int]) -> None:
        self.write(model, ids, {"active": False})

    def unarchive(self, model: str, ids: int | Iterable[int]) -> None:
        self.write(model, ids, {"active": True})

    def next_id(self, model: str) -> int:
        with self.lock:
            self.model(model)
            self._sequences[model] += 1
            return self._sequences[model]

    def reset_visits(self) -> None:
        self.visits = 0

    def take_visits(self) -> int:
        """Rows examined by this thread's calls since it last asked (what one request cost)."""
        taken: int = getattr(self._thread, "visits", 0)
        self._thread.visits = 0
        return taken

    def model(self, name: str) -> Model:
        found = self.schema.get(name) if isinstance(name, str) else None
        if found is None and isinstance(name, str) and name in ABSTRACT:
            raise no_access(name, ABSTRACT[name])
        if found is None:
            raise unknown_model(str(name))
        return found

    def table(self, name: str) -> Table:
        self.model(name)
        return self.tables[name]

    def view(self) -> View:
        return View(self.schema, self.tables, self.version, self.translations)

    def execute(self, model: str, method: str, args: list[Any], kwargs: dict[str, Any], *,
                uid: int = ADMIN_UID) -> Any:
        """Run an ORM method as `execute_kw` would; raises OdooFault."""
        from syncd.emulator.orm import call
        with self.lock:
            view = self.view()
            try:
                return call(self, view, model, method, list(args), dict(kwargs or {}), uid)
            finally:
                self.visits += view.visits
                self._thread.visits = getattr(self._thread, "visits", 0) + view.visits

    # staging (called by Transaction) -------------------------------------------------------
    def prepare_rows(self, model_name: str, rows: list[dict[str, Any]], tx: Transaction) -> \
            list[Row]:
        model = self.model(model_name)
        staged: list[Row] = []
        parents: list[Row] = []
        for values in rows:
            own, inherited = self._split(model, values)
            if model.inherits is not None and not own.get(model.inherits[1]):
                parent_model = self.schema[model.inherits[0]]
                parent = self._convert(parent_model, inherited)
                parent["id"] = self.next_id(parent_model.name)
                parents.append(parent)
                own[model.inherits[1]] = parent["id"]
            elif model.inherits is not None and inherited:
                tx.stage_write(model.inherits[0], [own[model.inherits[1]]], inherited)
            row = self._convert(model, own)
            row["id"] = self.next_id(model_name)
            staged.append(row)
        if parents:
            tx.stage_rows(self.schema[model.inherits[0]].name if model.inherits else "", parents)
        tx.stage_rows(model_name, staged)
        return staged

    def prepare_write(self, model_name: str, ids: list[int], values: dict[str, Any],
                      tx: Transaction) -> None:
        model = self.model(model_name)
        own, inherited = self._split(model, values)
        if inherited and model.inherits is not None:
            with self.lock:
                rows = self.tables[model_name].rows
                parents = sorted({rows[i][model.inherits[1]] for i in ids
                                  if rows.get(i, {}).get(model.inherits[1])})
            tx.stage_write(model.inherits[0], parents, inherited)
        tx.stage_write(model_name, ids, self._convert(model, own))

    def _split(self, model: Model, values: dict[str, Any]) -> tuple[dict[str, Any],
                                                                     dict[str, Any]]:
        if not isinstance(values, dict):
            raise bad_argument(f"Invalid values {values!r}", "TypeError")
        own: dict[str, Any] = {}
        inherited: dict[str, Any] = {}
        for name, value in values.items():
            item = model.fields.get(name)
            if item is None:
                raise value_error(f"Invalid field {name!r} on model {model.name!r}")
            (inherited if item.inherited_from else own)[name] = value
        return own, inherited

    def _convert(self, model: Model, values: dict[str, Any]) -> Row:
        """Values as rows hold them; computed and magic fields are refused."""
        row: Row = {}
        for name, value in values.items():
            item = model.fields[name]
            if not (item.store or item.company_dependent) or item.computed or name in ("id", "create_date", "write_date") \
                    or item.type == "one2many":
                raise value_error(f"Field {name!r} of {model.name} cannot be written here")
            if value is None or value is False and item.type != "boolean":
                row[name] = False
            elif item.type == "datetime" and isinstance(value, str):
                row[name] = parse_timestamp(value, "=", 16)[0]
            elif item.type == "date" and isinstance(value, (str, datetime)):
                row[name] = parse_date(value)
            elif item.type == "many2many":
                row[name] = _many2many_ids(value)
            elif item.type == "boolean":
                row[name] = bool(value)
            elif item.type == "many2one":
                row[name] = int(value[0] if isinstance(value, (list, tuple)) else value)
            else:
                row[name] = value
        return row

    def apply(self, ops: list[Op], stamp: datetime) -> None:
        """Commit staged operations; every row they touch carries `stamp`."""
        with self.lock:
            for kind, model_name, payload, values in ops:
                table = self.tables[model_name]
                if kind == "create":
                    for row in payload:
                        row["create_date"] = row["write_date"] = stamp
                        if "category_id" in row:
                            row["category_id"] = _apply_commands([], row["category_id"])
                    table.insert_many(payload)
                elif kind == "write":
                    self._apply_write(model_name, payload, values, stamp)
                else:
                    self._apply_unlink(model_name, payload, stamp)

    def _apply_write(self, model_name: str, ids: list[int], values: dict[str, Any],
                     stamp: datetime) -> None:
        table = self.tables[model_name]
        before: dict[int, Any] = {}
        if model_name == "res.partner" and _RENAMES.intersection(values):
            before = self._contact_names(ids)
        for record_id in ids:
            row = table.rows.get(record_id)
            if row is None:
                continue  # deleted meanwhile
            changes = {**values, "write_date": stamp}
            if "category_id" in values:  # many2many commands apply to the current list
                changes["category_id"] = _apply_commands(row.get("category_id", []),
                                                         values["category_id"])
            table.update(record_id, changes)
        if model_name == "product.template":
            wanted = set(ids)
            variants = [row["id"] for row in self.tables["product.product"].rows.values()
                        if row.get("product_tmpl_id") in wanted]
            if "active" in values:
                # product.template.write archives/unarchives its variants too (a variant write)
                self._apply_write("product.product", variants, {"active": values["active"]},
                                  stamp)
            # product.product.write_date is a stored compute on product_tmpl_id.write_date:
            # max(own, template's), so every variant of a written template moves too
            # (addons/product/models/product_product.py _compute_write_date;
            # docs/odoo-api.md §10).
            variant_table = self.tables["product.product"]
            for variant in variants:
                own = variant_table.rows[variant]["write_date"]
                variant_table.update(variant, {"write_date": max(own, stamp)})
        if model_name == "res.partner" and _RENAMES.intersection(values):
            self._recompute_complete_names(before, stamp)
        if model_name == "res.partner" and (self.version >= 18 or _COMMERCIAL.intersection(values)):
            self._sync_children(ids, {k: v for k, v in values.items() if k in _COMMERCIAL}, stamp)

    def _sync_children(self, ids: list[int], commercial: dict[str, Any], stamp: datetime) -> None:
        """res.partner `_children_sync` (odoo/addons/base/models/res_partner.py): a write to a
        commercial entity (a company, or a partner without a parent) writes its commercial
        fields to its contacts, recursively. On 17 only when a commercial field is in the
        write; on 18 `_commercial_sync_to_children` runs on every write to it, and its
        `write(values)` stamps the contacts even when nothing changes (seen on 18)."""
        table = self.tables["res.partner"]
        children: dict[int, list[int]] = {}
        for row in table.rows.values():
            if row.get("parent_id"):
                children.setdefault(row["parent_id"], []).append(row["id"])
        frontier = [i for i in ids if i in table.rows
                    and (table.rows[i].get("is_company") or not table.rows[i].get("parent_id"))]
        seen: set[int] = set(frontier)
        while frontier:
            for child in children.get(frontier.pop(), []):
                if child in seen or table.rows[child].get("is_company"):
                    continue  # a sub-company is its own commercial entity
                seen.add(child)
                table.update(child, {**commercial, "write_date": stamp})
                frontier.append(child)

    def _contact_names(self, ids: list[int]) -> dict[int, Any]:
        """The complete names of every descendant (parent_id) of the partners `ids`."""
        rows = self.tables["res.partner"].rows
        children: dict[int, list[int]] = {}
        for row in rows.values():
            parent = row.get("parent_id")
            if parent:
                children.setdefault(parent, []).append(row["id"])
        found: set[int] = set()
        frontier = [i for i in ids if i in children]
        while frontier:
            for child in children.get(frontier.pop(), []):
                if child not in found:
                    found.add(child)
                    frontier.append(child)
        view = self.view()
        return {i: view.name_of("res.partner", i) for i in found}

    def _recompute_complete_names(self, before: dict[int, Any], stamp: datetime) -> None:
        """res.partner.complete_name is a stored compute (is_company, name, parent_id.name,
        commercial_company_name): the contacts whose name changed are rewritten by Odoo's
        flush, and `_write_multi` stamps them too (odoo/models.py; docs/odoo-api.md §9)."""
        table = self.tables["res.partner"]
        view = self.view()
        for record_id, name in before.items():
            row = table.rows.get(record_id)
            if row is not None and view.name_of("res.partner", record_id) != name:
                table.update(record_id, {"write_date": stamp})

    def _apply_unlink(self, model_name: str, ids: list[int], stamp: datetime) -> None:
        table = self.tables[model_name]
        if model_name == "res.partner":
            # parent_id is ON DELETE SET NULL: the contacts' complete_name is recomputed and
            # they are stamped (seen on 17 and 18: a company unlink moves their write_date)
            gone = set(ids)
            for row in table.rows.values():
                if row.get("parent_id") in gone and row["id"] not in gone:
                    table.update(row["id"], {"parent_id": False, "write_date": stamp})
        if model_name == "product.template":
            wanted = set(ids)
            variants = [row["id"] for row in self.tables["product.product"].rows.values()
                        if row.get("product_tmpl_id") in wanted]
            self._apply_unlink("product.product", variants, stamp)
        templates: set[int] = {table.rows[i]["product_tmpl_id"] for i in ids
                               if i in table.rows} if model_name == "product.product" else set()
        for record_id in ids:
            table.delete(record_id)
        if templates:
            # product.product.unlink removes templates left without variants
            used = {row.get("product_tmpl_id") for row in table.rows.values()}
            for template in templates - used:
                self.tables["product.template"].delete(template)


def _many2many_ids(value: Any) -> Any:
    """A plain id list, or commands kept for apply time ((6,0,ids), (4,id), (3,id), (5,))."""
    if not isinstance(value, (list, tuple)):
        raise bad_argument(f"Invalid many2many value {value!r}")
    if all(type(item) is int for item in value):
        return list(value)
    return [tuple(item) for item in value]


def _apply_commands(current: list[int], value: Any) -> list[int]:
    if all(type(item) is int for item in value):
        return list(value)
    result = list(current)
    for command in value:
        code = command[0]
        if code == 6:
            result = list(command[2])
        elif code == 4 and command[1] not in result:
            result.append(command[1])
        elif code == 3 and command[1] in result:
            result.remove(command[1])
        elif code == 5:
            result = []
    return result


__all__ = ["ADMIN_API_KEY", "ADMIN_UID", "Database", "Transaction"]
