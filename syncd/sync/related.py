"""Values a model shows from another model's rows, and how a pass notices when they change.

A record's ``write_date`` moves when its own row is written, not when a value it only shows
changes on another row (docs/odoo-api.md §10, §11). res.users reads ``name`` and ``email`` from
its res.partner (``_inherits``): renaming the partner leaves the user's ``write_date`` alone, so
a sync watching the users alone keeps the old name for ever. fields_get describes such a field
as ``related`` (``"partner_id.name"``) and not stored; for each many2one such fields go
through, the pass also reads the parent model's own change window (the fields shown plus
``write_date``, by id keyset) and re-reads the records whose parent changed. A digest per parent
row, kept like the records' own, makes an idle pass one more small request per parent model and
no re-read.

Not followed: a link Odoo already follows itself. product.product's ``write_date`` is a stored
compute on ``product_tmpl_id.write_date`` (addons/product/models/product_product.py
``_compute_write_date``), so a template write moves its variants' stamps and the variants' own
window sees it. fields_get reports that as the ``depends`` of ``write_date``
(odoo/fields.py ``_description_depends``); a link ``L`` with ``L.write_date`` in it needs no
following.

Followed: one level (``link.field``), and only where the parent's own field moves the parent's
``write_date`` (``hidden_at``, asked of the parent's fields_get, recursively through links Odoo
follows itself): product.product's ``uom_name`` is ``product_tmpl_id.uom_name``, and the
template's is itself a non-stored ``uom_id.name``, so renaming a unit of measure moves no
stamp at all (seen on 17 and 18). Deeper paths (``partner_id.country_id.code``), non-stored
computed fields and most many2one display names remain invisible to any ``write_date`` sync.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from syncd.sync.state import Parent
from syncd.sync.digests import Digests, row_mark

# the fields_get attributes this needs
DESCRIBE = ["type", "relation", "related", "store", "depends", "company_dependent"]

Described = dict[str, dict[str, Any]]
Describe = Callable[[str], Described]  # a model's fields_get(DESCRIBE)
_DEPTH = 4  # related chains longer than this are taken as hidden


def moves_stamp(info: dict[str, Any]) -> bool:
    """Whether writing the field moves its record's ``write_date``: a stored field, or a
    company-dependent one (Odoo 17 keeps those in ir.property and reports ``store: False``,
    yet ``write()`` stamps the record; Odoo 18 stores them as JSONB)."""
    return bool(info.get("store", True) or info.get("company_dependent"))


def hidden_at(model: str, name: str, describe: Describe, depth: int = 0) -> str | None:
    """None when every change of ``model.name`` moves ``model``'s own ``write_date``; else the
    ``model.field`` whose changes move no stamp. A stored field moves it; a one-link related
    field does only through a link Odoo itself follows (``model``'s ``write_date`` depends on
    ``link.write_date``), and then only if the parent's field moves the parent's stamp
    (asked of the parent, recursively)."""
    described = describe(model)
    info = described.get(name) or {}
    if moves_stamp(info) and info.get("type") != "one2many":
        return None
    path = info.get("related")
    if isinstance(path, str) and path.count(".") == 1 and depth < _DEPTH:
        link, _, shown = path.partition(".")
        relation = (described.get(link) or {}).get("relation")
        if link in _stamp_follows(described) and isinstance(relation, str):
            return hidden_at(relation, shown, describe, depth + 1)
    return f"{model}.{name}"


def parents_of(described: Described, fields: list[str], describe: Describe) -> list[Parent]:
    """The parents whose rows supply values of `fields`, from fields_get(DESCRIBE) of the
    model (`described`) and of its parents (`describe`). A parent whose own field moves no
    stamp there is not followed: watching its rows would not see the change either."""
    by_link: dict[str, Parent] = {}
    stamped = _stamp_follows(described)
    for name in fields:
        info = described.get(name) or {}
        path = info.get("related")
        if moves_stamp(info) or not isinstance(path, str):
            continue
        link, _, shown = path.partition(".")
        link_info = described.get(link) or {}
        relation = link_info.get("relation")
        if not shown or "." in shown or link_info.get("type") != "many2one" \
                or not isinstance(relation, str) or link in stamped \
                or hidden_at(relation, shown, describe) is not None:
            continue
        parent = by_link.setdefault(link, Parent(link=link, model=relation))
        parent.fields.append(shown)
    return list(by_link.values())


def describer(fields_get: Callable[[str], Described]) -> Describe:
    """``fields_get`` of each model asked once."""
    cache: dict[str, Described] = {}

    def describe(model: str) -> Described:
        if model not in cache:
            cache[model] = fields_get(model)
        return cache[model]
    return describe


def _stamp_follows(described: Described) -> set[str]:
    """The links whose parent's write_date our own write_date depends on: Odoo moves our stamp
    when theirs moves, so the change window already sees those parent writes."""
    depends = (described.get("write_date") or {}).get("depends") or []
    if not isinstance(depends, (list, tuple)):
        return set()
    return {path.removesuffix(".write_date") for path in depends
            if isinstance(path, str) and path.endswith(".write_date") and path.count(".") == 1}


PageReader = Callable[..., Iterator[list[dict[str, Any]]]]


def changed_parents(pages: PageReader, parent: Parent, start: str, settled: str | None) -> list[int]:
    """Ids of `parent` rows stamped since `start` whose shown values or stamp differ from what the
    last pass saw. Remembers the digests the next window (from `settled`) still covers."""
    seen = Digests()
    changed: list[int] = []
    for rows in pages([["write_date", ">=", start]], [*parent.fields, "write_date"],
                      {"active_test": False}, model=parent.model):
        for row in rows:
            value = row_mark(row)
            if parent.seen.get(row["id"]) != value:
                changed.append(row["id"])
            if settled is None or (row.get("write_date") or "") >= settled:
                seen.add(row["id"], value)
    parent.seen = seen
    return changed
