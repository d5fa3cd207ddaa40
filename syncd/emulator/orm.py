"""The ORM methods Odoo exposes over RPC, with its argument binding and value formatting.

Checks in Odoo's order (odoo/service/model.py): a private name ("_x") is an AccessError, an
unknown model a UserError, an unknown method an AttributeError; then the arguments bind to the
method's signature (positional or named; Odoo 16 named search's domain `args`, 17+ `domain`:
both are accepted) and a bad binding is a TypeError (422 on JSON-2). Values come back as
Odoo sends them: False for empty, [id, name] for many2one, "YYYY-MM-DD HH:MM:SS" for datetimes
(microseconds dropped), `read` silently skips deleted ids and ignores `active`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from syncd.emulator import query
from syncd.emulator.faults import bad_argument, invalid_field, private_method, unknown_method
from syncd.emulator.models import Model
from syncd.emulator.records import View
from syncd.emulator.translations import update_field_translations

if TYPE_CHECKING:
    from syncd.emulator.store import Database


class Call:
    """One RPC's model methods, bound to the database, a view and the caller's context."""

    def __init__(self, db: Database, view: View, model: Model, context: dict[str, Any],
                 uid: int) -> None:
        self.db, self.view, self.model, self.uid = db, view, model, uid
        self.active_test = bool(context.get("active_test", True))

    # read side ----------------------------------------------------------------------------
    def search(self, domain: Any = None, offset: Any = 0, limit: Any = None, order: Any = None,
               count: Any = False, args: Any = None) -> Any:
        domain = _domain(domain if domain is not None else args)
        offset, limit, order = _paging(offset, limit, order)
        if count is not False and self.db.version >= 17:  # Odoo 17 dropped search(count=)
            raise bad_argument("search() got an unexpected keyword argument 'count'", "TypeError")
        if count:
            return query.count(self.view, self.model, domain, active_test=self.active_test)
        return query.search(self.view, self.model, domain, offset=offset, limit=limit,
                            order=order, active_test=self.active_test)

    def search_count(self, domain: Any = None, limit: Any = None, args: Any = None) -> int:
        _, limit, _ = _paging(0, limit, None)
        return query.count(self.view, self.model, _domain(domain if domain is not None else args),
                           limit=limit, active_test=self.active_test)

    def search_read(self, domain: Any = None, fields: Any = None, offset: Any = 0,
                    limit: Any = None, order: Any = None, load: Any = "_classic_read",
                    **read_kwargs: Any) -> list[dict[str, Any]]:
        names = self._fields(fields)
        ids = self.search(domain if domain is not None else read_kwargs.get("args"), offset,
                          limit, order)
        return self._read(ids, names)

    def read(self, ids: Any = None, fields: Any = None, load: Any = "_classic_read") -> Any:
        return self._read(_ids(ids), self._fields(fields))

    def fields_get(self, allfields: Any = None, attributes: Any = None) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for name, item in self.model.fields.items():
            if allfields and name not in allfields:
                continue
            info = item.describe()
            if attributes:
                info = {key: value for key, value in info.items() if key in attributes}
            result[name] = info
        return result

    def name_search(self, name: Any = "", domain: Any = None, operator: Any = "ilike",
                    limit: Any = 100, args: Any = None) -> list[list[Any]]:
        base = _domain(domain if domain is not None else (args or []))
        wanted = self.view.name_search_ids(self.model.name, str(operator), name,
                                           self.active_test) if name else None
        ids = query.search(self.view, self.model, base, limit=None, active_test=self.active_test)
        chosen = [i for i in ids if wanted is None or i in wanted][: limit or None]
        return [[i, self.view.name_of(self.model.name, i)] for i in chosen]

    def check_access_rights(self, operation: Any = "read", raise_exception: Any = True) -> bool:
        return True

    # write side (each call is its own transaction, like one RPC) ---------------------------
    def create(self, vals_list: Any = None) -> Any:
        single = isinstance(vals_list, dict)
        rows = [vals_list] if single else vals_list
        if not isinstance(rows, list):
            raise bad_argument(f"Invalid values {vals_list!r}", "TypeError")
        ids = self.db.import_records(self.model.name, rows)
        return ids[0] if single else ids

    def write(self, ids: Any = None, vals: Any = None) -> bool:
        self.db.write(self.model.name, _ids(ids), vals if vals is not None else {})
        return True

    def unlink(self, ids: Any = None) -> bool:
        self.db.unlink(self.model.name, _ids(ids))
        return True

    def update_field_translations(self, ids: Any = None, field_name: Any = None,
                                  translations: Any = None) -> bool:
        return update_field_translations(self.db, self.model.name, _ids(ids), field_name,
                                         translations)

    # helpers ------------------------------------------------------------------------------
    def _fields(self, fields: Any) -> list[str]:
        if fields is None or fields is False or fields == []:
            return [name for name in self.model.fields if name != "id"]
        if isinstance(fields, str):
            fields = [fields]
        if not isinstance(fields, (list, tuple)):
            raise bad_argument(f"Invalid fields {fields!r}", "TypeError")
        for name in fields:
            if name not in self.model.fields:
                raise invalid_field(self.model.name, str(name))
        return [name for name in fields if name != "id"]

    def _read(self, ids: list[int], names: list[str]) -> list[dict[str, Any]]:
        rows = self.view.tables[self.model.name].rows
        result = []
        for record_id in ids:
            row = rows.get(record_id)
            if row is None:
                continue
            record: dict[str, Any] = {"id": record_id}
            for name in names:
                record[name] = self._shown(row, name)
            result.append(record)
        return result

    def _shown(self, row: dict[str, Any], name: str) -> Any:
        item = self.model.fields[name]
        value = self.view.value(self.model, row, name)
        if item.type == "many2one":
            if not value or item.relation is None:
                return False
            return [value, self.view.name_of(item.relation, value)]
        if item.type in ("one2many", "many2many"):
            return list(value or [])
        if isinstance(value, datetime):
            return value.strftime("%Y-%m-%d %H:%M:%S")
        if isinstance(value, date):
            return value.isoformat()
        if value is None:
            return False
        return value


def _user_lang(db: Database, view: View, uid: int) -> str:
    """The user's own language (res.users.lang, from its partner), en_US when unset."""
    row = view.tables["res.users"].rows.get(uid)
    lang = view.value(db.model("res.users"), row, "lang") if row is not None else False
    return lang if isinstance(lang, str) and lang else "en_US"


