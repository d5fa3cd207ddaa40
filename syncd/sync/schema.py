"""``syncd fields`` and ``syncd models``: what this Odoo has, and how a pass sees it.

Both contact Odoo (log in as the configuration says, as ``check`` does) and write nothing.
``fields MODEL`` takes a configured name (``customers``) or an Odoo model (``res.partner``);
its verdict per field comes from ``syncd.sync.coverage.classify``, which asks the pass's own
rule, so the listing and the pass never disagree. ``models`` lists the ``ir.model`` rows a
pass can sync: not transient (wizard) models, and only those with a ``write_date`` field, which
leaves out abstract models (``base``, ``mail.thread``, ``avatar.mixin``: ``ir.model`` lists
them, but they have no table, so reading one is an AccessError; Odoo gives a model
``write_date`` only when it has a table, ``_log_access`` defaulting to ``_auto``) and table-less
SQL-view reports; recent Odoo has an ``abstract`` field on ``ir.model`` too, but the
``write_date`` test works on every version, in the same one request. Whether the user may read
a model's records shows at ``syncd fields`` or ``syncd check`` (a per-model access probe would
cost one request per installed model, hundreds on a real database).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import orjson

from syncd.errors import OdooError, UnknownModelError
from syncd.odoo.client import OdooClient
from syncd.settings import ModelSpec, Settings
from syncd.sync.coverage import EXPLAIN, FieldView, classify, missing_reason
from syncd.sync.related import DESCRIBE, describer


@contextmanager
def logged_in(settings: Settings) -> Iterator[OdooClient]:
    """A client logged in as `settings` say, closed afterwards. The commands check the login
    settings first (``syncd.config.require_login``: an empty database, username or password
    is a usage error before connecting), as for ``check``."""
    with OdooClient(settings.odoo) as client:
        client.connect()
        yield client


def fields_of(settings: Settings, name: str) -> dict[str, Any]:
    """The fields of `name` (a configured name first, else an Odoo model), configured ones
    first in configuration order (those this Odoo lacks included), then the rest by name.

    Raises UnknownModelError naming `name` when it is neither."""
    specs: list[ModelSpec] = [s for s in settings.models if s.name == name]
    model = specs[0].model if specs else name
    by_name = bool(specs)
    if not specs:
        specs = [s for s in settings.models if s.model == name]
    configured = list(dict.fromkeys(f for spec in specs for f in spec.fields))
    with logged_in(settings) as client:
        try:
            described = client.fields_get(model, EXPLAIN)
        except UnknownModelError:
            hint = _did_you_mean(client, model)
            if by_name:
                raise UnknownModelError(f"{name}: model {model!r} does not exist on this Odoo "
                                        f"({hint or 'a module not installed? '}see 'syncd "
                                        "models')") from None
            known = ", ".join(s.name for s in settings.models) or "none"
            raise UnknownModelError(f"no model {name!r} on this Odoo, nor a configured name "
                                    f"({hint}configured: {known}; see 'syncd models')") from None
        # the parents' fields, asked as the pass asks them (fields.resolve_fields)
        describe = describer(lambda other: described if other == model
                             else client.fields_get(other, DESCRIBE))
        views = [classify(described, f, configured=True, describe=describe) if f in described
                 else FieldView(f, "-", False, "missing", missing_reason(model, f, described),
                                True)
                 for f in configured]
        views += [classify(described, f, describe=describe) for f in sorted(described)
                  if f not in configured]
    return {"name": name, "model": model, "configured_as": [s.name for s in specs],
            "fields": views}


def render_fields(result: dict[str, Any], *, as_json: bool = False) -> str:
    views: list[FieldView] = result["fields"]
    if as_json:
        return json_lines({"model": result["model"], **view.to_dict()} for view in views)
    table = [("FIELD", "TYPE", "STORED", "CHANGES SEEN")]
    for view in views:
        stored = "-" if view.seen == "missing" else "yes" if view.stored else "no"
        table.append((f"{'*' if view.configured else ' '} {view.name}", view.type, stored,
                      view.changes_seen))
    lines = [_columns(table)]
    if result["configured_as"]:
        lines.append(f"* configured in {', '.join(result['configured_as'])} "
                     f"({result['model']})")
    return "\n".join(lines) + "\n"


def _did_you_mean(client: OdooClient, model: str) -> str:
    """``did you mean res.partner? `` for a misspelt model name (as fields get), else ""."""
    try:
        rows = client.search_read("ir.model", [["transient", "=", False]], ["model"])
    except OdooError:
        return ""
    close = difflib.get_close_matches(model, [str(row["model"]) for row in rows], n=1,
                                      cutoff=0.8)
    return f"did you mean {close[0]}? " if close else ""


def models_of(settings: Settings) -> list[dict[str, Any]]:
    """``ir.model`` rows (model, name) of the models a pass can sync (not transient, with a
    ``write_date``), by model name, each with the configured names that sync it."""
    with logged_in(settings) as client:
        rows = client.search_read("ir.model", [["transient", "=", False],
                                               ["field_id.name", "=", "write_date"]],
                                  ["model", "name"], order="model")
    return [{"model": row["model"], "name": row["name"],
             "configured_as": [s.name for s in settings.models if s.model == row["model"]]}
            for row in rows]


def render_models(rows: list[dict[str, Any]], *, as_json: bool = False) -> str:
    if as_json:
        return json_lines(rows)
    table = [("MODEL", "DESCRIPTION", "CONFIGURED AS")]
    table += [(row["model"], str(row["name"]), ", ".join(row["configured_as"]) or "-")
              for row in rows]
    return _columns(table) + "\n"


def json_lines(objects: Iterable[dict[str, Any]]) -> str:
    """JSON Lines, the shape of every ``--json`` output: one object per line."""
    return "".join(orjson.dumps(item).decode() + "\n" for item in objects)


def _columns(rows: Sequence[tuple[str, ...]]) -> str:
    """Left-aligned columns, two spaces apart; the last column is not padded."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join("  ".join([*(cell.ljust(w) for cell, w in zip(row, widths)), row[-1]])
                     .rstrip() for row in rows)
