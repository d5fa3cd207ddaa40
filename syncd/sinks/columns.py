"""Typed columns for the database sinks: one per configured field, from its Odoo type.

Each table ``odoo_<name>`` has ``id`` (the primary key), one typed column per field, and
``record``: the record exactly as the JSON snapshot holds it. The types:

==================================  ===========================  ==========================
Odoo type                           PostgreSQL                   SQLite
==================================  ===========================  ==========================
char, text, html, selection         text                         TEXT
integer                             bigint                       INTEGER
float, monetary                     double precision             REAL
boolean                             boolean                      INTEGER (0/1)
date                                date                         TEXT (ISO)
datetime                            timestamp (naive UTC)        TEXT (ISO)
many2one                            ``<f>`` bigint + ``<f>_name`` text (the display name)
one2many, many2many                 bigint[]                     TEXT (a JSON list)
anything else (reference, binary,   jsonb                        TEXT (JSON)
json, properties, ...)
==================================  ===========================  ==========================

Odoo's ``false`` for an empty value becomes NULL, except in boolean columns.

Renames, so every column name is unique and a valid PostgreSQL identifier (63 bytes at most):
plain fields are named first, in the configured order, then the many2ones' ``<f>_name``
columns; a name that is ``id``, ``record`` or already taken gets ``_1``, ``_2``, ... appended
until it is free (so a field really called ``partner_id_name`` keeps its name and the
companion of ``partner_id`` becomes ``partner_id_name_1``); a name longer than 63 bytes is cut
to 54 bytes followed by ``_`` and 8 hex digits of the BLAKE2b digest of the full name. The
mapping is a pure function of the field list and types, so it is the same on every pass.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

RESERVED = frozenset({"id", "record"})
MAX_IDENTIFIER = 63

KINDS = {
    "char": "text", "text": "text", "html": "text", "selection": "text",
    "integer": "integer", "float": "float", "monetary": "float", "boolean": "boolean",
    "date": "date", "datetime": "datetime", "many2one": "many2one",
    "one2many": "ids", "many2many": "ids",
}


@dataclass(frozen=True)
class Column:
    """One typed column. ``kind``: text, integer, float, boolean, date, datetime, ids, json,
    m2o_id or m2o_name (the two columns of a many2one)."""

    name: str
    field: str
    kind: str

    def value(self, record: Mapping[str, Any]) -> Any:
        """The column's value for a record as Odoo returned it (see the module docstring).
        ``ids`` and ``json`` give Python lists/values; the sink encodes them for its engine."""
        raw = record.get(self.field, False)
        if self.kind == "boolean":
            return bool(raw) if raw is not None else None
        if raw is False or raw is None:
            return None
        if self.kind == "m2o_id":
            return raw[0] if isinstance(raw, list) and raw else raw if _is_int(raw) else None
        if self.kind == "m2o_name":
            return raw[1] if isinstance(raw, list) and len(raw) > 1 else None
        if self.kind == "integer":
            return raw if _is_int(raw) else None
        if self.kind == "float":
            return float(raw) if isinstance(raw, (int, float)) and not isinstance(raw, bool) \
                else None
        if self.kind in ("text", "date", "datetime"):
            return raw if isinstance(raw, str) else str(raw)
        if self.kind == "ids":
            return [i for i in raw if _is_int(i)] if isinstance(raw, list) else None
        return raw  # json: the value as Odoo gave it


def columns_for(fields: Sequence[str], types: Mapping[str, str]) -> list[Column]:
    """The typed columns of a table for ``fields`` (in order), whose Odoo types are ``types``."""
    taken = set(RESERVED)
    columns: list[Column] = []
    companions: list[str] = []
    for name in fields:
        kind = KINDS.get(types.get(name, ""), "json")
        if kind == "many2one":
            columns.append(Column(_free(name, taken), name, "m2o_id"))
            companions.append(name)
        else:
            columns.append(Column(_free(name, taken), name, kind))
    for name in companions:
        columns.append(Column(_free(f"{name}_name", taken), name, "m2o_name"))
    return columns


def encode_json(value: Any) -> str:
    return orjson.dumps(value).decode()


def _free(wanted: str, taken: set[str]) -> str:
    name = identifier(wanted)
    n = 0
    while name in taken:
        n += 1
        name = identifier(f"{wanted}_{n}")
    taken.add(name)
    return name


def identifier(name: str) -> str:
    """``name`` as a PostgreSQL identifier: itself when it fits in 63 bytes, else cut to 54
    bytes plus ``_`` and 8 hex digits of its BLAKE2b digest (PostgreSQL would cut it silently,
    and two long names could then meet)."""
    if len(name.encode()) <= MAX_IDENTIFIER:
        return name
    digest = hashlib.blake2b(name.encode(), digest_size=4).hexdigest()
    return name.encode()[:54].decode(errors="ignore") + "_" + digest


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
