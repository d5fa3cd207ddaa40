"""``ir.model``: the emulated database's list of its models, as ``syncd models`` reads it.

Odoo keeps one ``ir.model`` row per model of the registry (``model`` the technical name,
``name`` its description, ``transient`` True for wizards, whose rows Odoo vacuums). Every
database has transient models, so one is emulated (with a field, nothing more) for the list to
have something to leave out. Rows are written once, when the database is created, like Odoo's
at module install.
"""

from __future__ import annotations

from typing import Any

from syncd.emulator.models import Model, _f, _model, _selection

# A wizard of Odoo's base module (odoo/addons/base/wizard/base_partner_merge.py).
WIZARD = "base.partner.merge.automatic.wizard"


def add_registry(schema: dict[str, Model]) -> None:
    """Add ``ir.model`` and one transient model to `schema` (in place)."""
    schema[WIZARD] = _model(WIZARD, "Merge Partner Wizard", "id desc", [
        _f("group_by_email", "boolean", "Email")])
    schema["ir.model"] = _model("ir.model", "Models", "model", [
        _f("name", "char", "Model Description", required=True),
        _f("model", "char", "Model", required=True),
        _f("order", "char", "Order", required=True),
        _f("state", "selection", "Type", selection=_selection("manual", "Custom Object",
                                                              "base", "Base Object")),
        _f("transient", "boolean", "Transient Model", readonly=True)])


def registry_rows(schema: dict[str, Model]) -> list[dict[str, Any]]:
    """The ``ir.model`` rows describing every model of `schema`, itself included."""
    return [{"name": model.description, "model": model.name, "order": model.order,
             "state": "base", "transient": model.name == WIZARD}
            for model in sorted(schema.values(), key=lambda m: m.name)]
