"""The canonical record: one model's record as every sink stores it, byte for byte.

A record's line is compact JSON with its keys in a canonical order (``id``, the configured
fields in their order, then any other keys sorted), UTF-8 without ``\\u`` escapes: the bytes are
a pure function of the content, whichever protocol delivered it. The JSON snapshot holds one
line per record, a database sink's ``record`` column the same text, and a journal's ``record``
the same bytes again, so a reader can compare lines from any of them without decoding.

It lives with the change set (``syncd.sync.upserts`` holds each changed record as its line,
encoded once by the pull); the sinks use it through ``syncd.sinks.record``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson


ID_RANGE = range(-(2 ** 63), 2 ** 63)  # what every sink stores an id as (SQLite INTEGER, bigint)


def record_id_of(record: Mapping[str, Any]) -> int | None:
    """The record's id: an integer within 64 bits (Odoo's ids are 32-bit; a bigger one, written
    by hand, could be stored by no sink), else None."""
    value = record.get("id")
    # bool is an int in Python, but true/false is not a record id.
    if isinstance(value, int) and not isinstance(value, bool) and value in ID_RANGE:
        return value
    return None


class Layout:
    """The canonical encoding of one model's records (see the module docstring)."""

    def __init__(self, fields: Sequence[str]) -> None:
        self.fields: tuple[str, ...] = tuple(f for f in fields if f != "id")
        self._keys = ("id", *self.fields)

    def line(self, record: Mapping[str, Any]) -> bytes:
        """The record's line, without separator. ValueError if it has no integer ``id``.

        Equality of lines is equality of content as JSON: ``0``, ``0.0`` and ``false`` differ.
        """
        record_id = record_id_of(record)
        if record_id is None:
            raise ValueError(f"record without an integer id: keys={sorted(record)}")
        if type(record) is dict and tuple(record) == self._keys:
            # Already canonical (the pull builds its records so): encoded as it is, no second
            # dict. A test checks that both ways give the same bytes.
            return bytes(memoryview(orjson.dumps(record)))
        canonical: dict[str, Any] = {"id": record_id}
        for name in self.fields:
            if name in record:
                canonical[name] = record[name]
        for name in sorted(record.keys() - canonical.keys()):
            canonical[name] = record[name]
        # orjson's result keeps its whole output buffer (about 4 KB); an exact-size copy does not.
        return bytes(memoryview(orjson.dumps(canonical)))
