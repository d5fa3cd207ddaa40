"""What the database sinks share: typed columns (one per configured field, from its Odoo type),
the pass record (counter and heads) and the journal table's entries.

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
import secrets
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from syncd.errors import CorruptFileError
from syncd.sync.seam import Entry, Head, JournalGap
from syncd.sync.state import ModelState, State

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


def chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """``items`` in lists of ``size`` (the last one shorter), read as a stream."""
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


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


# -- What the two database sinks share besides columns: the pass counter and heads, and the
# journal table's entries. Both keep {"passes": n, "heads": {name: [seq, version]}} with the
# state (SQLite: the syncd_meta row "heads"; PostgreSQL: the pass row of syncd_state), written
# in the pass's transaction: ``passes`` is the reader's stamp, ``heads`` what moved.

def decode_heads(text: str | bytes | None) -> tuple[int, dict[str, Head]]:
    """The pass counter and each model's Head, as ``encode_heads`` wrote them ((0, {}) when
    nothing was written yet)."""
    if not text:
        return 0, {}
    try:
        data = orjson.loads(text)
        heads = {str(name): Head(None if seq is None else int(seq),
                                 None if version is None else str(version))
                 for name, (seq, version) in data.get("heads", {}).items()}
        return int(data.get("passes", 0)), heads
    except (orjson.JSONDecodeError, AttributeError, TypeError, ValueError) as exc:
        raise CorruptFileError(f"the pass record is not syncd's ({exc})") from None


def encode_heads(previous: str | bytes | None, state: State, touched: set[str]) -> str:
    """The pass record after a commit of ``state``: the counter one up; a model's version moves
    to the new counter when the pass ``touched`` its stored copy (or it is new). ``epoch`` is
    drawn when the record is first written and kept: a record deleted by hand and started
    again never repeats an earlier one (a follower's stamp)."""
    passes, before = decode_heads(previous)
    epoch = _epoch(previous) or secrets.token_hex(8)
    passes += 1
    heads = {}
    for name, model in sorted(state.models.items()):
        old = before.get(name)
        version = old.version if old is not None and name not in touched else f"{epoch}.{passes}"
        heads[name] = [model.journal_seq, version]
    return orjson.dumps({"passes": passes, "epoch": epoch, "heads": heads}).decode()


def _epoch(record: str | bytes | None) -> str | None:
    if not record:
        return None
    try:
        found = orjson.loads(record).get("epoch")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return found if isinstance(found, str) else None


def journal_entries(name: str, rows: Iterable[tuple[int, Any, str, int | None, Any]],
                    after: int, upto: int) -> Iterator[Entry]:
    """The journal table's rows (seq, at, op, id, record text) of ``after < seq <= upto`` as
    entries, checked to be every seq in turn: JournalGap when one is missing."""
    want = after + 1
    for seq, at, op, record_id, record in rows:
        if seq != want:
            raise JournalGap(f"{name}: journal jumps from {want - 1} to {seq}")
        line = record.encode() if isinstance(record, str) else record
        yield Entry(seq=seq, at=str(at) if at is not None else "", op=op, id=record_id,
                    line=line)
        want += 1
    if want <= upto:
        raise JournalGap(f"{name}: journal entries after seq {want - 1} are gone")


def committed_seq(model: ModelState, *, journal: bool, written: int | None,
                  stored_max: Callable[[], int | None]) -> int | None:
    """A model's last journal seq once a pass commits (None without a journal): the last one
    this pass ``written``, else the table's newest (``stored_max``) for a model already
    journaled; a model with no seq yet has nothing to resume from."""
    if not journal:
        return None
    if written is not None:
        return written
    if model.journal_seq is None:
        return None
    found = stored_max()
    return found if found is not None else model.journal_seq
