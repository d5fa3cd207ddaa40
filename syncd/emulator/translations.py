"""Translated values of `translate=True` fields, and `update_field_translations`.

Odoo 16+ keeps a translatable column as JSONB ``{"en_US": ..., "fr_FR": ...}``; a read answers
the value of the context's ``lang`` (falling back to en_US). Here a row holds the en_US value and
`Translations` the others. `update_field_translations(ids, field, {lang: value})` ends, in Odoo
17 and 18, with ``self[field_name] = self[field_name]`` ("update write_date of the record ... to
support 't-cache'", odoo/models.py ``_update_field_translations``): the records' `write_date`
moves, so a pass reading in that language sees the edit (docs/odoo-api.md §11).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from syncd.emulator.faults import bad_argument, value_error

if TYPE_CHECKING:
    from syncd.emulator.store import Database

SOURCE_LANG = "en_US"
Translations = dict[tuple[str, str, int], dict[str, str]]  # (model, field, id) -> lang -> value


def translated(translations: Translations, model: str, name: str, record_id: int,
               lang: str | None, value: Any) -> Any:
    """`value` (the en_US one) as a reader in `lang` sees it."""
    if not lang or lang == SOURCE_LANG or not value:
        return value
    return translations.get((model, name, record_id), {}).get(lang, value)


def update_field_translations(db: Database, model_name: str, ids: list[int], field_name: Any,
                              values: Any) -> bool:
    """Set the `values` ({lang: text}) of `field_name` on `ids`, and stamp the records."""
    model = db.model(model_name)
    item = model.fields.get(field_name) if isinstance(field_name, str) else None
    if item is None:
        raise value_error(f"Invalid field {field_name!r} on model {model_name!r}")
    if not isinstance(values, dict) or not all(isinstance(k, str) for k in values):
        raise bad_argument(f"Invalid translations {values!r}", "TypeError")
    if not item.translate:
        return False
    owner, owner_ids = model_name, ids
    if item.inherited_from is not None and model.inherits is not None:
        with db.lock:  # an _inherits field lives on the parent's row (product.template.name)
            rows = db.tables[model_name].rows
            owner = model.inherits[0]
            owner_ids = sorted({rows[i][model.inherits[1]] for i in ids if i in rows})
    with db.transaction() as tx:
        # `self[field_name] = self[field_name]`: a write of the value it has, which stamps
        tx.write(owner, owner_ids, {})
        with db.lock:
            for record_id in owner_ids:
                if record_id not in db.tables[owner].rows:
                    continue
                for lang, text in values.items():
                    if lang == SOURCE_LANG:
                        db.tables[owner].update(record_id, {field_name: text})
                    else:
                        db.translations.setdefault((owner, field_name, record_id), {})[lang] = text
    return True
