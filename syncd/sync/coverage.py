"""What a pass can see of a model's fields, and what it says of a configured field Odoo lacks.

A ``write_date`` sync sees a change when the record's own ``write_date`` moves. Per field, the
pass sees its changes:

* ``own write_date``: a stored field of the record; writing it moves the stamp.
* ``via <parent model>``: a non-stored related field through a many2one that the pass follows
  (``syncd.sync.related.parents_of``, the very function the pass calls, so this never disagrees
  with it): the pass watches the parent's rows.
* ``own write_date (Odoo moves it when <parent> changes)``: a related field whose parent the pass
  need not follow because Odoo itself recomputes the child's ``write_date`` from the parent's
  (fields_get of ``write_date`` lists ``<link>.write_date`` in its ``depends``), provided the
  parent's field is itself stored there (``syncd.sync.related.hidden_at``, recursively).
* ``own write_date (computed from its stored fields)``: a non-stored compute whose ``depends``
  are all the record's own stored fields (res.partner's ``display_name``).
* ``not seen``, with the reason: non-stored computed fields (and related paths of more than one
  link, or to a parent field that is not stored) change without any stamp moving; one2many
  lists change from the other side.

Company-dependent fields count as stored: Odoo 17 reports them ``store: False`` (ir.property)
yet a write moves ``write_date``. A many2one value ``[id, "name"]`` carries the target's display
name, which goes stale when the target is renamed (only the id is watched), unless a stored
field of the record depends on the target's name (res.partner's ``parent_id``: renaming the
company recomputes the contacts' ``complete_name`` and stamps them). Translations move
``write_date`` (docs/odoo-api.md §11), so a translatable field carries no caveat.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from syncd.sync.related import DESCRIBE, Describe, Described, hidden_at, moves_stamp, parents_of

# fields_get attributes `syncd fields` asks for: what the pass asks, plus what explains the rest.
EXPLAIN = [*DESCRIBE, "translate"]

# Configured fields that exist on other Odoo versions or with other modules: a database without
# them gets the plain "no such field" warning, never a "did you mean" for a look-alike name.
KNOWN_ELSEWHERE: dict[str, str] = {
    "res.partner.mobile": "up to Odoo 18; removed in saas-18.2 and Odoo 19",
    "res.partner.customer_rank": "needs the account module",
    "res.partner.supplier_rank": "needs the account module",
    "res.partner.property_account_receivable_id": "needs the account module",
    "res.partner.property_account_payable_id": "needs the account module",
    "res.partner.sale_order_count": "needs the sale module",
    "product.product.barcode": "a field of the product module; some databases hide or lack it",
    "product.product.qty_available": "needs the stock module",
    "product.template.qty_available": "needs the stock module",
    "product.product.detailed_type": "Odoo 15-17 only",
    "product.template.detailed_type": "Odoo 15-17 only",
    "product.product.is_storable": "Odoo 18 or later, with the stock module",
    "product.template.is_storable": "Odoo 18 or later, with the stock module",
    "product.product.invoice_policy": "needs the sale module",
    "product.template.invoice_policy": "needs the sale module",
}
_CLOSE = 0.7  # difflib ratio: "emial" ~ "email" is 0.8; unrelated short names stay below


def suggestion(model: str, name: str, available: Collection[str]) -> str | None:
    """The field `name` was probably meant to be, or None (also for KNOWN_ELSEWHERE fields)."""
    if f"{model}.{name}" in KNOWN_ELSEWHERE:
        return None
    close = difflib.get_close_matches(name, sorted(available), n=1, cutoff=_CLOSE)
    return close[0] if close else None


def missing_text(model: str, missing: list[str], available: Collection[str]) -> str:
    """The warning for configured fields this Odoo lacks, after ``missing_fields=a,b``:
    ``this Odoo has no such field (did you mean email?)``, or without the parenthesis when
    nothing is close (or the field is known to exist elsewhere)."""
    hints = [(name, hint) for name in missing
             if (hint := suggestion(model, name, available)) is not None]
    if not hints:
        return "this Odoo has no such field"
    if len(missing) == 1:
        return f"this Odoo has no such field (did you mean {hints[0][1]}?)"
    return ("this Odoo has no such field (did you mean "
            + ", ".join(f"{hint} for {name}" for name, hint in hints) + "?)")


def missing_reason(model: str, name: str, available: Collection[str]) -> str:
    """Why a configured field is left out, for `syncd fields`."""
    known = KNOWN_ELSEWHERE.get(f"{model}.{name}")
    if known:
        return f"no such field on this Odoo ({known}); left out"
    hint = suggestion(model, name, available)
    return f"no such field on this Odoo{f' (did you mean {hint}?)' if hint else ''}; left out"


@dataclass(frozen=True)
class FieldView:
    """How one field reaches the snapshot. `seen`: "own write_date", "via <model>", "not seen"
    or "missing" (configured, not on this Odoo); `caveat`: what is not seen (even of a seen
    field), why it is missing, or ""."""

    name: str
    type: str
    stored: bool
    seen: str
    caveat: str = ""
    configured: bool = False

    @property
    def changes_seen(self) -> str:
        if self.seen == "missing":
            return self.caveat
        if self.seen == "not seen":
            return f"not seen: {self.caveat}"
        return f"{self.seen}; not seen: {self.caveat}" if self.caveat else self.seen

    def to_dict(self) -> dict[str, Any]:
        missing = self.seen == "missing"
        return {"field": self.name, "type": None if missing else self.type,
                "stored": None if missing else self.stored,
                "configured": self.configured, "seen": self.seen,
                "note": self.caveat or None}


def classify(described: Described, name: str, *, configured: bool = False,
             describe: Describe | None = None) -> FieldView:
    """How the pass sees changes of field `name`, from fields_get(EXPLAIN) of its model and
    (``describe``) of the models its related fields go through; without ``describe``, a parent's
    field is taken as stored."""
    ask: Describe = describe if describe is not None else (lambda model: {})
    info = described.get(name) or {}
    kind = str(info.get("type", "?"))
    stored = bool(info.get("store", True))
    caveat = ""
    if kind == "many2one" and not _fresh_name(described, name):
        caveat = f"the name in [id, name] goes stale when the {info.get('relation')} is renamed"

    def view(seen: str, why: str = caveat) -> FieldView:
        return FieldView(name, kind, stored, seen, why, configured)

    if moves_stamp(info) and kind != "one2many":
        return view("own write_date")
    followed = parents_of(described, [name], ask)  # the pass's own rule, never a copy of it
    if followed:
        return view(f"via {followed[0].model}")
    path = info.get("related")
    if kind == "one2many":
        return view("not seen", f"{info.get('relation')} rows added or changed on their side "
                                "leave this write_date alone")
    if isinstance(path, str) and path.count(".") == 1:
        link, _, shown = path.partition(".")
        parent = (described.get(link) or {}).get("relation")
        if isinstance(parent, str):
            hidden = hidden_at(parent, shown, ask)
            if hidden is not None:
                return view("not seen", f"shows {parent}.{shown}, and {hidden} is not stored "
                                        "(its inputs change without moving any write_date)")
            moved_by = (described.get("write_date") or {}).get("depends") or []
            if f"{link}.write_date" in moved_by:
                return view(f"own write_date (Odoo moves it when {parent} changes)")
    if isinstance(path, str) and path.count(".") > 1:
        return view("not seen", f"related through more than one link ({path}); the pass "
                                "follows one")
    depends = info.get("depends") or []
    if not path and depends and all(isinstance(d, str) and "." not in d
                                    and moves_stamp(described.get(d) or {"store": False})
                                    for d in depends):
        # computed from the record's own stored fields only (res.partner.display_name from
        # complete_name, email, vat ...): they move write_date when they change
        return view("own write_date (computed from its stored fields)")
    return view("not seen", "computed, not stored (its inputs change without moving "
                            "write_date)")


def _fresh_name(described: Described, name: str) -> bool:
    """Whether renaming the many2one's target moves this record's write_date: a stored field
    here depends on the target's name, so Odoo recomputes it and stamps the row
    (res.partner.complete_name depends on parent_id.name; commercial_company_name on
    commercial_partner_id.name; odoo/addons/base/models/res_partner.py)."""
    names = {f"{name}.name", f"{name}.display_name", f"{name}.complete_name"}
    return any(info.get("store", True) and names.intersection(info.get("depends") or [])
               for info in described.values())
