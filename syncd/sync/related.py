"""Values a model shows from another model's rows, and how a pass notices when they change.

Odoo does not bump a record's ``write_date`` when a value it only shows changes on another row
(ODOO_API.md trap 7). product.product reads ``name`` and ``list_price`` from its
product.template (``_inherits``): renaming a product in Odoo's product form writes the template
and leaves every variant's ``write_date`` alone, so a sync watching the variants alone keeps the
old name for ever. fields_get describes such a field as ``related`` (``"product_tmpl_id.name"``)
and not stored; for each many2one such fields go through, the pass also reads the parent
model's own change window (the fields shown plus ``write_date``, by id keyset) and re-reads the
records whose parent changed. A digest per parent row, kept like the records' own, makes an idle
pass one more small request per parent model and no re-read.

Followed: one level (``link.field``). Deeper paths (``partner_id.country_id.code``), non-stored
computed fields and many2one display names remain invisible to any ``write_date`` sync.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from syncd.sync.state import Parent
from syncd.sync.digests import Digests, mark

DESCRIBE = ["type", "relation", "related", "store"]  # the fields_get attributes this needs


def parents_of(described: dict[str, dict[str, Any]], fields: list[str]) -> list[Parent]:
    """The parents whose rows supply values of `fields`, from fields_get(DESCRIBE)."""
    by_link: dict[str, Parent] = {}
    for name in fields:
        info = described.get(name) or {}
        path = info.get("related")
        if info.get("store", True) or not isinstance(path, str):
            continue
        link, _, shown = path.partition(".")
        link_info = described.get(link) or {}
        relation = link_info.get("relation")
        if not shown or "." in shown or link_info.get("type") != "many2one" \
                or not isinstance(relation, str):
            continue
        parent = by_link.setdefault(link, Parent(link=link, model=relation))
        parent.fields.append(shown)
    return list(by_link.values())


PageReader = Callable[..., Iterator[list[dict[str, Any]]]]


def changed_parents(pages: PageReader, parent: Parent, low: str, settled: str | None) -> list[int]:
    """Ids of `parent` rows stamped since `low` whose shown values or stamp differ from what the
    last pass saw. Remembers the digests the next window (from `settled`) still covers."""
    seen = Digests()
    changed: list[int] = []
    for rows in pages([["write_date", ">=", low]], [*parent.fields, "write_date"],
                      {"active_test": False}, model=parent.model):
        for row in rows:
            value = mark(row)
            if parent.seen.get(row["id"]) != value:
                changed.append(row["id"])
            if settled is None or (row.get("write_date") or "") >= settled:
                seen.add(row["id"], value)
    parent.seen = seen
    return changed
