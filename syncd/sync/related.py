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

Followed: one level (``link.field``). Deeper paths (``partner_id.country_id.code``), non-stored
computed fields and many2one display names remain invisible to any ``write_date`` sync.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from syncd.sync.state import Parent
from syncd.sync.digests import Digests, row_mark

# the fields_get attributes this needs
DESCRIBE = ["type", "relation", "related", "store", "depends"]


def parents_of(described: dict[str, dict[str, Any]], fields: list[str]) -> list[Parent]:
    """The parents whose rows supply values of `fields`, from fields_get(DESCRIBE)."""
    by_link: dict[str, Parent] = {}
    stamped = _stamp_follows(described)
    for name in fields:
        info = described.get(name) or {}
        path = info.get("related")
        if info.get("store", True) or not isinstance(path, str):
            continue
        link, _, shown = path.partition(".")
        link_info = described.get(link) or {}
        relation = link_info.get("relation")
        if not shown or "." in shown or link_info.get("type") != "many2one" \
                or not isinstance(relation, str) or link in stamped:
            continue
        parent = by_link.setdefault(link, Parent(link=link, model=relation))
        parent.fields.append(shown)
    return list(by_link.values())


def _stamp_follows(described: dict[str, dict[str, Any]]) -> set[str]:
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