def _domain(domain: Any) -> list[Any]:
    if domain is None or domain is False:
        return []
    if not isinstance(domain, (list, tuple)):
        raise bad_argument(f"Invalid domain: {domain!r}")
    return list(domain)


def _ids(ids: Any) -> list[int]:
    if isinstance(ids, bool) or ids is None:
        raise bad_argument(f"Invalid ids {ids!r}", "TypeError")
    values = [ids] if isinstance(ids, int) else ids
    if not isinstance(values, (list, tuple)) or not all(
            type(item) is int for item in values):
        raise bad_argument(f"Invalid ids {ids!r}", "TypeError")
    return list(values)


def _paging(offset: Any, limit: Any, order: Any) -> tuple[int, int | None, str | None]:
    if offset is None or offset is False:
        offset = 0
    if limit is False or limit is None or limit == 0:
        limit = None
    if type(offset) is not int or offset < 0 or limit is not None and type(limit) is not int:
        raise bad_argument(f"Invalid offset/limit {offset!r}/{limit!r}", "TypeError")
    if order is False or order == "":
        order = None
    if order is not None and not isinstance(order, str):
        raise bad_argument(f"Invalid order {order!r}", "TypeError")
    return offset, limit, order


_PUBLIC = ("search", "search_count", "search_read", "read", "fields_get", "name_search",
           "check_access_rights", "create", "write", "unlink", "update_field_translations")


def call(db: Database, view: View, model_name: str, method: str, args: list[Any],
         kwargs: dict[str, Any], uid: int) -> Any:
    """Dispatch one `execute_kw(model, method, args, kwargs)`."""
    if not isinstance(method, str):
        raise bad_argument(f"Invalid method {method!r}", "TypeError")
    if method.startswith("_"):
        raise private_method(method)
    model = db.model(model_name)
    context = kwargs.pop("context", None) or {}
    if not isinstance(context, dict):
        raise bad_argument(f"Invalid context {context!r}", "TypeError")
    view.lang = context.get("lang") if isinstance(context.get("lang"), str) else None
    if method == "context_get" and model_name == "res.users":
        function: Callable[..., Any] = lambda: {"lang": _user_lang(db, view, uid), "tz": "UTC",
                                                "uid": uid}
    elif method in _PUBLIC:
        function = getattr(Call(db, view, model, context, uid), method)
    else:
        raise unknown_method(model_name, method)
    try:
        inspect.signature(function).bind(*args, **kwargs)
    except TypeError as exc:
        raise bad_argument(f"{model_name}.{method}() {exc}", "TypeError") from None
    return function(*args, **kwargs)
