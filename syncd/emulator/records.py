"""A read view of the committed data: field values, display names, sub-searches.

Resolves what rows do not hold: defaults, `_inherits` fields (a product.product reads name,
list_price ... from its template row), one2many lists (from the comodel's many2one), dangling
many2one (a deleted target reads as False, as ON DELETE SET NULL leaves it) and computed
names (res.partner "Company, Contact", product.category "All / Saleable",
product.product "[SKU] Name"). One View serves one call; `visits` counts rows it examined.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from syncd.emulator.domain import compile_domain
from syncd.emulator.models import Field, Model, default_of
from syncd.emulator.table import Row, Table
from syncd.emulator.translations import Translations, translated

# product.template's unit labels, read from system parameters (product.weight_in_lbs,
# product.volume_in_cubic_feet) that a database has unset
_UNIT_LABELS = {"weight_uom_name": "kg", "volume_uom_name": "m³"}


class View:
    """`lang`: the language translatable values are read in (the call's context), None: en_US."""

    def __init__(self, schema: dict[str, Model], tables: dict[str, Table], version: int,
                 translations: Translations | None = None) -> None:
        self.models = schema
        self.tables = tables
        self.version = version
        self.translations: Translations = translations if translations is not None else {}
        self.lang: str | None = None
        self.visits = 0
        self._inverse: dict[tuple[str, str], dict[int, list[int]]] = {}

    def schema(self, model: str) -> Model:
        return self.models[model]

    # values -----------------------------------------------------------------------------
    def value(self, model: Model, row: Row, name: str) -> Any:
        if name in row:
            item = model.fields[name]
            found = row[name]
            if item.type == "many2one" and found and found not in self.tables[item.relation or
                                                                               ""].rows:
                return False
            if item.translate:
                return translated(self.translations, model.name, name, row["id"], self.lang,
                                  found)
            return found
        item = model.fields[name]
        if item.inherited_from is not None and model.inherits is not None:
            link = row.get(model.inherits[1]) or 0  # the built-in admin user has no partner
            parent_row = self.tables[model.inherits[0]].rows.get(link)
            if parent_row is None:
                return default_of(model, item)
            return self.value(self.models[model.inherits[0]], parent_row, name)
        if not item.store or item.computed or item.type == "one2many":
            return self._computed(model, row, item)
        return default_of(model, item)

    def _computed(self, model: Model, row: Row, item: Field) -> Any:
        name = item.name
        if item.related:
            link, _, shown = item.related.partition(".")
            relation = model.fields[link].relation or ""
            target = self.tables[relation].rows.get(self.value(model, row, link) or 0)
            if target is None:
                return default_of(model, item)
            return self.value(self.models[relation], target, shown)
        if name == "commercial_partner_id":
            return self._commercial(row)["id"]
        if name == "commercial_company_name":
            commercial = self._commercial(row)
            return commercial.get("name", False) if commercial.get("is_company") else \
                row.get("company_name", False)
        if name in ("display_name", "complete_name"):
            return self.display_name(model.name, row)
        if item.type == "one2many":
            return self._children(item.relation or "", item.inverse or "").get(row["id"], [])
        if name == "company_type":
            return "company" if self.value(model, row, "is_company") else "person"
        if name == "lst_price":
            return self.value(model, row, "list_price")
        if name in _UNIT_LABELS:  # Odoo's defaults, without the lbs / ft³ system parameters
            return _UNIT_LABELS[name]
        if name == "product_variant_count":
            return len(self.value(model, row, "product_variant_ids"))
        return default_of(model, item)

    def _children(self, comodel: str, inverse: str) -> dict[int, list[int]]:
        key = (comodel, inverse)
        if key not in self._inverse:
            children: dict[int, list[int]] = defaultdict(list)
            for child in self.tables[comodel].rows.values():
                parent = child.get(inverse)
                # x2many reads and searches hide archived records (active_test)
                if parent and child.get("active", True):
                    children[parent].append(child["id"])
            self._inverse[key] = children
        return self._inverse[key]

    def display_name(self, model_name: str, row: Row) -> str | bool:
        model = self.models[model_name]
        name = self.value(model, row, "name") if "name" in model.fields else False
        if model_name == "product.product":
            code = row.get("default_code")
            return f"[{code}] {name}" if code else name
        if model.parent_name and model_name != "res.partner.category":
            parent = self.tables[model_name].rows.get(row.get(model.parent_name) or 0)
            if parent is not None:
                if model_name == "res.partner":
                    if row.get("is_company") or not name:
                        return name or self.display_name(model_name, parent)
                    return f"{self._commercial_name(parent)}, {name}"
                return f"{self.display_name(model_name, parent)} / {name}"
        return name if name else False

    def _commercial_name(self, partner: Row) -> Any:
        return self._commercial(partner).get("name", False)

    def _commercial(self, partner: Row) -> Row:
        """The commercial entity: the partner itself if a company, else its parents' up to one."""
        rows = self.tables["res.partner"].rows
        seen = 0
        while not partner.get("is_company") and partner.get("parent_id") in rows and seen < 64:
            partner = rows[partner["parent_id"]]
            seen += 1
        return partner

    def name_of(self, model_name: str, record_id: int) -> str | bool:
        row = self.tables[model_name].rows.get(record_id)
        return self.display_name(model_name, row) if row is not None else False

    # searches used while compiling domains ------------------------------------------------
    def search_ids(self, model: str, domain: list[Any], active_test: bool) -> set[int]:
        compiled = compile_domain(self, self.models[model], domain, active_test)
        rows = self.tables[model].rows.values()
        self.visits += len(rows)
        return {row["id"] for row in rows if compiled.test(row)}

    def name_search_ids(self, model: str, operator: str, right: Any,
                        active_test: bool) -> set[int]:
        """Records whose display name matches (Odoo's _name_search for many2one leaves)."""
        domain: list[Any] = [("display_name", operator, right)]
        if model in ("product.product", "product.template") and operator in ("ilike", "like"):
            domain = ["|", ("default_code", operator, right), ("name", operator, right)]
        return self.search_ids(model, domain, active_test)

    def hierarchy(self, model: str, ids: set[int], operator: str) -> set[int]:
        """`ids` with all their descendants (child_of) or ancestors (parent_of)."""
        parent_name = self.models[model].parent_name
        rows = self.tables[model].rows
        result = {record_id for record_id in ids if record_id in rows}
        if parent_name is None:
            return result
        if operator == "parent_of":
            frontier = list(result)
            while frontier:
                parent = rows[frontier.pop()].get(parent_name)
                if parent and parent in rows and parent not in result:
                    result.add(parent)
                    frontier.append(parent)
            return result
        children = self._children(model, parent_name)
        frontier = list(result)
        while frontier:
            for child in children.get(frontier.pop(), []):
                if child not in result:
                    result.add(child)
                    frontier.append(child)
        return result
