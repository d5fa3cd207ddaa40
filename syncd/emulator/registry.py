"""``ir.model`` and ``ir.model.fields``: the emulated database's list of its models and their
fields, as ``syncd models`` reads them.

Odoo keeps one ``ir.model`` row per model of the registry (``model`` the technical name,
``name`` its description, ``transient`` True for wizards, whose rows Odoo vacuums), abstract
models included (``base``, ``_unknown``, mixins such as ``avatar.mixin`` and ``mail.thread``):
they have no table, and no ``write_date`` (``_log_access`` defaults to ``_auto``, False for an
abstract model; odoo/models.py ``_build_model_attributes``), so their ``ir.model.fields`` rows
lack it; calling one is an AccessError (no access rule grants it). Every database has transient
models, so one is emulated (with a field, nothing more) for the list to have something to leave
out. Rows are written once, when the database is created, like Odoo's at module install.
"""

from __future__ import annotations

from typing import Any

from syncd.emulator.models import Model, _f, _model, _selection

# A wizard of Odoo's base module (odoo/addons/base/wizard/base_partner_merge.py).
WIZARD = "base.partner.merge.automatic.wizard"
# Abstract models every database with product (hence mail) lists in ir.model, by description.
ABSTRACT = {"_unknown": "Unknown", "avatar.mixin": "Avatar Mixin", "base": "Base",
            "mail.thread": "Email Thread"}


def add_registry(schema: dict[str, Model]) -> None:
    """Add ``ir.model``, ``ir.model.fields`` and one transient model to `schema` (in place)."""
    schema[WIZARD] = _model(WIZARD, "Merge Partner Wizard", "id desc", [
        _f("group_by_email", "boolean", "Email")])
    schema["ir.model"] = _model("ir.model", "Models", "model", [
        _f("name", "char", "Model Description", required=True),
        _f("model", "char", "Model", required=True),
        _f("order", "char", "Order", required=True),
        _f("state", "selection", "Type", selection=_selection("manual", "Custom Object",
                                                              "base", "Base Object")),
        _f("transient", "boolean", "Transient Model", readonly=True),
        _f("field_id", "one2many", "Fields", relation="ir.model.fields", inverse="model_id")])
    schema["ir.model.fields"] = _model("ir.model.fields", "Fields", "name", [
        _f("name", "char", "Field Name", required=True),
        _f("field_description", "char", "Field Label", required=True),
        _f("model", "char", "Model Name", required=True),
        _f("model_id", "many2one", "Model", relation="ir.model", required=True),
        _f("ttype", "char", "Field Type", required=True),
        _f("store", "boolean", "Stored")])


def registry_rows(schema: dict[str, Model]) -> list[dict[str, Any]]:
    """The ``ir.model`` rows describing every model of `schema`, itself included, and the
    abstract ones, by model name."""
    rows = [{"name": model.description, "model": model.name, "order": model.order,
             "state": "base", "transient": model.name == WIZARD} for model in schema.values()]
    rows += [{"name": description, "model": name, "order": "id", "state": "base",
              "transient": False} for name, description in ABSTRACT.items()]
    return sorted(rows, key=lambda row: str(row["model"]))


def field_rows(schema: dict[str, Model], model_ids: dict[str, int]) -> list[dict[str, Any]]:
    """The ``ir.model.fields`` rows of every model in `model_ids` (abstract ones: ``id`` and
    ``display_name``, no ``write_date``)."""
    rows = []
    for name, model_id in model_ids.items():
        fields = ([(f.name, f.string, f.type, f.store) for f in schema[name].fields.values()]
                  if name in schema else
                  [("id", "ID", "integer", True), ("display_name", "Display Name", "char", False)])
        rows += [{"name": field, "field_description": label, "model": name,
                  "model_id": model_id, "ttype": kind, "store": store}
                 for field, label, kind, store in fields]
    return rows
